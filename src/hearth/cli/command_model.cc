// `hearth model inspect|synth|quantize`: look into, fabricate and requantize GGUF model files.
// `hearth model import|pull|list|show|rm`: the platform's model registry in the data directory.
#include <fmt/format.h>

#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "hearth/cli/commands.h"
#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/model_info.h"
#include "hearth/gguf/quantize_model.h"
#include "hearth/gguf/synth.h"
#include "hearth/base/data_dir.h"
#include "hearth/platform/model_metadata.h"
#include "hearth/platform/model_pull.h"
#include "hearth/platform/model_registry.h"
#include "hearth/platform/store.h"

namespace hearth::cli {
namespace {

int Fail(const Status& status) {
  std::fprintf(stderr, "hearth: %s\n", status.message().c_str());
  return 1;
}

std::string HumanBytes(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
  if (b >= 1024.0) return fmt::format("{:.1f} KiB", b / 1024.0);
  return fmt::format("{} B", bytes);
}

std::string HumanCount(int64_t n) {
  const double x = static_cast<double>(n);
  if (x >= 1e9) return fmt::format("{:.2f}B", x / 1e9);
  if (x >= 1e6) return fmt::format("{:.1f}M", x / 1e6);
  if (x >= 1e3) return fmt::format("{:.1f}K", x / 1e3);
  return std::to_string(n);
}

// The same document the model registry stores as metadata_json.
nlohmann::json ToJson(const gguf::ModelInfo& info, const gguf::MemoryEstimate& m) {
  return platform::ModelInfoJson(info, m);
}

std::string ToText(const gguf::ModelInfo& info, const gguf::MemoryEstimate& m) {
  std::string out;
  auto row = [&out](std::string_view label, const std::string& value) {
    out += fmt::format("{:<22}{}\n", label, value);
  };
  row("architecture", info.architecture);
  if (!info.name.empty()) row("name", info.name);
  row("file", fmt::format("GGUF v{}, {}, {} tensors", info.version, HumanBytes(info.file_bytes),
                          info.tensor_count));
  row("parameters", fmt::format("{} ({})", HumanCount(info.parameters), info.parameters));
  row("layers", std::to_string(info.layers));
  row("heads / KV heads", fmt::format("{} / {}", info.heads, info.kv_heads));
  row("embedding dim", std::to_string(info.embedding_dim));
  row("FFN dim", std::to_string(info.ffn_dim));
  row("head dim", std::to_string(info.head_dim));
  row("context length", std::to_string(info.context_length));
  row("rms eps", fmt::format("{:g}", info.rms_eps));
  std::string rope =
      fmt::format("freq_base {:g}, dims {}", info.rope_freq_base, info.rope_dimension_count);
  if (!info.rope_scaling_type.empty()) {
    rope += fmt::format(", scaling {} x{:g} (original ctx {})", info.rope_scaling_type,
                        info.rope_scaling_factor, info.rope_original_context);
  }
  row("rope", rope);
  row("output", info.tied_output ? "tied to token_embd" : "separate output.weight");
  row("tokenizer", fmt::format("{}{}, vocab {}, chat template: {}", info.tokenizer_model,
                               info.tokenizer_pre.empty() ? "" : " (" + info.tokenizer_pre + ")",
                               info.vocab_size, info.has_chat_template ? "yes" : "no"));
  out += "\ntensor types:\n";
  out += fmt::format("  {:<6} {:>8} {:>14} {:>12}\n", "type", "tensors", "parameters", "bytes");
  for (const auto& u : info.type_mix) {
    out += fmt::format("  {:<6} {:>8} {:>14} {:>12}\n", u.type, u.tensors, u.elements,
                       HumanBytes(u.bytes));
  }
  out += fmt::format("\nmemory (ctx {} x parallel {}):\n", m.ctx, m.parallel);
  out += fmt::format("  {:<28}{}\n", "weights", HumanBytes(m.weight_bytes));
  out += fmt::format("  {:<28}{} F16, {} Q8_0\n", "KV cache per token",
                     HumanBytes(m.kv_bytes_per_token_f16), HumanBytes(m.kv_bytes_per_token_q8_0));
  out += fmt::format("  {:<28}{} F16, {} Q8_0\n", "KV cache", HumanBytes(m.kv_bytes_f16),
                     HumanBytes(m.kv_bytes_q8_0));
  out += fmt::format("  {:<28}{}\n", "compute buffer (estimate)", HumanBytes(m.compute_bytes));
  out += fmt::format("  {:<28}{} with F16 KV, {} with Q8_0 KV\n", "total", HumanBytes(m.total_f16),
                     HumanBytes(m.total_q8_0));
  return out;
}

struct InspectArgs {
  std::string file;
  bool json = false;
  int64_t ctx = 0;
  int64_t parallel = 1;
};

struct SynthArgs {
  std::string out;
  std::string arch;
  std::string preset = "tiny";
  std::string type = "f16";
  uint64_t seed = 0;
  std::string vocab_from;
  int64_t ctx = 0;
  int threads = 2;
};

struct QuantizeArgs {
  std::string in;
  std::string out;
  std::string type;
  int threads = 2;
};

int RunInspect(const InspectArgs& args) {
  auto file = gguf::GgufFile::Open(args.file);
  if (!file.ok()) return Fail(file.status());
  auto info = gguf::DescribeModel(*file);
  if (!info.ok()) return Fail(info.status().WithContext(args.file));
  const auto memory = gguf::EstimateMemory(*info, args.ctx, args.parallel);
  if (args.json) {
    std::printf("%s\n", ToJson(*info, memory).dump(2).c_str());
  } else {
    std::fputs(ToText(*info, memory).c_str(), stdout);
  }
  return 0;
}

int RunSynth(const SynthArgs& args) {
  auto shape = gguf::ShapePreset(args.preset, args.arch);
  if (!shape.ok()) return Fail(shape.status());
  gguf::SynthOptions options;
  options.shape = *shape;
  options.type = args.type;
  options.seed = args.seed;
  options.vocab_from = args.vocab_from;
  options.context_length = args.ctx;
  options.threads = args.threads;
  options.progress = true;
  if (Status s = gguf::SynthesizeModel(args.out, options); !s.ok()) return Fail(s);
  std::fprintf(stderr, "wrote %s\n", args.out.c_str());
  return 0;
}

int RunQuantize(const QuantizeArgs& args) {
  gguf::QuantizeOptions options;
  options.type = args.type;
  options.threads = args.threads;
  auto report = gguf::QuantizeModel(args.in, args.out, options);
  if (!report.ok()) return Fail(report.status());
  std::fprintf(stderr, "wrote %s: %lld tensors (%lld requantized), %s -> %s in %.1f s\n",
               args.out.c_str(), static_cast<long long>(report->tensors),
               static_cast<long long>(report->requantized), HumanBytes(report->input_bytes).c_str(),
               HumanBytes(report->output_bytes).c_str(), report->seconds);
  return 0;
}

// --- the registry: import, pull, list, show, rm ---------------------------------------------

struct RegistryArgs {
  std::string path;  // import: file or directory; pull: ORG/REPO[:FILE]; show/rm: name
  std::string name;
  std::string endpoint;
  bool json = false;
};

// The registry in the data directory (its store is <data_dir>/platform.db).
struct OpenRegistry {
  std::unique_ptr<platform::Store> store;
  std::unique_ptr<platform::ModelRegistry> registry;
};

Result<OpenRegistry> OpenDataDirRegistry(const GlobalOptions& globals) {
  std::filesystem::path data_dir = globals.data_dir();
  HEARTH_RETURN_IF_ERROR(EnsureDataDir(data_dir));
  OpenRegistry out;
  HEARTH_ASSIGN_OR_RETURN(out.store,
                          platform::OpenStore(platform::DefaultStorePath(data_dir).string()));
  out.registry = std::make_unique<platform::ModelRegistry>(*out.store, data_dir);
  return out;
}

nlohmann::json RecordJson(const platform::ModelRecord& m, bool with_metadata) {
  nlohmann::json j = {{"id", m.id},         {"name", m.name},         {"source", m.source},
                      {"path", m.path},     {"size_bytes", m.size_bytes}, {"sha256", m.sha256},
                      {"created_at", m.created_at}};
  if (with_metadata) {
    j["metadata"] = nlohmann::json::parse(m.metadata_json, nullptr, /*allow_exceptions=*/false);
  }
  return j;
}

std::string Describe(const platform::ModelRecord& m) {
  auto meta = nlohmann::json::parse(m.metadata_json, nullptr, /*allow_exceptions=*/false);
  std::string arch = meta.is_object() ? meta.value("architecture", "") : "";
  int64_t params = meta.is_object() ? meta.value("parameters", int64_t{0}) : 0;
  return fmt::format("{}, {} parameters", arch.empty() ? "unknown" : arch, HumanCount(params));
}

int RunImport(const GlobalOptions& globals, const RegistryArgs& args) {
  auto opened = OpenDataDirRegistry(globals);
  if (!opened.ok()) return Fail(opened.status());
  platform::ImportOptions options;
  options.name = args.name;
  auto model = opened->registry->Import(args.path, options);
  if (!model.ok()) return Fail(model.status());
  std::printf("imported %s (%s, %s) sha256 %s\n", model->name.c_str(), Describe(*model).c_str(),
              HumanBytes(static_cast<uint64_t>(model->size_bytes)).c_str(),
              model->sha256.c_str());
  return 0;
}

int RunPull(const GlobalOptions& globals, const RegistryArgs& args) {
  auto opened = OpenDataDirRegistry(globals);
  if (!opened.ok()) return Fail(opened.status());
  platform::PullOptions options;
  options.endpoint = args.endpoint;
  options.name = args.name;
  const bool tty = isatty(STDERR_FILENO) == 1;
  int last_percent = -1;
  if (tty) {
    options.progress = [&last_percent](uint64_t done, std::optional<uint64_t> total) {
      int percent = total && *total > 0 ? static_cast<int>(done * 100 / *total) : -1;
      if (percent == last_percent && percent >= 0) return;
      last_percent = percent;
      if (percent < 0) {
        std::fprintf(stderr, "\rdownloading %s", HumanBytes(done).c_str());
      } else {
        int filled = percent * 30 / 100;
        std::fprintf(stderr, "\r[%s%s] %3d%% %s / %s", std::string(filled, '#').c_str(),
                     std::string(30 - filled, ' ').c_str(), percent, HumanBytes(done).c_str(),
                     HumanBytes(*total).c_str());
      }
      std::fflush(stderr);
    };
  }
  auto model = platform::PullModel(*opened->registry, args.path, options);
  if (tty && last_percent != -1) std::fputc('\n', stderr);
  if (!model.ok()) return Fail(model.status());
  std::printf("pulled %s (%s, %s) sha256 %s\n", model->name.c_str(), Describe(*model).c_str(),
              HumanBytes(static_cast<uint64_t>(model->size_bytes)).c_str(),
              model->sha256.c_str());
  return 0;
}

int RunList(const GlobalOptions& globals, const RegistryArgs& args) {
  auto opened = OpenDataDirRegistry(globals);
  if (!opened.ok()) return Fail(opened.status());
  auto models = opened->registry->List();
  if (!models.ok()) return Fail(models.status());
  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& m : *models) out.push_back(RecordJson(m, false));
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-32s %-28s %10s  %-12s %s\n", "NAME", "MODEL", "SIZE", "SHA256", "SOURCE");
  for (const auto& m : *models) {
    std::printf("%-32s %-28s %10s  %-12s %s\n", m.name.c_str(), Describe(m).c_str(),
                HumanBytes(static_cast<uint64_t>(m.size_bytes)).c_str(),
                m.sha256.substr(0, 12).c_str(), m.source.c_str());
  }
  return 0;
}

int RunShow(const GlobalOptions& globals, const RegistryArgs& args) {
  auto opened = OpenDataDirRegistry(globals);
  if (!opened.ok()) return Fail(opened.status());
  auto model = opened->registry->Show(args.path);
  if (!model.ok()) return Fail(model.status());
  if (args.json) {
    std::printf("%s\n", RecordJson(*model, true).dump(2).c_str());
    return 0;
  }
  std::printf("%-22s%s\n%-22s%s\n%-22s%s\n%-22s%s (%lld bytes)\n%-22s%s\n%-22s%s\n",
              "name", model->name.c_str(), "source", model->source.c_str(), "path",
              model->path.c_str(), "size", HumanBytes(static_cast<uint64_t>(model->size_bytes)).c_str(),
              static_cast<long long>(model->size_bytes), "sha256", model->sha256.c_str(), "model",
              Describe(*model).c_str());
  return 0;
}

int RunRemove(const GlobalOptions& globals, const RegistryArgs& args) {
  auto opened = OpenDataDirRegistry(globals);
  if (!opened.ok()) return Fail(opened.status());
  if (Status s = opened->registry->Delete(args.path); !s.ok()) return Fail(s);
  std::printf("removed %s\n", args.path.c_str());
  return 0;
}

void RegisterRegistryCommands(CLI::App& model, GlobalOptions& globals, Action* action) {
  using Runner = int (*)(const GlobalOptions&, const RegistryArgs&);
  auto bind = [&globals, action](CLI::App* command, std::shared_ptr<RegistryArgs> args,
                                 Runner run) {
    command->callback([&globals, action, args, run] {
      *action = [&globals, args, run] { return run(globals, *args); };
    });
  };

  auto import_args = std::make_shared<RegistryArgs>();
  auto* import = model.add_subcommand(
      "import", "Copy a GGUF file (or a directory holding one) into the model registry");
  import->add_option("path", import_args->path, "GGUF file or directory")->required();
  import->add_option("--name", import_args->name, "registry name (default: from the file name)");
  bind(import, import_args, RunImport);

  auto pull_args = std::make_shared<RegistryArgs>();
  auto* pull = model.add_subcommand(
      "pull", "Download a GGUF model from a Hugging Face-compatible hub into the registry");
  pull->add_option("spec", pull_args->path, "ORG/REPO[:FILE]")->required();
  pull->add_option("--endpoint", pull_args->endpoint,
                   "hub URL (default: $HF_ENDPOINT, else https://huggingface.co)");
  pull->add_option("--name", pull_args->name, "registry name (default: from the file name)");
  bind(pull, pull_args, RunPull);

  auto list_args = std::make_shared<RegistryArgs>();
  auto* list = model.add_subcommand("list", "List the models in the registry");
  list->add_flag("--json", list_args->json, "print JSON");
  bind(list, list_args, RunList);

  auto show_args = std::make_shared<RegistryArgs>();
  auto* show = model.add_subcommand("show", "Show one registered model");
  show->add_option("name", show_args->path, "model name")->required();
  show->add_flag("--json", show_args->json, "print JSON (with the inspect metadata)");
  bind(show, show_args, RunShow);

  auto rm_args = std::make_shared<RegistryArgs>();
  auto* rm = model.add_subcommand("rm", "Remove a model (refused while a deployment uses it)");
  rm->add_option("name", rm_args->path, "model name")->required();
  bind(rm, rm_args, RunRemove);
}

}  // namespace

void RegisterModelCommands(CLI::App& app, GlobalOptions& globals, Action* action) {
  auto* model = app.add_subcommand(
      "model", "Inspect, synthesize and quantize GGUF models; manage the model registry");
  model->require_subcommand(1);

  auto inspect_args = std::make_shared<InspectArgs>();
  auto* inspect = model->add_subcommand("inspect", "Describe a GGUF model and its memory needs");
  inspect->add_option("file", inspect_args->file, "GGUF file")->required();
  inspect->add_flag("--json", inspect_args->json, "print JSON");
  inspect
      ->add_option("--ctx", inspect_args->ctx,
                   "context length for the memory estimate "
                   "(default: the model's)")
      ->check(CLI::NonNegativeNumber);
  inspect->add_option("--parallel", inspect_args->parallel, "parallel sequences")
      ->check(CLI::PositiveNumber);
  inspect->callback(
      [inspect_args, action] { *action = [inspect_args] { return RunInspect(*inspect_args); }; });

  auto synth_args = std::make_shared<SynthArgs>();
  auto* synth = model->add_subcommand("synth", "Write a random-weight model of a real shape");
  synth->add_option("out", synth_args->out, "output GGUF file")->required();
  synth->add_option("--arch", synth_args->arch, "llama or qwen2");
  synth->add_option("--preset", synth_args->preset,
                    "tiny, smollm-135m, qwen2.5-0.5b, qwen2.5-1.5b, llama-3.2-1b, "
                    "deepseek-r1-distill-qwen-1.5b, deepseek-r1-distill-qwen-7b");
  synth->add_option("--type", synth_args->type, "weight type: f32, f16, bf16, q8_0, q4_k_m, ...");
  synth->add_option("--seed", synth_args->seed, "random seed");
  synth->add_option("--vocab-from", synth_args->vocab_from,
                    "copy the tokenizer from this GGUF file");
  synth->add_option("--ctx", synth_args->ctx, "context length to record")
      ->check(CLI::PositiveNumber);
  synth->add_option("--threads", synth_args->threads, "worker threads")->check(CLI::PositiveNumber);
  synth->callback(
      [synth_args, action] { *action = [synth_args] { return RunSynth(*synth_args); }; });

  auto quantize_args = std::make_shared<QuantizeArgs>();
  auto* quantize = model->add_subcommand("quantize", "Requantize a GGUF model");
  quantize->add_option("in", quantize_args->in, "input GGUF file")->required();
  quantize->add_option("out", quantize_args->out, "output GGUF file")->required();
  quantize
      ->add_option("--type", quantize_args->type,
                   "q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k_m, q4_k_s, q4_k_m, q5_k_s, "
                   "q5_k_m, q6_k, f16, bf16, f32")
      ->required();
  quantize->add_option("--threads", quantize_args->threads, "worker threads")
      ->check(CLI::PositiveNumber);
  quantize->callback([quantize_args, action] {
    *action = [quantize_args] { return RunQuantize(*quantize_args); };
  });
  RegisterRegistryCommands(*model, globals, action);
  RegisterModelEval(*model, globals, action);  // command_eval.cc
}

}  // namespace hearth::cli

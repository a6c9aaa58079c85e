// `hearth model inspect|synth|quantize`: look into, fabricate and requantize GGUF model files.
#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "hearth/cli/commands.h"
#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/model_info.h"
#include "hearth/gguf/quantize_model.h"
#include "hearth/gguf/synth.h"

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

nlohmann::json ToJson(const gguf::ModelInfo& info, const gguf::MemoryEstimate& m) {
  nlohmann::json mix = nlohmann::json::array();
  for (const auto& u : info.type_mix) {
    mix.push_back(
        {{"type", u.type}, {"tensors", u.tensors}, {"bytes", u.bytes}, {"parameters", u.elements}});
  }
  nlohmann::json rope = {{"freq_base", info.rope_freq_base},
                         {"dimension_count", info.rope_dimension_count}};
  if (!info.rope_scaling_type.empty()) {
    rope["scaling"] = {{"type", info.rope_scaling_type},
                       {"factor", info.rope_scaling_factor},
                       {"original_context_length", info.rope_original_context}};
  }
  nlohmann::json j = {
      {"architecture", info.architecture},
      {"name", info.name},
      {"gguf_version", info.version},
      {"file_bytes", info.file_bytes},
      {"tensor_count", info.tensor_count},
      {"parameters", info.parameters},
      {"layers", info.layers},
      {"heads", info.heads},
      {"kv_heads", info.kv_heads},
      {"embedding_dim", info.embedding_dim},
      {"ffn_dim", info.ffn_dim},
      {"head_dim", info.head_dim},
      {"context_length", info.context_length},
      {"rms_eps", info.rms_eps},
      {"rope", rope},
      {"tied_output", info.tied_output},
      {"tensor_types", mix},
      {"tokenizer",
       {{"model", info.tokenizer_model},
        {"pre", info.tokenizer_pre},
        {"vocab_size", info.vocab_size},
        {"chat_template", info.has_chat_template}}},
      {"memory",
       {{"ctx", m.ctx},
        {"parallel", m.parallel},
        {"weight_bytes", m.weight_bytes},
        {"kv_bytes_per_token",
         {{"f16", m.kv_bytes_per_token_f16}, {"q8_0", m.kv_bytes_per_token_q8_0}}},
        {"kv_bytes", {{"f16", m.kv_bytes_f16}, {"q8_0", m.kv_bytes_q8_0}}},
        {"compute_bytes", m.compute_bytes},
        {"total_bytes", {{"f16_kv", m.total_f16}, {"q8_0_kv", m.total_q8_0}}}}},
  };
  if (info.file_type) j["file_type"] = *info.file_type;
  return j;
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

}  // namespace

void RegisterModelCommands(CLI::App& app, GlobalOptions& globals, Action* action) {
  auto* model = app.add_subcommand("model", "Inspect, synthesize and quantize GGUF models");
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
  RegisterModelEval(*model, globals, action);  // command_eval.cc
}

}  // namespace hearth::cli

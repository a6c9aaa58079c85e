// `hearth bench …`: serving load generator (`serve`), and later in-process engine figures and
// machine ceilings.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <sstream>

#include "hearth/cli/commands.h"
#include "hearth/engine/engine.h"
#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/model_info.h"
#include "hearth/kernels/roofline.h"
#include "hearth/loadgen/load_runner.h"
#include "hearth/loadgen/report.h"
#include "hearth/tokenizer/tokenizer.h"

namespace hearth::cli {
namespace {

struct BenchServeFlags {
  std::string url = "http://127.0.0.1:8080";
  std::string model = "default";
  std::string endpoint = "completions";
  std::string workload = "random";
  std::string prompts_file;
  std::string api_key;
  std::string json_out;
  std::string tokenizer_path;  // GGUF whose tokenizer makes prompts token-exact
  int input_len = 256;
  int output_len = 64;
  double range_ratio = 0;
  int prefix_len = 1024;
  int suffix_len = 32;
  int turns = 3;
  int concurrency = 16;
  double request_rate = 0;
  int num_requests = 48;
  double duration_s = 0;
  int warmup = 0;
  uint64_t seed = 0;
  double slo_ttft_ms = 0;
  double slo_tpot_ms = 0;
  bool no_ignore_eos = false;
  bool json_stdout = false;
  int timeout_s = 600;
};

Result<loadgen::WorkloadKind> ParseWorkloadKind(const std::string& name) {
  if (name == "random") return loadgen::WorkloadKind::kRandom;
  if (name == "shared-prefix") return loadgen::WorkloadKind::kSharedPrefix;
  if (name == "multi-turn") return loadgen::WorkloadKind::kMultiTurn;
  if (name == "jsonl") return loadgen::WorkloadKind::kJsonl;
  return Status::InvalidArgument("unknown workload '" + name +
                                 "' (random, shared-prefix, multi-turn, jsonl)");
}

int RunBenchServe(const BenchServeFlags& f) {
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "hearth: %s\n", message.c_str());
    return 1;
  };
  loadgen::RunOptions run;
  std::string error;
  if (!loadgen::ParseBaseUrl(f.url, &run.endpoint, &error)) return fail(error);
  if (f.endpoint != "completions" && f.endpoint != "chat") {
    return fail("--endpoint must be completions or chat");
  }
  run.endpoint.api_key = f.api_key;
  run.model = f.model;
  run.chat = f.endpoint == "chat";
  run.concurrency = f.concurrency;
  run.request_rate = f.request_rate;
  run.num_requests = f.num_requests;
  run.max_duration_s = f.duration_s;
  run.warmup_requests = f.warmup;
  run.ignore_eos = !f.no_ignore_eos;
  run.seed = f.seed;
  run.timeout = std::chrono::seconds(f.timeout_s);

  auto kind = ParseWorkloadKind(f.workload);
  if (!kind.ok()) return fail(kind.status().message());
  loadgen::WorkloadOptions w;
  w.kind = *kind;
  w.chat = run.chat;
  w.input_len = f.input_len;
  w.output_len = f.output_len;
  w.range_ratio = f.range_ratio;
  w.prefix_len = f.prefix_len;
  w.suffix_len = f.suffix_len;
  w.turns = f.turns;
  w.jsonl_path = f.prompts_file;
  w.seed = f.seed;
  std::shared_ptr<const loadgen::TextCodec> codec;
  if (!f.tokenizer_path.empty()) {
    auto tok = tokenizer::Tokenizer::Open(f.tokenizer_path);
    if (!tok.ok()) return fail(tok.status().message());
    auto shared = std::make_shared<tokenizer::Tokenizer>(std::move(tok).value());
    auto c = std::make_shared<loadgen::TextCodec>();
    c->encode = [shared](std::string_view text) { return shared->Encode(text, false, false); };
    c->decode = [shared](const std::vector<int32_t>& ids) {
      return shared->Decode(ids).value_or(std::string());
    };
    c->is_plain_token = [shared](int32_t id) {
      return shared->vocab().type(id) == tokenizer::TokenType::kNormal;
    };
    c->vocab_size = shared->vocab().size();
    codec = std::move(c);
  }
  auto workload = loadgen::MakeWorkload(w, codec);
  if (!workload.ok()) return fail(workload.status().message());

  bool tty = isatty(STDERR_FILENO);
  if (tty) {
    run.progress = [](int done, int total) {
      int width = 40;
      int filled = total > 0 ? done * width / total : width;
      std::fprintf(stderr, "\r[%s%s] %d/%d", std::string(filled, '#').c_str(),
                   std::string(width - filled, ' ').c_str(), done, total);
      if (done == total) std::fputc('\n', stderr);
    };
  }
  auto result = loadgen::RunBenchmark(run, **workload);
  loadgen::Slo slo;
  if (f.slo_ttft_ms > 0) slo.ttft_s = f.slo_ttft_ms / 1e3;
  if (f.slo_tpot_ms > 0) slo.tpot_s = f.slo_tpot_ms / 1e3;
  auto summary = loadgen::Summarize(result.records, result.duration_s, slo);
  nlohmann::json doc = loadgen::SummaryToJson(summary);
  doc["config"] = {{"url", f.url},           {"model", f.model},
                   {"endpoint", f.endpoint}, {"workload", f.workload},
                   {"input_len", f.input_len}, {"output_len", f.output_len},
                   {"prefix_len", f.prefix_len}, {"suffix_len", f.suffix_len},
                   {"concurrency", f.concurrency}, {"request_rate", f.request_rate},
                   {"num_requests", f.num_requests}, {"seed", f.seed},
                   {"token_exact", codec != nullptr}};
  if (f.json_stdout) {
    std::cout << doc.dump(2) << "\n";
  } else {
    std::cout << loadgen::SummaryToTable(summary);
  }
  if (!f.json_out.empty()) {
    std::ofstream out(f.json_out);
    out << doc.dump(2) << "\n";
    if (!out) return fail("cannot write " + f.json_out);
  }
  return summary.completed > 0 ? 0 : 1;
}


struct BenchEngineFlags {
  std::string model;
  int threads = 0;
  int prompt = 512;
  std::string batches = "1,4,16";
  int context = 128;
  int generate = 32;
  bool json = false;
  bool skip_roofline = false;
  bool no_huge_pages = false;
};

// Observes one sequence: time of its first and last token.
class TimingObserver : public engine::SequenceObserver {
 public:
  using Clock = std::chrono::steady_clock;
  void OnToken(const engine::TokenEvent&) override {
    std::lock_guard lock(mutex_);
    if (tokens_++ == 0) first_ = Clock::now();
    last_ = Clock::now();
  }
  void OnFinish(engine::FinishReason reason, const Status& status) override {
    std::lock_guard lock(mutex_);
    done_ = true;
    ok_ = reason != engine::FinishReason::kError && status.ok();
    cv_.notify_all();
  }
  bool Wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return done_; });
    return ok_;
  }
  Clock::time_point first() const { return first_; }
  Clock::time_point last() const { return last_; }
  int tokens() const { return tokens_; }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false, ok_ = false;
  int tokens_ = 0;
  Clock::time_point first_, last_;
};

engine::GenerationRequest SyntheticRequest(int prompt_tokens, int max_tokens, int salt,
                                           int vocab) {
  engine::GenerationRequest r;
  for (int i = 0; i < prompt_tokens; ++i) {
    r.prompt.push_back(static_cast<int32_t>(100 + (i * 7919 + salt * 104729) % (vocab - 200)));
  }
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  r.sampling.temperature = 0;
  return r;
}

// Runs `requests` together; returns seconds from submission to the last token, and the decode
// rate (tokens after each sequence's first, over the time from the last first-token to the end).
struct PhaseTiming {
  double total_s = 0;
  double decode_tok_per_s = 0;
  bool ok = true;
};

PhaseTiming RunTogether(engine::Engine& e, const std::vector<engine::GenerationRequest>& requests) {
  std::vector<std::shared_ptr<TimingObserver>> observers;
  auto start = TimingObserver::Clock::now();
  for (const auto& r : requests) {
    observers.push_back(std::make_shared<TimingObserver>());
    if (!e.Submit(r, observers.back()).ok()) return {0, 0, false};
  }
  PhaseTiming t;
  TimingObserver::Clock::time_point all_first = start, end = start;
  int64_t steady = 0;  // tokens after each sequence's first: steady decode
  for (auto& o : observers) {
    t.ok = o->Wait() && t.ok;
    all_first = std::max(all_first, o->first());
    end = std::max(end, o->last());
    steady += std::max(0, o->tokens() - 1);
  }
  t.total_s = std::chrono::duration<double>(end - start).count();
  double decode_s = std::chrono::duration<double>(end - all_first).count();
  t.decode_tok_per_s = decode_s > 0 ? static_cast<double>(steady) / decode_s : 0;
  return t;
}

int RunBenchEngine(const BenchEngineFlags& f) {
  auto fail = [](const std::string& m) {
    std::fprintf(stderr, "hearth: %s\n", m.c_str());
    return 1;
  };
  auto file = gguf::GgufFile::Open(f.model);
  if (!file.ok()) return fail(file.status().message());
  auto info = gguf::DescribeModel(*file);
  if (!info.ok()) return fail(info.status().message());
  // Bytes streamed per decode step: every weight except the embedding table, which is read one
  // row at a time unless it doubles as the output projection.
  uint64_t step_bytes = 0;
  bool tied = file->FindTensor("output.weight") == nullptr;
  // Multiply-adds per prompt token: every matrix of the layers. The embedding is a row lookup and
  // the output projection runs for the last prompt token only, so neither counts (counting all
  // parameters would overstate prefill GOPS by a fifth at a 102,400-token vocabulary).
  int64_t prompt_macs_per_token = 0;
  for (const auto& t : file->tensors()) {
    if (t.dims.size() >= 2 && t.name != "token_embd.weight" && t.name != "output.weight") {
      prompt_macs_per_token += t.element_count;
    }
    if (t.name == "token_embd.weight" && !tied) continue;
    step_bytes += t.size_bytes;
  }
  std::vector<int> batches;
  std::stringstream list(f.batches);
  for (std::string item; std::getline(list, item, ',');) batches.push_back(std::stoi(item));
  int max_batch = *std::max_element(batches.begin(), batches.end());

  engine::EngineOptions o;
  o.model_path = f.model;
  o.threads = f.threads;
  o.context_length = std::max(f.prompt, f.context) + f.generate + 16;
  o.max_parallel = std::max(1, max_batch);
  o.prefix_cache = false;  // measure computation, not cache hits
  o.huge_pages = !f.no_huge_pages;
  auto e = engine::Engine::Create(o);
  if (!e.ok()) return fail(e.status().message());
  int vocab = info->vocab_size;

  kernels::Roofline roof;
  if (!f.skip_roofline) roof = kernels::MeasureRoofline({f.threads});
  // Warm-up: page the weights in.
  RunTogether(**e, {SyntheticRequest(16, 2, 99, vocab)});

  nlohmann::json doc = {{"model", f.model},
                        {"parameters", info->parameters},
                        {"bytes_per_decode_step", step_bytes},
                        {"threads", roof.threads},
                        {"roofline",
                         {{"triad_gb_per_s", roof.triad_gb_per_s},
                          {"fma_gflops", roof.fma_gflops},
                          {"int8_gops", roof.int8_gops},
                          {"int8_block_gops", roof.int8_block_gops}}}};
  // Prefill: one prompt of f.prompt tokens, one generated token.
  auto prefill = RunTogether(**e, {SyntheticRequest(f.prompt, 1, 0, vocab)});
  if (!prefill.ok) return fail("prefill run failed");
  double prefill_tps = f.prompt / prefill.total_s;
  double prefill_gops = 2.0 * static_cast<double>(prompt_macs_per_token) * prefill_tps / 1e9;
  doc["prefill"] = {{"tokens", f.prompt},
                    {"tok_per_s", prefill_tps},
                    {"gops", prefill_gops},
                    {"fraction_of_int8_peak", roof.int8_gops > 0 ? prefill_gops / roof.int8_gops : 0},
                    {"fraction_of_int8_block_ceiling",
                     roof.int8_block_gops > 0 ? prefill_gops / roof.int8_block_gops : 0}};
  doc["decode"] = nlohmann::json::array();
  for (int b : batches) {
    std::vector<engine::GenerationRequest> requests;
    for (int i = 0; i < b; ++i) requests.push_back(SyntheticRequest(f.context, f.generate, i + 1, vocab));
    auto d = RunTogether(**e, requests);
    if (!d.ok) return fail("decode run failed");
    double roofline_tps = roof.triad_gb_per_s > 0 ? roof.triad_gb_per_s * 1e9 / step_bytes : 0;
    doc["decode"].push_back({{"sequences", b},
                             {"context", f.context},
                             {"tok_per_s", d.decode_tok_per_s},
                             {"step_per_s", d.decode_tok_per_s / b},
                             {"fraction_of_bandwidth_roofline",
                              roofline_tps > 0 ? (d.decode_tok_per_s / b) / roofline_tps : 0}});
  }
  (*e)->Shutdown(0);
  if (f.json) {
    std::cout << doc.dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format("model {} ({:.0f}M parameters, {:.0f} MB read per decode step)\n",
                           f.model, info->parameters / 1e6, step_bytes / 1e6);
  std::cout << fmt::format("machine: {} threads, triad {:.1f} GB/s, int8 {:.0f} GOPS\n",
                           roof.threads, roof.triad_gb_per_s, roof.int8_gops);
  std::cout << fmt::format(
      "prefill {} tokens: {:.1f} tok/s ({:.0f} GOPS, {:.0f}% of int8 peak, {:.0f}% of the int8 "
      "block-dot ceiling)\n",
      f.prompt, prefill_tps, prefill_gops,
      100 * doc["prefill"]["fraction_of_int8_peak"].get<double>(),
      100 * doc["prefill"]["fraction_of_int8_block_ceiling"].get<double>());
  for (const auto& d : doc["decode"]) {
    std::cout << fmt::format(
        "decode {:>3} sequences (ctx {}): {:.1f} tok/s total ({:.0f}% of bandwidth roofline per "
        "step)\n",
        d["sequences"].get<int>(), f.context, d["tok_per_s"].get<double>(),
        100 * d["fraction_of_bandwidth_roofline"].get<double>());
  }
  return 0;
}

int RunRoofline(int threads, bool json) {
  kernels::RooflineOptions options;
  options.threads = threads;
  kernels::Roofline r = kernels::MeasureRoofline(options);
  if (json) {
    nlohmann::json doc = {{"threads", r.threads},
                          {"triad_gb_per_s", r.triad_gb_per_s},
                          {"fma_gflops", r.fma_gflops},
                          {"fma_instruction", r.fma_instruction},
                          {"int8_gops", r.int8_gops},
                          {"int8_instruction", r.int8_instruction},
                          {"int8_block_gops", r.int8_block_gops}};
    std::cout << doc.dump(2) << "\n";
  } else {
    std::cout << fmt::format("threads                  {}\n", r.threads)
              << fmt::format("memory bandwidth (triad) {:.1f} GB/s\n", r.triad_gb_per_s)
              << fmt::format("fp32 FMA peak            {:.1f} GFLOP/s ({})\n", r.fma_gflops,
                             r.fma_instruction)
              << fmt::format("int8 dot peak            {:.1f} GOPS ({})\n", r.int8_gops,
                             r.int8_instruction)
              << fmt::format("int8 block-dot ceiling   {:.1f} GOPS (Q8_0 blocks: sign, maddubs, "
                             "madd, convert, scaled FMA)\n",
                             r.int8_block_gops);
  }
  return 0;
}

}  // namespace

void RegisterBench(CLI::App& app, GlobalOptions& /*globals*/, Action* action) {
  auto* bench = app.add_subcommand("bench", "Benchmarks: serving load, engine speed, machine limits");
  bench->require_subcommand(1);
  auto flags = std::make_shared<BenchServeFlags>();
  auto* serve = bench->add_subcommand(
      "serve", "Load-test any OpenAI-compatible server (closed or open loop, streaming)");
  serve->add_option("--url", flags->url, "server base URL")->capture_default_str();
  serve->add_option("--model", flags->model, "model name sent in requests")->capture_default_str();
  serve->add_option("--endpoint", flags->endpoint, "completions or chat")->capture_default_str();
  serve->add_option("--workload", flags->workload, "random, shared-prefix, multi-turn or jsonl")
      ->capture_default_str();
  serve->add_option("--prompts", flags->prompts_file,
                    "JSONL prompts (prompt / messages / ShareGPT conversations)");
  serve->add_option("--tokenizer", flags->tokenizer_path,
                    "GGUF whose tokenizer makes prompts token-exact (sent as token ids to "
                    "/v1/completions)");
  serve->add_option("--input-len", flags->input_len, "prompt tokens")->capture_default_str();
  serve->add_option("--output-len", flags->output_len, "output tokens")->capture_default_str();
  serve->add_option("--range-ratio", flags->range_ratio, "length spread: uniform ±ratio");
  serve->add_option("--prefix-len", flags->prefix_len, "shared-prefix: common prefix tokens");
  serve->add_option("--suffix-len", flags->suffix_len, "shared-prefix: unique tokens");
  serve->add_option("--turns", flags->turns, "multi-turn: user turns per conversation");
  serve->add_option("--concurrency", flags->concurrency,
                    "closed loop: concurrent users; open loop: cap (0 = none)")
      ->capture_default_str();
  serve->add_option("--request-rate", flags->request_rate,
                    "open loop: Poisson arrivals per second (0 = closed loop)");
  serve->add_option("--num-requests", flags->num_requests, "measured requests")
      ->capture_default_str();
  serve->add_option("--duration", flags->duration_s, "stop issuing after this many seconds");
  serve->add_option("--warmup", flags->warmup, "warm-up requests (not measured)");
  serve->add_option("--seed", flags->seed, "workload seed");
  serve->add_option("--slo-ttft-ms", flags->slo_ttft_ms, "goodput: TTFT objective");
  serve->add_option("--slo-tpot-ms", flags->slo_tpot_ms, "goodput: TPOT objective");
  serve->add_flag("--no-ignore-eos", flags->no_ignore_eos, "let the model stop at EOS");
  serve->add_option("--api-key", flags->api_key, "bearer token");
  serve->add_option("--timeout", flags->timeout_s, "per-request timeout (s)");
  serve->add_flag("--json", flags->json_stdout, "print JSON instead of the table");
  serve->add_option("--json-out", flags->json_out, "also write the JSON result to this file");
  serve->callback([flags, action] { *action = [flags] { return RunBenchServe(*flags); }; });

  auto engine_flags = std::make_shared<BenchEngineFlags>();
  auto* engine = bench->add_subcommand(
      "engine", "In-process engine speed: prefill and decode tok/s at several batch sizes, as a "
                "fraction of this machine's roofline");
  engine->add_option("model", engine_flags->model, "GGUF model")->required();
  engine->add_option("--threads", engine_flags->threads, "compute threads (0: one per core)");
  engine->add_option("--prompt", engine_flags->prompt, "prefill tokens")->capture_default_str();
  engine->add_option("--batches", engine_flags->batches, "decode batch sizes, comma separated")
      ->capture_default_str();
  engine->add_option("--ctx", engine_flags->context, "prompt tokens before decode")
      ->capture_default_str();
  engine->add_option("--generate", engine_flags->generate, "tokens generated per sequence")
      ->capture_default_str();
  engine->add_flag("--json", engine_flags->json, "print JSON");
  engine->add_flag("--no-roofline", engine_flags->skip_roofline, "skip measuring the ceilings");
  engine->add_flag("--no-huge-pages", engine_flags->no_huge_pages,
                   "map the model file instead of reading it into huge pages");
  engine->callback([=] { *action = [=] { return RunBenchEngine(*engine_flags); }; });

  auto roofline_threads = std::make_shared<int>(0);
  auto roofline_json = std::make_shared<bool>(false);
  auto* roofline = bench->add_subcommand(
      "roofline", "Measure this machine's ceilings: triad bandwidth, FMA and int8-dot peaks");
  roofline->add_option("--threads", *roofline_threads, "threads (0: one per core)");
  roofline->add_flag("--json", *roofline_json, "print JSON");
  roofline->callback([=] {
    *action = [=] { return RunRoofline(*roofline_threads, *roofline_json); };
  });
}

}  // namespace hearth::cli

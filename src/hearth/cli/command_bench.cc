// `hearth bench …`: serving load generator (`serve`), and later in-process engine figures and
// machine ceilings.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "hearth/cli/commands.h"
#include "hearth/kernels/roofline.h"
#include "hearth/loadgen/load_runner.h"
#include "hearth/loadgen/report.h"

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
  auto workload = loadgen::MakeWorkload(w, nullptr);
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
                   {"num_requests", f.num_requests}, {"seed", f.seed}};
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
                          {"int8_instruction", r.int8_instruction}};
    std::cout << doc.dump(2) << "\n";
  } else {
    std::cout << fmt::format("threads                  {}\n", r.threads)
              << fmt::format("memory bandwidth (triad) {:.1f} GB/s\n", r.triad_gb_per_s)
              << fmt::format("fp32 FMA peak            {:.1f} GFLOP/s ({})\n", r.fma_gflops,
                             r.fma_instruction)
              << fmt::format("int8 dot peak            {:.1f} GOPS ({})\n", r.int8_gops,
                             r.int8_instruction);
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

#!/usr/bin/env bash
# bench/run.sh SCENARIO [--preset P] [--type T] [--label TEXT] [-- extra serve flags]
#
# Starts `hearth engine` (one model, no platform) on a synthesized model, runs the scenario's load with `hearth bench
# serve`, stops the server and appends the result to docs/BENCHMARKS.md with the command, the git
# commit and the machine's measured ceilings. The model is a random-weight model with the
# scenario-independent default shape: qwen2.5-0.5b with the deepseek-llm vocabulary (102,400
# tokens), as in the reference figures.
set -euo pipefail
cd "$(dirname "$0")/.."

scenario=${1:?usage: bench/run.sh SCENARIO [--preset P] [--type T] [--label TEXT] [-- serve flags]}
shift
preset=qwen2.5-0.5b
type=q8_0
label=""
extra_serve=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --preset) preset=$2; shift 2 ;;
    --type) type=$2; shift 2 ;;
    --label) label=$2; shift 2 ;;
    --) shift; extra_serve=("$@"); break ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

conf=bench/scenarios/$scenario.conf
[[ -f $conf ]] || { echo "bench/run.sh: no scenario $conf" >&2; exit 2; }
# shellcheck source=/dev/null
source "$conf"

hearth=build/hearth
[[ -x $hearth ]] || ./scripts/build.sh
vocab=../shared/fixtures/tokenizer/ggml-vocab-deepseek-llm.gguf
models=bench/.models
mkdir -p "$models"
model=$models/$preset-$type.gguf
if [[ ! -f $model ]]; then
  "$hearth" model synth "$model" --preset "$preset" --type "$type" --vocab-from "$vocab" --seed 1
fi

port=$(( 20000 + RANDOM % 20000 ))
log=$(mktemp)
# shellcheck disable=SC2086
"$hearth" engine --model "$model" --port "$port" --threads "$(nproc)" $SERVE_ARGS \
  "${extra_serve[@]}" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  kill -0 $server 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done

result=$(mktemp)
served=$(curl -sf "http://127.0.0.1:$port/v1/models" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
# shellcheck disable=SC2086
bench_cmd="$hearth bench serve --url http://127.0.0.1:$port --model $served --tokenizer $vocab $BENCH_ARGS"
$bench_cmd --json-out "$result"
kill -INT $server
wait $server || true
trap - EXIT

roofline=$("$hearth" bench roofline --json)
commit=$(git rev-parse --short HEAD)
python3 - "$result" "$scenario" "$label" "$commit" "$preset" "$type" "$bench_cmd" \
  "$SERVE_ARGS ${extra_serve[*]}" "$roofline" >>docs/BENCHMARKS.md <<'PY'
import json, sys
result, scenario, label, commit, preset, qtype, cmd, serve, roof = sys.argv[1:]
r = json.load(open(result)); roof = json.loads(roof)
name = scenario + (f" ({label})" if label else "")
print(f"\n### Scenario `{name}` — commit {commit}\n")
print(f"Model: synth {preset} {qtype} (deepseek-llm vocabulary). Server flags: `{serve.strip()}`.")
print(f"Command: `bench/run.sh {scenario}` → `{cmd}`\n")
print(f"Machine: {roof['threads']} threads, triad {roof['triad_gb_per_s']:.1f} GB/s, "
      f"FMA {roof['fma_gflops']:.0f} GFLOP/s, int8 {roof['int8_gops']:.0f} GOPS\n")
print("| completed | failed | output tok/s | req/s | TTFT p50 / p99 (ms) | TPOT p50 (ms) | ITL p50 (ms) | E2E p50 (ms) |")
print("|---|---|---|---|---|---|---|---|")
print(f"| {r['completed']} | {r['failed']} | {r['output_token_throughput']:.1f} | "
      f"{r['request_throughput']:.2f} | {r['ttft_ms']['median']:.0f} / {r['ttft_ms']['p99']:.0f} | "
      f"{r['tpot_ms']['median']:.0f} | {r['itl_ms']['median']:.0f} | {r['e2e_latency_ms']['median']:.0f} |")
PY
echo "bench/run.sh: appended $scenario to docs/BENCHMARKS.md"

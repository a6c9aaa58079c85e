#!/usr/bin/env bash
# Writes the gguf fuzzer's seed corpus into fuzz/corpus/gguf/ (not committed: GGUF files stay out
# of the repository). Seeds: tiny synthetic models of both architectures and several types, plus
# truncated copies that stop inside the header and inside the tensor data.
set -euo pipefail
cd "$(dirname "$0")/.."
hearth=${HEARTH:-build/hearth}
out=fuzz/corpus/gguf
mkdir -p "$out"
"$hearth" model synth "$out/tiny-llama-f16.gguf" --preset tiny --arch llama --type f16 --seed 1
"$hearth" model synth "$out/tiny-llama-q4_0.gguf" --preset tiny --arch llama --type q4_0 --seed 2
"$hearth" model synth "$out/tiny-qwen2-q8_0.gguf" --preset tiny --arch qwen2 --type q8_0 --seed 3
head -c 300 "$out/tiny-qwen2-q8_0.gguf" >"$out/tiny-qwen2-truncated-header.gguf"
size=$(stat -c %s "$out/tiny-qwen2-q8_0.gguf")
head -c $((size - 1000)) "$out/tiny-qwen2-q8_0.gguf" >"$out/tiny-qwen2-truncated-data.gguf"
echo "wrote $(ls "$out" | wc -l) seeds to $out"

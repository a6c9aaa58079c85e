#!/usr/bin/env bash
# The README's first command: installs dependencies, builds Hearth and starts the platform,
# `hearth serve`, with its embedded defaults (127.0.0.1:8080, SQLite store and models in
# ~/.hearth). Extra arguments go to `hearth serve`. The model given with --model is registered
# and deployed for the tenant "default", and an API key to try it with is printed. Without
# --model (and without engine.model configured) it deploys a small random-weight demo model that
# it synthesizes once, so that the API can be tried at once; its output is meaningless text.
# Serve a real GGUF with: scripts/quickstart.sh --model /path/to/model.gguf
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh

args=("$@")
if [[ " $* " != *" --model "* && -z "${HEARTH_ENGINE_MODEL:-}" ]]; then
  data_dir=${HEARTH_DATA_DIR:-$HOME/.hearth}
  demo=$data_dir/demo/demo-tiny-random.gguf
  if [[ ! -f $demo ]]; then
    mkdir -p "$(dirname "$demo")"
    ./build/hearth model synth "$demo" --preset tiny --arch qwen2 --type q8_0 --seed 1
  fi
  echo "quickstart: no --model given; serving a random-weight demo model ($demo)." >&2
  args+=(--model "$demo")
fi
exec ./build/hearth serve "${args[@]}"

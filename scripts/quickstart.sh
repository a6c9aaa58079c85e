#!/usr/bin/env bash
# The README's first command: installs dependencies, builds Hearth and starts `hearth serve` with
# its embedded defaults (127.0.0.1:8080, data in ~/.hearth). Extra arguments go to `hearth serve`.
# Without --model (and without engine.model configured) it serves a small random-weight demo
# model that it synthesizes once, so that the API can be tried at once; its output is
# meaningless text. Serve a real GGUF with: scripts/quickstart.sh --model /path/to/model.gguf
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh

args=("$@")
if [[ " $* " != *" --model "* && -z "${HEARTH_ENGINE_MODEL:-}" ]]; then
  data_dir=${HEARTH_DATA_DIR:-$HOME/.hearth}
  demo=$data_dir/models/demo-tiny-random.gguf
  if [[ ! -f $demo ]]; then
    mkdir -p "$(dirname "$demo")"
    ./build/hearth model synth "$demo" --preset tiny --arch qwen2 --type q8_0 --seed 1
  fi
  echo "quickstart: no --model given; serving a random-weight demo model ($demo)." >&2
  echo "quickstart: try: curl http://127.0.0.1:8080/v1/models" >&2
  args+=(--model "$demo")
fi
exec ./build/hearth serve "${args[@]}"

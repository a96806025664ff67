#!/usr/bin/env bash
# Builds the example modules from source and checks them against the byte ABI with an
# independent runtime (wasmtime, from PyPI, in a virtualenv under .build/).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build/venv-wasmtime
out=.build/wasm-examples
bash scripts/build-wasm-examples.sh "$out" >/dev/null
if ! "$venv/bin/python" -c 'import wasmtime' 2>/dev/null; then
    echo "check-wasm-examples: installing wasmtime from PyPI into $venv (Benchmarks/wasmtime/requirements.txt)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r Benchmarks/wasmtime/requirements.txt
fi
"$venv/bin/python" Benchmarks/wasmtime/check_examples.py --wasm-dir "$out"

#!/usr/bin/env bash
# `make bench-python`: builds the release libllmdb.so, installs the llmdb package and PyPI's
# lmdb (py-lmdb, pinned) into a venv (.build/venv-bench-python), and runs
# scripts/bench_python.py with the arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."
lib="$(bash scripts/build-lib.sh release | tail -1)"
venv=.build/venv-bench-python
if [ ! -x "$venv/bin/python" ]; then
    echo "bench-python: creating $venv" >&2
    python3 -m venv "$venv"
fi
echo "bench-python: installing lmdb==3.0.0 (PyPI) and ./bindings/python (with $lib)" >&2
"$venv/bin/pip" install -q lmdb==3.0.0
LLMDB_LIBRARY="$lib" "$venv/bin/pip" install -q --force-reinstall --no-deps ./bindings/python
exec "$venv/bin/python" scripts/bench_python.py "$@"

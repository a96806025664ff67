#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
echo "test: checking the source format (scripts/format.sh --check)" >&2
bash scripts/format.sh --check
echo "test: building (debug, with tests; imports checked against declared dependencies)" >&2
swift build --build-tests --explicit-target-dependency-import-check error -Xswiftc -warnings-as-errors
echo "test: running the test suite" >&2
swift test --skip-build
echo "test: checking the example WebAssembly modules against the ABI with wasmtime (scripts/check-wasm-examples.sh)" >&2
bash scripts/check-wasm-examples.sh
echo "test: checking the server from outside: schemathesis against /openapi.json, the Python MCP client over stdio and HTTP, auth, bad input and faults (scripts/check-server.sh)" >&2
SCHEMATHESIS_SEED=${SCHEMATHESIS_SEED:-20261125} bash scripts/check-server.sh
echo "test: the C library: libllmdb.so from this debug build (scripts/build-lib.sh debug --no-build)" >&2
LLMDB_LIBRARY="$(bash scripts/build-lib.sh debug --no-build | tail -1)"
export LLMDB_LIBRARY
echo "test: the C ABI: tests/c/test_abi.c compiled with cc, run as it is and under valgrind (scripts/check-c-abi.sh)" >&2
bash scripts/check-c-abi.sh
echo "test: the Python package: pip install ./bindings/python in a venv, its tests and the seed's agent patterns (scripts/check-python.sh)" >&2
bash scripts/check-python.sh
echo "test: running the semantic suites again with internal invariant checks after every commit (-D LLMDB_INTERNAL_CHECKS)" >&2
swift test --scratch-path .build-checks -Xswiftc -DLLMDB_INTERNAL_CHECKS \
    --filter 'ModelBasedTests|TimeSemanticsTests|BadInputTests|GroupCommitTests|EraseTests'

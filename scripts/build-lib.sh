#!/usr/bin/env bash
# Builds the C library: libllmdb.so and its header, into .build/c-abi/{lib,include}.
#   scripts/build-lib.sh            release build (what the Python package and benchmarks use)
#   scripts/build-lib.sh debug      debug build (what the test suite uses; faster to build)
#   ... --no-build                  only copy what `swift build` already built (scripts/test.sh
#                                   builds with its own flags; building again would rebuild it all)
# Prints the library's path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
config="${1:-release}"
build=1
if [ "${2:-}" = "--no-build" ]; then build=0; fi
case "$config" in
    debug | release) ;;
    *) echo "build-lib: the configuration is 'debug' or 'release', not '$config'" >&2; exit 2 ;;
esac
if [ "$build" = 1 ]; then
    echo "build-lib: building libllmdb.so ($config; a first build takes a few minutes)" >&2
    swift build -c "$config" --product LLMDBEmbedded >&2
fi
out=.build/c-abi
mkdir -p "$out/lib" "$out/include"
# SwiftPM names the file after the product; its soname is already libllmdb.so.
cp -f ".build/$config/libLLMDBEmbedded.so" "$out/lib/libllmdb.so.tmp"
mv -f "$out/lib/libllmdb.so.tmp" "$out/lib/libllmdb.so"
cp -f include/llmdb.h "$out/include/llmdb.h"
echo "build-lib: $out/lib/libllmdb.so and $out/include/llmdb.h" >&2
echo "$PWD/$out/lib/libllmdb.so"

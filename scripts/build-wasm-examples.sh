#!/usr/bin/env bash
# Compiles the C examples in examples/wasm/ to WebAssembly modules with the Swift
# toolchain's own clang and wasm-ld: scripts/build-wasm-examples.sh [OUTDIR]
# (default build/wasm in the repository). The .wat examples need no build: LLMDB
# registers them as text.
set -euo pipefail
out="${1:-}"
if [ -n "$out" ] && [ "${out#/}" = "$out" ]; then out="$PWD/$out"; fi # relative to the caller
cd "$(dirname "$0")/.."
out="${out:-build/wasm}"

# The toolchain: clang and wasm-ld next to `swift` (following symlinks), else on PATH.
bindir=""
if swift_path="$(command -v swift 2>/dev/null)"; then
    bindir="$(dirname "$(readlink -f "$swift_path")")"
elif [ -x /opt/swift/usr/bin/swift ]; then
    bindir=/opt/swift/usr/bin
fi
clang="" wasm_ld=""
if [ -n "$bindir" ] && [ -x "$bindir/clang" ]; then clang="$bindir/clang"; fi
if [ -n "$bindir" ] && [ -x "$bindir/wasm-ld" ]; then wasm_ld="$bindir/wasm-ld"; fi
if [ -z "$clang" ]; then clang="$(command -v clang 2>/dev/null || true)"; fi
if [ -z "$wasm_ld" ]; then wasm_ld="$(command -v wasm-ld 2>/dev/null || true)"; fi
if [ -z "$clang" ] || [ -z "$wasm_ld" ]; then
    echo "build-wasm-examples: need clang and wasm-ld (they ship with the Swift toolchain;" \
        "put swift on PATH, or clang with the wasm32 target and wasm-ld)" >&2
    exit 1
fi
echo "build-wasm-examples: compiling examples/wasm/*.c with $clang into $out/" >&2

mkdir -p "$out"
# -nostdlib: no libc (the examples are freestanding). --no-entry: a library, no _start.
# --strip-all drops debug names only: the export section is kept. Memory is exported as
# "memory" by wasm-ld's default; llmdb.* functions stay imports (--allow-undefined is not
# needed: the header marks them as imports).
for src in examples/wasm/*.c; do
    name="$(basename "$src" .c)"
    "$clang" --target=wasm32 -mbulk-memory -O2 -nostdlib -ffreestanding -std=c11 -Wall -Wextra -Werror \
        -I include -I examples/wasm \
        -fuse-ld="$wasm_ld" -Wl,--no-entry -Wl,--strip-all \
        -o "$out/$name.wasm" "$src"
    echo "$out/$name.wasm ($(wc -c <"$out/$name.wasm") bytes)"
done

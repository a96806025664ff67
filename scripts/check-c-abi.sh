#!/usr/bin/env bash
# The C ABI from C: builds libllmdb.so (debug), compiles tests/c/test_abi.c against
# include/llmdb.h with `cc -std=c11 -Wall -Wextra -Werror`, runs it, then (if it passed) runs
# it again under valgrind's memcheck: any invalid access or use of an uninitialised value, any
# definitely or indirectly lost block, fails the check (--errors-for-leak-kinds=definite,indirect
# --error-exitcode=99). Exits 1 on any failure, 2 on bad arguments.
# tests/c/valgrind.supp suppresses two reads of uninitialised memory, one in the Swift runtime
# and one in WasmKit (see that file for which and why); no leak, and nothing of LLMDB's own
# code, is suppressed.
#
# Environment: LLMDB_LIBRARY (an existing libllmdb.so to test instead of building one),
# CC (default cc), CHECK_C_ABI_VALGRIND=0 to skip the valgrind run (it is installed with
# apt-get when missing), LLMDB_TEST_COMMITS (the writer's commits in the thread test;
# default 500, and 100 under valgrind, which runs threads one at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cc=${CC:-cc}
use_valgrind=${CHECK_C_ABI_VALGRIND:-1}

if [ -n "${LLMDB_LIBRARY:-}" ]; then
    if [ ! -f "$LLMDB_LIBRARY" ]; then
        echo "check-c-abi: LLMDB_LIBRARY=$LLMDB_LIBRARY does not exist" >&2
        exit 2
    fi
    lib=$LLMDB_LIBRARY
    echo "check-c-abi: testing $lib (LLMDB_LIBRARY)" >&2
else
    echo "check-c-abi: building libllmdb.so (debug) with scripts/build-lib.sh" >&2
    lib=$(bash scripts/build-lib.sh debug | tail -n 1)
fi
case $lib in /*) ;; *) lib=$root/$lib ;; esac
libdir=$(dirname "$lib")
if [ "$(basename "$lib")" != libllmdb.so ]; then
    echo "check-c-abi: the library must be named libllmdb.so (got $lib)" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmdb-check-c-abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/test_abi
echo "check-c-abi: compiling tests/c/test_abi.c with $cc -std=c11 -Wall -Wextra -Werror" >&2
"$cc" -std=c11 -Wall -Wextra -Werror -g -O1 -Iinclude tests/c/test_abi.c \
    -L"$libdir" -lllmdb -Wl,-rpath,"$libdir" -lpthread -o "$bin"

status=0
echo "check-c-abi: running the test" >&2
if ! TMPDIR=$tmp "$bin"; then
    echo "check-c-abi: the test FAILED" >&2
    status=1
fi

if [ "$use_valgrind" != 0 ] && [ "$status" -eq 0 ]; then
    if ! command -v valgrind >/dev/null 2>&1; then
        echo "check-c-abi: valgrind not found; installing it with apt-get" >&2
        SUDO=""
        if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
        $SUDO apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq valgrind >&2
    fi
    # Valgrind 3.19 (Debian 12) cannot read the DWARF 5 debug information Swift writes ("unhandled
    # dwarf2 abbrev form code 0x25", then it gives up): test a copy of the library without it.
    # Reports still name every function (from the symbol table), without line numbers.
    mkdir -p "$tmp/valgrind-lib"
    objcopy --strip-debug "$lib" "$tmp/valgrind-lib/libllmdb.so"
    vbin=$tmp/test_abi_valgrind
    "$cc" -std=c11 -Wall -Wextra -Werror -g -O1 -Iinclude tests/c/test_abi.c \
        -L"$tmp/valgrind-lib" -lllmdb -Wl,-rpath,"$tmp/valgrind-lib" -lpthread -o "$vbin"
    echo "check-c-abi: running the test under valgrind (memcheck, --leak-check=full; a few minutes)" >&2
    log=$tmp/valgrind.log
    code=0
    TMPDIR=$tmp LLMDB_TEST_UNDER_VALGRIND=1 LLMDB_TEST_COMMITS=${LLMDB_TEST_COMMITS:-100} \
        valgrind --tool=memcheck --leak-check=full --child-silent-after-fork=yes \
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --error-exitcode=99 \
        --suppressions=tests/c/valgrind.supp --num-callers=40 --log-file="$log" "$vbin" || code=$?
    if [ "$code" -ne 0 ]; then
        if [ "$code" -eq 99 ]; then
            echo "check-c-abi: valgrind FAILED: invalid accesses or leaks; its report:" >&2
        else
            echo "check-c-abi: the test FAILED under valgrind (exit $code); valgrind's report:" >&2
        fi
        cat "$log" >&2
        status=1
    else
        grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|suppressed:' "$log" | sed 's/^/check-c-abi:   /' >&2 || true
    fi
fi

if [ "$status" -ne 0 ]; then
    echo "check-c-abi: FAILED" >&2
else
    echo "check-c-abi: passed" >&2
fi
exit "$status"

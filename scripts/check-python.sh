#!/usr/bin/env bash
# Tests of the Python package (bindings/python) over the C library:
#   - a virtualenv at .build/venv-python (created if missing), with pytest (pinned in
#     bindings/python/requirements-test.txt);
#   - `pip install ./bindings/python` into it, with the library from LLMDB_LIBRARY (CI sets it
#     to the debug library of scripts/build-lib.sh debug; unset, this script builds that
#     library first and uses it);
#   - pytest over bindings/python/tests and bindings/python/examples (the seed's agent patterns),
#     then the tests again through the fallbacks (LLMDB_FFI=abi, ctypes);
#   - a stress step: the close race of tests/test_open.py 200 times per FFI mode.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=.build/venv-python
req=bindings/python/requirements-test.txt

if [ -z "${LLMDB_LIBRARY:-}" ]; then
    echo "check-python: LLMDB_LIBRARY is not set: building the debug library (scripts/build-lib.sh debug)" >&2
    LLMDB_LIBRARY=$(bash scripts/build-lib.sh debug | tail -n 1)
fi
case $LLMDB_LIBRARY in /*) ;; *) LLMDB_LIBRARY=$root/$LLMDB_LIBRARY ;; esac
if [ ! -f "$LLMDB_LIBRARY" ]; then
    echo "check-python: LLMDB_LIBRARY=$LLMDB_LIBRARY is not a file; build it with scripts/build-lib.sh debug" >&2
    exit 2
fi
export LLMDB_LIBRARY

if [ -x "$venv/bin/python" ]; then
    echo "check-python: using the virtualenv $venv" >&2
else
    echo "check-python: creating the virtualenv $venv" >&2
    python3 -m venv "$venv"
fi
py=$root/$venv/bin/python
echo "check-python: installing $req (pytest, pinned) from PyPI if missing" >&2
"$py" -m pip install -q --disable-pip-version-check -r "$req"
echo "check-python: pip install ./bindings/python (library: $LLMDB_LIBRARY)" >&2
"$py" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps ./bindings/python

export PYTHONDONTWRITEBYTECODE=1
echo "check-python: pytest -q bindings/python/tests bindings/python/examples" >&2
if ! "$py" -m pytest -q -p no:cacheprovider bindings/python/tests bindings/python/examples "$@"; then
    echo "check-python: FAILED" >&2
    exit 1
fi
# The same tests through the slower fallbacks (llmdb/_fast.py): cffi's ABI mode, as when
# no C compiler was there at install time, and ctypes, as without cffi.
for ffi in abi ctypes; do
    echo "check-python: pytest -q bindings/python/tests with LLMDB_FFI=$ffi (the fallback without the compiled calls)" >&2
    if ! LLMDB_FFI=$ffi "$py" -m pytest -q -p no:cacheprovider bindings/python/tests "$@"; then
        echo "check-python: FAILED (LLMDB_FFI=$ffi)" >&2
        exit 1
    fi
done
# The stress step: the race of close() with calls on other threads (tests/test_open.py,
# test_closing_while_other_threads_read_and_write) 200 times in one process, in each way of
# calling the library: about 6 s a mode (20 s in all) on a loaded 2-core machine.
for ffi in compiled abi ctypes; do
    echo "check-python: stress: closing while other threads call, 200 times with LLMDB_FFI=$ffi" >&2
    if ! LLMDB_FFI=$ffi LLMDB_STRESS_CLOSE=200 "$py" -m pytest -q -p no:cacheprovider \
        bindings/python/tests/test_open.py -k test_closing_while_other_threads_read_and_write "$@"; then
        echo "check-python: FAILED (the close stress, LLMDB_FFI=$ffi)" >&2
        exit 1
    fi
done
echo "check-python: passed" >&2

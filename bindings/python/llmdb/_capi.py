"""The C ABI of libllmdb.so (include/llmdb.h) through ctypes: loading, types, constants.

This module is the low level under `llmdb`: every function of the header with its
argtypes and restype, and the constants. It is importable on its own
(`from llmdb import _capi`) for tests that must pass bytes the Pythonic API would refuse.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import (
    POINTER,
    Structure,
    c_char_p,
    c_int32,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path

# ---- Constants (the header's #defines) ---------------------------------------------------

ABI_VERSION = 1

OK = 0
NOT_FOUND = 1
DONE = 2

E_INVALID_HANDLE = 10
E_NULL_ARGUMENT = 11
E_INVALID_UTF8 = 12
E_BUFFER_TOO_SMALL = 13
E_INTERNAL = 14
E_FORBIDDEN = 15
E_BUSY = 16
E_EMPTY_KEY = 20
E_KEY_TOO_LONG = 21
E_NULL_VALUE = 22
E_INVALID_JSON = 23
E_INVALID_VALUE = 24
E_INVALID_TIME_RANGE = 25
E_TX_TIME_NOT_INCREASING = 26
E_UNKNOWN_VALUE_TAG = 27
E_NOT_A_DATABASE = 28
E_FORMAT_VERSION = 29
E_READ_ONLY = 30
E_MAP_FULL = 31
E_DISK_FULL = 32
E_CORRUPTED = 33
E_INVALID_ARGUMENT = 34
E_STORAGE = 35
E_CLOSED = 36
E_RESERVED_PARTITION = 37
E_NO_SUCH = 38
E_INVALID_MODULE = 39
E_HOOK_REJECTED = 40
E_CODE_FAILED = 41
E_CODE_LIMIT = 42
E_CODE_UNAVAILABLE = 43
E_CONFLICT = 44
E_SCHEMA_VIOLATION = 45
E_INVALID_SCHEMA = 46
E_INVALID_QUERY = 47

TIME_BEGINNING = -(2**63)
TIME_END = 2**63 - 1
TIME_UNSET = TIME_BEGINNING + 1
TX_LATEST = 2**64 - 1

VALUE_RAW = 0x00
VALUE_JSON = 0x01
VALUE_MSGPACK = 0x02

SYNC_FULL = 0
SYNC_META = 1
SYNC_NONE = 2

EXPECT_ABSENT = 0
EXPECT_PRESENT = 1
EXPECT_VERSION = 2

# ---- Structures ----------------------------------------------------------------------------


class Options(Structure):
    """struct llmdb_options."""

    _fields_ = [
        ("size", c_uint32),
        ("read_only", c_int32),
        ("create", c_int32),
        ("sync", c_int32),
        ("map_size", c_uint64),
        ("max_map_size", c_uint64),
    ]


class FactStruct(Structure):
    """struct llmdb_fact."""

    _fields_ = [
        ("value", c_void_p),
        ("value_len", c_size_t),
        ("value_type", c_int32),
        ("valid_from", c_int64),
        ("valid_to", c_int64),
        ("tx", c_uint64),
        ("tx_time", c_int64),
    ]


# Handles are opaque pointers, passed as c_void_p (Python ints).
_h = c_void_p
_st = c_int32
_time = c_int64
_out_json = [POINTER(c_void_p), POINTER(c_size_t)]

# name: (restype, argtypes), in the header's order.
_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "llmdb_last_error": (c_char_p, []),
    "llmdb_status_name": (c_char_p, [_st]),
    "llmdb_abi_version": (c_int32, []),
    "llmdb_free": (None, [c_void_p]),
    "llmdb_options_init": (None, [POINTER(Options)]),
    "llmdb_open": (_st, [c_char_p, POINTER(Options), POINTER(c_void_p)]),
    "llmdb_close": (_st, [_h]),
    "llmdb_txn_begin": (_st, [_h, _time, POINTER(c_void_p)]),
    "llmdb_txn_put": (
        _st,
        [_h, c_uint32, c_char_p, c_size_t, c_char_p, c_size_t, c_int32, _time, _time],
    ),
    "llmdb_txn_delete": (_st, [_h, c_uint32, c_char_p, c_size_t, _time, _time]),
    "llmdb_txn_erase": (_st, [_h, c_uint32, c_char_p, c_size_t]),
    "llmdb_txn_expect": (_st, [_h, c_uint32, c_char_p, c_size_t, c_int32, c_uint64]),
    "llmdb_txn_commit": (_st, [_h, POINTER(c_uint64), POINTER(c_int64)]),
    "llmdb_txn_abort": (_st, [_h]),
    "llmdb_get": (
        _st,
        [_h, c_uint32, c_char_p, c_size_t, _time, c_uint64, _time, POINTER(FactStruct)],
    ),
    "llmdb_get_into": (
        _st,
        [
            _h, c_uint32, c_char_p, c_size_t, _time, c_uint64, _time,
            c_void_p, c_size_t, POINTER(FactStruct),
        ],
    ),
    "llmdb_get_value": (
        _st,
        [
            _h, c_uint32, c_char_p, c_size_t, _time, c_uint64, _time,
            c_void_p, c_size_t, POINTER(c_size_t), POINTER(c_int32),
        ],
    ),
    "llmdb_history": (_st, [_h, c_uint32, c_char_p, c_size_t, c_uint64, c_int32, *_out_json]),
    "llmdb_timeline": (_st, [_h, c_uint32, c_char_p, c_size_t, c_uint64, _time, _time, *_out_json]),
    "llmdb_versions": (_st, [_h, c_uint32, c_char_p, c_size_t, c_uint64, *_out_json]),
    "llmdb_tx_at": (_st, [_h, c_int64, POINTER(c_uint64)]),
    "llmdb_scan": (
        _st,
        [_h, c_uint32, c_char_p, c_size_t, _time, c_uint64, _time, POINTER(c_void_p)],
    ),
    "llmdb_iter_next": (
        _st,
        [_h, POINTER(c_void_p), POINTER(c_size_t), POINTER(FactStruct)],
    ),
    "llmdb_iter_close": (_st, [_h]),
    "llmdb_query": (_st, [_h, c_char_p, c_char_p, *_out_json]),
    "llmdb_remember": (_st, [_h, c_char_p, *_out_json]),
    "llmdb_recall": (_st, [_h, c_char_p, *_out_json]),
    "llmdb_correct": (_st, [_h, c_char_p, *_out_json]),
    "llmdb_forget": (_st, [_h, c_char_p, *_out_json]),
    "llmdb_memory_history": (_st, [_h, c_char_p, *_out_json]),
    "llmdb_memory_evolution": (_st, [_h, c_char_p, *_out_json]),
    "llmdb_memory_as_of": (_st, [_h, c_char_p, *_out_json]),
    "llmdb_memory_rollback": (_st, [_h, c_char_p, *_out_json]),
    "llmdb_memory_namespaces": (_st, [_h, c_char_p, *_out_json]),
    "llmdb_call": (_st, [_h, c_char_p, c_char_p, *_out_json]),
    "llmdb_vector_put": (
        _st,
        [_h, c_char_p, c_size_t, POINTER(c_char_p), c_void_p, c_size_t, POINTER(c_char_p), POINTER(c_uint64)],
    ),
    "llmdb_vector_search": (_st, [_h, c_char_p, c_void_p, c_size_t, c_int32, c_char_p, *_out_json]),
    "llmdb_code_add": (
        _st,
        [_h, c_char_p, c_char_p, c_size_t, c_char_p, c_char_p, *_out_json],
    ),
    "llmdb_code_list": (_st, [_h, *_out_json]),
    "llmdb_code_remove": (_st, [_h, c_char_p, c_int32, POINTER(c_uint64)]),
}

_BUILD_HINT = (
    "build it with `bash scripts/build-lib.sh` in the LLMDB repository, then reinstall the "
    "package (`pip install ./bindings/python`), or set LLMDB_LIBRARY to the path of a "
    "libllmdb.so"
)


def library_path() -> Path:
    """Where the library is loaded from: $LLMDB_LIBRARY if set, else the package's copy."""
    env = os.environ.get("LLMDB_LIBRARY")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / "libllmdb.so"


def _load() -> ctypes.CDLL:
    path = library_path()
    origin = "LLMDB_LIBRARY" if os.environ.get("LLMDB_LIBRARY") else "the llmdb package"
    if not path.is_file():
        raise ImportError(f"llmdb: the C library {path} (from {origin}) is missing: {_BUILD_HINT}")
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as e:
        raise ImportError(f"llmdb: cannot load the C library {path} (from {origin}): {e}; {_BUILD_HINT}") from e
    for name, (restype, argtypes) in _SIGNATURES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise ImportError(
                f"llmdb: {path} has no function {name}: it is not a libllmdb.so of this ABI; {_BUILD_HINT}"
            ) from None
        fn.restype = restype
        fn.argtypes = argtypes
    version = lib.llmdb_abi_version()
    if version != ABI_VERSION:
        raise ImportError(
            f"llmdb: {path} implements ABI version {version}, this package needs {ABI_VERSION}; {_BUILD_HINT}"
        )
    return lib


lib: ctypes.CDLL = _load()

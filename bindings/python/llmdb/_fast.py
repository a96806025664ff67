"""The hot calls (get, put) through cffi.

ctypes converts each argument through a Python-level `from_param` call, which for the
eleven arguments of `llmdb_get_value` costs more than the read itself. In order of speed:
the extension `llmdb._fastc` that `pip install` compiles with cffi (API mode: the
conversions are compiled C); else cffi's ABI mode (libffi, no compiler needed); else
None, and the package uses ctypes (`_capi`) for these calls too. `get` and `put` are
the only functions declared twice.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from . import _capi  # loads libllmdb.so first, so the extension links to that copy
from ._fastdef import ABI_CDEF

ffi: Optional[Any] = None
#: get(db, partition, key, key_len, given, valid_at, tx, tx_time) -> {status, type, len, data}
#: (compiled only)
get: Optional[Any] = None
#: get_value(db, partition, key, key_len, valid_at, tx, tx_time, buffer, capacity, len*, type*)
#: (ABI mode)
get_value: Optional[Any] = None
#: txn_put(txn, partition, key, key_len, value, value_len, value_type, given, valid_from, valid_to)
#: (compiled only; `given`: bit 1 valid_from, bit 2 valid_to)
txn_put: Optional[Any] = None
#: "compiled", "abi" or "ctypes"
mode = "ctypes"

#: LLMDB_FFI=compiled, abi or ctypes forces one way (for tests); unset: the fastest there is.
_wanted = os.environ.get("LLMDB_FFI", "")
if _wanted not in ("", "compiled", "abi", "ctypes"):
    raise ImportError(f"llmdb: LLMDB_FFI is {_wanted!r}; it is 'compiled', 'abi' or 'ctypes' (or unset)")

if _wanted in ("", "compiled"):
    try:
        from ._fastc import ffi as _ffi, lib as _lib  # type: ignore[import-not-found]

        ffi, get, txn_put, mode = _ffi, _lib.fast_get, _lib.fast_txn_put, "compiled"
    except ImportError:
        if _wanted == "compiled":
            raise
if mode == "ctypes" and _wanted in ("", "abi"):
    try:
        import cffi
    except ImportError:
        if _wanted == "abi":
            raise
        cffi = None  # type: ignore[assignment]
    if cffi is not None:
        ffi = cffi.FFI()
        ffi.cdef(ABI_CDEF)
        _abi = ffi.dlopen(str(_capi.library_path()))
        get_value, mode = _abi.llmdb_get_value, "abi"

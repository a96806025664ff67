"""The LLMDB wasm byte ABI (include/llmdb_wasm.h) on the host side, over wasmtime-py.

Shared by check_examples.py and bench_wasmtime.py: builds pages in the exact header
layout, instantiates a module the way LLMDB does (one instance per operation, buffers
allocated with the module's llmdb_alloc and never freed), and runs the capacity
negotiation ("a return value larger than out_cap means: call again with that much room").
"""

import ctypes
import struct
import sys

try:
    import wasmtime
except ImportError:  # the callers print how to install it
    wasmtime = None

PAGE_MAP, PAGE_REDUCE, PAGE_HOOK, PAGE_INDEX = 1, 2, 3, 4
TAG_BYTES, TAG_JSON, TAG_MSGPACK, TAG_PROTOBUF = 0x00, 0x01, 0x02, 0x03
TAG_EDGE, TAG_VECTOR, TAG_TOMBSTONE = 0x10, 0x20, 0xFF
OP_PUT, OP_DELETE, OP_ERASE = 0, 1, 2
TIME_OPEN = 2**63 - 1

PAGE_HEADER = struct.Struct("<IIII")  # size, count, kind, acc_len
RECORD_HEADER = struct.Struct("<IIIIqqQBBHI")  # see llmdb_record
INDEX_KEY = struct.Struct("<II")  # record, key_len
assert PAGE_HEADER.size == 16 and RECORD_HEADER.size == 48 and INDEX_KEY.size == 8


def require_wasmtime():
    if wasmtime is None:
        print(
            "error: the Python package 'wasmtime' is not installed; install it with\n"
            "    pip install wasmtime\n"
            "(or pip install -r Benchmarks/wasmtime/requirements.txt, in a virtualenv)",
            file=sys.stderr,
        )
        sys.exit(2)


def wasmtime_version():
    from importlib import metadata

    try:
        return metadata.version("wasmtime")
    except metadata.PackageNotFoundError:
        return "unknown"


def record_size(key_len, value_len):
    return (48 + key_len + value_len + 7) & ~7


def record(key, value=b"", tag=TAG_JSON, op=OP_PUT, partition=0, valid_from=0,
           valid_to=TIME_OPEN, tx_id=1):
    """One record: the 48-byte header, the key, the value payload, zero padding."""
    if isinstance(key, str):
        key = key.encode()
    if isinstance(value, str):
        value = value.encode()
    size = record_size(len(key), len(value))
    header = RECORD_HEADER.pack(size, partition, len(key), len(value), valid_from, valid_to,
                                tx_id, tag, op, 0, 0)
    body = header + key + value
    return body + bytes(size - len(body))


def page(records, kind, acc_len=0):
    """A page: the 16-byte header, then the records back to back."""
    body = b"".join(records)
    return PAGE_HEADER.pack(16 + len(body), len(records), kind, acc_len) + body


def split_page(data):
    """The records of a page, as their exact bytes; checks the layout on the way."""
    size, count, _kind, acc_len = PAGE_HEADER.unpack_from(data, 0)
    assert size == len(data), f"page size {size} != {len(data)} bytes returned"
    assert acc_len == 0, "an output page has acc_len 0"
    records, offset = [], 16
    for _ in range(count):
        rsize, _p, key_len, value_len = struct.unpack_from("<IIII", data, offset)
        assert rsize % 8 == 0 and 48 + key_len + value_len <= rsize, "bad record header"
        assert offset + rsize <= size, "record past the page"
        records.append(bytes(data[offset:offset + rsize]))
        offset += rsize
    assert offset == size, "bytes after the last record"
    return records


def split_index(data, record_count):
    """The (record, key) pairs of custom_index output; checks padding and bounds."""
    entries, offset = [], 0
    while offset < len(data):
        assert offset % 4 == 0
        index, key_len = INDEX_KEY.unpack_from(data, offset)
        assert index < record_count, f"record index {index} out of range"
        assert 1 <= key_len <= 255, f"index key of {key_len} bytes"
        end = offset + 8 + key_len
        padded = (end + 3) & ~3
        assert padded <= len(data), "index entry past the output"
        assert data[end:padded] == bytes(padded - end), "padding is not zero"
        entries.append((index, bytes(data[offset + 8:end])))
        offset = padded
    return entries


class GuestFailure(Exception):
    """The module called llmdb.fail."""


class Guest:
    """One instance of a module, for one operation, with LLMDB's buffer discipline."""

    def __init__(self, engine, module, fast=False):
        self.store = wasmtime.Store(engine)
        self.module = module
        fail_type = wasmtime.FuncType([wasmtime.ValType.i32(), wasmtime.ValType.i32()], [])
        imports = []
        for imp in module.imports:
            if imp.module == "llmdb" and imp.name == "fail":
                imports.append(wasmtime.Func(self.store, fail_type, self._fail,
                                             access_caller=True))
            else:
                raise GuestFailure(f"import {imp.module}.{imp.name} is not granted")
        self.instance = wasmtime.Instance(self.store, module, imports)
        exports = self.instance.exports(self.store)
        self.memory = exports["memory"]
        self.exports = exports
        alloc = exports["llmdb_alloc"]
        store = self.store
        self.alloc = (fast and fast_caller(self, "llmdb_alloc")) or (lambda n: alloc(store, n))
        self.in_ptr = self.in_cap = 0
        self.out_ptr = self.out_cap = 0

    def _fail(self, caller, ptr, length):
        message = caller["memory"].read(caller, ptr, ptr + length)
        raise GuestFailure(bytes(message).decode("utf-8", "replace"))

    def allocate(self, size):
        ptr = self.alloc(size)
        if ptr == 0:
            raise GuestFailure(f"llmdb_alloc({size}) returned 0: out of memory")
        assert ptr % 8 == 0, "llmdb_alloc returned an unaligned pointer"
        assert ptr + size <= self.memory.data_len(self.store), "llmdb_alloc past memory"
        return ptr

    def ensure_in(self, size):
        if size > self.in_cap:
            self.in_cap = max(size, 2 * self.in_cap, 64 * 1024)
            self.in_ptr = self.allocate(self.in_cap)

    def ensure_out(self, size, keep=0):
        """Grows the output buffer to at least size; copies its first `keep` bytes over."""
        if size > self.out_cap:
            cap = max(size, 2 * self.out_cap, 1024)
            ptr = self.allocate(cap)
            if keep:
                self.write(ptr, self.read(self.out_ptr, keep))
            self.out_ptr, self.out_cap = ptr, cap

    def write(self, ptr, data):
        assert ptr + len(data) <= self.memory.data_len(self.store)
        ctypes.memmove(ctypes.addressof(self.memory.data_ptr(self.store).contents) + ptr,
                       data, len(data))

    def read(self, ptr, length):
        assert ptr + length <= self.memory.data_len(self.store)
        return ctypes.string_at(ctypes.addressof(self.memory.data_ptr(self.store).contents)
                                + ptr, length)

    def call(self, name, data, keep=0, out_cap=None):
        """Runs one kind function on `data` with the capacity negotiation; returns the output.

        `keep`: bytes at the start of the output buffer to preserve when it grows (the
        reduce accumulator). `out_cap`: pretend the output buffer has only this much room
        at first (to exercise the retry), else the whole buffer.
        """
        func = self.exports[name]
        self.ensure_in(len(data))
        self.write(self.in_ptr, data)
        cap = self.out_cap if out_cap is None else min(out_cap, self.out_cap)
        for _attempt in range(3):
            n = func(self.store, self.in_ptr, len(data), self.out_ptr, cap)
            n &= 0xFFFFFFFF
            if n <= cap:
                return self.read(self.out_ptr, n)
            self.ensure_out(n, keep)
            cap = self.out_cap
        raise AssertionError(f"{name} asked for more room three times")


_ARITY = {}


def fast_caller(guest, name):
    """A caller of the export `name` (i32 parameters, one i32 result) with less overhead.

    wasmtime-py's Func.__call__ looks the function's type up and converts every argument on
    each call (tens of µs here). This calls wasmtime_func_call_unchecked through
    wasmtime-py's ctypes bindings with one preallocated argument array, after checking the
    signature once. It uses wasmtime-py internals (the version is pinned in
    requirements.txt): it returns None if they are missing, and callers fall back to
    public_caller.
    """
    try:
        from wasmtime import _ffi as ffi
        from wasmtime._func import maybe_raise_last_exn

        func = guest.exports[name]
        context = guest.store._context()
        func_ref = ctypes.byref(func._func)
        call = ffi.wasmtime_func_call_unchecked
        trap_type = ctypes.POINTER(ffi.wasm_trap_t)
        raw_type = ffi.wasmtime_val_raw_t
    except (ImportError, AttributeError):
        return None
    arity = _ARITY.get((guest.module, name))
    if arity is None:  # checked once per module: FuncType.params is slow
        ty = func.type(guest.store)
        params, results, i32 = ty.params, ty.results, wasmtime.ValType.i32()
        if any(p != i32 for p in params) or list(results) != [i32]:
            raise AssertionError(f"{name} does not take i32 parameters and return one i32")
        arity = _ARITY[(guest.module, name)] = len(params)
    vals = (raw_type * max(arity, 1))()

    def f(*args):
        for i, a in enumerate(args):
            vals[i].i32 = a
        trap = trap_type()
        error = call(context, func_ref, vals, len(vals), ctypes.byref(trap))
        if error:
            maybe_raise_last_exn()
            raise wasmtime.WasmtimeError._from_ptr(error)
        if trap:
            trap_obj = wasmtime.Trap._from_ptr(trap)
            maybe_raise_last_exn()
            raise trap_obj
        return vals[0].i32 & 0xFFFFFFFF

    if arity == 4:  # the kind functions: no per-call loop
        def f4(a, b, c, d):
            vals[0].i32, vals[1].i32, vals[2].i32, vals[3].i32 = a, b, c, d
            trap = trap_type()
            error = call(context, func_ref, vals, 4, ctypes.byref(trap))
            if error:
                maybe_raise_last_exn()
                raise wasmtime.WasmtimeError._from_ptr(error)
            if trap:
                trap_obj = wasmtime.Trap._from_ptr(trap)
                maybe_raise_last_exn()
                raise trap_obj
            return vals[0].i32 & 0xFFFFFFFF

        return f4
    return f


def public_caller(guest, name):
    func = guest.exports[name]
    store = guest.store
    return lambda a, b, c, d: func(store, a, b, c, d) & 0xFFFFFFFF

"""The Pythonic API over the C ABI: Database, Key, Fact, transactions, scans, memory."""

from __future__ import annotations

import base64
import json
import os
import threading
import weakref
from array import array as _array
from ctypes import addressof, c_char, c_char_p, c_int64, c_size_t, c_uint64, c_void_p, create_string_buffer, pointer, string_at
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union, overload

from . import _capi, _fast
from ._capi import lib as _lib
from ._errors import Error, InvalidArgument, InvalidHandle, NotFound, error_for
from ._time import from_iso, from_us, opt_us, to_iso, to_us

_OK = _capi.OK
_NOT_FOUND = _capi.NOT_FOUND
_DONE = _capi.DONE
_TOO_SMALL = _capi.E_BUFFER_TOO_SMALL
_UNSET = _capi.TIME_UNSET
_LATEST = _capi.TX_LATEST
_JSON = _capi.VALUE_JSON
_RAW = _capi.VALUE_RAW

# The functions of the hot paths, bound once.
_get_into = _lib.llmdb_get_into
_txn_put = _lib.llmdb_txn_put
_fput = _fast.txn_put
_cget_value = _fast.get_value
_fget = _fast.get
_unpack = _fast.ffi.unpack if _fast.ffi is not None else None
_string_at = string_at
_loads = json.loads

#: A time argument: an aware datetime, a naive datetime (taken as UTC), or an int
#: (microseconds since the epoch).
Time = Union[datetime, int]
#: What reads "as of": an int is a transaction id, a datetime a transaction time (the
#: last transaction at or before it).
TxAt = Union[int, datetime]


# ---- Keys, facts, results ---------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """A key in a partition, optionally with the start of its valid time.

    `user_key` is text (stored as UTF-8) or bytes. `valid_from` (a datetime, naive taken
    as UTC, or microseconds since the epoch) is where a put or delete starts in valid time
    (None: the transaction's time, that is now), and the valid time a get reads at when
    it is given no `valid_at`.
    """

    partition: int
    user_key: Union[str, bytes]
    valid_from: Optional[Time] = None

    def __post_init__(self) -> None:
        p = self.partition
        if not isinstance(p, int) or isinstance(p, bool):
            raise TypeError(f"Key.partition must be an int, not {type(p).__name__}")
        if not 0 <= p <= 0xFFFFFFFF:
            raise InvalidArgument(f"Key.partition must be from 0 to 4294967295, not {p}")
        k = self.user_key
        if isinstance(k, str):
            encoded = k.encode("utf-8")
        elif isinstance(k, bytes):
            encoded = k
        else:
            raise TypeError(f"Key.user_key must be a str or bytes, not {type(k).__name__}")
        # Encoded once: every call with this key reuses them.
        object.__setattr__(self, "_encoded", encoded)
        object.__setattr__(self, "_from", opt_us(self.valid_from, "Key.valid_from"))


@dataclass(frozen=True)
class Fact:
    """A key's value over a valid-time period, as a read returns it.

    `key` is text when the stored key is valid UTF-8, else bytes. `value` is decoded:
    JSON as Python objects, other types as bytes; None for a retraction
    (`retracted`). `valid_to` is None for an open end. `tx` and `tx_time` are the
    transaction that wrote it.
    """

    key: Union[str, bytes]
    partition: int
    value: Any
    valid_from: datetime
    valid_to: Optional[datetime]
    tx: int
    tx_time: datetime
    retracted: bool = False


@dataclass(frozen=True)
class Run:
    """A run of a timeline: the value over [valid_from, valid_to) (valid_to None: open)."""

    value: Any
    valid_from: datetime
    valid_to: Optional[datetime]


@dataclass(frozen=True)
class Commit:
    """A committed transaction: its id and its transaction time."""

    tx: int
    tx_time: datetime


@dataclass(frozen=True)
class QueryResult(Sequence[Dict[str, Any]]):
    """The answer of an LQL statement: its columns, its rows (dicts by column) and the plan.

    Iterating it, indexing it and len() go over the rows.
    """

    columns: List[str]
    rows: List[Dict[str, Any]]
    plan: List[str]

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, i: int) -> Dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> List[Dict[str, Any]]: ...
    def __getitem__(self, i: Union[int, slice]) -> Union[Dict[str, Any], List[Dict[str, Any]]]:
        return self.rows[i]


# ---- Per-thread scratch: the C out-parameters and the get buffer ------------------------------

_KEEP_BUFFER = 1 << 20  # values larger than this are read with llmdb_get (a buffer of their own)


class _Scratch(threading.local):
    def __init__(self) -> None:
        self.fact = _capi.FactStruct()
        self.factp = pointer(self.fact)
        self.cap = 4096
        self.buf = create_string_buffer(self.cap)
        self.addr = addressof(self.buf)
        if _fast.mode == "abi":  # the buffer and outputs of cffi's ABI-mode get
            self.cbuf = _fast.ffi.new("char[]", self.cap)
            self.clen = _fast.ffi.new("size_t *")
            self.ctype = _fast.ffi.new("int32_t *")
        self.out = c_void_p()
        self.outp = pointer(self.out)
        self.len = c_size_t()
        self.lenp = pointer(self.len)
        self.handle = c_void_p()
        self.handlep = pointer(self.handle)
        self.tx = c_uint64()
        self.txp = pointer(self.tx)
        self.time = c_int64()
        self.timep = pointer(self.time)

    def grow(self, need: int) -> None:
        self.cap = max(need, self.cap * 2)
        self.buf = create_string_buffer(self.cap)
        self.addr = addressof(self.buf)
        if _fast.mode == "abi":
            self.cbuf = _fast.ffi.new("char[]", self.cap)


_local = _Scratch()


# ---- Conversions ----------------------------------------------------------------------------


_last_time: Tuple[object, int] = (None, 0)  # the last datetime converted, and its microseconds


def _time_arg(value: object, name: str) -> int:
    """to_us, remembering the last datetime: a loop of reads at one time converts it once
    (datetimes are immutable, so the same object is the same instant). The pair is one
    tuple, replaced whole, so threads never see a datetime with another's microseconds."""
    global _last_time
    last = _last_time
    if value is last[0]:
        return last[1]
    us = to_us(value, name)
    if isinstance(value, datetime):
        _last_time = (value, us)
    return us


def _key(key: object) -> Tuple[int, bytes, int]:
    """(partition, key bytes, valid_from) of a key argument."""
    t = type(key)
    if t is str:
        return 0, key.encode("utf-8"), _UNSET  # type: ignore[attr-defined]
    if t is Key:
        return key.partition, key._encoded, key._from  # type: ignore[attr-defined]
    if t is bytes:
        return 0, key, _UNSET  # type: ignore[return-value]
    if isinstance(key, Key):
        return key.partition, key._encoded, key._from  # type: ignore[attr-defined]
    if isinstance(key, str):
        return 0, str(key).encode("utf-8"), _UNSET
    if isinstance(key, (bytes, bytearray, memoryview)):
        return 0, bytes(key), _UNSET
    raise TypeError(f"key must be an llmdb.Key, a str or bytes, not {type(key).__name__}")


def _prefix(prefix: object, name: str = "prefix") -> bytes:
    if isinstance(prefix, str):
        return prefix.encode("utf-8")
    if isinstance(prefix, (bytes, bytearray, memoryview)):
        return bytes(prefix)
    raise TypeError(f"{name} must be a str or bytes, not {type(prefix).__name__}")


def _partition(p: object) -> int:
    if not isinstance(p, int) or isinstance(p, bool):
        raise TypeError(f"partition must be an int, not {type(p).__name__}")
    if not 0 <= p <= 0xFFFFFFFF:
        raise InvalidArgument(f"partition must be from 0 to 4294967295, not {p}")
    return p


def _text(value: object, name: str) -> bytes:
    """A text argument for the C ABI. Lone surrogates are passed on as the (invalid) UTF-8
    they encode to, so that the library refuses them (InvalidUTF8)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    return value.encode("utf-8", "surrogatepass")


def _json_default(o: object) -> object:
    if isinstance(o, datetime):
        return to_iso(o)
    raise TypeError(f"a {type(o).__name__} is not JSON-serializable")


_value_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_args_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)
_JSON_TYPES = (dict, list, str, int, float)  # bool is an int


def _value(value: object) -> Tuple[bytes, int]:
    """(bytes, value type) of a value argument."""
    t = type(value)
    if t is bytes:
        return value, _RAW  # type: ignore[return-value]
    if t is dict or t is str or t is list or t is int or t is float or t is bool or value is None:
        # None becomes JSON null, which the library refuses as a value (NullValue).
        return _encode_json_value(value), _JSON
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value), _RAW
    if isinstance(value, _JSON_TYPES):
        return _encode_json_value(value), _JSON
    raise TypeError(
        f"value must be a dict, list, str, int, float or bool (stored as JSON) or bytes, bytearray "
        f"or memoryview (stored raw), not {type(value).__name__}"
    )


def _encode_json_value(value: object) -> bytes:
    try:
        return _value_encoder.encode(value).encode("utf-8", "surrogatepass")
    except TypeError as e:
        raise TypeError(f"value: {e}") from None


def _decode(value_type: int, data: bytes) -> Any:
    if value_type == _JSON:
        return json.loads(data)
    return data


def _tx_args(tx_at: object) -> Tuple[int, int]:
    """(tx, tx_time) for a read as of `tx_at`."""
    if tx_at is None:
        return _LATEST, _UNSET
    if isinstance(tx_at, datetime):
        return _LATEST, to_us(tx_at, "tx_at")
    if isinstance(tx_at, int) and not isinstance(tx_at, bool):
        if not 0 <= tx_at < _LATEST:
            raise InvalidArgument(f"tx_at must be a transaction id from 0 to 2^64-2, not {tx_at}")
        return tx_at, _UNSET
    raise TypeError(f"tx_at must be an int (a transaction id) or a datetime, not {type(tx_at).__name__}")


def _key_out(kb: bytes) -> Union[str, bytes]:
    try:
        return kb.decode("utf-8")
    except UnicodeDecodeError:
        return kb


# Fields of the library's JSON answers that hold times (ISO-8601 text, null or "∞"), and
# fields that hold the user's data, which is left as it is.
_TIME_FIELDS = frozenset({"valid_from", "valid_to", "tx_time", "expires_at", "registered_at", "set_at", "valid_at"})
_DATA_FIELDS = frozenset({"content", "value", "document", "schema", "before", "after", "rows", "patch", "migration"})


def _times(o: Any) -> Any:
    """Converts the time fields of a JSON answer to datetimes, in place."""
    if isinstance(o, dict):
        for k, v in o.items():
            if k in _TIME_FIELDS:
                if v is None or isinstance(v, str):
                    o[k] = from_iso(v)
            elif k not in _DATA_FIELDS and isinstance(v, (dict, list)):
                _times(v)
    elif isinstance(o, list):
        for v in o:
            _times(v)
    return o


def _json_value(v: Any, value_type: Optional[int]) -> Any:
    """A value in a JSON answer: a JSON value as is; another type (rendered as
    {"tag","base64"}) as bytes."""
    if value_type is not None and value_type != _capi.VALUE_JSON and isinstance(v, dict) and "base64" in v:
        return base64.b64decode(v["base64"])
    return v


def _fact(o: Mapping[str, Any]) -> Fact:
    retracted = bool(o.get("retracted"))
    return Fact(
        key=o["key"],
        partition=o["partition"],
        value=None if retracted else _json_value(o.get("value"), o.get("value_type")),
        valid_from=from_iso(o["valid_from"]),  # type: ignore[arg-type]
        valid_to=from_iso(o.get("valid_to")),
        tx=o["tx"],
        tx_time=from_iso(o["tx_time"]),  # type: ignore[arg-type]
        retracted=retracted,
    )


def _take_json(status: int) -> Any:
    """The JSON answer of a call that returned it through the scratch out-parameters."""
    if status != _OK:
        raise error_for(status)
    s = _local
    ptr = s.out.value or 0  # set on LLMDB_OK
    try:
        data = string_at(ptr, s.len.value)
    finally:
        _lib.llmdb_free(ptr)
    return json.loads(data)


def _args_json(args: Any, what: str) -> bytes:
    try:
        return _args_encoder.encode(args).encode("utf-8", "surrogatepass")
    except TypeError as e:
        raise TypeError(f"{what}: {e}") from None


def _drop_none(**fields: Any) -> Dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


# ---- Reads shared by the database and its as-of views -----------------------------------------


class _Reader:
    """Reads at a transaction (`_tx`, `_tx_time`); Database reads at the latest by default."""

    _h: Optional[int]

    def _get(self, key: object, valid_at: object, tx: int, tx_time: int) -> Optional[Tuple[bytes, int, "_capi.FactStruct"]]:
        partition, kb, vf = _key(key)
        va = vf if valid_at is None else _time_arg(valid_at, "valid_at")
        s = _local
        while True:
            st = _lib.llmdb_get_into(self._h, partition, kb, len(kb), va, tx, tx_time, s.addr, s.cap, s.factp)
            if st == _OK:
                f = s.fact
                return (string_at(s.addr, f.value_len) if f.value_len else b""), partition, f
            if st == _NOT_FOUND:
                return None
            if st != _TOO_SMALL:
                raise error_for(st)
            need = s.fact.value_len
            if need <= _KEEP_BUFFER:
                s.grow(need)
                continue
            # A large value: a buffer of its own, allocated by the library.
            st = _lib.llmdb_get(self._h, partition, kb, len(kb), va, tx, tx_time, s.factp)
            if st == _NOT_FOUND:
                return None
            if st != _OK:
                raise error_for(st)
            f = s.fact
            try:
                data = string_at(f.value, f.value_len) if f.value_len else b""
            finally:
                _lib.llmdb_free(f.value)
            return data, partition, f

    def _get_value(self, key: object, valid_at: object, tx: int, tx_time: int) -> Any:
        r = self._get(key, valid_at, tx, tx_time)
        if r is None:
            return None
        return _decode(r[2].value_type, r[0])

    def _get_fact(self, key: object, valid_at: object, tx: int, tx_time: int) -> Optional[Fact]:
        r = self._get(key, valid_at, tx, tx_time)
        if r is None:
            return None
        data, partition, f = r
        return Fact(
            key=_key_out(_key(key)[1]),
            partition=partition,
            value=_decode(f.value_type, data),
            valid_from=from_us(f.valid_from),  # type: ignore[arg-type]
            valid_to=from_us(f.valid_to),
            tx=f.tx,
            tx_time=from_us(f.tx_time),  # type: ignore[arg-type]
        )

    def _scan(self, prefix: object, partition: object, valid_at: object, tx: int, tx_time: int) -> "Scan":
        return Scan(self, _partition(partition), _prefix(prefix), opt_us(valid_at, "valid_at"), tx, tx_time)

    def _history(self, key: object, with_corrections: bool, tx: int) -> List[Fact]:
        partition, kb, _ = _key(key)
        s = _local
        st = _lib.llmdb_history(self._h, partition, kb, len(kb), tx, 1 if with_corrections else 0, s.outp, s.lenp)
        return [_fact(o) for o in _take_json(st)]

    def _timeline(self, key: object, start: object, end: object, tx: int) -> List[Run]:
        partition, kb, _ = _key(key)
        s = _local
        st = _lib.llmdb_timeline(
            self._h, partition, kb, len(kb), tx, opt_us(start, "start"), opt_us(end, "end"), s.outp, s.lenp
        )
        return [
            Run(
                _json_value(o.get("value"), o.get("value_type")),
                from_iso(o["valid_from"]),  # type: ignore[arg-type]
                from_iso(o.get("valid_to")),
            )
            for o in _take_json(st)
        ]

    def _versions(self, key_or_prefix: object, tx: int) -> Iterator[Tuple[datetime, int, Any]]:
        if isinstance(key_or_prefix, Key):
            facts = self._history(key_or_prefix, True, tx)
        else:
            kb = _prefix(key_or_prefix, "key_or_prefix")
            s = _local
            st = _lib.llmdb_versions(self._h, 0, kb, len(kb), tx, s.outp, s.lenp)
            facts = [_fact(o) for o in _take_json(st)]
        return iter([(f.valid_from, f.tx, f.value) for f in facts if not f.retracted])


_CLOSED_WHILE_SCANNING = "the database was closed (close() on another thread) while this scan was open"


class Scan(Iterator[Fact]):
    """An iterator over the facts of a prefix scan (llmdb_scan), in key order.

    It reads from the transaction it started at. It is closed when exhausted, when
    garbage collected, by close(), or at the end of a `with` block. Closing its database
    closes it too: a next() after (or while) that happens raises InvalidHandle, never a
    StopIteration that would pass for the end.
    """

    def __init__(self, reader: _Reader, partition: int, prefix: bytes, valid_at: int, tx: int, tx_time: int) -> None:
        self._reader = reader  # keeps the database alive while the iterator is
        self._partition = partition
        self._it: Optional[int] = None
        # Held while a row is read: the C library lends each row's bytes only until
        # llmdb_close, so Database.close() closes its open scans under their locks first.
        self._lock = threading.Lock()
        self._gone = False  # closed by its database's close()
        s = _local
        st = _lib.llmdb_scan(reader._h, partition, prefix, len(prefix), valid_at, tx, tx_time, s.handlep)
        if st != _OK:
            raise error_for(st)
        self._it = s.handle.value
        self._key = c_void_p()
        self._keyp = pointer(self._key)
        self._klen = c_size_t()
        self._klenp = pointer(self._klen)
        self._row = _capi.FactStruct()
        self._rowp = pointer(self._row)
        db = reader if isinstance(reader, Database) else reader.db  # type: ignore[attr-defined]
        if not db._track(self):
            self.close()  # its close() has begun: this iterator must not outlive it
            raise InvalidHandle(_CLOSED_WHILE_SCANNING)

    def __iter__(self) -> "Scan":
        return self

    def __next__(self) -> Fact:
        with self._lock:
            it = self._it
            if it is None:
                if self._gone:
                    raise InvalidHandle(_CLOSED_WHILE_SCANNING)
                raise StopIteration
            st = _lib.llmdb_iter_next(it, self._keyp, self._klenp, self._rowp)
            if st != _OK:
                if st == _DONE:
                    self._free()
                    raise StopIteration
                err = error_for(st)
                self._free()
                raise err
            r = self._row
            key = string_at(self._key.value or 0, self._klen.value)
            value = string_at(r.value, r.value_len) if r.value_len else b""
            value_type, valid_from, valid_to, tx, tx_time = r.value_type, r.valid_from, r.valid_to, r.tx, r.tx_time
        return Fact(
            key=_key_out(key),
            partition=self._partition,
            value=_decode(value_type, value),
            valid_from=from_us(valid_from),  # type: ignore[arg-type]
            valid_to=from_us(valid_to),
            tx=tx,
            tx_time=from_us(tx_time),  # type: ignore[arg-type]
        )

    def _free(self) -> None:
        it, self._it = self._it, None
        if it is not None:
            _lib.llmdb_iter_close(it)  # an iterator of a closed database is already gone

    def close(self) -> None:
        """Frees the iterator (idempotent)."""
        with self._lock:
            self._free()

    def _close_with_database(self) -> None:
        with self._lock:  # waits for a next() that is reading a row
            if self._it is not None:
                self._gone = True
            self._free()

    def __enter__(self) -> "Scan":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


# ---- The database -----------------------------------------------------------------------------


class Database(_Reader):
    """An open LLMDB database (llmdb.open). Safe to use from many threads at once.

    Use it as a context manager (closed at the end of the block) or call close().
    Reads default to now (valid time) and the latest transaction.
    """

    def __init__(self, handle: int, path: str, read_only: bool) -> None:
        self._h = handle
        self._closed = False
        self.path = path
        self.read_only = read_only
        self.code = CodeRegistry(self)
        self._lock = threading.Lock()  # guards _closed and _scans
        self._scans: "weakref.WeakSet[Scan]" = weakref.WeakSet()

    def __repr__(self) -> str:
        return f"<llmdb.Database {self.path!r}{' (closed)' if self._closed else ''}>"

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._closed

    def close(self) -> None:
        """Waits for queued commits and closes the database. Later calls on it, and calls
        that other threads are making while it closes, raise InvalidHandle (or complete, if
        they came first); close() itself may be called again."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            scans = list(self._scans)
        # Its open scans first, each between two rows: llmdb_close frees the rows they lend.
        for scan in scans:
            scan._close_with_database()
        st = _lib.llmdb_close(self._h)
        if st != _OK:
            raise error_for(st)

    def _track(self, scan: Scan) -> bool:
        """Registers an open scan for close(); False once close() has begun."""
        with self._lock:
            if self._closed:
                return False
            self._scans.add(scan)
            return True

    # -- Writes --

    def put(self, key: Union[Key, str, bytes], value: Any, *, valid_to: Optional[Time] = None) -> Commit:
        """Writes `value` for `key` in a transaction of its own.

        `key` is a Key, or a str or bytes (partition 0, valid from now). A dict, list,
        str, int, float or bool is stored as JSON; bytes, bytearray or memoryview raw.
        With `valid_to` the value holds over [valid_from, valid_to) and what was in effect
        at valid_to comes back there.
        """
        partition, kb, vf = _key(key)
        data, vtype = _value(value)
        vt = opt_us(valid_to, "valid_to")
        s = _local
        st = _lib.llmdb_txn_begin(self._h, _UNSET, s.handlep)
        if st != _OK:
            raise error_for(st)
        txn = s.handle.value or 0  # set on LLMDB_OK
        st = _lib.llmdb_txn_put(txn, partition, kb, len(kb), data, len(data), vtype, vf, vt)
        if st != _OK:
            err = error_for(st)
            _lib.llmdb_txn_abort(txn)
            raise err
        return _commit(txn)

    def delete(self, key: Union[Key, str, bytes], *, valid_to: Optional[Time] = None) -> Commit:
        """Retracts `key` from its valid_from (a str or bytes key: from now), open-ended or
        until `valid_to`. History keeps what was there."""
        with self.transaction() as tx:
            tx.delete(key, valid_to=valid_to)
        return Commit(tx.tx, tx.tx_time)  # type: ignore[arg-type]

    def erase(self, key: Union[Key, str, bytes]) -> Commit:
        """Removes every entry of `key` for all valid and transaction times."""
        with self.transaction() as tx:
            tx.erase(key)
        return Commit(tx.tx, tx.tx_time)  # type: ignore[arg-type]

    def transaction(self, tx_time: Optional[Time] = None) -> "Transaction":
        """A write transaction: `with db.transaction() as tx: tx.put(...)`.

        It commits at the end of the block (then `tx.tx` and `tx.tx_time` are set) and
        aborts, writing nothing, if the block raises. `tx_time` is its transaction time
        (default: the clock; an explicit time must be after the last transaction's).
        """
        return Transaction(self, tx_time)

    # -- Reads --

    def get(self, key: Union[Key, str, bytes], valid_at: Optional[Time] = None, tx_at: Optional[TxAt] = None) -> Any:
        """The value of `key` at valid time `valid_at` as of `tx_at`, or None.

        `valid_at` defaults to the Key's valid_from if it has one, else now; `tx_at` (an
        int transaction id or a datetime transaction time) to the latest transaction.
        """
        # The hot path, inlined: no Python call but the C one for a str or bytes key.
        t = type(key)
        if t is bytes:
            partition, kb, va = 0, key, _UNSET
        elif t is str:
            partition, kb, va = 0, key.encode("utf-8"), _UNSET  # type: ignore[union-attr]
        else:
            partition, kb, va = _key(key)
        if valid_at is not None:
            va = _time_arg(valid_at, "valid_at")
        if tx_at is None:
            tx, tx_time = _LATEST, _UNSET
        elif type(tx_at) is int and 0 <= tx_at < _LATEST:  # type: ignore[operator]
            tx, tx_time = tx_at, _UNSET
        else:
            tx, tx_time = _tx_args(tx_at)
        if _fget is not None:
            # Defaults travel as 0 with their bit clear in `given`: small integers convert fast.
            given = 0
            if va != _UNSET:
                given = 1
            else:
                va = 0
            if tx != _LATEST:
                given |= 2
            else:
                tx = 0
            if tx_time != _UNSET:
                given |= 4
            else:
                tx_time = 0
            r = _fget(self._h, partition, kb, len(kb), given, va, tx, tx_time)
            st = r.status
            if st == _OK:
                n = r.len
                data = _unpack(r.data, n) if n else b""  # type: ignore[misc]
                return _loads(data) if r.type == _JSON else data
            if st == _NOT_FOUND:
                return None
            if st == -1:  # the shim's own: no memory for the read buffer
                raise MemoryError("llmdb: no memory for the read buffer")
            raise error_for(st)
        s = _local
        if _cget_value is not None:
            st = _cget_value(self._h, partition, kb, len(kb), va, tx, tx_time, s.cbuf, s.cap, s.clen, s.ctype)
            if st == _OK:
                n = s.clen[0]
                data = _unpack(s.cbuf, n) if n else b""  # type: ignore[misc]
                return _loads(data) if s.ctype[0] == _JSON else data
        else:
            st = _get_into(self._h, partition, kb, len(kb), va, tx, tx_time, s.addr, s.cap, s.factp)  # type: ignore[arg-type]
            if st == _OK:
                f = s.fact
                n = f.value_len
                data = _string_at(s.addr, n) if n else b""
                return _loads(data) if f.value_type == _JSON else data
        if st == _NOT_FOUND:
            return None
        if st != _TOO_SMALL:
            raise error_for(st)
        return self._get_value(key, valid_at, tx, tx_time)

    def get_fact(
        self, key: Union[Key, str, bytes], valid_at: Optional[Time] = None, tx_at: Optional[TxAt] = None
    ) -> Optional[Fact]:
        """As get, but the whole Fact (value, valid time, transaction), or None."""
        tx, tx_time = _tx_args(tx_at)
        return self._get_fact(key, valid_at, tx, tx_time)

    def scan(
        self,
        prefix: Union[str, bytes] = "",
        partition: int = 0,
        valid_at: Optional[Time] = None,
        tx_at: Optional[TxAt] = None,
    ) -> Scan:
        """The facts of the keys starting with `prefix`, in key order, as of (valid_at,
        tx_at); retracted keys are skipped."""
        tx, tx_time = _tx_args(tx_at)
        return self._scan(prefix, partition, valid_at, tx, tx_time)

    def history(self, key: Union[Key, str, bytes], with_corrections: bool = False) -> List[Fact]:
        """Every entry of `key` in valid-time order, retractions included (`retracted`);
        with_corrections adds the entries later corrected."""
        return self._history(key, with_corrections, _LATEST)

    def timeline(
        self, key: Union[Key, str, bytes], start: Optional[Time] = None, end: Optional[Time] = None
    ) -> List[Run]:
        """The key's value over valid time as runs, limited to those overlapping [start, end)."""
        return self._timeline(key, start, end, _LATEST)

    def get_versions(self, key_or_prefix: Union[Key, str, bytes]) -> Iterator[Tuple[datetime, int, Any]]:
        """Every version as (valid_from, tx, value), corrections included, retractions
        skipped. A Key means exactly that key (in its partition); a str or bytes means
        every key of partition 0 starting with it, by key, then valid time, then tx."""
        return self._versions(key_or_prefix, _LATEST)

    def as_of_transaction(self, tx: TxAt) -> "AsOf":
        """A read-only view of the database as of transaction `tx` (an int id) or of the
        last transaction at or before a datetime."""
        return AsOf(self, tx)

    # -- LQL --

    def query(self, lql: str, /, *args: Any, **params: Any) -> QueryResult:
        """Runs an LQL statement (docs/lql.md) with :name parameters from `params` (or $1,
        $2, ... from positional `args`). Datetimes become ISO-8601 text. Writes commit
        before it returns."""
        if args and params:
            raise TypeError("query takes positional ($1) or named (:name) parameters, not both")
        text = _text(lql, "lql")
        p = _args_json(list(args) if args else params, "query parameters") if (args or params) else None
        s = _local
        ans = _take_json(_lib.llmdb_query(self._h, text, p, s.outp, s.lenp))
        columns = ans.get("columns", [])
        rows = [r if isinstance(r, dict) else dict(zip(columns, r)) for r in ans.get("rows", [])]
        return QueryResult(columns, rows, ans.get("plan", []))

    # -- Agent memory --

    def _memory(self, fn: Any, args: Mapping[str, Any], what: str) -> Dict[str, Any]:
        s = _local
        answer: Dict[str, Any] = _times(_take_json(fn(self._h, _args_json(args, what), s.outp, s.lenp)))
        return answer

    def _pages(self, fn: Any, args: Dict[str, Any], name: str, what: str, pin_tx: bool = False) -> List[Any]:
        args = dict(args, limit=1000)
        out: List[Any] = []
        while True:
            ans = self._memory(fn, args, what)
            out.extend(ans[name])
            cursor = ans.get("next_cursor")
            if not cursor:
                return out
            args["cursor"] = cursor
            if pin_tx and "tx" in ans:  # the next pages read the same transaction
                args.pop("tx_time", None)
                args["tx"] = ans["tx"]

    def remember(
        self,
        key: str,
        content: Any,
        *,
        confidence: Optional[float] = None,
        source: Optional[str] = None,
        dependencies: Optional[Sequence[str]] = None,
        expires_at: Optional[Time] = None,
        valid_from: Optional[Time] = None,
        partition: int = 0,
    ) -> Dict[str, Any]:
        """Stores a memory under `key` (`agent:{kind}:{id}`) as a new version valid from
        `valid_from` (default now). Returns {"tx", "tx_time", "keys"}."""
        args = _memory_input(key, content, confidence, source, dependencies, expires_at, valid_from)
        args["partition"] = _partition(partition)
        return self._memory(_lib.llmdb_remember, args, "remember")

    def remember_many(self, memories: Iterable[Mapping[str, Any]], *, partition: int = 0) -> Dict[str, Any]:
        """Stores several memories in one transaction; each is a mapping of remember's
        arguments (key, content, confidence, ...). One bad memory writes nothing."""
        items = []
        for i, m in enumerate(memories):
            if not isinstance(m, Mapping):
                raise TypeError(f"memory {i} must be a mapping, not {type(m).__name__}")
            unknown = set(m) - {"key", "content", "confidence", "source", "dependencies", "expires_at", "valid_from"}
            if unknown:
                raise TypeError(f"memory {i}: unknown field(s) {', '.join(sorted(unknown))}")
            if "key" not in m or "content" not in m:
                raise TypeError(f"memory {i} needs 'key' and 'content'")
            items.append(
                _memory_input(
                    m["key"],
                    m["content"],
                    m.get("confidence"),
                    m.get("source"),
                    m.get("dependencies"),
                    m.get("expires_at"),
                    m.get("valid_from"),
                )
            )
        return self._memory(
            _lib.llmdb_remember, {"memories": items, "partition": _partition(partition)}, "remember_many"
        )

    def recall(
        self,
        query: str,
        *,
        namespace: Optional[str] = None,
        limit: int = 10,
        max_tokens: Optional[int] = None,
        max_bytes: Optional[int] = None,
        min_confidence: Optional[float] = None,
        source: Optional[str] = None,
        include_expired: bool = False,
        recency_weight: Optional[float] = None,
        recency_half_life: Optional[float] = None,
        confidence_weight: Optional[float] = None,
        valid_at: Optional[Time] = None,
        tx_at: Optional[TxAt] = None,
        partition: int = 0,
    ) -> Dict[str, Any]:
        """The memories whose content best matches `query` (BM25), best first, within
        `limit` and the token or byte budget. Returns {"memories" (each with "score"),
        "tx", "truncated", "bytes"}. recency_half_life is in seconds."""
        args = _drop_none(
            query=query,
            namespace=namespace,
            limit=limit,
            max_tokens=max_tokens,
            max_bytes=max_bytes,
            min_confidence=min_confidence,
            source=source,
            include_expired=include_expired or None,
            recency_weight=recency_weight,
            recency_half_life=recency_half_life,
            confidence_weight=confidence_weight,
            valid_at=None if valid_at is None else to_us(valid_at, "valid_at"),
            partition=_partition(partition),
        )
        args.update(_tx_fields(tx_at))
        return self._memory(_lib.llmdb_recall, args, "recall")

    def correct(
        self,
        key: str,
        *,
        reason: str,
        content: Any = None,
        confidence: Optional[float] = None,
        source: Optional[str] = None,
        dependencies: Optional[Sequence[str]] = None,
        expires_at: Optional[Time] = None,
        valid_at: Optional[Time] = None,
        partition: int = 0,
    ) -> Dict[str, Any]:
        """Corrects the memory in effect at `valid_at` (default now): same valid time, new
        transaction, `reason` recorded. Fields left None keep their old values. Returns
        {"tx", "memory"}."""
        args = _drop_none(
            key=key,
            reason=reason,
            content=content,
            confidence=confidence,
            source=source,
            dependencies=None if dependencies is None else list(dependencies),
            expires_at=None if expires_at is None else to_us(expires_at, "expires_at"),
            valid_at=None if valid_at is None else to_us(valid_at, "valid_at"),
            partition=_partition(partition),
        )
        return self._memory(_lib.llmdb_correct, args, "correct")

    def forget(
        self, key: str, *, erase: bool = False, valid_from: Optional[Time] = None, partition: int = 0
    ) -> Dict[str, Any]:
        """Retracts a memory from `valid_from` (default now); with erase=True removes every
        version for good. Returns {"tx", "tx_time"}."""
        args = _drop_none(
            key=key,
            erase=bool(erase),
            valid_from=None if valid_from is None else to_us(valid_from, "valid_from"),
            partition=_partition(partition),
        )
        return self._memory(_lib.llmdb_forget, args, "forget")

    def memory_history(self, key: str, *, tx_at: Optional[TxAt] = None, partition: int = 0) -> List[Dict[str, Any]]:
        """Every version of a memory (new versions, corrections, retractions with
        "forgotten"), by valid_from then transaction, as known at `tx_at`."""
        args = dict(key=key, partition=_partition(partition), **_tx_fields(tx_at))
        return self._pages(_lib.llmdb_memory_history, args, "versions", "memory_history")

    def knowledge_evolution(
        self, prefix: str, *, tx_at: Optional[TxAt] = None, partition: int = 0
    ) -> List[Dict[str, Any]]:
        """Every version of every memory under `prefix`, each with its "confidence_change"
        (None for a key's first version or a version without a confidence)."""
        args = dict(prefix=prefix, partition=_partition(partition), **_tx_fields(tx_at))
        return self._pages(_lib.llmdb_memory_evolution, args, "versions", "knowledge_evolution")

    def memories_as_of(
        self, tx: TxAt, prefix: str = "agent:", *, valid_at: Optional[Time] = None, partition: int = 0
    ) -> List[Dict[str, Any]]:
        """The memories under `prefix` as recorded up to transaction `tx` (an int id or a
        datetime transaction time), at valid time `valid_at` (default now), in key order."""
        if tx is None:
            raise TypeError("tx must be an int (a transaction id) or a datetime, not NoneType")
        args = _drop_none(
            prefix=prefix,
            valid_at=None if valid_at is None else to_us(valid_at, "valid_at"),
            partition=_partition(partition),
        )
        args.update(_tx_fields(tx))
        return self._pages(_lib.llmdb_memory_as_of, args, "memories", "memories_as_of", pin_tx=True)

    def rollback(
        self, prefix: str, tx: TxAt, *, reason: str, decision: Optional[str] = None, partition: int = 0
    ) -> Dict[str, Any]:
        """Restores the memories under `prefix` to what they were as of transaction `tx`
        (an id, or the last transaction at a datetime), as a new transaction valid from now.
        With `decision`, also writes the marker agent:decision:{decision}:superseded.
        Returns {"tx", "restored", "removed", "state"}."""
        tx_id = self._tx_id(tx, "tx")
        args = _drop_none(prefix=prefix, tx=tx_id, reason=reason, decision=decision, partition=_partition(partition))
        return self._memory(_lib.llmdb_memory_rollback, args, "rollback")

    def namespaces(self, partition: int = 0) -> Dict[str, int]:
        """Each memory kind (`agent:{kind}`) with the number of keys it holds now."""
        ans = self._memory(_lib.llmdb_memory_namespaces, {"partition": _partition(partition)}, "namespaces")
        return {n["namespace"]: n["count"] for n in ans["namespaces"]}

    def call(self, operation: str, /, **args: Any) -> Any:
        """Runs any operation of the REST API by its operationId in /openapi.json
        ("insertDocument", "findDocuments", "setSchema", ...) with its fields and path
        parameters as keyword arguments. Returns its JSON answer (times as datetimes)."""
        op = _text(operation, "operation")
        s = _local
        return _times(
            _take_json(_lib.llmdb_call(self._h, op, _args_json(args, operation), s.outp, s.lenp))
        )

    def create_vectors(
        self, name: str, dimensions: int, *, metric: str = "cosine", partition: int = 0
    ) -> "Vectors":
        """Creates the vector collection `name` (no change when it exists with the same
        dimension, metric and partition; other settings raise Conflict) and returns it."""
        self.call(
            "createVectorCollection", collection=name, dimensions=dimensions, metric=metric,
            partition=_partition(partition),
        )
        return Vectors(self, name)

    def vectors(self, name: str) -> "Vectors":
        """The vector collection `name`; NotFound when there is none."""
        self.call("vectorCollectionStats", collection=name)
        return Vectors(self, name)

    def vector_collections(self) -> List[Dict[str, Any]]:
        """Every vector collection: {name, dimensions, metric, partition}."""
        return list(self.call("listVectorCollections")["collections"])

    def _tx_id(self, tx: object, name: str) -> int:
        """A transaction id for `tx`: an int as it is, a datetime resolved to the last
        transaction at or before it."""
        if isinstance(tx, datetime):
            s = _local
            st = _lib.llmdb_tx_at(self._h, to_us(tx, name), s.txp)
            if st != _OK:
                raise error_for(st)
            return int(s.tx.value)
        if isinstance(tx, int) and not isinstance(tx, bool):
            if not 0 <= tx < _LATEST:
                raise InvalidArgument(f"{name} must be a transaction id from 0 to 2^64-2, not {tx}")
            return tx
        raise TypeError(f"{name} must be an int (a transaction id) or a datetime, not {type(tx).__name__}")


def _tx_fields(tx_at: object) -> Dict[str, int]:
    if tx_at is None:
        return {}
    if isinstance(tx_at, datetime):
        return {"tx_time": to_us(tx_at, "tx_at")}
    if isinstance(tx_at, int) and not isinstance(tx_at, bool):
        return {"tx": tx_at}
    raise TypeError(f"tx_at must be an int (a transaction id) or a datetime, not {type(tx_at).__name__}")


def _memory_input(
    key: object,
    content: Any,
    confidence: Any,
    source: Any,
    dependencies: Any,
    expires_at: Any,
    valid_from: Any,
) -> Dict[str, Any]:
    if not isinstance(key, str):
        raise TypeError(f"key must be a str (agent:{{kind}}:{{id}}), not {type(key).__name__}")
    args = _drop_none(
        key=key,
        confidence=confidence,
        source=source,
        dependencies=None if dependencies is None else list(dependencies),
        expires_at=None if expires_at is None else to_us(expires_at, "expires_at"),
        valid_from=None if valid_from is None else to_us(valid_from, "valid_from"),
    )
    args["content"] = content  # None is sent as null: the library refuses it
    return args


def _commit(txn: int) -> Commit:
    s = _local
    st = _lib.llmdb_txn_commit(txn, s.txp, s.timep)
    if st != _OK:
        raise error_for(st)
    return Commit(s.tx.value, from_us(s.time.value))  # type: ignore[arg-type]


# ---- Transactions -----------------------------------------------------------------------------


_EXPECTATIONS = {"absent": _capi.EXPECT_ABSENT, "present": _capi.EXPECT_PRESENT}


class Transaction:
    """A write transaction (Database.transaction). Operations are checked as they are
    added and applied atomically, in order, at commit; reads do not see them before.

    In a `with` block it commits at the end, or aborts if the block raises. After a
    commit, `tx` and `tx_time` are the transaction's id and time.
    """

    def __init__(self, db: Database, tx_time: Optional[Time] = None) -> None:
        self._db = db
        self.tx: Optional[int] = None
        self.tx_time: Optional[datetime] = None
        self._done = False
        s = _local
        st = _lib.llmdb_txn_begin(db._h, opt_us(tx_time, "tx_time"), s.handlep)
        if st != _OK:
            self._done = True
            raise error_for(st)
        self._h: int = s.handle.value  # type: ignore[assignment]

    def put(self, key: Union[Key, str, bytes], value: Any, *, valid_to: Optional[Time] = None) -> None:
        """Adds a put (see Database.put)."""
        t = type(key)
        if t is bytes:
            partition, kb, vf = 0, key, _UNSET
        elif t is str:
            partition, kb, vf = 0, key.encode("utf-8"), _UNSET  # type: ignore[union-attr]
        else:
            partition, kb, vf = _key(key)
        if type(value) is bytes:
            data, vtype = value, _RAW
        else:
            data, vtype = _value(value)
        vt = _UNSET if valid_to is None else to_us(valid_to, "valid_to")
        if _fput is not None:
            # Defaults travel as 0 with their bit clear in `given`: small integers convert fast.
            given = 0
            if vf != _UNSET:
                given = 1
            else:
                vf = 0
            if vt != _UNSET:
                given |= 2
            else:
                vt = 0
            st = _fput(self._h, partition, kb, len(kb), data, len(data), vtype, given, vf, vt)
        else:
            st = _txn_put(self._h, partition, kb, len(kb), data, len(data), vtype, vf, vt)  # type: ignore[arg-type]
        if st != _OK:
            raise error_for(st)

    def delete(self, key: Union[Key, str, bytes], *, valid_to: Optional[Time] = None) -> None:
        """Adds a retraction of `key` from its valid_from (str or bytes: the transaction's
        time), open-ended or until `valid_to`."""
        partition, kb, vf = _key(key)
        st = _lib.llmdb_txn_delete(self._h, partition, kb, len(kb), vf, opt_us(valid_to, "valid_to"))
        if st != _OK:
            raise error_for(st)

    def erase(self, key: Union[Key, str, bytes]) -> None:
        """Adds an erase: every entry of `key`, for all times."""
        partition, kb, _ = _key(key)
        st = _lib.llmdb_txn_erase(self._h, partition, kb, len(kb))
        if st != _OK:
            raise error_for(st)

    def expect(self, key: Union[Key, str, bytes], state: Union[str, int]) -> None:
        """Makes the commit fail with Conflict, writing nothing, unless `key` is in `state`
        when this operation is applied: "absent" (no value now), "present" (some value
        now), or an int: the value written by that transaction."""
        partition, kb, _ = _key(key)
        if isinstance(state, str):
            if state not in _EXPECTATIONS:
                raise InvalidArgument(f"state must be 'absent', 'present' or a transaction id, not {state!r}")
            expectation, tx = _EXPECTATIONS[state], 0
        elif isinstance(state, int) and not isinstance(state, bool):
            if not 0 <= state < _LATEST:
                raise InvalidArgument(f"state: {state} is not a transaction id")
            expectation, tx = _capi.EXPECT_VERSION, state
        else:
            raise TypeError(f"state must be 'absent', 'present' or an int transaction id, not {type(state).__name__}")
        st = _lib.llmdb_txn_expect(self._h, partition, kb, len(kb), expectation, tx)
        if st != _OK:
            raise error_for(st)

    def commit(self) -> Commit:
        """Commits (durable on return with sync="full") and sets tx and tx_time. On an
        error nothing was written."""
        self._done = True
        c = _commit(self._h)
        self.tx, self.tx_time = c.tx, c.tx_time
        return c

    def abort(self) -> None:
        """Discards the transaction."""
        self._done = True
        st = _lib.llmdb_txn_abort(self._h)
        if st != _OK:
            raise error_for(st)

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type: Optional[type], exc: Optional[BaseException], tb: object) -> None:
        if self._done:
            return
        if exc_type is None:
            self.commit()
        else:
            try:
                self.abort()
            except Error:
                pass  # the block's exception is the one to see

    def __del__(self) -> None:
        if not getattr(self, "_done", True):
            try:
                self.abort()
            except Exception:
                pass


# ---- As-of views ------------------------------------------------------------------------------


class AsOf(_Reader):
    """A read-only view of a database as of one transaction (Database.as_of_transaction).

    `tx` is the transaction id it reads (a datetime given is resolved to the last
    transaction at or before it, once).
    """

    def __init__(self, db: Database, tx: TxAt) -> None:
        self.db = db
        self.tx = db._tx_id(tx, "tx")

    @property
    def _h(self) -> Optional[int]:  # type: ignore[override]
        return self.db._h

    def __repr__(self) -> str:
        return f"<llmdb.AsOf tx {self.tx} of {self.db!r}>"

    def get(self, key: Union[Key, str, bytes], valid_at: Optional[Time] = None) -> Any:
        """The value of `key` at `valid_at` (default: the Key's valid_from, else now), or None."""
        return self._get_value(key, valid_at, self.tx, _UNSET)

    def get_fact(self, key: Union[Key, str, bytes], valid_at: Optional[Time] = None) -> Optional[Fact]:
        """As get, but the whole Fact, or None."""
        return self._get_fact(key, valid_at, self.tx, _UNSET)

    def scan(self, prefix: Union[str, bytes] = "", partition: int = 0, valid_at: Optional[Time] = None) -> Scan:
        """The facts of the keys starting with `prefix`, as of this transaction."""
        return self._scan(prefix, partition, valid_at, self.tx, _UNSET)

    def history(self, key: Union[Key, str, bytes], with_corrections: bool = False) -> List[Fact]:
        """The key's entries as known at this transaction."""
        return self._history(key, with_corrections, self.tx)

    def timeline(
        self, key: Union[Key, str, bytes], start: Optional[Time] = None, end: Optional[Time] = None
    ) -> List[Run]:
        """The key's runs over valid time as known at this transaction."""
        return self._timeline(key, start, end, self.tx)

    def get_versions(self, key_or_prefix: Union[Key, str, bytes]) -> Iterator[Tuple[datetime, int, Any]]:
        """As Database.get_versions, as known at this transaction."""
        return self._versions(key_or_prefix, self.tx)


# ---- Code -------------------------------------------------------------------------------------


class CodeRegistry:
    """The WebAssembly modules of a database (`db.code`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self, name: str, module: Union[bytes, str], kind: Optional[str] = None, function: Optional[str] = None
    ) -> Dict[str, Any]:
        """Registers a module (a WebAssembly binary as bytes, or WAT text as str) under
        `name`. `kind` is "map_pages", "reduce_pages", "tx_hook" or "custom_index" (None:
        inferred); `function` the export to call (None: the kind's name). Returns its
        description."""
        if isinstance(module, str):
            data = module.encode("utf-8")
        elif isinstance(module, (bytes, bytearray, memoryview)):
            data = bytes(module)
        else:
            raise TypeError(f"module must be bytes (WebAssembly) or a str (WAT), not {type(module).__name__}")
        k = None if kind is None else _text(kind, "kind")
        fn = None if function is None else _text(function, "function")
        s = _local
        st = _lib.llmdb_code_add(self._db._h, _text(name, "name"), data, len(data), k, fn, s.outp, s.lenp)
        return _times(_take_json(st))  # type: ignore[no-any-return]

    def list(self) -> List[Dict[str, Any]]:
        """The live modules: name, kind, function, sha256, size, ..."""
        s = _local
        ans = _times(_take_json(_lib.llmdb_code_list(self._db._h, s.outp, s.lenp)))
        return ans["modules"]  # type: ignore[no-any-return]

    def remove(self, name: str, force: bool = False) -> int:
        """Retracts the module `name` (refused while a hook or index uses it, unless
        `force`). Returns the transaction id."""
        s = _local
        st = _lib.llmdb_code_remove(self._db._h, _text(name, "name"), 1 if force else 0, s.txp)
        if st != _OK:
            raise error_for(st)
        return s.tx.value


# ---- Opening ----------------------------------------------------------------------------------

_SYNC = {"full": _capi.SYNC_FULL, "meta": _capi.SYNC_META, "none": _capi.SYNC_NONE}


def open_database(
    path: Union[str, "os.PathLike[str]"],
    *,
    read_only: bool = False,
    create: bool = True,
    sync: str = "full",
    map_size: Optional[int] = None,
    max_map_size: Optional[int] = None,
) -> Database:
    """Opens (or creates) the database file at `path` (and `path-lock` beside it)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a path, not {type(path).__name__}")
    fs_path = os.fspath(path)
    if not isinstance(fs_path, str):
        raise TypeError(f"path must be a str or a path, not {type(fs_path).__name__}")
    if not isinstance(sync, str):
        raise TypeError(f"sync must be 'full', 'meta' or 'none', not {type(sync).__name__}")
    if sync not in _SYNC:
        raise InvalidArgument(f"sync must be 'full', 'meta' or 'none', not {sync!r}")
    options = _capi.Options()
    _lib.llmdb_options_init(options)
    options.read_only = 1 if read_only else 0
    options.create = 1 if create else 0
    options.sync = _SYNC[sync]
    for name, size in (("map_size", map_size), ("max_map_size", max_map_size)):
        if size is None:
            continue
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError(f"{name} must be an int (bytes), not {type(size).__name__}")
        if not 0 < size < 2**64:
            raise InvalidArgument(f"{name} must be a positive number of bytes, not {size}")
        setattr(options, name, size)
    handle = c_void_p()
    # The path goes as UTF-8; undecodable file-name bytes (surrogate escapes) reach the
    # library as the invalid UTF-8 they are.
    st = _lib.llmdb_open(os.fsencode(fs_path), options, pointer(handle))
    if st != _OK:
        raise error_for(st)
    return Database(handle.value, fs_path, bool(read_only))  # type: ignore[arg-type]


# ---- Vectors -------------------------------------------------------------------------------


def _float32(obj: object, what: str, rank: int) -> Tuple[int, Tuple[int, ...], object]:
    """The address, shape and owner of `obj`'s float32 values, C order, without a copy when
    `obj` exposes them: a NumPy array (its __array_interface__), or any object with the
    buffer protocol in format 'f' (array.array('f'), a memoryview). A sequence of numbers
    (or, for rank 2, of sequences) is converted once. `rank` is 1 (a vector) or 2 (rows)."""
    ai = getattr(obj, "__array_interface__", None)
    if isinstance(ai, dict):
        if ai.get("typestr") not in ("<f4", "=f4", "|f4"):
            raise TypeError(f"{what} must hold float32 values, not {ai.get('typestr')} (use .astype('float32'))")
        if ai.get("strides") is not None:
            raise TypeError(f"{what} must be C-contiguous (use numpy.ascontiguousarray)")
        shape = tuple(ai["shape"])
        if len(shape) != rank:
            raise InvalidArgument(f"{what} must have {rank} dimension{'s' if rank > 1 else ''}, not shape {shape}")
        return int(ai["data"][0]), shape, obj
    try:
        mv = memoryview(obj)  # type: ignore[arg-type]
    except TypeError:
        mv = None
    if mv is not None:
        if mv.format not in ("f", "<f", "=f") or mv.itemsize != 4:
            raise TypeError(f"{what} must hold float32 values (buffer format 'f'), not format {mv.format!r}")
        if not mv.c_contiguous:
            raise TypeError(f"{what} must be C-contiguous")
        shape = tuple(mv.shape or (len(mv),))
        if rank == 2 and len(shape) == 1:
            raise InvalidArgument(f"{what} must have 2 dimensions (rows, dimensions), not shape {shape}")
        if len(shape) != rank:
            raise InvalidArgument(f"{what} must have {rank} dimension{'s' if rank > 1 else ''}, not shape {shape}")
        if mv.nbytes == 0:
            return 0, shape, mv
        raw = mv.cast("B")
        owner: Any = (c_char * mv.nbytes).from_buffer_copy(raw) if mv.readonly else (c_char * mv.nbytes).from_buffer(raw)
        return addressof(owner), shape, owner
    if isinstance(obj, (str, bytes)) or not isinstance(obj, Sequence):
        raise TypeError(f"{what} must be a float32 array or a sequence of numbers, not {type(obj).__name__}")
    rows: Sequence[Any] = obj if rank == 2 else [obj]
    width = None
    flat = _array("f")
    for i, row in enumerate(rows):
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
            raise TypeError(f"{what}: row {i} must be a sequence of numbers")
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise InvalidArgument(f"{what}: row {i} has {len(row)} numbers, row 0 has {width}")
        for j, x in enumerate(row):
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise TypeError(f"{what}: element {j} of row {i} is not a number")
        flat.extend(float(x) for x in row)
    shape = (len(rows), width or 0) if rank == 2 else (width or 0,)
    addr = flat.buffer_info()[0]
    return addr, shape, flat


class Vectors:
    """A vector collection (Database.create_vectors, Database.vectors): bitemporal vectors
    with JSON metadata, searched exactly as of any (valid time, transaction). Vectors go in
    as float32 without a copy per element: NumPy arrays, array.array('f'), memoryviews, or
    lists of numbers. See docs/vectors.md."""

    def __init__(self, db: "Database", name: str) -> None:
        self.db = db
        self.name = name
        self._name = _text(name, "name")

    def __repr__(self) -> str:
        return f"<llmdb.Vectors {self.name!r} of {self.db!r}>"

    def put(self, key: str, vector: object, metadata: Optional[Mapping[str, Any]] = None) -> int:
        """Stores `key`'s vector (a new version, valid from now). Returns the transaction id."""
        addr, shape, keep = _float32(vector, "vector", 1)
        return self._put([key], addr, 1, shape[0], None if metadata is None else [metadata], keep)

    def put_many(
        self,
        keys: Sequence[str],
        vectors: object,
        metadata: Optional[Sequence[Optional[Mapping[str, Any]]]] = None,
    ) -> int:
        """Stores row i of `vectors` (rows × dimensions, float32) under keys[i], with
        metadata[i], in one transaction: all or none. Returns the transaction id."""
        addr, shape, keep = _float32(vectors, "vectors", 2)
        if len(keys) != shape[0]:
            raise InvalidArgument(f"{len(keys)} keys for {shape[0]} rows")
        if metadata is not None and len(metadata) != shape[0]:
            raise InvalidArgument(f"{len(metadata)} metadata for {shape[0]} rows")
        return self._put(list(keys), addr, shape[0], shape[1], None if metadata is None else list(metadata), keep)

    def _put(
        self, keys: List[str], addr: int, n: int, dims: int, metadata: Optional[List[Any]], keep: object
    ) -> int:
        if n == 0:
            raise InvalidArgument("a put needs at least one vector")
        karr = (c_char_p * n)(*[_text(k, "key") for k in keys])
        marr = None
        if metadata is not None:
            marr = (c_char_p * n)(*[None if m is None else _args_json(m, "metadata") for m in metadata])
        s = _local
        st = _lib.llmdb_vector_put(self.db._h, self._name, n, karr, addr, dims, marr, s.txp)
        del keep
        if st != _OK:
            raise error_for(st)
        return int(s.tx.value)

    def search(
        self,
        query: object,
        k: int = 10,
        *,
        filter: Optional[Mapping[str, Any]] = None,
        valid_at: Optional[Time] = None,
        tx_at: Optional[TxAt] = None,
        max_bytes: Optional[int] = None,
    ) -> List[Dict[str, Any]]:
        """The k (1 to 1000) vectors nearest to `query`, nearest first: each {key, distance,
        metadata, valid_from, tx}. `filter` is {"path.to.field": value, ...}, each must equal;
        valid_at and tx_at read as of a past valid time and transaction."""
        if isinstance(k, bool) or not isinstance(k, int):
            raise TypeError(f"k must be an int, not {type(k).__name__}")
        addr, shape, keep = _float32(query, "query", 1)
        options = _drop_none(
            filter=dict(filter) if isinstance(filter, Mapping) else filter,
            valid_at=None if valid_at is None else to_us(valid_at, "valid_at"),
            max_bytes=max_bytes,
        )
        options.update(_tx_fields(tx_at))
        s = _local
        st = _lib.llmdb_vector_search(
            self.db._h, self._name, addr, shape[0], max(-1, min(k, 1 << 30)), _args_json(options, "options"),
            s.outp, s.lenp,
        )
        del keep
        return list(_times(_take_json(st))["hits"])

    def get(self, key: str, *, valid_at: Optional[Time] = None, tx_at: Optional[TxAt] = None) -> Optional[Dict[str, Any]]:
        """`key`'s vector as of a time: {key, vector, metadata, valid_from, tx}, or None."""
        args = _drop_none(collection=self.name, key=key, valid_at=None if valid_at is None else to_us(valid_at, "valid_at"))
        args.update(_tx_fields(tx_at))
        try:
            return dict(self.db.call("getVector", **args))
        except NotFound:
            return None

    def delete(self, key: str, *, valid_from: Optional[Time] = None, erase: bool = False) -> int:
        """Ends `key`'s vector from `valid_from` (default now; history stays), or with
        erase=True removes every version. Returns the transaction id."""
        args = _drop_none(
            collection=self.name, key=key, erase=True if erase else None,
            valid_from=None if valid_from is None else to_us(valid_from, "valid_from"),
        )
        return int(self.db.call("deleteVector", **args)["tx"])

    def stats(self, *, valid_at: Optional[Time] = None, tx_at: Optional[TxAt] = None) -> Dict[str, Any]:
        """{name, dimensions, metric, partition, vectors (visible then), versions, bytes}."""
        args = _drop_none(collection=self.name, valid_at=None if valid_at is None else to_us(valid_at, "valid_at"))
        args.update(_tx_fields(tx_at))
        return dict(self.db.call("vectorCollectionStats", **args))

    def drop(self) -> int:
        """Drops the collection: its vectors end now (history stays), its definition goes."""
        return int(self.db.call("dropVectorCollection", collection=self.name)["tx"])

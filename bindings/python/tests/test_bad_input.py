"""Bad input and faults: each is refused with a clear error and leaves the database as it was."""

from __future__ import annotations

import ctypes
from datetime import datetime, timezone

import pytest

import llmdb
from llmdb import Key, _capi

from conftest import state

UTC = timezone.utc


@pytest.fixture
def filled(db: llmdb.Database) -> llmdb.Database:
    db.put(Key(0, "price", datetime(2024, 1, 1, tzinfo=UTC)), 10)
    db.put("agent:knowledge:x", {"a": 1})
    db.put(b"raw", b"\x00")
    return db


class Thing:
    pass


@pytest.mark.parametrize(
    ("value", "name"),
    [({1, 2}, "set"), (Thing(), "Thing"), (object(), "object"), (1j, "complex"), (frozenset(), "frozenset")],
)
def test_values_of_the_wrong_type(filled: llmdb.Database, value: object, name: str) -> None:
    before = state(filled)
    with pytest.raises(TypeError, match=rf"value must be .*not {name}"):
        filled.put("price", value)
    with pytest.raises(TypeError, match=name):
        with filled.transaction() as tx:
            tx.put("other", 1)
            tx.put("price", value)
    with pytest.raises(TypeError, match=name):  # nested inside JSON
        filled.put("price", {"inner": value})
    assert state(filled) == before


def test_a_tuple_is_not_a_value_but_inside_json_it_is_an_array(filled: llmdb.Database) -> None:
    with pytest.raises(TypeError, match="not tuple"):
        filled.put("t", (1, 2))
    filled.put("t", {"pair": (1, 2)})
    assert filled.get("t") == {"pair": [1, 2]}


def test_none_as_a_value_is_null_value(filled: llmdb.Database) -> None:
    before = state(filled)
    with pytest.raises(llmdb.NullValue) as e:
        filled.put("price", None)
    assert e.value.code == "null_value" and "null" in str(e.value)
    assert state(filled) == before


def test_not_json_numbers(filled: llmdb.Database) -> None:
    before = state(filled)
    for bad in (float("nan"), float("inf"), [float("-inf")]):
        with pytest.raises(llmdb.InvalidJSON):
            filled.put("price", bad)
    assert state(filled) == before


def test_keys_of_the_wrong_type(filled: llmdb.Database) -> None:
    before = state(filled)
    for key in (42, None, 1.5, ["a"], ("a",)):
        with pytest.raises(TypeError, match=r"key must be an llmdb.Key, a str or bytes"):
            filled.put(key, 1)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="key"):
            filled.get(key)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="prefix"):
        filled.scan(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="partition"):
        filled.scan("", partition="0")  # type: ignore[arg-type]
    with pytest.raises(UnicodeEncodeError):
        filled.put("lone \ud800 surrogate", 1)
    assert state(filled) == before


def test_key_too_long(filled: llmdb.Database) -> None:
    before = state(filled)
    # LMDB refuses keys over 511 bytes, and LLMDB's entry keys add the partition and times.
    for length in (490, 511, 512, 600, 5000):
        with pytest.raises(llmdb.KeyTooLong) as e:
            filled.put("k" * length, 1)
        assert e.value.status == _capi.E_KEY_TOO_LONG and e.value.code == "key_too_long"
        assert "limit" in str(e.value)
        with pytest.raises(llmdb.KeyTooLong):
            filled.get("k" * length)
    assert state(filled) == before
    filled.put("k" * 480, 1)  # well within the limit
    assert filled.get("k" * 480) == 1


def test_empty_key(filled: llmdb.Database) -> None:
    before = state(filled)
    with pytest.raises(llmdb.EmptyKey):
        filled.put("", 1)
    with pytest.raises(llmdb.EmptyKey):
        filled.put(Key(3, b""), 1)
    assert state(filled) == before


def test_valid_to_before_valid_from(filled: llmdb.Database) -> None:
    before = state(filled)
    start = datetime(2024, 6, 8, tzinfo=UTC)
    for end in (datetime(2024, 6, 1, tzinfo=UTC), start):
        with pytest.raises(llmdb.InvalidTimeRange) as e:
            filled.put(Key(0, "price", start), 8, valid_to=end)
        assert "valid_to" in str(e.value)
        with pytest.raises(llmdb.InvalidTimeRange):
            filled.delete(Key(0, "price", start), valid_to=end)
    with pytest.raises(llmdb.InvalidTimeRange):
        with filled.transaction() as tx:
            tx.put("fine", 1)
            tx.put(Key(0, "price", start), 8, valid_to=datetime(2020, 1, 1))
    assert state(filled) == before


def test_reserved_partition(filled: llmdb.Database) -> None:
    before = state(filled)
    with pytest.raises(llmdb.ReservedPartition):
        filled.put(Key(0xFFFFFFFF, "x"), 1)
    assert state(filled) == before


def test_an_exception_inside_a_transaction_block(filled: llmdb.Database) -> None:
    before = state(filled)

    class Stop(Exception):
        pass

    with pytest.raises(Stop):
        with filled.transaction() as tx:
            tx.put("price", 11)
            tx.put("new", {"x": 1})
            tx.delete("agent:knowledge:x")
            tx.erase(b"raw")
            raise Stop()
    assert state(filled) == before
    with pytest.raises(KeyboardInterrupt):  # not only Exception subclasses
        with filled.transaction() as tx:
            tx.put("new", 1)
            raise KeyboardInterrupt
    assert state(filled) == before


def test_use_after_close(filled: llmdb.Database, path: object) -> None:
    before = state(filled)
    filled.close()
    with pytest.raises(llmdb.InvalidHandle, match="closed"):
        filled.put("price", 1)
    with pytest.raises(llmdb.InvalidHandle):
        filled.get("price")
    with llmdb.open(path) as again:  # type: ignore[arg-type]
        assert state(again) == before


def _query_raw(db: llmdb.Database, lql: bytes, params: bytes | None = None) -> int:
    out, n = ctypes.c_void_p(), ctypes.c_size_t()
    st = _capi.lib.llmdb_query(db._h, lql, params, ctypes.byref(out), ctypes.byref(n))
    if st == _capi.OK:
        _capi.lib.llmdb_free(out)
    return st


def test_invalid_utf8_reaching_the_c_abi(filled: llmdb.Database) -> None:
    before = state(filled)
    assert _query_raw(filled, b"SELECT key FROM kv('\xff\xfe')") == _capi.E_INVALID_UTF8
    assert b"UTF-8" in _capi.lib.llmdb_last_error()
    assert _capi.lib.llmdb_status_name(_capi.E_INVALID_UTF8) == b"invalid_utf8"
    assert _query_raw(filled, b"SELECT key FROM kv(:p)", b'{"p":"\xc3"}') == _capi.E_INVALID_UTF8
    assert _query_raw(filled, b"INSERT INTO t (_id) VALUES ('\xed\xa0\x80')") == _capi.E_INVALID_UTF8  # a surrogate
    assert _query_raw(filled, b"SELECT key FROM kv('')") == _capi.OK
    # Through the Pythonic API: lone surrogates in text are passed on and refused.
    with pytest.raises(llmdb.InvalidUTF8):
        filled.query("INSERT INTO t (_id) VALUES ('\ud800')")
    with pytest.raises(llmdb.InvalidUTF8):
        filled.remember("agent:knowledge:y", "bad \udcff text")
    with pytest.raises(llmdb.InvalidUTF8):
        filled.call("getFact", key="x\ud800")
    assert state(filled) == before


def test_null_arguments_at_the_c_abi(filled: llmdb.Database) -> None:
    assert _capi.lib.llmdb_query(filled._h, None, None, None, None) == _capi.E_NULL_ARGUMENT
    assert _capi.lib.llmdb_close(None) == _capi.E_INVALID_HANDLE
    assert _capi.lib.llmdb_close(12345) == _capi.E_INVALID_HANDLE  # made up
    assert _capi.lib.llmdb_iter_next(None, None, None, None) == _capi.E_INVALID_HANDLE
    assert _capi.lib.llmdb_txn_abort(987654321) == _capi.E_INVALID_HANDLE
    assert filled.get("price", valid_at=datetime(2024, 2, 1)) == 10


def test_undecodable_path(tmp_path: object) -> None:
    with pytest.raises(llmdb.InvalidUTF8):
        llmdb.open(f"{tmp_path}/bad-\udcff.llmdb")


def test_map_full_writes_nothing(tmp_path: object) -> None:
    with llmdb.open(f"{tmp_path}/small.llmdb", map_size=1 << 20, max_map_size=4 << 20, sync="none") as db:
        db.put("a", 1)
        with pytest.raises(llmdb.MapFull) as e:
            for i in range(100):
                before = state(db)
                db.put(f"big{i}", b"x" * 200_000)
        assert "nothing was written" in str(e.value)
        assert state(db) == before
        assert db.get(f"big{i}") is None
        db.put("small", 2)  # the database still works
        assert db.get("small") == 2 and db.get("a") == 1

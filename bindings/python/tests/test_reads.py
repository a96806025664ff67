"""put, get, get_fact, delete, erase, history, timeline, get_versions and scan."""

from __future__ import annotations

import gc
import threading
from datetime import datetime, timezone

import pytest

import llmdb
from llmdb import Key

UTC = timezone.utc
JAN = datetime(2024, 1, 1, tzinfo=UTC)
JUN1 = datetime(2024, 6, 1, tzinfo=UTC)
JUN3 = datetime(2024, 6, 3, tzinfo=UTC)
JUN8 = datetime(2024, 6, 8, tzinfo=UTC)
DEC = datetime(2024, 12, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        {"complexity": 8.5, "patterns": ["factory"], "nested": {"ok": True, "none": None}},
        [1, "two", 3.5, False, None],
        "text with ünïcødé and \"quotes\"",
        "",
        0,
        -(2**63),
        2**70,
        1.25,
        True,
        False,
        {},
        [],
    ],
)
def test_json_values_round_trip(db: llmdb.Database, value: object) -> None:
    db.put("k", value)
    got = db.get("k")
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("value", [b"\x00\x01\xff", b"", bytearray(b"ba"), memoryview(b"mv")])
def test_raw_values_round_trip_as_bytes(db: llmdb.Database, value: object) -> None:
    db.put("k", value)
    assert db.get("k") == bytes(value)  # type: ignore[call-overload]


def test_put_returns_the_commit_and_get_fact_the_whole_fact(db: llmdb.Database) -> None:
    c = db.put("agent:decision:42", {"decision": "extract the db layer"})
    assert isinstance(c, llmdb.Commit) and c.tx == 1
    assert c.tx_time.tzinfo is not None
    f = db.get_fact("agent:decision:42")
    assert f == llmdb.Fact(
        key="agent:decision:42",
        partition=0,
        value={"decision": "extract the db layer"},
        valid_from=c.tx_time,  # a str key is valid from the transaction's time
        valid_to=None,
        tx=1,
        tx_time=c.tx_time,
        retracted=False,
    )
    assert db.get_fact("absent") is None and db.get("absent") is None


def test_keys_bytes_and_partitions(db: llmdb.Database) -> None:
    db.put(b"\xffbinary", 1)
    db.put(Key(7, "a"), "in partition 7")
    db.put(Key(7, b"b"), "b in 7")
    assert db.get(b"\xffbinary") == 1
    assert db.get("a") is None
    assert db.get(Key(7, "a")) == "in partition 7"
    assert db.get(Key(7, "b")) == "b in 7"  # str and bytes name the same key
    assert [f.key for f in db.scan()] == [b"\xffbinary"]  # not UTF-8: bytes
    assert [(f.key, f.partition) for f in db.scan(partition=7)] == [("a", 7), ("b", 7)]
    assert db.get_fact(Key(7, "a")).partition == 7  # type: ignore[union-attr]


def test_key_validation() -> None:
    k = Key(0, "x", JAN)
    assert k == Key(partition=0, user_key="x", valid_from=JAN) and hash(k) == hash(Key(0, "x", JAN))
    with pytest.raises(AttributeError):
        k.partition = 1  # type: ignore[misc]
    with pytest.raises(TypeError, match="user_key"):
        Key(0, 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="partition"):
        Key("0", "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="partition"):
        Key(True, "x")
    with pytest.raises(llmdb.InvalidArgument):
        Key(-1, "x")
    with pytest.raises(llmdb.InvalidArgument):
        Key(2**32, "x")
    with pytest.raises(TypeError, match="valid_from"):
        Key(0, "x", "2024-01-01")  # type: ignore[arg-type]


def test_a_range_put_restores_the_old_value_at_its_end(db: llmdb.Database) -> None:
    db.put(Key(0, "price", JAN), 10)
    db.put(Key(0, "price", JUN1), 8, valid_to=JUN8)
    assert db.get("price", valid_at=JUN3) == 8
    assert db.get("price", valid_at=JUN8) == 10
    assert db.get(Key(0, "price", JUN3)) == 8  # a Key's valid_from is the valid time read
    assert db.get(Key(0, "price", JUN3), valid_at=DEC) == 10  # unless valid_at is given
    f = db.get_fact("price", valid_at=JUN3)
    assert f is not None and (f.valid_from, f.valid_to) == (JUN1, JUN8)
    assert db.timeline("price") == [
        llmdb.Run(10, JAN, JUN1),
        llmdb.Run(8, JUN1, JUN8),
        llmdb.Run(10, JUN8, None),
    ]
    assert db.timeline("price", start=JUN3, end=DEC) == [llmdb.Run(8, JUN1, JUN8), llmdb.Run(10, JUN8, None)]


def test_delete_and_history(db: llmdb.Database) -> None:
    db.put(Key(0, "k", JAN), "a")
    db.put(Key(0, "k", JAN), "a corrected")  # a correction: same valid time, new tx
    c = db.delete(Key(0, "k", JUN1))
    assert c.tx == 3
    assert db.get("k") is None
    assert db.get("k", valid_at=JUN3) is None
    assert db.get("k", valid_at=JAN) == "a corrected"
    h = db.history("k")
    assert [(f.valid_from, f.valid_to, f.value, f.retracted, f.tx) for f in h] == [
        (JAN, JUN1, "a corrected", False, 2),
        (JUN1, None, None, True, 3),
    ]
    hc = db.history("k", with_corrections=True)
    assert [(f.value, f.tx) for f in hc] == [("a", 1), ("a corrected", 2), (None, 3)]
    assert all(f.key == "k" and f.partition == 0 for f in hc)


def test_delete_over_a_range(db: llmdb.Database) -> None:
    db.put(Key(0, "k", JAN), 1)
    db.delete(Key(0, "k", JUN1), valid_to=JUN8)
    assert db.get("k", valid_at=JUN3) is None
    assert db.get("k", valid_at=DEC) == 1


def test_erase_removes_every_entry(db: llmdb.Database) -> None:
    db.put(Key(0, "k", JAN), 1)
    db.put(Key(0, "k", JUN1), 2)
    db.put("other", 3)
    c = db.erase("k")
    assert c.tx == 4
    assert db.history("k", with_corrections=True) == []
    assert db.get("k", valid_at=JUN3) is None and db.get("k", valid_at=JUN3, tx_at=2) is None
    assert db.get("other") == 3


def test_get_versions_of_a_key_and_of_a_prefix(db: llmdb.Database) -> None:
    db.put(Key(0, "agent:knowledge:jwt", JAN), {"confidence": 0.5})
    db.put(Key(0, "agent:knowledge:jwt", JAN), {"confidence": 0.7})  # correction
    db.put(Key(0, "agent:knowledge:jwks", JUN1), {"confidence": 0.9})
    db.delete(Key(0, "agent:knowledge:jwks", JUN8))  # a retraction: skipped
    db.put(Key(3, "agent:knowledge:jwt", JAN), {"confidence": 0.1})  # another partition
    versions = list(db.get_versions("agent:knowledge:"))
    # By key, then valid time, then transaction.
    assert versions == [
        (JUN1, 3, {"confidence": 0.9}),
        (JAN, 1, {"confidence": 0.5}),
        (JAN, 2, {"confidence": 0.7}),
    ]
    # A str is a prefix: "agent:knowledge:jwt" also covers nothing else here, but "jw" covers both.
    assert len(list(db.get_versions("agent:knowledge:jw"))) == 3
    assert list(db.get_versions(Key(0, "agent:knowledge:jwt"))) == [
        (JAN, 1, {"confidence": 0.5}),
        (JAN, 2, {"confidence": 0.7}),
    ]
    assert list(db.get_versions(Key(3, "agent:knowledge:jwt"))) == [(JAN, 5, {"confidence": 0.1})]
    assert list(db.get_versions("nothing:")) == []


def test_scan(db: llmdb.Database) -> None:
    db.put(Key(0, "order:1", JAN), {"amount": 50})
    db.put(Key(0, "order:2", JAN), {"amount": 150})
    db.put(Key(0, "order:3", JUN1), {"amount": 700})
    db.put(Key(0, "other", JAN), 0)
    db.delete(Key(0, "order:2", JUN8))
    facts = list(db.scan("order:"))
    assert [(f.key, f.value) for f in facts] == [("order:1", {"amount": 50}), ("order:3", {"amount": 700})]
    assert all(isinstance(f, llmdb.Fact) and not f.retracted for f in facts)
    assert [f.key for f in db.scan("order:", valid_at=JUN3)] == ["order:1", "order:2", "order:3"]
    assert [f.key for f in db.scan("order:", valid_at=JUN3, tx_at=2)] == ["order:1", "order:2"]
    assert [f.key for f in db.scan(b"order:", valid_at=JAN)] == ["order:1", "order:2"]
    assert len(list(db.scan())) == 3
    assert list(db.scan("zzz")) == []


def test_a_scan_reads_from_the_transaction_it_started_at(db: llmdb.Database) -> None:
    for i in range(5):
        db.put(f"k{i}", i)
    scan = db.scan("k")
    assert next(scan).value == 0
    db.put("k9", 9)
    assert [f.value for f in scan] == [1, 2, 3, 4]
    assert next(scan, None) is None  # exhausted: closed, and stays exhausted


def test_scans_are_closed_when_exhausted_dropped_or_closed(db: llmdb.Database) -> None:
    for i in range(3):
        db.put(f"k{i}", i)
    for _ in range(2000):  # handles would run out, or memory grow, if they leaked
        s = db.scan("k")
        next(s)
        del s
    gc.collect()
    with db.scan("k") as s:
        next(s)
    assert s._it is None
    s.close()  # idempotent
    assert list(s) == []
    many = list(db.scan("k"))
    assert len(many) == 3


def test_large_scans_page_through_the_library(db: llmdb.Database) -> None:
    with db.transaction() as tx:
        for i in range(5000):
            tx.put(f"row:{i:05d}", {"i": i, "pad": "x" * 100})
    rows = list(db.scan("row:"))
    assert [r.value["i"] for r in rows] == list(range(5000))


@pytest.mark.parametrize("size", [4095, 4096, 4097, 100_000, (1 << 20) + 1, 3 << 20])
def test_values_of_every_size(db: llmdb.Database, size: int) -> None:
    big = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    db.put("big", big)
    assert db.get("big") == big
    assert db.get_fact("big").value == big  # type: ignore[union-attr]
    db.put("small", b"s")
    assert db.get("small") == b"s"  # the grown (or one-off) buffer does not leak into it
    db.put("json", {"s": "y" * size})
    assert db.get("json") == {"s": "y" * size}


def test_threads_read_and_write_at_once(db: llmdb.Database) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(200):
                db.put(f"t{n}:{i}", {"n": n, "i": i, "pad": "p" * (i * 50)})
                assert db.get(f"t{n}:{i}") == {"n": n, "i": i, "pad": "p" * (i * 50)}
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(list(db.scan("t"))) == 1600


def test_history_keeps_the_value_type(db: llmdb.Database) -> None:
    """A JSON object that looks like the library's rendering of a raw value in its JSON
    answers ({"tag", "base64"}) must read back as JSON from history, timeline and versions,
    as it does from get: the answers must say which type a value is."""
    lookalike = {"tag": "raw", "base64": "AAE="}
    db.put("j", lookalike)
    db.put("r", b"\x00\x01")
    assert db.get("j") == lookalike and db.get("r") == b"\x00\x01"
    assert db.history("r")[0].value == b"\x00\x01"
    assert db.timeline("r")[0].value == b"\x00\x01"
    assert db.history("j")[0].value == lookalike
    assert db.timeline("j")[0].value == lookalike
    assert list(db.get_versions("j"))[0][2] == lookalike

"""Times: aware, naive (UTC) and int (microseconds) in; aware UTC datetimes out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import llmdb
from llmdb import Key
from llmdb._time import from_iso, from_us, to_iso, to_us

UTC = timezone.utc
PARIS = timezone(timedelta(hours=2))


def test_the_three_forms_name_the_same_instant(db: llmdb.Database) -> None:
    aware = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    naive = datetime(2024, 3, 1, 12, 0, 0, 123456)
    other_zone = datetime(2024, 3, 1, 14, 0, 0, 123456, tzinfo=PARIS)
    micros = 1709294400123456
    assert to_us(aware, "t") == to_us(naive, "t") == to_us(other_zone, "t") == micros
    for i, t in enumerate((aware, naive, other_zone, micros)):
        db.put(Key(0, f"k{i}", t), i)
        f = db.get_fact(f"k{i}", valid_at=aware)
        assert f is not None and f.value == i
        assert f.valid_from == aware and f.valid_from.tzinfo == UTC and f.valid_from.utcoffset() == timedelta(0)
        assert db.get(f"k{i}", valid_at=micros - 1) is None
        assert db.get(f"k{i}", valid_at=naive) == i


def test_times_returned_are_aware_utc_and_open_ends_are_none(db: llmdb.Database) -> None:
    c = db.put(Key(0, "k", 0), "epoch", valid_to=1)
    assert c.tx_time.tzinfo is UTC
    f = db.get_fact("k", valid_at=0)
    assert f is not None
    assert f.valid_from == datetime(1970, 1, 1, tzinfo=UTC)
    assert f.valid_to == datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    db.put(Key(0, "open", 0), 1)
    assert db.get_fact("open", valid_at=5).valid_to is None  # type: ignore[union-attr]
    assert db.history("open")[0].valid_to is None
    assert db.timeline("open")[0].valid_to is None


def test_times_before_the_epoch_and_far_ahead(db: llmdb.Database) -> None:
    old = datetime(1900, 5, 17, 3, 4, 5, 6, tzinfo=UTC)
    far = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    db.put(Key(0, "old", old), 1)
    db.put(Key(0, "far", far), 2)
    assert db.get_fact("old", valid_at=old).valid_from == old  # type: ignore[union-attr]
    assert db.history("old")[0].valid_from == old
    assert db.get_fact("far", valid_at=far).valid_from == far  # type: ignore[union-attr]
    assert db.history("far")[0].valid_from == far


def test_tx_at_takes_an_id_or_a_transaction_time(db: llmdb.Database) -> None:
    c1 = db.put("k", 1)
    c2 = db.put("k", 2)
    assert db.get("k", tx_at=c1.tx) == 1
    assert db.get("k", tx_at=c1.tx_time) == 1
    assert db.get("k", tx_at=c1.tx_time.replace(tzinfo=None)) == 1  # naive: UTC
    assert db.get("k", tx_at=c2.tx_time) == 2
    assert db.get("k", tx_at=c1.tx_time - timedelta(microseconds=1)) is None  # before the first
    assert db.get("k", tx_at=0) is None


def test_bad_times() -> None:
    for bad in ("2024-01-01", 1.5, True, None):
        with pytest.raises(TypeError, match="when"):
            to_us(bad, "when")
    with pytest.raises(llmdb.InvalidArgument):
        to_us(2**63, "when")


def test_bad_time_arguments_name_the_argument(db: llmdb.Database) -> None:
    with pytest.raises(TypeError, match="valid_at"):
        db.get("k", valid_at="yesterday")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tx_at"):
        db.get("k", tx_at="yesterday")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tx_at"):
        db.get("k", tx_at=1.0)  # type: ignore[arg-type]
    with pytest.raises(llmdb.InvalidArgument):
        db.get("k", tx_at=-1)
    with pytest.raises(TypeError, match="valid_to"):
        db.put("k", 1, valid_to="never")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="start"):
        db.timeline("k", start=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expires_at"):
        db.remember("agent:knowledge:x", "y", expires_at="soon")  # type: ignore[arg-type]


def test_iso_helpers() -> None:
    assert from_iso("2024-03-01T00:00:00.000000Z") == datetime(2024, 3, 1, tzinfo=UTC)
    assert from_iso("∞") is None and from_iso(None) is None
    assert to_iso(datetime(2024, 3, 1, 2, tzinfo=PARIS)) == "2024-03-01T00:00:00.000000Z"
    assert to_iso(datetime(5, 1, 1)) == "0005-01-01T00:00:00.000000Z"
    assert from_us(2**63 - 1) is None
    assert from_us(-(2**63)) == datetime.min.replace(tzinfo=UTC)
    # Years outside datetime's range clamp to the side they are on (the library writes
    # them as 0000 or in the expanded form ±YYYYYY).
    lo, hi = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
    assert from_iso("0000-06-01T00:00:00.000000Z") == lo
    assert from_iso("-290308-12-21T19:59:05.224192Z") == lo
    assert from_iso("-000001-12-31T23:59:59.999999Z") == lo
    assert from_iso("+010000-01-01T00:00:00.000000Z") == hi
    assert from_iso("+294247-01-10T04:00:54.775806Z") == hi


def test_reads_at_alternating_times(db: llmdb.Database) -> None:
    jan, jun = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)
    db.put(Key(0, "k", jan), "jan")
    db.put(Key(0, "k", jun), "jun")
    for _ in range(3):
        assert db.get("k", valid_at=jan) == "jan"
        assert db.get("k", valid_at=jun) == "jun"
        assert db.get("k", valid_at=datetime(2024, 1, 1, tzinfo=UTC)) == "jan"  # equal, another object
        assert db.get("k", valid_at=to_us(jun, "t") - 1) == "jan"

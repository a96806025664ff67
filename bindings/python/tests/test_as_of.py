"""as_of_transaction: read-only views as of a transaction id or a transaction time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import llmdb
from llmdb import Key

UTC = timezone.utc
MAR = datetime(2024, 3, 1, tzinfo=UTC)


def test_a_view_reads_as_of_its_transaction(db: llmdb.Database) -> None:
    key = Key(0, "agent:analysis:login", MAR)
    c1 = db.put(key, {"complexity": 8.5})
    c2 = db.put(key, {"complexity": 7.2})  # correction
    db.put("agent:analysis:other", 1)
    for view in (db.as_of_transaction(c1.tx), db.as_of_transaction(c1.tx_time)):
        assert isinstance(view, llmdb.AsOf) and view.tx == c1.tx
        assert view.get(key) == {"complexity": 8.5}
        assert view.get("agent:analysis:login") == {"complexity": 8.5}
        f = view.get_fact(key)
        assert f is not None and f.tx == c1.tx and f.valid_from == MAR
        assert [(f.key, f.value) for f in view.scan("agent:")] == [("agent:analysis:login", {"complexity": 8.5})]
        assert [f.value for f in view.history(key, with_corrections=True)] == [{"complexity": 8.5}]
        assert [r.value for r in view.timeline(key)] == [{"complexity": 8.5}]
        assert list(view.get_versions("agent:analysis:")) == [(MAR, c1.tx, {"complexity": 8.5})]
    now = db.as_of_transaction(c2.tx)
    assert now.get(key) == {"complexity": 7.2}
    assert [v for _, _, v in now.get_versions(key)] == [{"complexity": 8.5}, {"complexity": 7.2}]
    assert db.get(key) == {"complexity": 7.2}


def test_a_time_between_transactions_is_the_last_before_it(db: llmdb.Database) -> None:
    c1 = db.put("k", 1)
    c2 = db.put("k", 2)
    between = c1.tx_time + (c2.tx_time - c1.tx_time) / 2
    assert db.as_of_transaction(between).tx == c1.tx
    assert db.as_of_transaction(between.replace(tzinfo=None)).tx == c1.tx  # naive: UTC
    before = db.as_of_transaction(c1.tx_time - timedelta(seconds=1))
    assert before.tx == 0 and before.get("k") is None and list(before.scan()) == []
    assert db.as_of_transaction(0).get("k") is None


def test_bad_views(db: llmdb.Database) -> None:
    with pytest.raises(TypeError, match="tx"):
        db.as_of_transaction("1")  # type: ignore[arg-type]
    with pytest.raises(llmdb.InvalidArgument):
        db.as_of_transaction(-1)
    view = db.as_of_transaction(0)
    assert not hasattr(view, "put")  # read-only

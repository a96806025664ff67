"""with db.transaction(): commit at the end, abort on an exception; expect; tx_time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import llmdb
from llmdb import Key

from conftest import state

UTC = timezone.utc


def test_a_transaction_commits_at_the_end_of_the_block(db: llmdb.Database) -> None:
    db.put("gone", 0)
    with db.transaction() as tx:
        tx.put("a", 1)
        tx.put(Key(0, "b", datetime(2024, 1, 1)), {"b": 2}, valid_to=datetime(2025, 1, 1))
        tx.delete("gone")
        assert db.get("a") is None  # not visible before the commit
        assert tx.tx is None
    assert tx.tx == 2 and isinstance(tx.tx_time, datetime)
    assert db.get("a") == 1
    assert db.get("b", valid_at=datetime(2024, 6, 1)) == {"b": 2}
    assert db.get("gone") is None
    assert {f.tx for f in db.history("a") + db.history("b")} == {2}


def test_an_exception_in_the_block_aborts_and_is_reraised(db: llmdb.Database) -> None:
    db.put("a", 1)
    before = state(db)
    with pytest.raises(ZeroDivisionError):
        with db.transaction() as tx:
            tx.put("a", 2)
            tx.put("b", 3)
            tx.erase("a")
            1 / 0  # noqa: B018 - a Python error inside the block
    assert state(db) == before
    assert tx.tx is None
    with pytest.raises(llmdb.InvalidHandle):  # aborted: finished
        tx.put("c", 4)


def test_a_library_error_inside_the_block_aborts_everything(db: llmdb.Database) -> None:
    before = state(db)
    with pytest.raises(llmdb.KeyTooLong):
        with db.transaction() as tx:
            tx.put("fine", 1)
            tx.put("k" * 600, 2)
    assert state(db) == before


def test_explicit_transaction_times(db: llmdb.Database) -> None:
    t1 = datetime(2030, 1, 1, tzinfo=UTC)
    with db.transaction(tx_time=t1) as tx:
        tx.put("a", 1)  # valid from the transaction's time
    assert tx.tx_time == t1
    assert db.get_fact("a").valid_from == t1  # type: ignore[union-attr]
    before = state(db)
    with pytest.raises(llmdb.TxTimeNotIncreasing):
        with db.transaction(tx_time=t1 - timedelta(days=1)) as tx2:
            tx2.put("b", 2)
    assert state(db) == before
    with db.transaction(tx_time=int(t1.timestamp() * 1_000_000) + 1) as tx3:
        tx3.put("c", 3)
    assert tx3.tx_time == t1 + timedelta(microseconds=1)


def test_expect_is_a_compare_and_set(db: llmdb.Database) -> None:
    c = db.put("counter", 1)
    with db.transaction() as tx:
        tx.expect("counter", c.tx)
        tx.expect("new", "absent")
        tx.put("counter", 2)
        tx.put("new", True)
    before = state(db)
    with pytest.raises(llmdb.Conflict):
        with db.transaction() as tx:
            tx.expect("counter", c.tx)  # counter is now at tx 2
            tx.put("counter", 3)
    with pytest.raises(llmdb.Conflict):
        with db.transaction() as tx:
            tx.expect("missing", "present")
            tx.put("x", 1)
    with pytest.raises(llmdb.Conflict):
        with db.transaction() as tx:
            tx.expect("new", "absent")
            tx.put("x", 1)
    assert state(db) == before
    with pytest.raises(llmdb.InvalidArgument):
        db.transaction().expect("x", "maybe")
    with pytest.raises(TypeError, match="state"):
        db.transaction().expect("x", 1.0)  # type: ignore[arg-type]


def test_explicit_commit_and_abort(db: llmdb.Database) -> None:
    tx = db.transaction()
    tx.put("a", 1)
    c = tx.commit()
    assert c.tx == tx.tx == 1
    with pytest.raises(llmdb.InvalidHandle):
        tx.commit()
    tx = db.transaction()
    tx.put("b", 1)
    tx.abort()
    assert db.get("b") is None
    with db.transaction() as tx:  # committed explicitly inside the block: not twice
        tx.put("c", 1)
        tx.commit()
    assert db.get("c") == 1


def test_an_empty_transaction_commits(db: llmdb.Database) -> None:
    with db.transaction() as tx:
        pass
    assert tx.tx is not None


def test_a_dropped_transaction_is_aborted(db: llmdb.Database) -> None:
    tx = db.transaction()
    tx.put("a", 1)
    del tx
    assert db.get("a") is None
    db.put("b", 2)  # the writer is free
    assert db.get("b") == 2

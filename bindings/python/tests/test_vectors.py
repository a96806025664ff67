"""Vector collections from Python: float32 buffers in without a copy per element, exact
search as of any (valid time, transaction), and bad input refused with nothing written."""

from __future__ import annotations

import math
from array import array

import numpy as np
import pytest

import llmdb

from conftest import state


def test_numpy_round_trip_and_as_of(db: llmdb.Database) -> None:
    v = db.create_vectors("emb", 4, metric="l2")
    rows = np.arange(40, dtype=np.float32).reshape(10, 4)
    tx = v.put_many([f"k{i}" for i in range(10)], rows, metadata=[{"even": i % 2 == 0} for i in range(10)])
    hits = v.search(rows[3], k=3)
    assert [h["key"] for h in hits] == ["k3", "k2", "k4"]
    assert hits[0]["distance"] == 0 and hits[0]["tx"] == tx and hits[0]["metadata"] == {"even": False}
    assert [h["key"] for h in v.search(rows[3], k=2, filter={"even": True})] == ["k2", "k4"]
    # A correction of k3 moves it away; as of the first transaction it is where it was.
    tx2 = v.put("k3", np.full(4, 1000, dtype=np.float32))
    assert tx2 == tx + 1
    assert v.search(rows[3], k=1)[0]["key"] != "k3"
    assert v.search(rows[3], k=1, tx_at=tx)[0]["key"] == "k3"
    got = v.get("k3", tx_at=tx)
    assert got is not None and got["vector"] == [12.0, 13.0, 14.0, 15.0]
    assert v.get("nothing") is None
    assert v.stats()["vectors"] == 10 and v.stats()["versions"] == 11
    assert db.vectors("emb").name == "emb"
    assert [c["name"] for c in db.vector_collections()] == ["emb"]


def test_other_buffers_and_lists(db: llmdb.Database) -> None:
    v = db.create_vectors("b", 3)
    v.put("arr", array("f", [1, 0, 0]))
    v.put("mv", memoryview(array("f", [0, 1, 0])))
    v.put("bytes", memoryview(np.array([0, 0, 1], dtype=np.float32).tobytes()).cast("f"))
    v.put("list", [1, 1, 0], metadata={"lang": "en"})
    v.put_many(["l1", "l2"], [[1, 0, 1], [0, 1, 1]])
    assert v.search([1, 0, 0], k=1)[0]["key"] == "arr"
    assert {h["key"] for h in v.search(np.array([0, 1, 0], dtype=np.float32), k=7)} == {
        "arr", "mv", "bytes", "list", "l1", "l2",
    }
    v.delete("arr")
    assert v.search([1, 0, 0], k=1)[0]["key"] != "arr"
    v.delete("mv", erase=True)
    assert v.get("mv") is None
    v.drop()
    with pytest.raises(llmdb.NotFound):
        db.vectors("b")


def test_bad_input_changes_nothing(db: llmdb.Database) -> None:
    v = db.create_vectors("v", 2)
    v.put("k", [1, 2])
    before = state(db)
    cases = [
        (lambda: v.put("k", [1, 2, 3]), llmdb.InvalidValue, "3 dimensions"),
        (lambda: v.put("k", [0, 0]), llmdb.InvalidValue, "zero vector"),
        (lambda: v.put("k", [1, math.nan]), llmdb.InvalidValue, "finite"),
        (lambda: v.put("k", np.array([1, 2], dtype=np.float64)), TypeError, "float32"),
        (lambda: v.put("k", np.ones((2, 2), dtype=np.float32)[:, 0]), TypeError, "C-contiguous"),
        (lambda: v.put("k", ["a", 1]), TypeError, "not a number"),
        (lambda: v.put_many(["a"], np.ones((2, 2), dtype=np.float32)), llmdb.InvalidArgument, "1 keys for 2 rows"),
        (lambda: v.put_many(["a", "b"], [[1, 2], [3]]), llmdb.InvalidArgument, "row 1 has 1 numbers"),
        (lambda: v.put("k", [1, 2], metadata=[1]), llmdb.InvalidValue, "object"),
        (lambda: v.search([1, 2], k=0), llmdb.InvalidArgument, "'k' must be from 1 to 1000"),
        (lambda: v.search([1, 2, 3]), llmdb.InvalidArgument, "3 dimensions"),
        (lambda: v.search([1, 2], filter=[1]), llmdb.InvalidArgument, "'filter' must be an object"),
        (lambda: db.create_vectors("v", 3), llmdb.Conflict, "exists with 2 dimensions"),
        (lambda: db.vectors("nope"), llmdb.NotFound, "no vector collection named 'nope'"),
    ]
    for call, error, message in cases:
        with pytest.raises(error) as e:
            call()
        assert message in str(e.value), (message, str(e.value))
    assert state(db) == before

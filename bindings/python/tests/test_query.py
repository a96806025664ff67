"""db.query: LQL with named and positional parameters, writes, errors."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import llmdb
from llmdb import Key

from conftest import state

UTC = timezone.utc


@pytest.fixture
def users(db: llmdb.Database) -> llmdb.Database:
    db.call("insertDocument", collection="users", id="ada", document={"name": "Ada", "city": "Paris", "age": 36})
    db.call("insertDocument", collection="users", id="bob", document={"name": "Bob", "city": "Rome", "age": 41})
    return db


def test_select_with_named_parameters(users: llmdb.Database) -> None:
    r = users.query("SELECT name, age FROM users WHERE city = :city ORDER BY age DESC", city="Paris")
    assert isinstance(r, llmdb.QueryResult)
    assert r.columns == ["name", "age"]
    assert r.rows == [{"name": "Ada", "age": 36}]
    assert len(r) == 1 and list(r) == r.rows and r[0] == {"name": "Ada", "age": 36}
    assert isinstance(r.plan, list)


def test_positional_parameters(users: llmdb.Database) -> None:
    r = users.query("SELECT name FROM users WHERE age > $1 AND city = $2", 40, "Rome")
    assert [row["name"] for row in r] == ["Bob"]
    with pytest.raises(TypeError, match="not both"):
        users.query("SELECT name FROM users WHERE age > $1", 1, city="x")


def test_explain_gives_the_plan(users: llmdb.Database) -> None:
    r = users.query("EXPLAIN SELECT name FROM users WHERE city = 'Paris'")
    assert r.plan or r.rows  # the plan, as lines


def test_datetime_parameters_become_iso_text(db: llmdb.Database) -> None:
    db.put(Key(0, "price", datetime(2024, 1, 1, tzinfo=UTC)), 10)
    db.put(Key(0, "price", datetime(2024, 6, 1, tzinfo=UTC)), 8)
    r = db.query("SELECT value FROM kv('price') FOR VALID_TIME AS OF :t", t=datetime(2024, 3, 1))
    assert [row["value"] for row in r] == [10]
    r = db.query("SELECT value FROM kv('price') FOR VALID_TIME AS OF :t", t=datetime(2024, 7, 1, tzinfo=UTC))
    assert [row["value"] for row in r] == [8]


def test_as_of_transaction_in_lql(db: llmdb.Database) -> None:
    c = db.put("agent:decision:1", {"v": 1})
    db.put("agent:decision:1", {"v": 2})
    r = db.query(f"SELECT key, value FROM kv('agent:decision:') AS OF TRANSACTION {c.tx}")
    assert r.rows == [{"key": "agent:decision:1", "value": {"v": 1}}]


def test_writes_commit(db: llmdb.Database) -> None:
    db.query("INSERT INTO users (_id, name) VALUES ('dee', :name)", name="Dee")
    assert db.query("SELECT name FROM users").rows == [{"name": "Dee"}]


def test_bad_queries_change_nothing(db: llmdb.Database) -> None:
    db.put("a", 1)
    before = state(db)
    with pytest.raises(llmdb.InvalidQuery) as e:
        db.query("SELEC name FROM users")
    assert e.value.code == "invalid_query" and "line 1" in str(e.value)
    with pytest.raises(llmdb.InvalidQuery):
        db.query("INSERT INTO users (_id, name) VALUES ('x', 'y'), ('x')")
    with pytest.raises(TypeError, match="query parameters"):
        db.query("SELECT key FROM kv(:p)", p=b"bytes")
    with pytest.raises(TypeError, match="lql"):
        db.query(b"SELECT 1")  # type: ignore[arg-type]
    assert state(db) == before

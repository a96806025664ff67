"""Agent memory: remember, recall, correct, forget, history, evolution, as-of, rollback,
namespaces; and db.call for the other REST operations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import llmdb

from conftest import state

UTC = timezone.utc


def test_remember_and_recall(db: llmdb.Database) -> None:
    r = db.remember(
        "agent:knowledge:jwt",
        "rotate JWKS keys weekly",
        confidence=0.8,
        source="docs",
        dependencies=["config/jwt.py"],
        expires_at=datetime(2099, 1, 1),
    )
    assert r["keys"] == ["agent:knowledge:jwt"] and isinstance(r["tx_time"], datetime)
    db.remember("agent:knowledge:db", {"note": "use connection pooling"}, confidence=0.5)
    hits = db.recall("jwks rotation", max_tokens=500)
    assert [m["key"] for m in hits["memories"]] == ["agent:knowledge:jwt"]
    m = hits["memories"][0]
    assert m["content"] == "rotate JWKS keys weekly"
    assert m["confidence"] == 0.8 and m["source"] == "docs" and m["dependencies"] == ["config/jwt.py"]
    assert m["expires_at"] == datetime(2099, 1, 1, tzinfo=UTC)
    assert m["valid_to"] is None and m["valid_from"].tzinfo is not None
    assert m["score"] > 0 and hits["truncated"] is False
    assert db.recall("pooling", namespace="agent:knowledge:")["memories"][0]["content"] == {
        "note": "use connection pooling"
    }
    assert db.recall("pooling", min_confidence=0.9)["memories"] == []
    assert db.recall("jwks", tx_at=r["tx"] - 1)["memories"] == []
    assert len(db.recall("jwks", tx_at=r["tx_time"])["memories"]) == 1
    assert db.recall("jwks", valid_at=r["tx_time"] - timedelta(seconds=1))["memories"] == []


def test_remember_many_is_one_transaction(db: llmdb.Database) -> None:
    r = db.remember_many(
        [
            {"key": "agent:context:s1", "content": "auth service", "valid_from": datetime(2024, 1, 1)},
            {"key": "agent:context:s2", "content": "db layer", "confidence": 0.4},
        ]
    )
    assert r["keys"] == ["agent:context:s1", "agent:context:s2"]
    assert {f.tx for f in db.scan("agent:context:")} == {r["tx"]}
    before = state(db)
    with pytest.raises(llmdb.InvalidArgument) as e:  # one bad memory writes nothing
        db.remember_many([{"key": "agent:context:s3", "content": "x"}, {"key": "agent:context:s4", "content": "y", "confidence": 7}])
    assert "memory 1" in str(e.value)
    with pytest.raises(TypeError, match="unknown field"):
        db.remember_many([{"key": "agent:context:s3", "content": "x", "confidance": 1}])
    with pytest.raises(TypeError, match="mapping"):
        db.remember_many(["agent:context:s3"])  # type: ignore[list-item]
    assert state(db) == before


def test_bad_memories_change_nothing(db: llmdb.Database) -> None:
    db.remember("agent:knowledge:a", "a")
    before = state(db)
    with pytest.raises(llmdb.Error):
        db.remember("not-agent", "x")
    with pytest.raises(llmdb.Error):
        db.remember("agent:knowledge:b", None)
    with pytest.raises(llmdb.InvalidArgument):
        db.remember("agent:knowledge:b", "x", confidence=1.5)
    with pytest.raises(TypeError, match="key"):
        db.remember(b"agent:knowledge:b", "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="remember"):
        db.remember("agent:knowledge:b", {1, 2})
    with pytest.raises(llmdb.NotFound):
        db.correct("agent:knowledge:none", reason="x", content="y")
    with pytest.raises(llmdb.NotFound):
        db.forget("agent:knowledge:none")
    assert state(db) == before


def test_correct_forget_and_history(db: llmdb.Database) -> None:
    r1 = db.remember("agent:analysis:f1", {"complexity": 8.5}, confidence=0.87, valid_from=datetime(2024, 3, 1))
    c = db.correct("agent:analysis:f1", reason="found a hidden singleton", content={"complexity": 7.2}, confidence=0.93)
    assert c["memory"]["correction_reason"] == "found a hidden singleton"
    assert c["memory"]["valid_from"] == datetime(2024, 3, 1, tzinfo=UTC)  # same valid time
    assert db.get("agent:analysis:f1")["content"] == {"complexity": 7.2}
    assert db.get("agent:analysis:f1", tx_at=r1["tx"])["content"] == {"complexity": 8.5}
    f = db.forget("agent:analysis:f1")
    assert db.get("agent:analysis:f1") is None
    versions = db.memory_history("agent:analysis:f1")
    assert [v["tx"] for v in versions] == [r1["tx"], c["tx"], f["tx"]]
    assert versions[-1]["forgotten"] is True
    assert [v["tx"] for v in db.memory_history("agent:analysis:f1", tx_at=c["tx"])] == [r1["tx"], c["tx"]]
    db.forget("agent:analysis:f1", erase=True)
    with pytest.raises(llmdb.NotFound):
        db.memory_history("agent:analysis:f1")


def test_knowledge_evolution(db: llmdb.Database) -> None:
    db.remember("agent:knowledge:jwt", "HS256", confidence=0.5, valid_from=datetime(2024, 1, 1))
    second = db.remember("agent:knowledge:jwt", "RS256", confidence=0.8, valid_from=datetime(2024, 2, 1))
    db.correct("agent:knowledge:jwt", reason="checked the RFC", confidence=0.9)
    steps = db.knowledge_evolution("agent:knowledge:")
    assert [s["content"] for s in steps] == ["HS256", "RS256", "RS256"]
    assert steps[0]["confidence_change"] is None
    assert steps[1]["confidence_change"] == pytest.approx(0.3)
    assert steps[2]["confidence_change"] == pytest.approx(0.1)
    assert len(db.knowledge_evolution("agent:knowledge:", tx_at=second["tx"])) == 2
    assert len(db.knowledge_evolution("agent:knowledge:", tx_at=second["tx_time"])) == 2


def test_memories_as_of_and_rollback(db: llmdb.Database) -> None:
    r1 = db.remember("agent:context:s1", {"task": "auth"})
    db.remember("agent:context:s1", {"task": "billing"})
    db.remember("agent:context:s2", {"task": "new"})
    then = db.memories_as_of(r1["tx"], prefix="agent:context:")
    assert [(m["key"], m["content"]) for m in then] == [("agent:context:s1", {"task": "auth"})]
    assert db.memories_as_of(r1["tx_time"], prefix="agent:context:") == then
    rb = db.rollback("agent:context:", r1["tx"], reason="user asked", decision="refactor_42")
    assert rb["restored"] == ["agent:context:s1"] and rb["removed"] == ["agent:context:s2"]
    assert db.get("agent:context:s1")["content"] == {"task": "auth"}
    assert db.get("agent:context:s2") is None
    marker = db.get("agent:decision:refactor_42:superseded")
    assert marker["content"]["status"] == "rolled_back" and marker["source"] == "rollback"
    # Nothing was erased: as of before the rollback, the later state is still there.
    assert db.memories_as_of(rb["tx"] - 1, prefix="agent:context:")[1]["content"] == {"task": "new"}
    with pytest.raises(llmdb.InvalidArgument):
        db.memories_as_of(10_000)
    with pytest.raises(TypeError):
        db.memories_as_of(None)  # type: ignore[arg-type]


def test_many_pages_are_followed(db: llmdb.Database) -> None:
    r = db.remember_many([{"key": f"agent:todo:{i:04d}", "content": f"item {i}"} for i in range(1500)])
    assert len(db.memories_as_of(r["tx"], prefix="agent:todo:")) == 1500
    assert len(db.knowledge_evolution("agent:todo:")) == 1500


def test_namespaces(db: llmdb.Database) -> None:
    db.remember("agent:knowledge:a", "a")
    db.remember("agent:todo:1", "b")
    ns = db.namespaces()
    assert ns["agent:knowledge"] == 1 and ns["agent:todo"] == 1 and ns["agent:context"] == 0
    assert set(ns) >= {
        "agent:context", "agent:analysis", "agent:decision", "agent:knowledge",
        "agent:progress", "agent:preferences", "agent:errors",
    }
    assert db.namespaces(partition=5)["agent:knowledge"] == 0


def test_call_runs_any_rest_operation(db: llmdb.Database) -> None:
    ins = db.call("insertDocument", collection="users", document={"name": "Ada", "age": 36}, id="ada")
    assert ins["id"] == "ada" and isinstance(ins["tx_time"], datetime)
    db.call("patchDocument", collection="users", id="ada", patch={"city": "Paris"})
    found = db.call("findDocuments", collection="users", filter={"city": "Paris"})
    assert [d["document"] for d in found["documents"]] == [{"name": "Ada", "age": 36, "city": "Paris"}]
    assert db.call("getDocument", collection="users", id="ada", tx=ins["tx"])["document"] == {"name": "Ada", "age": 36}
    db.call("setSchema", collection="users", schema={"type": "object", "required": ["name"]})
    before = state(db)
    with pytest.raises(llmdb.SchemaViolation):
        db.call("insertDocument", collection="users", document={"age": 3})
    with pytest.raises(llmdb.NotFound):
        db.call("noSuchOperation")
    with pytest.raises(llmdb.InvalidArgument):
        db.call("getFact", key="a", colour="blue")  # unknown fields are refused
    assert state(db) == before
    # Times in the answers are datetimes; the user's data is left alone.
    db.call("insertDocument", collection="notes", id="n", document={"valid_from": "not a time"})
    assert db.call("getDocument", collection="notes", id="n")["document"] == {"valid_from": "not a time"}

"""Runs the seed's agent patterns (agent_patterns.py), the memory example (memory_api.py)
and the README's Python snippet, and checks their results."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest

import llmdb
from llmdb import Key

import agent_patterns as patterns
import memory_api

UTC = timezone.utc
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[llmdb.Database]:
    with llmdb.open(tmp_path / "agent.llmdb", sync="none") as d:
        patterns.use(d)
        yield d


# ---- Agent Knowledge Storage Patterns ----------------------------------------------------


def test_code_analysis_evolution(db: llmdb.Database) -> None:
    key = patterns.code_analysis_evolution("3f9a2c", T0)
    (vt1, tx1, original), (vt2, tx2, corrected) = db.get_versions(key)
    assert vt1 == vt2 == T0 and tx2 > tx1  # a correction: same valid time, new transaction
    # The corrected analysis is visible now...
    assert db.get(key) == corrected == {
        "complexity_score": 7.2,
        "patterns": ["factory", "decorator", "singleton"],
        "correction_reason": "Found hidden singleton pattern in config class",
    }
    assert db.get("agent:analysis:3f9a2c")["complexity_score"] == 7.2
    # ...and the original as of the earlier transaction (by id or by its time).
    assert original["complexity_score"] == 8.5 and original["confidence"] == 0.87
    assert db.as_of_transaction(tx1).get(key) == original
    assert db.as_of_transaction(db.get_fact(key, tx_at=tx1).tx_time).get(key) == original  # type: ignore[union-attr]
    assert db.get(key, tx_at=tx1) == original
    # Both versions are in the history, the first one corrected.
    assert [f.tx for f in db.history(key, with_corrections=True)] == [tx1, tx2]
    assert [f.tx for f in db.history(key)] == [tx2]
    # Before the analysis, nothing was known about the file.
    assert db.get(key, valid_at=T0 - timedelta(seconds=1)) is None


def test_decision_history(db: llmdb.Database) -> None:
    key = patterns.decision_history("42", T0)
    d = db.get("agent:decision:refactor_42")
    assert d["decision"] == "Extract database layer to separate module"
    assert len(d["reasoning"]) == 3 and d["confidence"] == 0.75 and d["context"]["files_analyzed"] == 23
    assert db.get_fact(key).valid_from == T0  # type: ignore[union-attr]
    assert db.get(key, valid_at=T0 - timedelta(microseconds=1)) is None


def test_conversation_context(db: llmdb.Database) -> None:
    key = patterns.conversation_context("session-7", T0)
    c = db.get(key)
    assert c["current_task"] == "implementing_auth_service"
    assert c["user_preferences"]["test_framework"] == "pytest"
    # A later message updates the context from its own time; the earlier state stays.
    later = T0 + timedelta(hours=1)
    db.put(Key(0, "agent:context:session-7", later), dict(c, current_task="reviewing_auth_service"))
    assert db.get("agent:context:session-7")["current_task"] == "reviewing_auth_service"
    assert db.get("agent:context:session-7", valid_at=T0)["current_task"] == "implementing_auth_service"
    assert [r.valid_from for r in db.timeline("agent:context:session-7")] == [T0, later]


# ---- Temporal Query Patterns for Agents --------------------------------------------------


def test_knowledge_evolution_tracking(db: llmdb.Database) -> None:
    jwt = Key(0, "agent:knowledge:jwt", T0)
    c1 = db.put(jwt, {"fact": "HS256 signs tokens", "confidence": 0.5})
    c2 = db.put(Key(0, "agent:knowledge:jwt", T0 + timedelta(days=1)), {"fact": "RS256 for public clients", "confidence": 0.8})
    c3 = db.put(Key(0, "agent:knowledge:jwt", T0 + timedelta(days=1)), {"fact": "RS256 for public clients", "confidence": 0.95})
    db.put("agent:knowledge:other", {"confidence": 1.0})  # outside the topic
    evolution = patterns.get_knowledge_evolution("jwt")
    # Each version, with its confidence change from the one before.
    assert [e["transaction"] for e in evolution] == [c1.tx, c2.tx, c3.tx]
    assert [e["timestamp"] for e in evolution] == [T0, T0 + timedelta(days=1), T0 + timedelta(days=1)]
    assert [e["knowledge"]["confidence"] for e in evolution] == [0.5, 0.8, 0.95]
    assert [e["confidence_change"] for e in evolution] == pytest.approx([0.5, 0.3, 0.15])


def test_decision_rollback_and_replay(db: llmdb.Database) -> None:
    patterns.conversation_context("refactor_42", T0)
    decision_point = db.get_fact("agent:context:refactor_42")
    assert decision_point is not None
    earlier_context = decision_point.value
    # The agent moves on.
    db.put("agent:context:refactor_42", dict(earlier_context, current_task="rewriting_auth_in_rust"))
    assert db.get("agent:context:refactor_42")["current_task"] == "rewriting_auth_in_rust"

    agent_state = patterns.rollback_to_decision("refactor_42", decision_point.tx)

    # The function returns the context as known at the decision point...
    assert agent_state == earlier_context
    marker = db.get("agent:decision:refactor_42:superseded")
    assert marker == {
        "status": "rolled_back",
        "reason": "user_requested_different_approach",
        "rollback_timestamp": decision_point.tx,
    }
    # ...and the agent restores it: the earlier context is current again, as a new
    # transaction; the abandoned path stays in the history.
    db.put("agent:context:refactor_42", agent_state)
    assert db.get("agent:context:refactor_42") == earlier_context
    tasks = [f.value["current_task"] for f in db.history("agent:context:refactor_42")]
    assert tasks == ["implementing_auth_service", "rewriting_auth_in_rust", "implementing_auth_service"]


def test_context_aware_code_suggestions(db: llmdb.Database) -> None:
    path = "src/auth/login.py"
    key = Key(0, f"agent:analysis:{hash(path)}", T0)
    db.put(key, {"patterns": ["factory"], "issues": ["sql_string_concat"], "confidence": 0.6})
    db.put(
        Key(0, f"agent:analysis:{hash(path)}", T0 + timedelta(days=2)),
        {
            "patterns": ["factory", "repository"],
            "issues_resolved": [{"issue": "sql_string_concat", "pattern": "string-built SQL"}],
            "refactoring_ops": ["extract query builder"],
            "confidence": 0.9,
        },
    )
    suggestions = patterns.get_contextual_suggestions(path)
    assert suggestions == {
        "refactoring_opportunities": ["extract query builder"],
        "avoid_patterns": ["string-built SQL"],
        "recommended_tests": ["test_factory_behaviour", "test_repository_behaviour"],
        "confidence": 0.9,
    }


# ---- Agent Memory Schema Patterns --------------------------------------------------------


def test_standard_agent_namespaces_with_temporal_metadata(db: llmdb.Database) -> None:
    ids = {"context": "session-7", "analysis": "3f9a2c", "decision": "refactor_42", "knowledge": "jwt",
           "progress": "llmdb", "preferences": "ada", "errors": "E1042"}
    for template in patterns.STANDARD_NAMESPACES:
        kind = template.split(":")[1]
        db.remember(f"agent:{kind}:{ids[kind]}", {"about": patterns.STANDARD_NAMESPACES[template]},
                    confidence=0.85, source="static_analysis", dependencies=["file1.py", "file2.py"])
    counts = db.namespaces()
    assert {f"agent:{template.split(':')[1]}" for template in patterns.STANDARD_NAMESPACES} <= set(counts)
    assert all(counts[f"agent:{template.split(':')[1]}"] == 1 for template in patterns.STANDARD_NAMESPACES)
    record = db.get("agent:knowledge:jwt")
    # The stored record is the seed's Temporal Metadata, in its order.
    assert list(record) == patterns.TEMPORAL_METADATA_FIELDS
    assert record == {
        "content": {"about": "Domain-specific knowledge"},
        "confidence": 0.85,
        "source": "static_analysis",
        "dependencies": ["file1.py", "file2.py"],
        "correction_reason": None,
        "expires_at": None,
    }
    fixed = db.correct("agent:knowledge:jwt", reason="reviewed", confidence=0.95)
    assert db.get("agent:knowledge:jwt")["correction_reason"] == "reviewed"
    assert fixed["memory"]["confidence"] == 0.95


# ---- The memory API example and the README snippet ---------------------------------------


def test_memory_api_example(tmp_path: Path) -> None:
    out = memory_api.main(str(tmp_path / "memory.llmdb"))
    assert out["recalled"][0] == ("agent:knowledge:jwt", "rotate JWKS keys weekly")
    assert out["now"] == "rotate JWKS keys daily"
    assert out["before_correction"] == "rotate JWKS keys weekly"
    assert out["evolution"] == [
        ("rotate JWKS keys weekly", 0.6, None, None),
        ("rotate JWKS keys daily", 0.9, pytest.approx(0.3), "security review"),
    ]
    assert out["restored"] == ["agent:context:session-7"] and out["removed"] == ["agent:context:session-8"]
    assert out["context"] == {"task": "auth service", "step": "refresh"}
    assert out["superseded"] == "rolled_back"
    assert out["as_of_checkpoint"] == {"agent:context:session-7": {"task": "auth service", "step": "refresh"}}
    assert out["namespaces"] == {"agent:context": 1, "agent:decision": 1, "agent:knowledge": 1, "agent:preferences": 1}


def test_memory_api_example_runs_as_a_script(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(HERE / "memory_api.py")], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path, env=os.environ.copy())
    assert r.returncode == 0, r.stderr
    assert "rollback: restored ['agent:context:session-7']" in r.stdout


def test_the_readme_python_snippet_runs(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Python", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S)
    assert snippet is not None, "README.md has no ```python block under ### Python"
    r = subprocess.run([sys.executable, "-c", snippet.group(1)], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path, env=os.environ.copy())
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "agent.llmdb").exists()

"""Agent memory with the llmdb package: remember, recall, correct, history, as-of, rollback.

    python3 examples/memory_api.py [DATABASE]    (default: a temporary file)

test_examples.py runs main() and checks what it returns.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any, Dict

import llmdb


def main(path: str) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    with llmdb.open(path) as db:
        # Remember: each call is a new version of the key, in one transaction.
        first = db.remember(
            "agent:knowledge:jwt",
            "rotate JWKS keys weekly",
            confidence=0.6,
            source="docs",
            dependencies=["config/jwt.py"],
        )
        db.remember_many([
            {"key": "agent:context:session-7", "content": {"task": "auth service", "step": "tokens"}},
            {"key": "agent:preferences:ada", "content": {"test_framework": "pytest"}, "source": "user"},
        ])
        checkpoint = db.remember("agent:context:session-7", {"task": "auth service", "step": "refresh"})

        # Recall: BM25 over the content, best first, within a token budget.
        hits = db.recall("jwks key rotation", max_tokens=500)
        out["recalled"] = [(m["key"], m["content"]) for m in hits["memories"]]
        print("recall:", out["recalled"])

        # Correct: same valid time, new transaction, with the reason kept.
        fix = db.correct("agent:knowledge:jwt", reason="security review", content="rotate JWKS keys daily", confidence=0.9)
        out["now"] = db.get("agent:knowledge:jwt")["content"]
        out["before_correction"] = db.get("agent:knowledge:jwt", tx_at=first["tx"])["content"]
        print("now:", out["now"], "| as of tx", first["tx"], ":", out["before_correction"])

        # History and evolution: every version, with the confidence change.
        out["evolution"] = [
            (v["content"], v["confidence"], v["confidence_change"], v["correction_reason"])
            for v in db.knowledge_evolution("agent:knowledge:jwt")
        ]
        print("evolution:", out["evolution"])

        # The agent goes down a path the user does not want...
        db.remember("agent:context:session-7", {"task": "auth service", "step": "rewrite in Rust"})
        db.remember("agent:context:session-8", {"task": "rust toolchain"})

        # ...so it rolls its context back to the checkpoint, as a new transaction.
        rb = db.rollback("agent:context:", checkpoint["tx"], reason="user asked to keep Python", decision="rust_rewrite")
        out["restored"], out["removed"] = rb["restored"], rb["removed"]
        out["context"] = db.get("agent:context:session-7")["content"]
        out["superseded"] = db.get("agent:decision:rust_rewrite:superseded")["content"]["status"]
        print("rollback: restored", rb["restored"], "removed", rb["removed"], "->", out["context"])

        # What did it know at the checkpoint? (Nothing is lost: the rolled-back path too.)
        out["as_of_checkpoint"] = {m["key"]: m["content"] for m in db.memories_as_of(checkpoint["tx"], prefix="agent:context:")}
        out["namespaces"] = {k: n for k, n in db.namespaces().items() if n}
        out["fix_tx"] = fix["tx"]
        print("namespaces:", out["namespaces"])
    return out


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as d:
            main(str(Path(d) / "memory.llmdb"))

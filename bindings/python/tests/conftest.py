"""Fixtures of the llmdb package's tests: a fresh database per test, and a way to see that
a failed operation changed nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

import llmdb

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "test.llmdb"


@pytest.fixture
def db(path: Path) -> Iterator[llmdb.Database]:
    with llmdb.open(path, sync="none") as d:
        yield d


def state(db: llmdb.Database) -> Any:
    """What a failed operation must leave as it was: the transaction log and every fact of
    partition 0 with its history."""
    log = db.call("transactions", limit=1000)["transactions"]
    facts = list(db.scan())
    histories = {f.key: db.history(f.key, with_corrections=True) for f in facts}
    return log, facts, histories

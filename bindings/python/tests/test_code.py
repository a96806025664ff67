"""db.code: registering, listing and removing WebAssembly modules."""

from __future__ import annotations

import pytest

import llmdb

from conftest import REPO, state

COUNT_WAT = (REPO / "examples" / "wasm" / "count.wat").read_text()


def test_add_list_use_and_remove(db: llmdb.Database) -> None:
    info = db.code.add("count", COUNT_WAT)  # WAT text as a str
    assert info["name"] == "count" and info["kind"] == "reduce_pages" and len(info["sha256"]) == 64
    assert [m["name"] for m in db.code.list()] == ["count"]
    for i in range(3):
        db.put(f"order:{i}", {"amount": i})
    r = db.query("SELECT EMBEDDED WASM count() AS n FROM kv('order:')")
    assert r.rows == [{"n": 3}]
    tx = db.code.remove("count")
    assert isinstance(tx, int) and tx > 0
    assert db.code.list() == []


def test_a_binary_module_as_bytes(db: llmdb.Database) -> None:
    # The smallest valid module: the magic and version only. It exports nothing, so it is
    # refused as a reduce_pages module, by name.
    before = state(db)
    with pytest.raises(llmdb.InvalidModule) as e:
        db.code.add("empty", b"\x00asm\x01\x00\x00\x00", kind="reduce_pages")
    assert "reduce_pages" in str(e.value)
    with pytest.raises(llmdb.InvalidModule):
        db.code.add("junk", b"not wasm at all")
    with pytest.raises(llmdb.InvalidArgument):
        db.code.add("count", COUNT_WAT, kind="no_such_kind")
    with pytest.raises(TypeError, match="module"):
        db.code.add("count", 42)  # type: ignore[arg-type]
    with pytest.raises(llmdb.NotFound):
        db.code.remove("nothing")
    assert state(db) == before

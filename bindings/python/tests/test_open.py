"""Opening and closing: options, context manager, read-only, use after close."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

import llmdb


def test_open_creates_the_file_and_closes_at_the_end_of_a_with_block(path: Path) -> None:
    with llmdb.open(path) as db:
        assert isinstance(db, llmdb.Database)
        assert db.path == str(path) and not db.closed
        db.put("a", 1)
    assert db.closed
    assert path.exists()
    with llmdb.open(path) as db:
        assert db.get("a") == 1


def test_open_takes_a_str_or_a_path_and_every_option(path: Path) -> None:
    for sync in ("full", "meta", "none"):
        with llmdb.open(str(path), sync=sync, map_size=1 << 20, max_map_size=1 << 30) as db:
            db.put(sync, sync)
    with llmdb.open(path) as db:
        assert [f.key for f in db.scan()] == ["full", "meta", "none"]


def test_create_false_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(llmdb.Error):
        llmdb.open(tmp_path / "missing.llmdb", create=False)
    assert not (tmp_path / "missing.llmdb").exists()


def test_read_only_refuses_writes_and_reads(path: Path) -> None:
    with llmdb.open(path) as db:
        db.put("a", 1)
    with llmdb.open(path, read_only=True) as db:
        assert db.read_only
        assert db.get("a") == 1
        with pytest.raises(llmdb.ReadOnly):
            db.put("b", 2)
        with pytest.raises(llmdb.ReadOnly):
            db.remember("agent:knowledge:x", "y")
        assert db.get("b") is None


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.llmdb"
    bad.write_bytes(b"this is not LMDB" * 1000)
    with pytest.raises(llmdb.Error) as e:
        llmdb.open(bad)
    assert isinstance(e.value, (llmdb.NotADatabase, llmdb.Corrupted, llmdb.StorageError)), repr(e.value)


def test_bad_options(path: Path) -> None:
    with pytest.raises(llmdb.InvalidArgument):
        llmdb.open(path, sync="sometimes")
    with pytest.raises(ValueError):  # InvalidArgument is a ValueError too
        llmdb.open(path, map_size=0)
    with pytest.raises(TypeError, match="map_size"):
        llmdb.open(path, map_size="big")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sync"):
        llmdb.open(path, sync=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path"):
        llmdb.open(42)  # type: ignore[arg-type]
    with pytest.raises(llmdb.InvalidArgument):  # the library checks map_size <= max_map_size
        llmdb.open(path, map_size=1 << 30, max_map_size=1 << 20)


def test_use_after_close_is_a_clear_error_not_a_crash(path: Path) -> None:
    db = llmdb.open(path)
    db.put("a", 1)
    scan = db.scan()
    tx = db.transaction()
    view = db.as_of_transaction(1)
    db.close()
    db.close()  # idempotent
    for call in (
        lambda: db.get("a"),
        lambda: db.get_fact("a"),
        lambda: db.put("a", 2),
        lambda: db.delete("a"),
        lambda: db.erase("a"),
        lambda: db.history("a"),
        lambda: db.timeline("a"),
        lambda: list(db.get_versions("a")),
        lambda: db.scan(),
        lambda: db.transaction(),
        lambda: db.query("SELECT key FROM kv('')"),
        lambda: db.remember("agent:knowledge:x", "y"),
        lambda: db.recall("y"),
        lambda: db.namespaces(),
        lambda: db.call("transactions"),
        lambda: db.code.list(),
        lambda: view.get("a"),
        lambda: next(scan),
        lambda: tx.put("b", 1),
        lambda: tx.commit(),
    ):
        with pytest.raises(llmdb.InvalidHandle) as e:
            call()
        assert e.value.code == "invalid_handle"
        assert "closed" in str(e.value)
    # The file is intact.
    with llmdb.open(path) as db:
        assert db.get("a") == 1


def test_a_database_dropped_without_close_is_closed(path: Path) -> None:
    db = llmdb.open(path)
    db.put("a", 1)
    del db
    gc.collect()
    with llmdb.open(path) as db:
        assert db.get("a") == 1


def test_one_process_may_open_a_file_twice(path: Path) -> None:
    with llmdb.open(path) as a, llmdb.open(path) as b:
        a.put("a", 1)
        assert b.get("a") == 1
        b.put("b", 2)
        assert a.get("b") == 2
    with llmdb.open(path) as c:
        assert c.get("a") == 1 and c.get("b") == 2


def test_closing_while_other_threads_read_and_write(path: Path) -> None:
    import threading
    import time

    db = llmdb.open(path, sync="none")
    for i in range(100):
        db.put(f"k{i}", {"i": i})
    outcomes: list[str] = []
    stop = threading.Event()

    def work(n: int) -> None:
        while not stop.is_set():
            try:
                if n % 3 == 0:
                    db.get(f"k{n}")
                elif n % 3 == 1:
                    list(db.scan("k"))
                else:
                    db.put(f"w{n}", n)
            except llmdb.InvalidHandle:
                outcomes.append("closed")
                return
            except BaseException as e:  # noqa: BLE001 - reported below
                outcomes.append(repr(e))
                return

    threads = [threading.Thread(target=work, args=(n,)) for n in range(9)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    db.close()
    time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    assert outcomes == ["closed"] * 9
    with llmdb.open(path) as again:
        assert again.get("k5") == {"i": 5}


def test_the_fast_calls_are_the_compiled_ones() -> None:
    """pip install compiles llmdb._fastc (cffi); the suite runs it unless LLMDB_FFI forces a
    fallback, so a failed compile cannot pass unnoticed."""
    import os

    from llmdb import _fast

    assert _fast.mode == (os.environ.get("LLMDB_FFI") or "compiled")

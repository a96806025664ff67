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


def _close_while_threads_work(path: Path, settle: float) -> None:
    """Nine threads get, scan and put until one of their calls raises; the main thread
    closes the database after `settle` seconds. Each thread's last call, whether it came
    after the close or was running inside the library while it closed, must raise
    InvalidHandle: never Closed, another error, or a scan that ends early or reads freed
    rows. The file opens again afterwards with what was committed."""
    import threading
    import time

    db = llmdb.open(path, sync="none")
    with db.transaction() as tx:
        for i in range(100):
            tx.put(f"k{i}", {"i": i})
    everything = {f"k{i}": {"i": i} for i in range(100)}
    outcomes: list[str] = []
    go = threading.Event()
    stop = threading.Event()

    def work(n: int) -> None:
        go.wait()
        while not stop.is_set():
            try:
                if n % 3 == 0:
                    db.get(f"k{n}")
                elif n % 3 == 1:
                    rows = {f.key: f.value for f in db.scan("k")}
                    if rows != everything:
                        outcomes.append(f"a scan read {len(rows)} rows, not the 100 written")
                        return
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
    go.set()
    time.sleep(settle)
    db.close()
    # After the close every call raises, so each thread ends by itself; `stop` only keeps a
    # broken build from hanging the suite.
    for t in threads:
        t.join(timeout=60)
    stop.set()
    for t in threads:
        t.join()
    assert outcomes == ["closed"] * 9
    with llmdb.open(path) as again:
        assert again.get("k5") == {"i": 5}


def test_closing_while_other_threads_read_and_write(path: Path) -> None:
    """LLMDB_STRESS_CLOSE=N runs it N times in this process, closing after 0 to 18 ms of
    calls (scripts/check-python.sh's stress step)."""
    import os

    runs = int(os.environ.get("LLMDB_STRESS_CLOSE", "1"))
    for i in range(runs):
        p = path.with_name(f"close-{i}.llmdb")
        _close_while_threads_work(p, 0.2 if runs == 1 else 0.002 * (i % 10))
        p.unlink()
        p.with_name(p.name + "-lock").unlink(missing_ok=True)


def test_the_fast_calls_are_the_compiled_ones() -> None:
    """pip install compiles llmdb._fastc (cffi); the suite runs it unless LLMDB_FFI forces a
    fallback, so a failed compile cannot pass unnoticed."""
    import os

    from llmdb import _fast

    assert _fast.mode == (os.environ.get("LLMDB_FFI") or "compiled")

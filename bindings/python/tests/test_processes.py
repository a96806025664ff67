"""Two processes on one file, and the package without its library."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import llmdb

CHILD = textwrap.dedent(
    """
    import json, sys, llmdb
    path, n = sys.argv[1], int(sys.argv[2])
    seen = set()
    with llmdb.open(path) as db:
        print("ready", flush=True)
        for i in range(n):
            db.put(f"child:{i}", {"i": i})
            seen.update(f.key for f in db.scan("parent:"))   # reads while the parent writes
            with db.transaction() as tx:                       # and writes in transactions
                tx.put("shared", {"by": "child", "i": i})
        sys.stdin.readline()                                   # the parent has finished
        final = [f.key for f in db.scan("parent:")]
        print(json.dumps({"seen_during": len(seen), "final": final, "shared": db.get("shared")}), flush=True)
    """
)


def test_two_processes_write_and_read_one_database(path: Path) -> None:
    n = 200
    with llmdb.open(path) as db:
        db.put("start", True)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready", child.stderr.read() if child.stderr else ""
        seen = set()
        for i in range(n):
            db.put(f"parent:{i}", {"i": i})
            seen.update(f.key for f in db.scan("child:"))
            with db.transaction() as tx:
                tx.put("shared", {"by": "parent", "i": i})
        child.stdin.write("done\n")
        child.stdin.flush()
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        report = json.loads(out.strip().splitlines()[-1])
        # Each sees every commit of the other once it is made.
        assert report["final"] == sorted(f"parent:{i}" for i in range(n))
        assert sorted(f.key for f in db.scan("child:")) == sorted(f"child:{i}" for i in range(n))
        assert report["seen_during"] > 0 or len(seen) > 0  # they ran at the same time
        assert db.get("shared") == report["shared"]
        assert report["shared"]["i"] == n - 1
        txs = [f.tx for f in db.history("shared", with_corrections=True)]
        assert len(txs) == 2 * n and txs == sorted(txs)  # every commit of both, in one order
    with llmdb.open(path) as db:  # and the file is sound after both closed
        assert len(list(db.scan())) == 2 * n + 2


def _import_llmdb(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import llmdb"], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_the_library_missing_at_import(tmp_path: Path) -> None:
    env = os.environ.copy()
    env["LLMDB_LIBRARY"] = str(tmp_path / "no-such-libllmdb.so")
    r = _import_llmdb(env, tmp_path)
    assert r.returncode != 0
    assert "ImportError" in r.stderr
    assert "no-such-libllmdb.so" in r.stderr and "LLMDB_LIBRARY" in r.stderr
    assert "bash scripts/build-lib.sh" in r.stderr and "pip install ./bindings/python" in r.stderr


def test_a_copy_of_the_package_without_the_library(tmp_path: Path) -> None:
    package = Path(llmdb.__file__).parent
    copy = tmp_path / "site" / "llmdb"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("libllmdb.so", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "LLMDB_LIBRARY"}
    env["PYTHONPATH"] = str(tmp_path / "site")
    r = _import_llmdb(env, tmp_path)
    assert r.returncode != 0
    assert "ImportError" in r.stderr
    assert str(copy / "libllmdb.so") in r.stderr
    assert "bash scripts/build-lib.sh" in r.stderr and "LLMDB_LIBRARY" in r.stderr


def test_a_file_that_is_not_the_library(tmp_path: Path) -> None:
    fake = tmp_path / "libllmdb.so"
    fake.write_bytes(b"\x7fELF not really")
    env = os.environ.copy()
    env["LLMDB_LIBRARY"] = str(fake)
    r = _import_llmdb(env, tmp_path)
    assert r.returncode != 0 and "cannot load" in r.stderr and "build-lib.sh" in r.stderr


def test_a_handle_used_after_fork_fails_clearly(path: Path) -> None:
    """LMDB forbids using an environment after fork(): the library says so (InvalidHandle)
    rather than hang on the first write. The child is killed after 10 s if it hangs."""
    with llmdb.open(path) as db:
        db.put("a", 1)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report what a write does, then leave without cleanup
            os.close(read)
            import signal

            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(10)
            try:
                db.put("b", 2)
                result = "written"
            except llmdb.Error as e:
                result = f"{type(e).__name__}: {e}"
            os.write(write, result.encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as f:
            result = f.read()
        _, status = os.waitpid(pid, 0)
        assert not os.WIFSIGNALED(status), "the child hung on a write with the inherited handle"
        assert result.startswith(("InvalidHandle", "InvalidArgument")), result
        db.put("c", 3)  # the parent is unaffected
        assert db.get("b") is None and db.get("c") == 3


def test_a_forked_child_closes_its_copy_and_opens_its_own(path: Path) -> None:
    """In the child, closing the inherited Database (what leaving a `with` block does) only
    forgets it, and llmdb.open opens the file afresh: the child's writes reach the parent."""
    with llmdb.open(path) as db:
        db.put("a", 1)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            import signal

            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(10)
            try:
                db.close()
                with llmdb.open(path) as mine:
                    assert mine.get("a") == 1
                    mine.put("from-child", 2)
                result = "ok"
            except BaseException as e:  # report anything: the parent asserts
                result = f"{type(e).__name__}: {e}"
            os.write(write, result.encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as f:
            result = f.read()
        _, status = os.waitpid(pid, 0)
        assert not os.WIFSIGNALED(status), "the child hung"
        assert result == "ok"
        assert db.get("from-child") == 2

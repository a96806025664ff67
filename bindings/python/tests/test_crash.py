"""Nothing acknowledged is lost: a writer process killed with SIGKILL mid-stream."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import llmdb

WRITER = textwrap.dedent(
    """
    import sys, llmdb
    with llmdb.open(sys.argv[1], sync="full") as db:
        i = 0
        while True:
            if i % 3 == 0:
                with db.transaction() as tx:             # a batch of three in one commit
                    for j in range(3):
                        tx.put(f"batch:{i}:{j}", {"i": i, "j": j})
                print(f"batch {i}", flush=True)           # acknowledged: the commit returned
            else:
                c = db.put(f"single:{i}", {"i": i})
                print(f"single {i} {c.tx}", flush=True)
            i += 1
    """
)


def test_acknowledged_commits_survive_sigkill(path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    acknowledged = []
    assert child.stdout is not None
    for line in child.stdout:
        acknowledged.append(line.split())
        if len(acknowledged) == 60:
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    # Lines written after the 60th but before the kill are acknowledged too; read them.
    acknowledged += [line.split() for line in child.stdout.read().splitlines() if line.strip()]

    with llmdb.open(path) as db:
        for ack in acknowledged:
            if ack[0] == "batch":
                i = int(ack[1])
                for j in range(3):
                    assert db.get(f"batch:{i}:{j}") == {"i": i, "j": j}, ack
            else:
                i, tx = int(ack[1]), int(ack[2])
                fact = db.get_fact(f"single:{i}")
                assert fact is not None and fact.value == {"i": i} and fact.tx == tx, ack
        # The database still takes writes after the crash.
        db.put("after", True)
        assert db.get("after") is True

"""The Python benchmark of issue 7: llmdb (the package in bindings/python, over the release
libllmdb.so) against PyPI's lmdb (py-lmdb, a thin C wrapper over raw LMDB), side by side in
one process and one run, on the same keys and values.

Workloads, each timed in rounds that alternate the two libraries (medians reported):
  - batched put: every key written once, in transactions of --batch puts, fsync per commit
    in both (llmdb sync "full"; py-lmdb sync=True, metasync=True);
  - get: every key once, in shuffled order, each get its own read transaction (what
    `db.get` does): py-lmdb's plain get of the latest value against llmdb's get of the
    latest value and llmdb's as-of get (a valid time and an older transaction: every key
    has two versions, and the as-of read returns the first);
  - for reference, py-lmdb's gets inside one read transaction (its best case).

Run by `make bench-python` in a venv (.build/venv-bench-python) with both installed.
"""
import argparse
import datetime
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

import lmdb  # noqa: E402  (PyPI lmdb)
import llmdb  # noqa: E402


def log(msg):
    print(f"bench-python: {msg}", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000, help="puts per write transaction")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--value-bytes", type=int, default=100)
    ap.add_argument("--out", default="bench-out/python.md")
    args = ap.parse_args()

    rng = random.Random(7)
    keys = [f"agent:knowledge:{i:08d}".encode() for i in range(args.keys)]
    values = [bytes(rng.getrandbits(8) for _ in range(args.value_bytes)) for _ in range(64)]
    order = list(range(args.keys))
    rng.shuffle(order)
    shuffled = [keys[i] for i in order]

    work = tempfile.mkdtemp(prefix="llmdb-bench-python-")
    results = {name: [] for name in ("put_llmdb", "put_lmdb", "get_llmdb", "asof_llmdb", "get_lmdb", "get_lmdb_one_txn")}
    try:
        for r in range(args.rounds):
            log(f"round {r + 1} of {args.rounds}")
            lpath = os.path.join(work, f"llmdb-{r}")
            ppath = os.path.join(work, f"lmdb-{r}")
            env = lmdb.open(ppath, map_size=4 << 30, subdir=False, sync=True, metasync=True, lock=True)
            db = llmdb.open(lpath, sync="full")
            try:
                # Batched puts: alternate which library goes first.
                def put_llmdb():
                    t0 = time.perf_counter()
                    for start in range(0, len(keys), args.batch):
                        with db.transaction() as tx:
                            for i in range(start, min(start + args.batch, len(keys))):
                                tx.put(keys[i], values[i & 63])
                    return time.perf_counter() - t0

                def put_lmdb():
                    t0 = time.perf_counter()
                    for start in range(0, len(keys), args.batch):
                        with env.begin(write=True) as txn:
                            for i in range(start, min(start + args.batch, len(keys))):
                                txn.put(keys[i], values[i & 63])
                    return time.perf_counter() - t0

                first, second = (put_llmdb, put_lmdb) if r % 2 == 0 else (put_lmdb, put_llmdb)
                a, b = first(), second()
                t_llmdb, t_lmdb = (a, b) if r % 2 == 0 else (b, a)
                results["put_llmdb"].append(len(keys) / t_llmdb)
                results["put_lmdb"].append(len(keys) / t_lmdb)

                # A second version of every key (a correction), so as-of reads have history.
                first_tx = db.get_fact(keys[0]).tx
                last_first_version_tx = db.get_fact(keys[-1]).tx
                with db.transaction() as tx:
                    for k in keys:
                        tx.put(k, values[0])
                as_of_valid = datetime.datetime.now(datetime.timezone.utc)
                check = db.get(keys[5], valid_at=as_of_valid, tx_at=last_first_version_tx)
                assert check == values[5 & 63], "the as-of read must return the first version"
                assert first_tx >= 1

                def get_llmdb():
                    get = db.get
                    t0 = time.perf_counter()
                    for k in shuffled:
                        get(k)
                    return time.perf_counter() - t0

                def asof_llmdb():
                    get = db.get
                    v, t = as_of_valid, last_first_version_tx
                    t0 = time.perf_counter()
                    for k in shuffled:
                        get(k, valid_at=v, tx_at=t)
                    return time.perf_counter() - t0

                def get_lmdb():
                    begin = env.begin
                    t0 = time.perf_counter()
                    for k in shuffled:
                        with begin() as txn:
                            txn.get(k)
                    return time.perf_counter() - t0

                def get_lmdb_one_txn():
                    t0 = time.perf_counter()
                    with env.begin() as txn:
                        get = txn.get
                        for k in shuffled:
                            get(k)
                    return time.perf_counter() - t0

                runs = [("get_llmdb", get_llmdb), ("asof_llmdb", asof_llmdb), ("get_lmdb", get_lmdb),
                        ("get_lmdb_one_txn", get_lmdb_one_txn)]
                if r % 2 == 1:
                    runs.reverse()
                for name, fn in runs:
                    results[name].append(len(keys) / fn())
            finally:
                db.close()
                env.close()
                for p in (lpath, lpath + "-lock", ppath, ppath + "-lock"):
                    if os.path.exists(p):
                        os.remove(p)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in results.items()}

    def row(name, ours, theirs, target):
        ratio = med[theirs] / med[ours]  # time ratio: llmdb's time per op ÷ py-lmdb's
        ok = "met" if ratio <= target else "missed"
        return f"| {name} | {med[ours]:,.0f}/s | {med[theirs]:,.0f}/s | {ratio:.2f}× | ≤ {target}× ({ok}) |"

    lines = [
        f"# Python: llmdb vs py-lmdb ({args.keys:,} keys, {args.value_bytes}-byte values, "
        f"{args.rounds} rounds, medians)",
        "",
        *benchlib.machine_info(),
        f"- py-lmdb {lmdb.__version__}, Python {sys.version.split()[0]}",
        "",
        "| workload | llmdb | py-lmdb | time ratio (llmdb ÷ py-lmdb) | target |",
        "|---|---:|---:|---:|---|",
        row(f"batched put ({args.batch} per transaction, fsync per commit)", "put_llmdb", "put_lmdb", 2),
        row("as-of get (valid time + older transaction) vs plain get, a read transaction each", "asof_llmdb",
            "get_lmdb", 2),
        row("latest get vs plain get, a read transaction each", "get_llmdb", "get_lmdb", 2),
        "",
        f"Reference: py-lmdb's gets inside one read transaction: {med['get_lmdb_one_txn']:,.0f}/s.",
        "",
        "Raw rounds (ops/s): " + "; ".join(f"{k}: " + ", ".join(f"{x:,.0f}" for x in v) for k, v in results.items()),
    ]
    benchlib.write_report("\n".join(lines), args.out, log)


if __name__ == "__main__":
    main()

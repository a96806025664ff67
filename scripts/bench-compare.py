#!/usr/bin/env python3
"""Before and after, same run: the write path and recall of two checkouts of LLMDB, side by side.

Each checkout must have its release benchmarks built:
    swift build -c release --package-path Benchmarks --product llmdb-bench
    swift build -c release --package-path Benchmarks --product llmdb-server-bench
Rounds alternate base, new, base, new… (so that the machine's noise falls on both), and the
report gives each side's median and the ratio new ÷ base of each figure:
    llmdb-bench      bulk_load, durable_commit_1, durable_commit_8, point_read, prefix_scan
                     (the core's write and read paths, no index)
    llmdb-server-bench (in process)
                     put (durable single puts), remember (batches of memories: writes that the
                     full-text index covers), recall (BM25 over those memories)

    python3 scripts/bench-compare.py --base DIR --new DIR [--rounds 5] [--scale 0.1]
                                     [--memories 20000] [--seconds 3] [--out FILE.md]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_server  # noqa: E402  (the memory and query generator)

CORE = ["bulk_load", "durable_commit_1", "durable_commit_8", "point_read", "prefix_scan"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd):
    log("  " + " ".join(cmd))
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def core_round(root, scale):
    with tempfile.TemporaryDirectory() as d:
        rows = run([os.path.join(root, "Benchmarks/.build/release/llmdb-bench"), "--dir", d,
                    "--workload", ",".join(CORE), "--scale", str(scale)])
    return {r["workload"]: r["ops_per_sec"] for r in rows}


def memory_round(root, folder, seconds):
    with tempfile.TemporaryDirectory() as d:
        r = run([os.path.join(root, "Benchmarks/.build/release/llmdb-server-bench"), "--dir", d,
                 "--memories-file", os.path.join(folder, "memories.txt"),
                 "--queries-file", os.path.join(folder, "queries.txt"), "--facts", "2000",
                 "--seconds", str(seconds), "--threads", "2", "--put-threads", "2", "--batch", "100",
                 "--sync", "full"])[-1]
    return {
        "put (ops/s)": r["put"]["per_s"],
        "remember (memories/s)": r["remember"]["memories_per_s"],
        "remember batch p50 (µs)": r["remember"]["p50_us"],
        "recall (ops/s)": r["recall"]["per_s"],
        "recall p50 (µs)": r["recall"]["p50_us"],
        "recall p95 (µs)": r["recall"]["p95_us"],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--memories", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--out")
    a = ap.parse_args()
    sides = {"base": a.base, "new": a.new}
    results = {s: [] for s in sides}
    with tempfile.TemporaryDirectory() as folder:
        bench_server.generate(a.memories, 500, folder)
        for i in range(a.rounds):
            for side in (("base", "new") if i % 2 == 0 else ("new", "base")):
                log(f"round {i + 1}/{a.rounds}: {side}")
                figures = core_round(sides[side], a.scale)
                figures.update(memory_round(sides[side], folder, a.seconds))
                results[side].append(figures)
    lines = [f"| figure | base | new | new ÷ base |", "|---|---:|---:|---:|"]
    for name in results["base"][0]:
        b = statistics.median(r[name] for r in results["base"])
        n = statistics.median(r[name] for r in results["new"])
        lines.append(f"| {name} | {b:,.0f} | {n:,.0f} | {n / b:.3f} |")
    text = (f"base {a.base}, new {a.new}: medians of {a.rounds} alternating rounds "
            f"(core scale {a.scale}, {a.memories:,} memories, {a.seconds} s per load)\n\n" + "\n".join(lines) + "\n")
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""LLMDB benchmark driver (stdlib only).

Runs, one after another and each exactly once:
    Benchmarks/.build/release/llmdb-bench          (LLMDB, Swift)
    Benchmarks/baselines/bin/lmdb_raw              (raw LMDB, C)
    Benchmarks/baselines/bin/sqlite_bitemporal     (SQLite bitemporal table, C)
with `--dir <fresh temp dir> --workload all|W1,W2 --scale S`, collects the JSON
result lines from their stdout and prints a markdown comparison table.

It builds nothing: use `make baselines` / `make bench`.

    python3 scripts/bench.py [--scale S] [--out FILE.md] [--only W1,W2]
"""

import argparse
import statistics
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SYSTEMS = [
    # (key, display name, binary)
    ("llmdb", "LLMDB", os.path.join(ROOT, "Benchmarks", ".build", "release", "llmdb-bench")),
    ("lmdb", "raw LMDB", os.path.join(ROOT, "Benchmarks", "baselines", "bin", "lmdb_raw")),
    ("sqlite", "SQLite", os.path.join(ROOT, "Benchmarks", "baselines", "bin", "sqlite_bitemporal")),
]

WORKLOADS = [
    "bulk_load",
    "point_read",
    "versions_1",
    "versions_10",
    "versions_100",
    "versions_1000",
    "prefix_scan",
    "durable_commit_1",
    "durable_commit_8",
]

# How each workload is displayed: (unit label, kind)
#   kind "time": value = ns_per_op scaled by divisor; ratio = LLMDB time / baseline time (lower is better)
#   kind "tput": value = ops_per_sec;                  ratio = LLMDB ops/s / baseline ops/s (higher is better)
DISPLAY = {
    "bulk_load": ("ns/op", "time", 1.0, 0),
    "point_read": ("µs/op", "time", 1e3, 2),
    "versions_1": ("µs/op", "time", 1e3, 2),
    "versions_10": ("µs/op", "time", 1e3, 2),
    "versions_100": ("µs/op", "time", 1e3, 2),
    "versions_1000": ("µs/op", "time", 1e3, 2),
    "prefix_scan": ("µs/scan", "time", 1e3, 2),
    "durable_commit_1": ("commits/s", "tput", None, 0),
    "durable_commit_8": ("commits/s", "tput", None, 0),
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_system(key, name, binary, workloads, wl_arg, scale, tmp_root):
    """Run one benchmark program once; return (results dict workload -> record, status note)."""
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        hint = "run `make bench` (swift build)" if key == "llmdb" else "run `make baselines`"
        log(f"bench.py: {name}: MISSING binary {os.path.relpath(binary, ROOT)} ({hint}); skipping")
        return {}, f"missing ({os.path.relpath(binary, ROOT)} not built)"
    workdir = tempfile.mkdtemp(prefix=f"bench-{key}-", dir=tmp_root)
    cmd = [binary, "--dir", workdir, "--workload", wl_arg, "--scale", repr(scale)]
    log(f"bench.py: running {' '.join(cmd)}")
    results, status = {}, "ok"
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)

        def pump_stderr():
            for line in proc.stderr:
                log(f"  [{key}] {line.rstrip()}")

        th = threading.Thread(target=pump_stderr, daemon=True)
        th.start()
        for line in proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                log(f"  [{key}] (non-JSON stdout) {line}")
                continue
            if rec.get("system") != key:
                log(f"  [{key}] warning: record reports system {rec.get('system')!r}")
            wl = rec.get("workload")
            results[wl] = rec
            log(f"  [{key}] {wl}: {rec.get('ns_per_op', 0):.1f} ns/op, {rec.get('ops_per_sec', 0):.0f} ops/s")
        rc = proc.wait()
        th.join(timeout=5)
        if rc != 0:
            status = f"exited with status {rc}"
            log(f"bench.py: {name}: {status}")
    except OSError as e:
        status = f"failed to run: {e}"
        log(f"bench.py: {name}: {status}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    missing = [w for w in workloads if w not in results]
    if missing and status == "ok":
        status = "no result for " + ", ".join(missing)
    log(f"bench.py: {name} done in {time.monotonic() - t0:.1f}s ({status})")
    return results, status


def median_results(runs):
    """Per workload, the median ns_per_op and ops_per_sec over the runs that produced it."""
    out = {}
    for wl in {w for run in runs for w in run}:
        recs = [run[wl] for run in runs if wl in run]
        rec = dict(recs[0])
        for field in ("ns_per_op", "ops_per_sec", "seconds"):
            rec[field] = statistics.median(r[field] for r in recs)
        rec["rounds"] = [r["ns_per_op"] for r in recs]
        out[wl] = rec
    return out


def fmt_value(wl, rec):
    if rec is None:
        return "—"
    unit, kind, div, dec = DISPLAY[wl]
    if kind == "tput":
        return f"{rec['ops_per_sec']:,.0f}"
    return f"{rec['ns_per_op'] / div:,.{dec}f}"


def ratio(wl, a, b):
    """LLMDB vs baseline: time ratio for time rows, ops/s ratio for throughput rows."""
    if a is None or b is None:
        return None
    kind = DISPLAY[wl][1]
    if kind == "tput":
        return a["ops_per_sec"] / b["ops_per_sec"] if b["ops_per_sec"] else None
    return a["ns_per_op"] / b["ns_per_op"] if b["ns_per_op"] else None


def fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}×"


def machine_info(tmp_root):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count()
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    fs = "?"
    try:
        out = subprocess.run(["df", "-T", tmp_root], capture_output=True, text=True).stdout.splitlines()
        if len(out) >= 2:
            fs = out[1].split()[1]
    except OSError:
        pass
    return [
        f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"- nproc: {nproc}",
        f"- CPU: {cpu}",
        f"- kernel: {platform.system()} {platform.release()} ({platform.machine()})",
        f"- load average at start: {load}",
        f"- scratch dir: {tmp_root} ({fs})",
    ]


def build_report(args, workloads, results, status, info):
    L = []
    L.append("# LLMDB benchmark")
    L.append("")
    L.append(f"scale {args.scale:g}; each program run once per round with `--workload {','.join(workloads) if args.only else 'all'}`, "
             "in this order: " + ", ".join(name for _, name, _ in SYSTEMS) + ".")
    L.append("")
    L.extend(info)
    L.append("")
    for key, name, _ in SYSTEMS:
        if status[key] != "ok":
            L.append(f"**{name}: {status[key]}**" + (" — LLMDB columns are empty." if key == "llmdb" else ""))
    if any(status[k] != "ok" for k, _, _ in SYSTEMS):
        L.append("")

    L.append("Time rows: ratio = LLMDB time / baseline time (lower is better). "
             "Throughput rows (commits/s): ratio = LLMDB ops/s / baseline ops/s (higher is better).")
    L.append("")
    L.append("| workload | LLMDB | raw LMDB | SQLite | LLMDB/raw LMDB (time; ops/s for commits/s rows) "
             "| LLMDB/SQLite (time; ops/s for commits/s rows) |")
    L.append("|---|---:|---:|---:|---:|---:|")
    ll, lm, sq = results["llmdb"], results["lmdb"], results["sqlite"]
    for wl in workloads:
        unit = DISPLAY[wl][0]
        a, b, c = ll.get(wl), lm.get(wl), sq.get(wl)
        L.append(f"| {wl} ({unit}) | {fmt_value(wl, a)} | {fmt_value(wl, b)} | {fmt_value(wl, c)} "
                 f"| {fmt_ratio(ratio(wl, a, b))} | {fmt_ratio(ratio(wl, a, c))} |")

    # derived: 8 writers vs 1
    def scaling(res):
        one, eight = res.get("durable_commit_1"), res.get("durable_commit_8")
        if not one or not eight or not one["ops_per_sec"]:
            return None
        return eight["ops_per_sec"] / one["ops_per_sec"]

    if "durable_commit_1" in workloads and "durable_commit_8" in workloads:
        L.append(f"| 8 writers vs 1 (commits/s ratio) | {fmt_ratio(scaling(ll))} | {fmt_ratio(scaling(lm))} "
                 f"| {fmt_ratio(scaling(sq))} | — | — |")
    L.append("")

    # targets
    L.append("## Targets")
    L.append("")

    def target(desc, value, ok_fn, fmt):
        if value is None:
            L.append(f"- [n/a] {desc}: not measured (missing result)")
        else:
            L.append(f"- [{'met' if ok_fn(value) else 'MISSED'}] {desc}: {fmt(value)}")

    def time_ratio(res_a, res_b, wl):
        a, b = res_a.get(wl), res_b.get(wl)
        return None if a is None or b is None else a["ns_per_op"] / b["ns_per_op"]

    def tput_ratio(res_a, wl_a, res_b, wl_b):
        a, b = res_a.get(wl_a), res_b.get(wl_b)
        return None if a is None or b is None or not b["ops_per_sec"] else a["ops_per_sec"] / b["ops_per_sec"]

    sel = set(workloads)
    if "versions_1" in sel:
        target("as-of point read at 1 version ≤ 1.5× raw LMDB (versions_1, LLMDB time / raw time)",
               time_ratio(ll, lm, "versions_1"), lambda r: r <= 1.5, lambda r: f"{r:.2f}×")
    if "versions_1000" in sel:
        target("as-of point read at 1000 versions ≤ 2× raw LMDB (versions_1000, LLMDB time / raw time)",
               time_ratio(ll, lm, "versions_1000"), lambda r: r <= 2.0, lambda r: f"{r:.2f}×")
    if "bulk_load" in sel:
        target("bulk load throughput ≥ 0.6× raw LMDB (LLMDB ops/s / raw ops/s)",
               tput_ratio(ll, "bulk_load", lm, "bulk_load"), lambda r: r >= 0.6, lambda r: f"{r:.2f}×")
    if "durable_commit_1" in sel and "durable_commit_8" in sel:
        target("LLMDB durable_commit_8 ≥ 4× LLMDB durable_commit_1 (commits/s)",
               tput_ratio(ll, "durable_commit_8", ll, "durable_commit_1"), lambda r: r >= 4.0,
               lambda r: f"{r:.2f}×")
    for wl in ("point_read", "versions_1", "versions_10", "versions_100", "versions_1000"):
        if wl in sel:
            sq_over_ll = time_ratio(sq, ll, wl)
            target(f"as-of reads ≥ 3× faster than SQLite ({wl}, SQLite time / LLMDB time)",
                   sq_over_ll, lambda r: r >= 3.0, lambda r: f"{r:.2f}× faster")
    L.append("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every N (default 1.0)")
    ap.add_argument("--out", help="also write the report to this markdown file")
    ap.add_argument("--only", help="comma-separated workloads (default: all)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="run the three programs this many times, in turn, and report each cell's median "
                         "(the machines are shared and noisy; default 3)")
    ap.add_argument("--tmpdir", help="parent of the per-program scratch dirs (default: system temp dir; "
                    "must be a real disk for durable commits to mean anything)")
    args = ap.parse_args()
    if not args.scale > 0:
        ap.error("--scale must be > 0")

    if args.only:
        workloads = [w.strip() for w in args.only.split(",") if w.strip()]
        bad = [w for w in workloads if w not in WORKLOADS]
        if bad:
            ap.error(f"unknown workload(s): {', '.join(bad)}; known: {', '.join(WORKLOADS)}")
        workloads = [w for w in WORKLOADS if w in workloads]  # canonical order
    else:
        workloads = list(WORKLOADS)

    wl_arg = ",".join(workloads) if args.only else "all"
    tmp_root = tempfile.mkdtemp(prefix="llmdb-bench-", dir=args.tmpdir)
    info = machine_info(tmp_root)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    rounds = {key: [] for key, _, _ in SYSTEMS}
    status = {}
    try:
        for r in range(args.rounds):
            log(f"bench.py: round {r + 1} of {args.rounds}")
            for key, name, binary in SYSTEMS:
                res, st = run_system(key, name, binary, workloads, wl_arg, args.scale, tmp_root)
                if st == "ok":
                    rounds[key].append(res)
                status[key] = st if status.get(key, "ok") == "ok" else status[key]
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    results = {key: median_results(rounds[key]) for key in rounds}
    info.append(f"- rounds: {args.rounds} (each cell is the median over the rounds; a round runs LLMDB, raw LMDB "
                "and SQLite once each, in turn)")

    report = build_report(args, workloads, results, status, info)
    print(report)
    if args.out:
        d = os.path.dirname(os.path.abspath(args.out))
        os.makedirs(d, exist_ok=True)
        with open(args.out, "w") as f:
            f.write(report)
        log(f"bench.py: wrote {args.out}")
    # Non-zero exit if any program that exists failed; a missing binary is reported but tolerated
    # for LLMDB (it may not be built yet) and is an error for the baselines.
    failed = [k for k in status if status[k] != "ok" and not (k == "llmdb" and status[k].startswith("missing"))]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

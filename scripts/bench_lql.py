#!/usr/bin/env python3
"""LLMDB LQL benchmark driver (issue 5; stdlib only).

Side by side in one run, over the same documents (id p%06d, body
{"name":"Name <i>","city":"City<i%50>","age":<i%90>,"score":<i*7%1000>}, loaded in
transactions of 10,000; `mid` = the last load transaction; then 1% of them (i % 100 == 23)
updated once, age + 1, in one more transaction; then an index on `city`):
    LLMDB    Benchmarks/.build/release/llmdb-lql-bench: the queries in LQL (`LQL.run`: parse,
             plan and run each call), plus the parse alone (`Parser.parse`) and parse + plan
             (`LQL.run("EXPLAIN " + query)`);
    SQLite   Benchmarks/baselines/bin/sqlite_lql: the same queries in SQL (prepared once) on
             docs(id, body) with an expression index on json_extract(body,'$.city') and
             versions(id, tx_from, tx_to, body) for the as-of and history queries.
The queries: point as-of, range scan as-of with a filter, indexed equality, group-by
aggregate, history of a key. Checks that both return the same row counts (exit 1 otherwise)
and prints a markdown table: ms per query, the LLMDB ÷ SQLite ratio, parse and parse + plan
µs, and the targets of issue 5 (parse + plan ≤ 50 µs; no query slower than SQLite).

    python3 scripts/bench_lql.py [--docs N] [--rounds R] [--budget-ms B] [--out FILE.md] [--no-build]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "Benchmarks", ".build", "release", "llmdb-lql-bench")
SQLITE = os.path.join(ROOT, "Benchmarks", "baselines", "bin", "sqlite_lql")

# Target of issue 5 for parse + plan.
MAX_PLAN_US = 50.0

# (LLMDB query, SQLite query it is compared with, label)
ROWS = [
    ("point_asof", "point_asof", "1. point as-of (`_id =`, a scan of the collection)"),
    ("point_asof_kv", "point_asof", "1b. point as-of via `kv('people/p000123')`"),
    ("range_asof", "range_asof", "2. range scan as-of + filter"),
    ("indexed_eq", "indexed_eq", "3. indexed equality"),
    ("group_by", "group_by", "4. group-by aggregate"),
    ("history", "history", "5. history of a key"),
]


def log(msg):
    print(f"bench_lql: {msg}", file=sys.stderr, flush=True)


def build():
    cmds = [
        ["swift", "build", "-c", "release", "--package-path", os.path.join(ROOT, "Benchmarks"),
         "--product", "llmdb-lql-bench"],
        ["make", "-C", ROOT, "Benchmarks/baselines/bin/sqlite_lql"],
    ]
    for cmd in cmds:
        log("running " + " ".join(cmd))
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=sys.stderr)


def fmt_ms(v):
    if v is None:
        return "—"
    return f"{v:,.2f}" if v >= 10 else f"{v:,.3f}"


def fmt_us(v):
    return "—" if v is None else f"{v:,.1f}"


def fmt_ratio(r):
    return "—" if r is None else f"{r:,.2f}×"


def build_report(args, llmdb, llmdb_err, sq, sq_err, info):
    L = ["# LLMDB LQL benchmark (issue 5)", ""]
    docs = (llmdb or sq or {}).get("docs", args.docs)
    L.append(f"{docs:,} documents (1% with a second version), {args.rounds} rounds, medians of each round's "
             f"mean per query (each round about {args.budget_ms:g} ms per query). LLMDB = `LQL.run(text)` "
             "(parse, plan and run on every call; every cell of every row touched); SQLite = the same query in "
             "SQL, a statement prepared once, every row stepped and every column read as text. "
             "Parse = `Parser.parse`; parse + plan = `LQL.run(\"EXPLAIN \" + text)` (it plans without running "
             "the query, but an index plan looks its candidates up to count them); SQLite prepare = "
             "`sqlite3_prepare_v2` + `finalize` of the SQL.")
    L.append("")
    L.extend(info)
    if sq and sq.get("sqlite"):
        L.append(f"- SQLite: {sq['sqlite']} (WAL, 256 MiB page cache, prepared statements)")
    L.append("")
    if llmdb_err:
        L.append(f"**LLMDB: {llmdb_err}** — its cells are empty.")
        L.append("")
    if sq_err:
        L.append(f"**SQLite: {sq_err}** — its cells are empty.")
        L.append("")

    lq = (llmdb or {}).get("queries", {})
    sqq = (sq or {}).get("queries", {})
    L.append("Ratios are time ratios (lower is better for LLMDB).")
    L.append("")
    L.append("| query | rows | LLMDB (ms) | SQLite (ms) | ratio (LLMDB ÷ SQLite) | LQL parse (µs) "
             "| LQL parse + plan (µs) | SQLite prepare (µs) |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for lname, sname, label in ROWS:
        a, b = lq.get(lname, {}), sqq.get(sname, {})
        rows = a.get("rows", b.get("rows"))
        L.append(f"| {label} | {rows if rows is not None else '?':,} | {fmt_ms(a.get('ms'))} | {fmt_ms(b.get('ms'))} "
                 f"| {fmt_ratio(benchlib.div(a.get('ms'), b.get('ms')))} | {fmt_us(a.get('parse_us'))} "
                 f"| {fmt_us(a.get('parse_plan_us'))} | {fmt_us(b.get('prepare_us'))} |")
    L.append("")
    if lq:
        L.append("The queries:")
        L.append("")
        for lname, _, label in ROWS:
            a = lq.get(lname, {})
            L.append(f"- {label.split(' ', 1)[0]} `{a.get('text')}` — plan: {a.get('plan')}")
        L.append("")
        plans = [lq[n]["parse_plan_us"] for n, _, _ in ROWS if n in lq]
        slower = [label.split(" ", 1)[0] for n, s, label in ROWS
                  if n in lq and s in sqq and lq[n]["ms"] > sqq[s]["ms"]]
        L.append("| target | measured | |")
        L.append("|---|---|---|")
        over = [label.split(" ", 1)[0] for n, _, label in ROWS if n in lq and lq[n]["parse_plan_us"] > MAX_PLAN_US]
        L.append(f"| parse + plan ≤ {MAX_PLAN_US:g} µs per query | {min(plans):.1f}–{max(plans):.1f} µs"
                 f"{' (over: ' + ', '.join(over) + ')' if over else ''} | {'met' if not over else 'missed'} |")
        L.append(f"| each query no slower than SQLite | slower: {', '.join(slower) if slower else 'none'} "
                 f"| {'met' if not slower else 'missed'} |")
        L.append("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000, help="documents (default 100000)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds; each figure is the median (default 5)")
    ap.add_argument("--budget-ms", type=float, default=200, help="about how long each query runs per round")
    ap.add_argument("--out", help="also write the report to this markdown file")
    ap.add_argument("--no-build", action="store_true",
                    help="use the built binaries as they are (default: swift build and make them first)")
    ap.add_argument("--tmpdir", help="parent of the scratch dir (default: system temp dir)")
    args = ap.parse_args()
    if args.rounds < 1 or args.budget_ms <= 0:
        ap.error("--rounds must be at least 1 and --budget-ms positive")
    if not 2000 <= args.docs <= 1_000_000:
        ap.error("--docs is between 2000 and 1000000 (ids are p%06d; the range query reads p001000–p001999)")

    info = benchlib.machine_info()
    if not args.no_build:
        build()
    common = ["--docs", str(args.docs), "--rounds", str(args.rounds), "--budget-ms", str(args.budget_ms)]
    tmp_root = tempfile.mkdtemp(prefix="llmdb-bench-lql-", dir=args.tmpdir)
    llmdb = sq = None
    llmdb_err = sq_err = None
    try:
        if not os.access(BINARY, os.X_OK):
            llmdb_err = f"missing ({os.path.relpath(BINARY, ROOT)} not built; run `make bench-lql`)"
        else:
            llmdb, llmdb_err = benchlib.run_json(
                [BINARY, "--dir", os.path.join(tmp_root, "llmdb")] + common, "llmdb", log)
        shutil.rmtree(os.path.join(tmp_root, "llmdb"), ignore_errors=True)
        if not os.access(SQLITE, os.X_OK):
            sq_err = f"missing ({os.path.relpath(SQLITE, ROOT)} not built; run `make baselines`)"
        else:
            sq, sq_err = benchlib.run_json(
                [SQLITE, "--dir", os.path.join(tmp_root, "sqlite")] + common, "sqlite", log)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    if llmdb_err:
        log(f"LLMDB: {llmdb_err}")
    if sq_err:
        log(f"SQLite: {sq_err}")
    mismatch = None
    if llmdb and sq:
        lm, sm = llmdb.get("matches", {}), sq.get("matches", {})
        diff = [f"{n}: LLMDB {lm.get(n)}, SQLite {sm.get(s)}" for n, s, _ in ROWS if lm.get(n) != sm.get(s)]
        if diff:
            mismatch = "row counts differ: " + "; ".join(diff)
            log(mismatch)

    cmd = " ".join(["python3", "scripts/bench_lql.py"] + sys.argv[1:])
    info.append(f"- command: `{cmd}`")
    report = build_report(args, llmdb, llmdb_err, sq, sq_err, info)
    if mismatch:
        report += f"\n**{mismatch}**\n"
    benchlib.write_report(report, args.out, log)
    if llmdb:
        log("llmdb-lql-bench: " + json.dumps(llmdb))
    if sq:
        log("sqlite_lql: " + json.dumps(sq))
    return 1 if (llmdb_err or sq_err or mismatch) else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""LLMDB documents benchmark driver (issue 4; stdlib only).

Side by side in one run, over the same documents (id p%06d, body
{"name":"Name <i>","city":"City<i%50>","age":<i%90>,"score":<i*7%1000>}):
    LLMDB    Benchmarks/.build/release/llmdb-doc-bench: `find` on a collection with a
             JSON-path index on `city`, equality on `city` (the index) and on `age` (a full
             scan); then the lazy migration read: all documents one schema version behind
             (projected on the fly by a declarative rename) against the same documents
             rewritten to the current version;
    SQLite   Benchmarks/baselines/bin/sqlite_json: docs(id TEXT PRIMARY KEY, body TEXT) with
             an expression index on json_extract(body,'$.city'), the same two queries.
Checks that both return the same match counts (exit 1 otherwise) and prints a markdown
table: ms per query, the LLMDB ÷ SQLite time ratio, the lazy ÷ current ratio and the
targets of issue 4 (indexed find faster than SQLite; lazy read ≤ 1.5× the current one).

    python3 scripts/bench_docs.py [--docs N] [--rounds R] [--out FILE.md] [--no-build]
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
BINARY = os.path.join(ROOT, "Benchmarks", ".build", "release", "llmdb-doc-bench")
SQLITE = os.path.join(ROOT, "Benchmarks", "baselines", "bin", "sqlite_json")

# Target of issue 4 for the lazy migration read.
MAX_LAZY_RATIO = 1.5


def log(msg):
    print(f"bench_docs: {msg}", file=sys.stderr, flush=True)


def run_json_(cmd, tag, env=None):
    return benchlib.run_json(cmd, tag, log, env=env)


def build():
    cmds = [
        ["swift", "build", "-c", "release", "--package-path", os.path.join(ROOT, "Benchmarks"),
         "--product", "llmdb-doc-bench"],
        ["make", "-C", ROOT, "Benchmarks/baselines/bin/sqlite_json"],
    ]
    for cmd in cmds:
        log("running " + " ".join(cmd))
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=sys.stderr)


def fmt_ms(v):
    if v is None:
        return "—"
    return f"{v:,.2f}" if v >= 10 else f"{v:,.3f}"


def fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}×"


def build_report(args, llmdb, llmdb_err, sq, sq_err, info):
    L = ["# LLMDB documents benchmark (issue 4)", ""]
    docs = llmdb.get("docs") if llmdb else args.docs
    L.append(f"{docs:,} documents, {args.rounds} rounds, medians of each round's mean per query "
             f"({args.indexed_reps} indexed queries, {args.scan_reps} scans per round). LLMDB = "
             "`Collection.find` (limit Int.max; each result a parsed `Document`) on a collection with a "
             "JSON-path index on `city`; SQLite = `SELECT id, body FROM docs WHERE json_extract(body, …) = ?` "
             "with an expression index on `json_extract(body,'$.city')`, every row stepped and both columns "
             "read as text.")
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

    g = (lambda k: llmdb.get(k)) if llmdb else (lambda k: None)
    s = (lambda k: sq.get(k)) if sq else (lambda k: None)
    m = (llmdb or {}).get("matches") or (sq or {}).get("matches") or {}

    L.append("Ratios are time ratios (lower is better for LLMDB).")
    L.append("")
    L.append("| | LLMDB (ms) | compared with (ms) | ratio | target |")
    L.append("|---|---:|---:|---:|---|")
    li, si = g("indexed_find_ms"), s("indexed_find_ms")
    r = benchlib.div(li, si)
    tgt = "n/a" if r is None else f"indexed faster than SQLite: {'met' if r < 1 else 'missed'}"
    L.append(f"| indexed find `{{\"city\":\"City07\"}}` → {m.get('indexed', '?'):,} docs, per query "
             f"| {fmt_ms(li)} | SQLite {fmt_ms(si)} | {fmt_ratio(r)} (LLMDB ÷ SQLite) | {tgt} |")
    ls, ss = g("scan_find_ms"), s("scan_find_ms")
    L.append(f"| non-indexed find `{{\"age\":42}}` → {m.get('scan', '?'):,} docs, per query "
             f"| {fmt_ms(ls)} | SQLite {fmt_ms(ss)} | {fmt_ratio(benchlib.div(ls, ss))} (LLMDB ÷ SQLite) | — |")
    lazy, cur = g("lazy_read_ms"), g("current_read_ms")
    lr = benchlib.div(lazy, cur)
    tgt = "n/a" if lr is None else f"≤ {MAX_LAZY_RATIO:g}×: {'met' if lr <= MAX_LAZY_RATIO else 'missed'}"
    L.append(f"| lazy migration read: find all {docs:,} docs one version behind "
             f"| {fmt_ms(lazy)} | current version {fmt_ms(cur)} | {fmt_ratio(lr)} (lazy ÷ current) | {tgt} |")
    L.append("")
    if llmdb:
        meta = llmdb.get("meta_us", {})
        after = llmdb.get("after_rewrite", {})
        L.append(f"LLMDB plans: indexed — {llmdb.get('indexed_plan')}; non-indexed — {llmdb.get('scan_plan')}.")
        L.append("")
        L.append("LLMDB breakdown (same run, medians):")
        L.append("")
        L.append(f"- per-call overhead, an indexed find matching nothing: {llmdb['empty_indexed_find_us']:.1f} µs "
                 f"(schemaless), {after.get('empty_indexed_find_us', 0):.1f} µs with a schema and a migration; "
                 f"the metadata reads each find makes: indexes() {meta.get('indexes', 0):.1f} µs, schemas() "
                 f"{meta.get('schemas', 0):.1f} µs, migrations() {meta.get('migrations', 0):.1f} µs, "
                 f"migrationStatus() {meta.get('migration_status', 0):.1f} µs (schemaless)")
        if llmdb.get("get_us") is not None:
            L.append(f"- `Collection.get` of one document: {llmdb['get_us']:.1f} µs (schemaless), "
                     f"{after.get('get_us', 0):.1f} µs with a schema and a migration; the core read of the same key "
                     f"with its body parsed: {llmdb['core_get_us']:.1f} µs / {after.get('core_get_us', 0):.1f} µs")
        L.append(f"- the index lookup alone (`Snapshot.lookup(index:key:)`, {m.get('indexed', '?'):,} facts): "
                 f"{fmt_ms(llmdb['index_lookup_ms'])} ms")
        L.append(f"- the raw scan of the collection's {docs:,} entries: {fmt_ms(llmdb['raw_scan_ms'])} ms; "
                 f"the same parsing each body into a `JSONValue`: {fmt_ms(llmdb['raw_scan_parse_ms'])} ms")
        L.append(f"- indexed find after the rewrite (a schema and a migration present): "
                 f"{fmt_ms(after.get('indexed_find_ms'))} ms")
        L.append(f"- index build {llmdb['index_build_s']:.2f} s (SQLite {s('index_build_s') or 0:.2f} s); "
                 f"apply migration (full dry run) {llmdb['apply_migration_s']:.2f} s; rewrite "
                 f"{llmdb['rewrite_s']:.2f} s")
        L.append("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000, help="documents (default 100000)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds; each figure is the median (default 5)")
    ap.add_argument("--indexed-reps", type=int, default=20, help="indexed queries per round (default 20)")
    ap.add_argument("--scan-reps", type=int, default=5, help="scan queries per round (default 5)")
    ap.add_argument("--out", help="also write the report to this markdown file")
    ap.add_argument("--no-build", action="store_true",
                    help="use the built binaries as they are (default: swift build and make them first)")
    ap.add_argument("--tmpdir", help="parent of the scratch dir (default: system temp dir)")
    args = ap.parse_args()
    if min(args.docs, args.rounds, args.indexed_reps, args.scan_reps) < 1:
        ap.error("--docs, --rounds, --indexed-reps and --scan-reps must be at least 1")
    if args.docs > 1_000_000:
        ap.error("--docs is at most 1000000 (ids are p%06d)")

    info = benchlib.machine_info()
    if not args.no_build:
        build()
    common = ["--docs", str(args.docs), "--rounds", str(args.rounds), "--indexed-reps", str(args.indexed_reps),
              "--scan-reps", str(args.scan_reps)]
    tmp_root = tempfile.mkdtemp(prefix="llmdb-bench-docs-", dir=args.tmpdir)
    llmdb = sq = None
    llmdb_err = sq_err = None
    try:
        if not os.access(BINARY, os.X_OK):
            llmdb_err = f"missing ({os.path.relpath(BINARY, ROOT)} not built; run `make bench-docs`)"
        else:
            llmdb, llmdb_err = run_json_([BINARY, "--dir", os.path.join(tmp_root, "llmdb")] + common, "llmdb")
        shutil.rmtree(os.path.join(tmp_root, "llmdb"), ignore_errors=True)
        if not os.access(SQLITE, os.X_OK):
            sq_err = f"missing ({os.path.relpath(SQLITE, ROOT)} not built; run `make baselines`)"
        else:
            sq, sq_err = run_json_([SQLITE, "--dir", os.path.join(tmp_root, "sqlite")] + common, "sqlite")
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    if llmdb_err:
        log(f"LLMDB: {llmdb_err}")
    if sq_err:
        log(f"SQLite: {sq_err}")
    mismatch = None
    if llmdb and sq and llmdb.get("matches") != sq.get("matches"):
        mismatch = f"match counts differ: LLMDB {llmdb.get('matches')}, SQLite {sq.get('matches')}"
        log(mismatch)

    cmd = " ".join(["python3", "scripts/bench_docs.py"] + sys.argv[1:])
    info.append(f"- command: `{cmd}`")
    report = build_report(args, llmdb, llmdb_err, sq, sq_err, info)
    if mismatch:
        report += f"\n**{mismatch}**\n"
    benchlib.write_report(report, args.out, log)
    if llmdb:
        log("llmdb-doc-bench: " + json.dumps(llmdb))
    if sq:
        log("sqlite_json: " + json.dumps(sq))
    return 1 if (llmdb_err or sq_err or mismatch) else 0


if __name__ == "__main__":
    sys.exit(main())

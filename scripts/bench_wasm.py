#!/usr/bin/env python3
"""LLMDB WebAssembly benchmark driver (issue 3; stdlib only).

Side by side in one run, over the same records:
    LLMDB WASM    Benchmarks/.build/release/llmdb-wasm-bench: filter.wasm (map_pages) and
                  sum.wasm (reduce_pages) run by WasmKit inside LLMDB's scans, and the
                  per-call overhead of examples/wasm/empty.wat;
    native Swift  the same binary: the same logic as a Swift closure over the same scan;
    wasmtime      Benchmarks/wasmtime/bench_wasmtime.py: the same modules and record layout
                  under wasmtime (PyPI `wasmtime`, in a venv under .build/venv-wasmtime),
                  when it can be set up.
Prints a markdown table: records/s, µs per call, the ratios and the targets of issue 3
(per-call overhead ≤ 20 µs; map and reduce within 4× of the native closure).

    python3 scripts/bench_wasm.py [--records N] [--rounds R] [--out FILE.md] [--no-build]
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
BINARY = os.path.join(ROOT, "Benchmarks", ".build", "release", "llmdb-wasm-bench")
VENV = os.path.join(ROOT, ".build", "venv-wasmtime")
REQUIREMENTS = os.path.join(ROOT, "Benchmarks", "wasmtime", "requirements.txt")
WASMTIME_SCRIPT = os.path.join(ROOT, "Benchmarks", "wasmtime", "bench_wasmtime.py")

# Targets of issue 3.
MAX_CALL_US = 20.0
MAX_SLOWDOWN = 4.0


def log(msg):
    print(f"bench_wasm: {msg}", file=sys.stderr, flush=True)


def run_json_(cmd, tag, env=None):
    return benchlib.run_json(cmd, tag, log, env=env)


def build_examples(out_dir):
    cmd = [os.path.join(ROOT, "scripts", "build-wasm-examples.sh"), out_dir]
    log("running " + " ".join(cmd))
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=sys.stderr)


def build_binary():
    cmd = ["swift", "build", "-c", "release", "--package-path", os.path.join(ROOT, "Benchmarks"),
           "--product", "llmdb-wasm-bench"]
    log("running " + " ".join(cmd))
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=sys.stderr)


def setup_wasmtime():
    """The venv's python with wasmtime importable, or (None, reason)."""
    py = os.path.join(VENV, "bin", "python")
    check = [py, "-c", "import wasmtime"]

    def importable():
        return os.path.exists(py) and subprocess.run(check, capture_output=True).returncode == 0

    def tail(p):
        text = (p.stderr or p.stdout or "").strip().splitlines()
        return text[-1] if text else f"status {p.returncode}"

    if not importable():
        if not os.path.exists(py):
            log(f"creating the venv {os.path.relpath(VENV, ROOT)}")
            p = subprocess.run([sys.executable, "-m", "venv", VENV], capture_output=True, text=True)
            if p.returncode != 0:
                return None, f"python3 -m venv failed: {tail(p)}"
        log(f"pip install -r {os.path.relpath(REQUIREMENTS, ROOT)}")
        p = subprocess.run([py, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", REQUIREMENTS],
                           capture_output=True, text=True)
        if p.returncode != 0:
            return None, f"pip install failed: {tail(p)}"
        if not importable():
            return None, "wasmtime installed but does not import"
    return py, None


def fmt_rate(v):
    return "—" if v is None else f"{v:,.0f}"


def fmt_us(v):
    return "—" if v is None else f"{v:,.2f}"


def fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}×"


def build_report(args, llmdb, llmdb_err, wt, wt_err, info):
    L = ["# LLMDB WebAssembly benchmark (issue 3)", ""]
    L.append(f"{args.records:,} records, {args.rounds} rounds, medians. LLMDB WASM = WasmKit inside LLMDB's "
             "scan/reduce (one instance per operation, pages of up to 4,096 records); native Swift = the same "
             "logic as a closure over the same scan; wasmtime = the same modules and page layout under "
             "wasmtime-py, pages prebuilt in memory (no database).")
    L.append("")
    L.extend(info)
    if wt:
        L.append(f"- wasmtime: {wt.get('version', '?')} (PyPI), call path {wt.get('call_path', '?')}")
    L.append("")
    if llmdb_err:
        L.append(f"**LLMDB: {llmdb_err}** — its columns are empty.")
        L.append("")
    if wt_err:
        L.append(f"wasmtime: not available ({wt_err})")
        L.append("")

    g = (lambda k: llmdb.get(k)) if llmdb else (lambda k: None)
    w = (lambda k: wt.get(k)) if wt else (lambda k: None)

    L.append("Ratios are time ratios (slowdown factors, lower is better): WASM ÷ native = native records/s ÷ "
             "LLMDB WASM records/s; LLMDB ÷ wasmtime = wasmtime records/s ÷ LLMDB records/s, or LLMDB µs ÷ "
             "wasmtime µs.")
    L.append("")
    L.append("| | LLMDB WASM | native Swift | wasmtime | WASM ÷ native | LLMDB ÷ wasmtime | target |")
    L.append("|---|---:|---:|---:|---:|---:|---|")

    def target_slowdown(r):
        if r is None:
            return "n/a"
        return f"≤ {MAX_SLOWDOWN:g}× native: {'met' if r <= MAX_SLOWDOWN else 'missed'}"

    for label, wasm_key, native_key, wt_key in (
        ("map filter (records/s)", "map_wasm_records_per_s", "map_native_records_per_s", "map_records_per_s"),
        ("reduce sum (records/s)", "reduce_wasm_records_per_s", "reduce_native_records_per_s",
         "reduce_records_per_s"),
    ):
        a, n, t = g(wasm_key), g(native_key), w(wt_key)
        slow = benchlib.div(n, a)
        L.append(f"| {label} | {fmt_rate(a)} | {fmt_rate(n)} | {fmt_rate(t)} | {fmt_ratio(slow)} "
                 f"| {fmt_ratio(benchlib.div(t, a))} | {target_slowdown(slow)} |")
    call, wt_call = g("call_overhead_us"), w("call_overhead_us")
    tgt = "n/a" if call is None else f"≤ {MAX_CALL_US:g} µs: {'met' if call <= MAX_CALL_US else 'missed'}"
    L.append(f"| per-call overhead, empty function (µs) | {fmt_us(call)} | — | {fmt_us(wt_call)} | — "
             f"| {fmt_ratio(benchlib.div(call, wt_call))} | {tgt} |")
    inst, wt_inst = g("instantiate_and_call_us"), w("instantiate_and_call_us")
    L.append(f"| instantiate + call, cached module (µs) | {fmt_us(inst)} | — | {fmt_us(wt_inst)} | — "
             f"| {fmt_ratio(benchlib.div(inst, wt_inst))} | — |")
    L.append("")
    empty = g("map_empty_records_per_s")
    if empty is not None:
        L.append(f"Host side of a LLMDB WASM map alone (the same scan with examples/wasm/empty.wat, which returns "
                 f"at once): {empty:,.0f} records/s.")
        L.append("")
    if wt and wt.get("call_overhead_public_api_us") is not None:
        L.append(f"wasmtime per-call overhead through wasmtime-py's public `Func.__call__`: "
                 f"{wt['call_overhead_public_api_us']:.2f} µs (the table uses the ctypes fast path).")
        L.append("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000, help="records (default 1000000)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; each figure is the median (default 3)")
    ap.add_argument("--out", help="also write the report to this markdown file")
    ap.add_argument("--no-build", action="store_true",
                    help="use Benchmarks/.build/release/llmdb-wasm-bench as it is (default: swift build it first)")
    ap.add_argument("--no-wasmtime", action="store_true", help="skip the wasmtime column")
    ap.add_argument("--tmpdir", help="parent of the scratch dir (default: system temp dir)")
    args = ap.parse_args()
    if args.records < 1 or args.rounds < 1:
        ap.error("--records and --rounds must be at least 1")

    tmp_root = tempfile.mkdtemp(prefix="llmdb-bench-wasm-", dir=args.tmpdir)
    info = benchlib.machine_info()
    llmdb = wt = None
    llmdb_err = wt_err = None
    try:
        wasm_dir = os.path.join(tmp_root, "wasm")
        build_examples(wasm_dir)
        if not args.no_build:
            build_binary()
        if not os.access(BINARY, os.X_OK):
            llmdb_err = f"missing ({os.path.relpath(BINARY, ROOT)} not built; run `make bench-wasm`)"
        else:
            llmdb, llmdb_err = run_json_(
                [BINARY, "--dir", os.path.join(tmp_root, "db"), "--wasm-dir", wasm_dir,
                 "--records", str(args.records), "--rounds", str(args.rounds),
                 "--empty-wat", os.path.join(ROOT, "examples", "wasm", "empty.wat")],
                "llmdb")
            if llmdb_err:
                log(f"LLMDB: {llmdb_err}")
        shutil.rmtree(os.path.join(tmp_root, "db"), ignore_errors=True)  # free the disk before wasmtime runs

        if args.no_wasmtime:
            wt_err = "skipped with --no-wasmtime"
        else:
            py, wt_err = setup_wasmtime()
            if py:
                wt, wt_err = run_json_(
                    [py, WASMTIME_SCRIPT, "--wasm-dir", wasm_dir, "--records", str(args.records),
                     "--rounds", str(args.rounds)],
                    "wasmtime")
        if wt_err:
            log(f"wasmtime: not available ({wt_err})")
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    cmd = " ".join(["python3", "scripts/bench_wasm.py"] + sys.argv[1:])
    info.append(f"- command: `{cmd}`")
    report = build_report(args, llmdb, llmdb_err, wt, wt_err, info)
    benchlib.write_report(report, args.out, log)
    if llmdb:
        log("llmdb-wasm-bench: " + json.dumps(llmdb))
    if wt:
        log("wasmtime: " + json.dumps(wt))
    # A failed LLMDB run (a result mismatch included) fails the driver; wasmtime is optional.
    return 1 if llmdb_err else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""LLMDB C ABI benchmark driver (stdlib only).

One database, one set of keys, one as-of point, read in turns by:
    C      Benchmarks/c/bench_abi.c (compiled here with cc -O2 against libllmdb.so, release):
           llmdb_get (a malloc'd copy of the value, then llmdb_free) and llmdb_get_into (into
           the caller's buffer);
    Swift  Benchmarks/.build/release/llmdb-abi-bench: Database.get(key, validAt:, tx:), and
           the same read with valid_to filled in (Snapshot.getWithValidTo), which is what an
           llmdb_fact carries.
`bench_abi build` writes the database through the ABI (N keys bench/%08d, about 100 bytes of
JSON each, two or three versions per key); every read is as of its first-version
transaction at the last transaction's valid time, so it must look past the newer versions.
Each round runs both programs (alternating which goes first), each timing every read kind
for about --seconds; the figures are the medians over rounds. Prints a markdown table:
ops/s per read kind, and the ratios (Swift ops/s ÷ C ops/s: how many times slower the ABI
is) with the target (within 1.3×).

    python3 scripts/bench_abi.py [--keys N] [--rounds R] [--seconds S] [--out FILE.md] [--no-build]

The library: LLMDB_LIBRARY if set (an existing libllmdb.so), else the release build of
scripts/build-lib.sh (run first unless --no-build), .build/release/libLLMDBEmbedded.so, copied
to .build/c-abi/bench-lib/libllmdb.so.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SWIFT_BINARY = os.path.join(ROOT, "Benchmarks", ".build", "release", "llmdb-abi-bench")
C_SOURCE = os.path.join(ROOT, "Benchmarks", "c", "bench_abi.c")
C_BINARY = os.path.join(ROOT, ".build", "c-abi", "bin", "bench_abi")
# The release build's library, copied under its soname for this benchmark alone: scripts/build-lib.sh
# copies debug and release builds to the same .build/c-abi/lib/libllmdb.so, which a debug build
# (scripts/check-c-abi.sh, the test suite) may have replaced by the time the benchmark runs.
RELEASE_LIBRARY = os.path.join(ROOT, ".build", "release", "libLLMDBEmbedded.so")
BENCH_LIBDIR = os.path.join(ROOT, ".build", "c-abi", "bench-lib")

# The target: the ABI's as-of get within 1.3× of the Swift API's.
MAX_RATIO = 1.3


def log(msg):
    print(f"bench_abi: {msg}", file=sys.stderr, flush=True)


def build(no_build):
    """Builds what is missing (or everything, without --no-build); returns the library path."""
    lib = os.environ.get("LLMDB_LIBRARY")
    if lib:
        if not os.path.isfile(lib):
            sys.exit(f"bench_abi: LLMDB_LIBRARY={lib} does not exist")
        log(f"using the library {lib} (LLMDB_LIBRARY)")
    else:
        if not no_build:
            log("running bash scripts/build-lib.sh (release; a first build takes several minutes)")
            subprocess.run(["bash", "scripts/build-lib.sh"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        if not os.path.isfile(RELEASE_LIBRARY):
            sys.exit(f"bench_abi: {os.path.relpath(RELEASE_LIBRARY, ROOT)} is missing; run `bash scripts/build-lib.sh` "
                     "(or drop --no-build)")
        os.makedirs(BENCH_LIBDIR, exist_ok=True)
        lib = os.path.join(BENCH_LIBDIR, "libllmdb.so")
        shutil.copyfile(RELEASE_LIBRARY, lib + ".tmp")
        os.replace(lib + ".tmp", lib)
        log(f"using the release library {os.path.relpath(RELEASE_LIBRARY, ROOT)} (copied to "
            f"{os.path.relpath(lib, ROOT)})")
    if not no_build:
        cmd = ["swift", "build", "-c", "release", "--package-path", os.path.join(ROOT, "Benchmarks"),
               "--product", "llmdb-abi-bench"]
        log("running " + " ".join(cmd))
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=sys.stderr)
    if not os.access(SWIFT_BINARY, os.X_OK):
        sys.exit(f"bench_abi: {os.path.relpath(SWIFT_BINARY, ROOT)} is missing; run `make bench-abi`")
    # The C program takes a second to compile: always, against the library being measured.
    libdir = os.path.dirname(os.path.abspath(lib))
    os.makedirs(os.path.dirname(C_BINARY), exist_ok=True)
    cmd = [os.environ.get("CC", "cc"), "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror",
           "-I", os.path.join(ROOT, "include"), C_SOURCE, "-L", libdir, "-lllmdb", f"-Wl,-rpath,{libdir}",
           "-o", C_BINARY]
    log("running " + " ".join(cmd))
    subprocess.run(cmd, check=True, cwd=ROOT)
    return lib


def fmt_ops(v):
    return "—" if v is None else f"{v:,.0f}"


def fmt_ns(v):
    return "—" if not v else f"{1e9 / v:,.0f}"


def fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}×"


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def build_report(args, built, rounds, lib, info):
    L = ["# LLMDB C ABI benchmark", ""]
    L.append(f"{built['keys']:,} keys (about 100 bytes of JSON each; two versions of every key, three of every "
             f"tenth), each read as of transaction {built['tx']} (the first versions) at the valid time of the last "
             f"transaction ({built['latest_tx']}), so every read looks past newer versions. Keys in the order "
             f"i = (j × 1000003) mod N, the same in both programs. {args.rounds} rounds, C and Swift in turns "
             f"(alternating which goes first), each read kind timed for about {args.seconds:g} s per round; "
             "medians of the rounds. One thread.")
    L.append("")
    L.extend(info)
    if os.environ.get("LLMDB_LIBRARY"):
        L.append(f"- library: `{lib}` (LLMDB_LIBRARY)")
    else:
        L.append(f"- library: `{os.path.relpath(RELEASE_LIBRARY, ROOT)}` (release, scripts/build-lib.sh)")
    L.append("")
    L.append("| read | ops/s | ns per read | rounds (ops/s) |")
    L.append("|---|---:|---:|---|")
    rows = [
        ("Swift `Database.get(key, validAt:, tx:)`", "swift", "get_ops_s"),
        ("Swift `getWithValidTo` (the same, plus valid_to)", "swift", "get_valid_to_ops_s"),
        ("C `llmdb_get` + `llmdb_free`", "c", "get_ops_s"),
        ("C `llmdb_get_into`", "c", "get_into_ops_s"),
        ("C `llmdb_get_value` (the value only)", "c", "get_value_ops_s"),
    ]
    med = {}
    for label, side, field in rows:
        xs = [r[side][field] for r in rounds]
        med[(side, field)] = median(xs)
        L.append(f"| {label} | {fmt_ops(med[(side, field)])} | {fmt_ns(med[(side, field)])} "
                 f"| {', '.join(fmt_ops(x) for x in xs)} |")
    L.append("")
    swift = med[("swift", "get_ops_s")]
    swift_to = med[("swift", "get_valid_to_ops_s")]
    get = med[("c", "get_ops_s")]
    into = med[("c", "get_into_ops_s")]
    r_get = benchlib.div(swift, get)
    r_into = benchlib.div(swift, into)
    L.append("Ratios: Swift ops/s ÷ C ops/s, how many times longer a read takes through the ABI (lower is "
             "better; below 1 the ABI is faster).")
    L.append("")
    L.append("| comparison | ratio | target | |")
    L.append("|---|---:|---|---|")
    L.append(f"| `llmdb_get` vs `Database.get` | {fmt_ratio(r_get)} | ≤ {MAX_RATIO}× "
             f"| {'met' if r_get is not None and r_get <= MAX_RATIO else 'missed'} |")
    L.append(f"| `llmdb_get_into` vs `Database.get` | {fmt_ratio(r_into)} | ≤ {MAX_RATIO}× "
             f"| {'met' if r_into is not None and r_into <= MAX_RATIO else 'missed'} |")
    L.append(f"| `llmdb_get` vs `getWithValidTo` (like for like) | {fmt_ratio(benchlib.div(swift_to, get))} | | |")
    L.append(f"| `llmdb_get_into` vs `getWithValidTo` | {fmt_ratio(benchlib.div(swift_to, into))} | | |")
    value = med[("c", "get_value_ops_s")]
    L.append(f"| `llmdb_get_value` vs `Database.get` | {fmt_ratio(benchlib.div(swift, value))} | | |")
    L.append("")
    return "\n".join(L), r_get, r_into


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=100_000, help="keys (default 100000)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; each figure is the median (default 3)")
    ap.add_argument("--seconds", type=float, default=1.0, help="seconds per read kind per round (default 1)")
    ap.add_argument("--out", help="also write the report to this markdown file")
    ap.add_argument("--no-build", action="store_true",
                    help="use the built library and Swift program as they are (the C program is always compiled)")
    ap.add_argument("--tmpdir", help="parent of the scratch dir (default: system temp dir)")
    args = ap.parse_args()
    if args.rounds < 1 or args.seconds <= 0:
        ap.error("--rounds must be at least 1 and --seconds positive")
    if not 1000 <= args.keys < 1_000_003:
        ap.error("--keys is between 1000 and 1000002")

    info = benchlib.machine_info()
    lib = build(args.no_build)
    tmp = tempfile.mkdtemp(prefix="llmdb-bench-abi-", dir=args.tmpdir)
    db = os.path.join(tmp, "abi.llmdb")
    try:
        built, err = benchlib.run_json([C_BINARY, "build", "--db", db, "--keys", str(args.keys)], "c build", log)
        if err:
            sys.exit(f"bench_abi: bench_abi build {err}")
        common = ["--db", db, "--keys", str(args.keys), "--tx", str(built["tx"]), "--valid-at",
                  str(built["valid_at"]), "--seconds", str(args.seconds)]
        rounds = []
        for r in range(args.rounds):
            order = ["swift", "c"] if r % 2 == 0 else ["c", "swift"]
            got = {}
            for side in order:
                cmd = [SWIFT_BINARY] + common if side == "swift" else [C_BINARY, "run"] + common
                res, err = benchlib.run_json(cmd, f"{side} round {r + 1}", log)
                if err:
                    sys.exit(f"bench_abi: {os.path.basename(cmd[0])} {err}")
                got[side] = res
            rounds.append(got)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    cmd = " ".join(["python3", "scripts/bench_abi.py"] + sys.argv[1:])
    info.append(f"- command: `{cmd}`")
    report, r_get, r_into = build_report(args, built, rounds, lib, info)
    benchlib.write_report(report, args.out, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())

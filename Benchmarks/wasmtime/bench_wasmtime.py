#!/usr/bin/env python3
"""The wasmtime baseline for LLMDB's WebAssembly benchmark.

    scripts/build-wasm-examples.sh
    python3 Benchmarks/wasmtime/bench_wasmtime.py --wasm-dir build/wasm [--records N]

Runs the example modules (filter.wasm, sum.wasm, examples/wasm/empty.wat) under wasmtime
the way LLMDB runs them under WasmKit: one instance per operation, input and output
buffers allocated with the module's llmdb_alloc once (and again when an output needs more
room), each page copied into guest memory, and each output page copied out. Pages are
built before timing. Prints one JSON object on stdout (medians over --rounds) and checks
the results. Exit status 2 when wasmtime is missing.
"""

import argparse
import ctypes
import json
import os
import statistics
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llmdb_abi as abi  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CITIES = ["Paris", "Berlin", "Rome", "Oslo"]
VALID_FROM_BASE = 1_700_000_000_000_000


def log(message):
    print(f"bench_wasmtime: {message}", file=sys.stderr, flush=True)


def build_pages(n, per_page):
    """The records, as pages: (count, body) with body = the records back to back."""
    pack = abi.RECORD_HEADER.pack
    pages, body, count = [], [], 0
    for i in range(n):
        key = b"rec:%08d" % i
        value = ('{"amount":%d,"city":"%s"}' % (i % 1000, CITIES[i % 4])).encode()
        size = (48 + len(key) + len(value) + 7) & ~7
        body.append(pack(size, 0, len(key), len(value), VALID_FROM_BASE + i, abi.TIME_OPEN,
                         1 + i // 1000, abi.TAG_JSON, abi.OP_PUT, 0, 0))
        body.append(key)
        body.append(value)
        body.append(bytes(size - 48 - len(key) - len(value)))
        count += 1
        if count == per_page:
            pages.append((count, b"".join(body)))
            body, count = [], 0
    if count:
        pages.append((count, b"".join(body)))
    return pages


class Operation:
    """One operation's instance, with LLMDB's buffer discipline and direct memory access."""

    def __init__(self, engine, module, function, fast):
        self.guest = abi.Guest(engine, module, fast=fast)
        caller = abi.fast_caller(self.guest, function) if fast else None
        self.fast = caller is not None
        self.call = caller or abi.public_caller(self.guest, function)
        self.function = function

    def base(self):
        # The memory's address changes when it grows: read it after every call that may.
        g = self.guest
        return ctypes.addressof(g.memory.data_ptr(g.store).contents)

    def page_in(self, header, body):
        g = self.guest
        g.ensure_in(16 + len(body))
        base = self.base()
        ctypes.memmove(base + g.in_ptr, header, 16)
        ctypes.memmove(base + g.in_ptr + 16, body, len(body))
        return 16 + len(body)


def run_map(engine, module, pages, fast):
    """(seconds, kept): filter map_pages over every page, each output page copied out."""
    start = time.perf_counter()
    op = Operation(engine, module, "map_pages", fast)
    g = op.guest
    g.ensure_out(64 * 1024)
    kept = 0
    header = struct.Struct("<IIII")
    for count, body in pages:
        n_in = op.page_in(header.pack(16 + len(body), count, abi.PAGE_MAP, 0), body)
        n = op.call(g.in_ptr, n_in, g.out_ptr, g.out_cap)
        if n > g.out_cap:
            g.ensure_out(n)
            n = op.call(g.in_ptr, n_in, g.out_ptr, g.out_cap)
            assert n <= g.out_cap, "map_pages asked for more room twice"
        assert n >= 16 and n <= g.memory.data_len(g.store) - g.out_ptr, "bad output length"
        out = ctypes.string_at(op.base() + g.out_ptr, n)
        size, out_count = struct.unpack_from("<II", out, 0)
        assert size == n, "output page size differs from the returned length"
        kept += out_count
    return time.perf_counter() - start, kept


def run_reduce(engine, module, pages, fast):
    """(seconds, result): sum reduce_pages over every page, then reduce_finish."""
    start = time.perf_counter()
    op = Operation(engine, module, "reduce_pages", fast)
    g = op.guest
    g.ensure_out(1024)
    acc_len = 0
    header = struct.Struct("<IIII")
    for count, body in pages:
        n_in = op.page_in(header.pack(16 + len(body), count, abi.PAGE_REDUCE, acc_len), body)
        n = op.call(g.in_ptr, n_in, g.out_ptr, g.out_cap)
        if n > g.out_cap:
            g.ensure_out(n, keep=acc_len)
            n = op.call(g.in_ptr, n_in, g.out_ptr, g.out_cap)
            assert n <= g.out_cap, "reduce_pages asked for more room twice"
        acc_len = n
    # reduce_finish(acc, acc_len, out, out_cap): the accumulator is copied to the input.
    finish = abi.fast_caller(g, "reduce_finish") if op.fast else None
    finish = finish or abi.public_caller(g, "reduce_finish")
    base = op.base()
    ctypes.memmove(base + g.in_ptr, base + g.out_ptr, acc_len)
    n = finish(g.in_ptr, acc_len, g.out_ptr, g.out_cap)
    if n > g.out_cap:
        g.ensure_out(n)
        n = finish(g.in_ptr, acc_len, g.out_ptr, g.out_cap)
    result = ctypes.string_at(op.base() + g.out_ptr, n).decode()
    return time.perf_counter() - start, result


def run_overhead(engine, module, calls, fast):
    """µs per map_pages call of empty.wat on an empty page (count 0)."""
    op = Operation(engine, module, "map_pages", fast)
    g = op.guest
    g.ensure_out(1024)
    n_in = op.page_in(struct.pack("<IIII", 16, 0, abi.PAGE_MAP, 0), b"")
    call, in_ptr, out_ptr, out_cap = op.call, g.in_ptr, g.out_ptr, g.out_cap
    assert call(in_ptr, n_in, out_ptr, out_cap) == 0
    start = time.perf_counter()
    for _ in range(calls):
        call(in_ptr, n_in, out_ptr, out_cap)
    return (time.perf_counter() - start) / calls * 1e6


def run_instantiate(engine, module, times, fast):
    """µs for one operation's setup and one call: instance, buffers, page in, call."""
    empty = struct.pack("<IIII", 16, 0, abi.PAGE_MAP, 0)
    start = time.perf_counter()
    for _ in range(times):
        op = Operation(engine, module, "map_pages", fast)
        g = op.guest
        g.ensure_out(1024)
        n_in = op.page_in(empty, b"")
        assert op.call(g.in_ptr, n_in, g.out_ptr, g.out_cap) == 0
    return (time.perf_counter() - start) / times * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wasm-dir", default=os.path.join(ROOT, "build", "wasm"),
                        help="the built C examples: filter.wasm, sum.wasm (default build/wasm)")
    parser.add_argument("--empty-wat", default=os.path.join(ROOT, "examples", "wasm", "empty.wat"),
                        help="the empty map_pages module (default examples/wasm/empty.wat)")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--page-records", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200_000,
                        help="calls for the per-call overhead (at least 100000; a tenth of"
                             " them through the public API, which is much slower)")
    parser.add_argument("--instantiations", type=int, default=2000)
    parser.add_argument("--public-api", action="store_true",
                        help="call through wasmtime-py's public Func.__call__ only")
    args = parser.parse_args()
    abi.require_wasmtime()
    if args.calls < 100_000:
        parser.error("--calls must be at least 100000")
    wasmtime = abi.wasmtime

    paths = {"filter": os.path.join(args.wasm_dir, "filter.wasm"),
             "sum": os.path.join(args.wasm_dir, "sum.wasm"),
             "empty": args.empty_wat}
    for path in paths.values():
        if not os.path.exists(path):
            print(f"error: {path} is missing; run scripts/build-wasm-examples.sh first",
                  file=sys.stderr)
            sys.exit(1)
    engine = wasmtime.Engine()
    # Compiled once, as LLMDB's module cache does; instantiated per operation.
    modules = {name: wasmtime.Module.from_file(engine, path) for name, path in paths.items()}

    log(f"building {args.records:,} records in pages of {args.page_records} (not timed)")
    pages = build_pages(args.records, args.page_records)
    want_kept = sum(1 for i in range(args.records) if i % 1000 >= 100)
    want_result = {"count": args.records, "sum": sum(i % 1000 for i in range(args.records))}

    fast = not args.public_api
    maps, reduces, overheads, overheads_api, instantiations = [], [], [], [], []
    kept = result = None
    for r in range(args.rounds):
        seconds, kept = run_map(engine, modules["filter"], pages, fast)
        if kept != want_kept:
            raise SystemExit(f"error: filter kept {kept} records, expected {want_kept}")
        maps.append(seconds)
        seconds, result = run_reduce(engine, modules["sum"], pages, fast)
        if json.loads(result) != want_result:
            raise SystemExit(f"error: sum gave {result}, expected {json.dumps(want_result)}")
        reduces.append(seconds)
        overheads.append(run_overhead(engine, modules["empty"], args.calls, fast))
        overheads_api.append(run_overhead(engine, modules["empty"], args.calls // 10, False))
        instantiations.append(run_instantiate(engine, modules["empty"], args.instantiations,
                                              fast))
        log(f"round {r + 1}/{args.rounds}: map {maps[-1]:.3f} s, reduce {reduces[-1]:.3f} s, "
            f"call {overheads[-1]:.2f} µs (public API {overheads_api[-1]:.2f} µs), "
            f"instantiate+call {instantiations[-1]:.1f} µs")

    fast_available = abi.fast_caller(abi.Guest(engine, modules["empty"]), "map_pages") is not None
    print(json.dumps({
        "runtime": "wasmtime",
        "version": abi.wasmtime_version(),
        "records": args.records,
        "page_records": args.page_records,
        "rounds": args.rounds,
        "map_records_per_s": round(args.records / statistics.median(maps)),
        "map_kept": kept,
        "reduce_records_per_s": round(args.records / statistics.median(reduces)),
        "reduce_result": result,
        "call_overhead_us": round(statistics.median(overheads), 3),
        "call_overhead_public_api_us": round(statistics.median(overheads_api), 3),
        "instantiate_and_call_us": round(statistics.median(instantiations), 2),
        "call_path": "ctypes-unchecked" if fast and fast_available else "public-api",
    }))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Checks the example modules in examples/wasm/ against the LLMDB byte ABI, with wasmtime.

    scripts/build-wasm-examples.sh            # builds build/wasm/*.wasm
    python3 Benchmarks/wasmtime/check_examples.py [--wasm-dir build/wasm]

Builds real pages in the exact header layout (include/llmdb_wasm.h), calls each module the
way LLMDB does, and compares the results with a reference computed here in Python (with
the json module). Exit status 0 when every check passes, 1 on a failed check, 2 when
wasmtime is missing.
"""

import argparse
import json
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llmdb_abi as abi  # noqa: E402
from llmdb_abi import Guest, GuestFailure, page, record  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SENTINEL = 0xA5
checks = 0


def check(condition, message):
    global checks
    checks += 1
    if not condition:
        raise AssertionError(message)


def expect_failure(fn, contains):
    try:
        fn()
    except GuestFailure as e:
        check(contains in str(e), f"failure message {str(e)!r} lacks {contains!r}")
        return
    except abi.wasmtime.Trap:
        check(contains == "<trap>", "trapped instead of calling llmdb.fail")
        return
    raise AssertionError(f"expected a failure ({contains})")


def raw_call(guest, name, data, out_cap, prefill=True):
    """One call, no retry: returns (result, out bytes up to max(result, out_cap)).

    Fills the output buffer with a sentinel first so the caller can check that nothing
    was written past out_cap.
    """
    guest.ensure_in(len(data))
    guest.write(guest.in_ptr, data)
    guest.ensure_out(max(out_cap, 1) + 64)
    if prefill:
        guest.write(guest.out_ptr, bytes([SENTINEL]) * guest.out_cap)
    n = guest.exports[name](guest.store, guest.in_ptr, len(data), guest.out_ptr, out_cap)
    return n, guest.read(guest.out_ptr, guest.out_cap)


def untouched(buffer, start):
    return all(b == SENTINEL for b in buffer[start:])


# ---- a Python reference for "the top-level integer field" --------------------------------

def top_level(value):
    try:
        doc = json.loads(value)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def int_field(value, name):
    doc = top_level(value)
    if doc is None or name not in doc:
        return None
    v = doc[name]
    if isinstance(v, bool) or not isinstance(v, int) or not -2**63 <= v < 2**63:
        return None
    return v


AMOUNT_CASES = [
    '{"amount":99}', '{"amount":100}', '{"amount":150,"note":"x"}', '{"amount":-5}',
    '{"amount":"100"}', '{"amount":100.0}', '{"amount":1e3}', '{"amount":true}',
    '{"other":500}', '{"x":{"amount":500}}', '{"note":"\\"amount\\":500"}',
    '{"a":[1,{"amount":900}],"amount":7}', '{ "amount" : 250 }', '{\n\t"amount":\n 100\n}',
    '{"amount":99999999999999999999}', '{"amount":9223372036854775807}',
    '{"amount":-9223372036854775808}', '{"amount":null}', '[{"amount":500}]', '500', '"amount"',
    '{"amounts":500}', '{"amount":1000,"amount2":1}', '{"b":"}","amount":300}', '{}',
    '{"amount":[100]}', '{"amount":{"amount":100}}', '{"n":"\\\\","amount":101}',
]


def random_doc(rng):
    fields = []
    for _ in range(rng.randrange(0, 5)):
        name = rng.choice(["amount", "amount", "amount", "city", "title", "x", "amountx", "n"])
        kind = rng.randrange(7)
        if kind == 0:
            v = str(rng.randrange(-1000, 1000))
        elif kind == 1:
            v = json.dumps(rng.choice(["Paris", "", "Ber\"lin", "a:b", "{amount:1}"]))
        elif kind == 2:
            v = json.dumps({"amount": rng.randrange(1000)})
        elif kind == 3:
            v = json.dumps([rng.randrange(10), "]"])
        elif kind == 4:
            v = rng.choice(["true", "false", "null", "1.5", "-0"])
        elif kind == 5:
            v = str(rng.randrange(0, 10**6))
        else:
            v = json.dumps("x" * rng.randrange(0, 300))
        fields.append((name, v))
    # Unique names: Python's json keeps the last duplicate, the example the first.
    seen, unique = set(), []
    for name, v in fields:
        if name not in seen:
            seen.add(name)
            unique.append((name, v))
    sep = rng.choice([",", ", ", " ,\n"])
    colon = rng.choice([":", " : ", ":\t"])
    return "{" + sep.join(f'"{n}"{colon}{v}' for n, v in unique) + "}"


def amount_records(rng, n):
    records = []
    for i in range(n):
        key = f"order:{i:0{rng.randrange(1, 9)}d}"  # varied key lengths: varied padding
        if i < len(AMOUNT_CASES):
            records.append(record(key, AMOUNT_CASES[i], valid_from=i, tx_id=i + 1))
        elif i % 13 == 0:
            records.append(record(key, '{"amount":500}', tag=abi.TAG_BYTES))
        elif i % 17 == 0:
            records.append(record(key, b"", tag=abi.TAG_TOMBSTONE))
        else:
            records.append(record(key, random_doc(rng), valid_from=i, tx_id=i + 1))
    return records


def value_of(rec):
    key_len, value_len = struct.unpack_from("<II", rec, 8)
    return rec[48 + key_len:48 + key_len + value_len]


def tag_of(rec):
    return rec[40]


# ---- the modules -------------------------------------------------------------------------

def check_allocator(engine, module, name):
    g = Guest(engine, module)
    a = g.allocate(1)
    b = g.allocate(100)
    c = g.allocate(10 * 1024 * 1024)  # grows memory
    check(a % 16 == 0 and b % 16 == 0 and c % 16 == 0, f"{name}: allocations are 16-aligned")
    check(a + 1 <= b and b + 100 <= c, f"{name}: allocations do not overlap")
    check(c + 10 * 1024 * 1024 <= g.memory.data_len(g.store), f"{name}: memory grew")
    check(a != 0, f"{name}: never 0 on success")
    check(g.alloc(0xFFFFFFF0) == 0, f"{name}: an impossible allocation returns 0")


def check_filter(engine, module, rng):
    records = amount_records(rng, 600)
    def keep(r):
        amount = int_field(value_of(r), "amount") if tag_of(r) == abi.TAG_JSON else None
        return amount is not None and amount >= 100

    expected = [r for r in records if keep(r)]
    check(len(expected) > 20, "filter: the test data keeps a fair share")
    g = Guest(engine, module)
    g.ensure_out(1024)
    kept = []
    for start in range(0, len(records), 37):
        chunk = records[start:start + 37]
        out = g.call("map_pages", page(chunk, abi.PAGE_MAP))
        kept += abi.split_page(out)
    check(kept == expected, "filter: keeps exactly the right records, byte for byte")

    # An empty page gives an empty page.
    out = g.call("map_pages", page([], abi.PAGE_MAP))
    check(out == abi.PAGE_HEADER.pack(16, 0, abi.PAGE_MAP, 0), "filter: empty in, empty out")

    # Capacity: any cap below the need returns the need and writes nothing past the cap.
    data = page(records[:80], abi.PAGE_MAP)
    need, _ = raw_call(g, "map_pages", data, 1 << 20)
    for cap in [0, 1, 15, 16, 17, need // 2, need - 8, need - 1]:
        n, buf = raw_call(g, "map_pages", data, cap)
        check(n == need, f"filter: cap {cap} returns the size needed ({n} != {need})")
        check(untouched(buf, cap), f"filter: cap {cap}: nothing written past out_cap")
    n, buf = raw_call(g, "map_pages", data, need)
    check(n == need and buf[:need] == page([r for r in records[:80] if r in expected],
                                            abi.PAGE_MAP),
          "filter: exact cap")
    check(untouched(buf, need), "filter: exact cap: nothing written past the page")

    # A page that lies about its size fails cleanly.
    bad = bytearray(data)
    struct.pack_into("<I", bad, 0, len(data) + 8)
    expect_failure(lambda: raw_call(g, "map_pages", bytes(bad), 1 << 16), "bad page header")
    bad = bytearray(data)
    struct.pack_into("<I", bad, 16 + 8, 1 << 20)  # the first record's key_len
    expect_failure(lambda: raw_call(g, "map_pages", bytes(bad), 1 << 16), "bad record")
    return len(expected)


def run_reduce(g, pages, out_cap=None):
    """LLMDB's reduce loop: the accumulator lives in the output buffer between calls."""
    acc_len = 0
    g.ensure_out(16)
    g.write(g.out_ptr, bytes(g.out_cap))
    for records in pages:
        data = page(records, abi.PAGE_REDUCE, acc_len)
        acc = g.call("reduce_pages", data, keep=acc_len, out_cap=out_cap)
        acc_len = len(acc)
    acc = g.read(g.out_ptr, acc_len)
    g.ensure_in(acc_len)
    g.write(g.in_ptr, acc)  # the host passes the accumulator as the input of reduce_finish
    fn = g.exports["reduce_finish"]
    n = fn(g.store, g.in_ptr, acc_len, g.out_ptr, g.out_cap)
    if n > g.out_cap:
        g.ensure_out(n)
        n = fn(g.store, g.in_ptr, acc_len, g.out_ptr, g.out_cap)
    return acc, g.read(g.out_ptr, n).decode()


def check_sum(engine, module, rng):
    def amount(r):
        return int_field(value_of(r), "amount") if tag_of(r) == abi.TAG_JSON else None

    # Without the int64 extremes, so that the running sum stays in range.
    records = [r for r in amount_records(rng, 700) if abs(amount(r) or 0) < 2**40]
    amounts = [a for a in map(amount, records) if a is not None]
    want = {"count": len(amounts), "sum": sum(amounts)}
    pages = [records[i:i + 50] for i in range(0, len(records), 50)]
    acc, result = run_reduce(Guest(engine, module), pages)
    check(json.loads(result) == want, f"sum: {result} != {want}")
    check(acc == struct.pack("<qq", want["count"], want["sum"]), "sum: the accumulator layout")
    # The same with the output buffer pretending to be tiny: the retry protocol.
    _acc, result2 = run_reduce(Guest(engine, module), pages, out_cap=3)
    check(result2 == result, "sum: the same result through capacity retries")
    # No pages at all: acc_len stays 0.
    _acc, result3 = run_reduce(Guest(engine, module), [])
    check(json.loads(result3) == {"count": 0, "sum": 0}, f"sum: no pages gives {result3}")
    # Too small for the accumulator: asks for 16 and writes nothing.
    g = Guest(engine, module)
    n, buf = raw_call(g, "reduce_pages", page(records[:10], abi.PAGE_REDUCE), 15)
    check(n == 16 and untouched(buf, 0), "sum: out_cap 15 asks for 16, writes nothing")
    # reduce_finish with little room.
    g.ensure_in(16)
    g.write(g.in_ptr, struct.pack("<qq", -9223372036854775807 - 1, 12345))
    text = b'{"count":-9223372036854775808,"sum":12345}'
    g.write(g.out_ptr, bytes([SENTINEL]) * g.out_cap)
    n = g.exports["reduce_finish"](g.store, g.in_ptr, 16, g.out_ptr, 5)
    check(n == len(text) and untouched(g.read(g.out_ptr, g.out_cap), 0),
          "sum: reduce_finish asks for room and writes nothing")
    n = g.exports["reduce_finish"](g.store, g.in_ptr, 16, g.out_ptr, n)
    check(g.read(g.out_ptr, n) == text, "sum: reduce_finish prints int64 min")
    # Overflow fails rather than wrapping.
    big = [record("o:1", '{"amount":9223372036854775807}'), record("o:2", '{"amount":1}')]
    expect_failure(lambda: run_reduce(Guest(engine, module), [big]), "overflows")
    # A wrong accumulator length fails.
    g = Guest(engine, module)
    g.ensure_out(64)
    expect_failure(lambda: raw_call(g, "reduce_pages", page([], abi.PAGE_REDUCE, 8), 64),
                   "not 16 bytes")
    return want


def check_hook(engine, module):
    def hook(records, cap=4096):
        g = Guest(engine, module)
        n, buf = raw_call(g, "tx_hook", page(records, abi.PAGE_HOOK), cap)
        return n, buf

    def reason(records):
        g = Guest(engine, module)
        out = g.call("tx_hook", page(records, abi.PAGE_HOOK), out_cap=0)  # forces the retry
        return out.decode()

    good = record("doc:1", '{"title":"Hello","body":"x"}', op=abi.OP_PUT)
    delete = record("doc:2", b"", tag=abi.TAG_TOMBSTONE, op=abi.OP_DELETE)
    erase = record("doc:3", b"", tag=abi.TAG_TOMBSTONE, op=abi.OP_ERASE)
    check(hook([good, delete, erase])[0] == 0, "hook: accepts titled puts, deletes, erases")
    check(hook([])[0] == 0, "hook: accepts an empty page")
    NO_TITLE = 'a document has no "title" field'
    check(reason([good, record("doc:9", "hello", tag=abi.TAG_BYTES)])
          == "a value written under the hook's prefix is not JSON", "hook: rejects a non-JSON put")
    check(reason([record("doc:4", '{"name":"x"}')]) == NO_TITLE, "hook: rejects a put without title")
    check(reason([record("doc:5", '{"meta":{"title":"nested"}}')]) == NO_TITLE, "hook: a nested title does not count")
    check(reason([record("doc:6", '["title"]')]) == NO_TITLE, "hook: an array has no title")
    check(reason([record("doc:7", '{"x":1}'), record("doc:8", "raw", tag=abi.TAG_BYTES)]) == NO_TITLE,
          "hook: the first offending put wins")
    check(reason([record(b"doc:\x00\x01\xff", "{}")]) == NO_TITLE, "hook: the key is never quoted")
    check(hook([record("doc:10", '{"title":null}')])[0] == 0, "hook: a null title is a title")
    # Capacity: with too little room, nothing is written and the size is returned.
    bad = [record("doc:11", '{"x":1}')]
    text = NO_TITLE.encode()
    for cap in [0, 1, len(text) - 1]:
        n, buf = hook(bad, cap)
        check(n == len(text) and untouched(buf, 0), f"hook: cap {cap}: asks, writes nothing")
    n, buf = hook(bad, len(text))
    check(n == len(text) and buf[:n] == text and untouched(buf, n), "hook: exact cap")


def check_index(engine, module):
    cities = ["P", "Pa", "Par", "Pari", "Paris", "Berlin", "Zürich", "x" * 255]
    records, want = [], []
    for c in cities:
        want.append((len(records), c.encode()))
        records.append(record(f"user:{len(records)}", json.dumps({"city": c}, ensure_ascii=False)))
    skipped = [
        ("user:a", '{"city":""}', abi.TAG_JSON),
        ("user:b", json.dumps({"city": "y" * 256}), abi.TAG_JSON),
        ("user:c", '{"city":42}', abi.TAG_JSON),
        ("user:d", '{"home":{"city":"Rome"}}', abi.TAG_JSON),
        ("user:e", '{"city":"Rome"}', abi.TAG_BYTES),
        ("user:f", b"", abi.TAG_TOMBSTONE),
        ("user:g", '{"note":"\\"city\\":\\"Oslo\\""}', abi.TAG_JSON),
        ("user:h", '["city","Oslo"]', abi.TAG_JSON),
    ]
    for key, value, tag in skipped:
        records.append(record(key, value, tag=tag))
    want.append((len(records), b"Oslo"))
    records.append(record("user:i", '{ "name" : "Ann", "city" : "Oslo" }'))
    data = page(records, abi.PAGE_INDEX)
    g = Guest(engine, module)
    g.ensure_out(16)
    out = g.call("custom_index", data)
    check(abi.split_index(out, len(records)) == want, "index: the right keys for the right records")
    need = len(out)
    for cap in [0, 3, 4, 12, need - 1]:
        n, buf = raw_call(g, "custom_index", data, cap)
        check(n == need and untouched(buf, cap), f"index: cap {cap} asks for {need}")
    check(g.call("custom_index", page([], abi.PAGE_INDEX)) == b"", "index: empty page, no keys")
    expect_failure(lambda: g.call("custom_index",
                                  page([record("user:z", '{"city":"Z\\u00fcrich"}')],
                                       abi.PAGE_INDEX)),
                   "not supported")


def check_count(engine, module):
    pages = [[record(f"k{i}", "{}") for i in range(n)] for n in [3, 0, 1000, 7]]
    acc, result = run_reduce(Guest(engine, module), pages)
    check(result == "1010" and acc == struct.pack("<Q", 1010), f"count: {result}")
    _acc, result = run_reduce(Guest(engine, module), pages, out_cap=0)
    check(result == "1010", "count: the same through capacity retries")
    _acc, result = run_reduce(Guest(engine, module), [])
    check(result == "0", f"count: no pages gives {result}")
    g = Guest(engine, module)
    g.ensure_in(8)
    g.ensure_out(64)
    g.write(g.in_ptr, struct.pack("<Q", 2**64 - 1))
    g.write(g.out_ptr, bytes([SENTINEL]) * g.out_cap)
    fn = g.exports["reduce_finish"]
    n = fn(g.store, g.in_ptr, 8, g.out_ptr, 19)
    check(n == 20 and untouched(g.read(g.out_ptr, g.out_cap), 0), "count: asks for 20 bytes")
    n = fn(g.store, g.in_ptr, 8, g.out_ptr, 20)
    check(g.read(g.out_ptr, n) == b"18446744073709551615", "count: u64 max")
    n, buf = raw_call(g, "reduce_pages", page([], abi.PAGE_REDUCE), 7)
    check(n == 8 and untouched(buf, 0), "count: out_cap 7 asks for 8, writes nothing")
    expect_failure(lambda: raw_call(g, "reduce_pages", page([], abi.PAGE_REDUCE, 16), 64),
                   "<trap>")


def check_empty(engine, module):
    g = Guest(engine, module)
    g.ensure_out(64)
    check(g.call("map_pages", page([], abi.PAGE_MAP)) == b"", "empty: returns 0")
    check(g.call("map_pages", page([record("a", "{}")], abi.PAGE_MAP)) == b"",
          "empty: returns 0 for any page")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wasm-dir", default=os.path.join(ROOT, "build", "wasm"),
                        help="the built C examples (default: build/wasm)")
    parser.add_argument("--examples", default=os.path.join(ROOT, "examples", "wasm"),
                        help="the example sources, for the .wat files")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    abi.require_wasmtime()
    wasmtime = abi.wasmtime
    engine = wasmtime.Engine()

    def load(path):
        if not os.path.exists(path):
            print(f"error: {path} is missing; run scripts/build-wasm-examples.sh first",
                  file=sys.stderr)
            sys.exit(1)
        return wasmtime.Module.from_file(engine, path)  # .wat is compiled as text

    modules = {
        "filter": load(os.path.join(args.wasm_dir, "filter.wasm")),
        "sum": load(os.path.join(args.wasm_dir, "sum.wasm")),
        "require_title": load(os.path.join(args.wasm_dir, "require_title.wasm")),
        "index_city": load(os.path.join(args.wasm_dir, "index_city.wasm")),
        "count": load(os.path.join(args.examples, "count.wat")),
        "empty": load(os.path.join(args.examples, "empty.wat")),
    }
    rng = random.Random(args.seed)
    failed = 0
    for name, module in modules.items():
        before = checks
        try:
            exports = {e.name for e in module.exports}
            check({"memory", "llmdb_alloc"} <= exports, f"{name}: exports memory and llmdb_alloc")
            for imp in module.imports:
                check((imp.module, imp.name) == ("llmdb", "fail"),
                      f"{name}: imports only llmdb.fail, not {imp.module}.{imp.name}")
            check_allocator(engine, module, name)
            detail = ""
            if name == "filter":
                detail = f" (kept {check_filter(engine, module, rng)} of 600)"
            elif name == "sum":
                detail = f" ({check_sum(engine, module, rng)})"
            elif name == "require_title":
                check_hook(engine, module)
            elif name == "index_city":
                check_index(engine, module)
            elif name == "count":
                check_count(engine, module)
            elif name == "empty":
                check_empty(engine, module)
            print(f"ok   {name}: {checks - before} checks{detail}")
        except AssertionError as e:
            failed += 1
            print(f"FAIL {name}: {e}")
    print(f"{'FAILED' if failed else 'passed'}: {checks} checks, {failed} module(s) failing,"
          f" wasmtime {abi.wasmtime_version()}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

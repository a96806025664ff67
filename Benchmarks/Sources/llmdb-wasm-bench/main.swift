// The WebAssembly benchmark of issue 3, the LLMDB side:
//   llmdb-wasm-bench --dir DIR --wasm-dir BUILT --records N [--rounds R] [--calls C]
// Loads N records (not timed), registers filter.wasm, sum.wasm (from BUILT, built by
// scripts/build-wasm-examples.sh) and examples/wasm/empty.wat, then each round times:
//   - `scan(prefix:map: "filter")`            the map_pages filter run by WasmKit
//   - the same scan with a native Swift closure doing filter.c's byte-level logic
//   - `reduce(prefix:module: "sum")`          the reduce_pages sum run by WasmKit
//   - the same scan with a native Swift closure doing sum.c's logic
//   - `scan(prefix:map: "empty")`             the host side of a map alone (empty.wat returns at once)
//   - `measureInvocation(module: "empty")`    the cost of one call on its own
// Checks every result (and that WASM and native agree); exits 1 on a mismatch. Prints one
// JSON object with the medians on stdout; progress goes to stderr.
//
// The records are those of Benchmarks/wasmtime/bench_wasmtime.py: for i in 0..<N, key
// rec:%08d, valid_from 1_700_000_000_000_000 + i, JSON {"amount":i%1000,"city":...}.
import BenchSupport
import Foundation
import LLMDB
import LLMDBWasm
@_spi(Benchmark) import LLMDBWasm

// MARK: filter.c / sum.c in Swift (examples/wasm/json_field.h, byte for byte)

@inline(__always) func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }

@inline(__always) func skipSpace(_ p: UnsafeRawBufferPointer, _ n: Int, _ i: Int) -> Int {
    var i = i
    while i < n && isSpace(p[i]) { i += 1 }
    return i
}

/// p[i] is '"': the index just past the closing quote, or n + 1 if unterminated.
@inline(__always) func skipString(_ p: UnsafeRawBufferPointer, _ n: Int, _ i: Int) -> Int {
    var i = i + 1
    while i < n {
        let c = p[i]
        if c == 0x5C {
            i += 2
        } else if c == 0x22 {
            return i + 1
        } else {
            i += 1
        }
    }
    return n + 1
}

/// The index just past the value starting at p[i], or n + 1 if malformed.
@inline(__always) func skipValue(_ p: UnsafeRawBufferPointer, _ n: Int, _ i: Int) -> Int {
    var i = i
    if i >= n { return n + 1 }
    var c = p[i]
    if c == 0x22 { return skipString(p, n, i) }
    if c == 0x7B || c == 0x5B {
        var depth = 0
        while i < n {
            c = p[i]
            if c == 0x22 {
                i = skipString(p, n, i)
                continue
            }
            if c == 0x7B || c == 0x5B {
                depth += 1
            } else if c == 0x7D || c == 0x5D {
                depth -= 1
                if depth == 0 { return i + 1 }
            }
            i += 1
        }
        return n + 1
    }
    let start = i
    while i < n {
        c = p[i]
        if c == 0x2C || c == 0x7D || c == 0x5D || c == 0x3A || c == 0x22 || c == 0x7B || c == 0x5B || isSpace(c) {
            break
        }
        i += 1
    }
    return i > start ? i : n + 1
}

/// Whether p[a..<b) equals `name`.
@inline(__always) func nameEquals(
    _ p: UnsafeRawBufferPointer,
    _ a: Int,
    _ b: Int,
    _ name: UnsafeRawBufferPointer
)
    -> Bool
{
    guard b - a == name.count else { return false }
    var k = 0
    while a + k < b {
        if name[k] != p[a + k] { return false }
        k += 1
    }
    return true
}

/// json_field: the raw value of member `name` of the object in p, as a range, or nil.
@inline(__always) func jsonField(_ p: UnsafeRawBufferPointer, _ name: UnsafeRawBufferPointer) -> Range<Int>? {
    let n = p.count
    var i = skipSpace(p, n, 0)
    if i >= n || p[i] != 0x7B { return nil }
    i = skipSpace(p, n, i + 1)
    if i < n && p[i] == 0x7D { return nil }
    while i < n {
        if p[i] != 0x22 { return nil }
        let nameStart = i + 1
        i = skipString(p, n, i)
        if i > n { return nil }
        let nameEnd = i - 1
        i = skipSpace(p, n, i)
        if i >= n || p[i] != 0x3A { return nil }
        i = skipSpace(p, n, i + 1)
        let valueStart = i
        i = skipValue(p, n, i)
        if i > n { return nil }
        if nameEquals(p, nameStart, nameEnd, name) { return valueStart..<i }
        i = skipSpace(p, n, i)
        if i >= n || p[i] != 0x2C { return nil }
        i = skipSpace(p, n, i + 1)
    }
    return nil
}

/// json_int: an optional '-' then decimal digits, in Int64 range; nil otherwise.
@inline(__always) func jsonInt(_ p: UnsafeRawBufferPointer, _ r: Range<Int>) -> Int64? {
    var i = r.lowerBound
    var negative = false
    if i < r.upperBound && p[i] == 0x2D {
        negative = true
        i += 1
    }
    if i >= r.upperBound { return nil }
    var acc: Int64 = 0
    let minimum = Int64.min
    while i < r.upperBound {
        let c = p[i]
        if c < 0x30 || c > 0x39 { return nil }
        let d = Int64(c - 0x30)
        if acc < (minimum + d) / 10 { return nil }
        acc = acc * 10 - d
        i += 1
    }
    if !negative {
        if acc == minimum { return nil }
        acc = -acc
    }
    return acc
}

let amountName: [UInt8] = Array("amount".utf8)

benchName = "llmdb-wasm-bench"

// MARK: Arguments

var dir = ""
var wasmDir = ""
var emptyWat = ""
var records = 1_000_000
var rounds = 3
var calls = 100_000
var args = CommandLine.arguments.dropFirst()
let usage =
    "usage: llmdb-wasm-bench --dir DIR --wasm-dir BUILT [--records N] [--rounds R] [--calls C] [--empty-wat FILE]"
while let a = args.popFirst() {
    switch a {
    case "--dir": dir = args.popFirst() ?? ""
    case "--wasm-dir": wasmDir = args.popFirst() ?? ""
    case "--empty-wat": emptyWat = args.popFirst() ?? ""
    case "--records": records = Int(args.popFirst() ?? "") ?? -1
    case "--rounds": rounds = Int(args.popFirst() ?? "") ?? -1
    case "--calls": calls = Int(args.popFirst() ?? "") ?? -1
    case "-h", "--help":
        print(usage)
        exit(0)
    default:
        log("unknown argument \(a)\n\(usage)")
        exit(2)
    }
}
guard !dir.isEmpty, !wasmDir.isEmpty, records > 0, rounds > 0, calls > 0 else {
    log(usage)
    exit(2)
}
if emptyWat.isEmpty {
    // examples/wasm/empty.wat of the repository this binary was built in (Benchmarks/.build/...),
    // else relative to the working directory.
    let fromSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../../examples/wasm/empty.wat"
    ).standardized.path
    emptyWat = FileManager.default.fileExists(atPath: fromSource) ? fromSource : "examples/wasm/empty.wat"
}

func readFile(_ path: String) -> [UInt8] {
    guard let d = FileManager.default.contents(atPath: path) else {
        fail("cannot read \(path) (run scripts/build-wasm-examples.sh first)")
    }
    return [UInt8](d)
}

// MARK: Main

let wasmCities = ["Paris", "Berlin", "Rome", "Oslo"]
let validFromBase: Int64 = 1_700_000_000_000_000
let wantKept = (0..<records).reduce(0) { $0 + ($1 % 1000 >= 100 ? 1 : 0) }
let wantSum = (0..<records).reduce(Int64(0)) { $0 + Int64($1 % 1000) }

do {
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let path = dir + "/bench.llmdb"
    unlink(path)
    unlink(path + "-lock")
    var o = Database.Options()
    o.sync = .none
    o.mapSize = 1 << 30
    o.codeRunner = WasmRuntime()  // default limits
    let db = try Database.open(path: path, options: o)

    log("loading \(records) records (not timed)")
    let t0 = now()
    let batch = 50_000
    var i = 0
    while i < records {
        let end = min(records, i + batch)
        try db.write { b in
            for j in i..<end {
                let key = Key(String(format: "rec:%08d", j))
                let text = #"{"amount":\#(j % 1000),"city":"\#(wasmCities[j % 4])"}"#
                try b.put(key, try Value.json(text), validFrom: Instant(microseconds: validFromBase + Int64(j)))
            }
        }
        i = end
    }
    log(String(format: "loaded in %.1f s", now() - t0))

    try db.addCode(readFile(wasmDir + "/filter.wasm"), name: "filter")
    try db.addCode(readFile(wasmDir + "/sum.wasm"), name: "sum")
    try db.addCode(readFile(emptyWat), name: "empty")
    let prefix = Key("rec:")

    var mapWasm: [Double] = []
    var mapNative: [Double] = []
    var reduceWasm: [Double] = []
    var reduceNative: [Double] = []
    var mapEmpty: [Double] = []
    var perCall: [Double] = []
    var instantiate: [Double] = []
    var wasmPages = 0
    for r in 1...rounds {
        // Map: count the kept rows and sum their key lengths (the same work per row in both).
        var kept = 0
        var keyBytes = 0
        var t = now()
        try db.scan(prefix: prefix, map: "filter") { (row: MappedRow) -> Bool in
            kept += 1
            keyBytes += row.key.count
            return true
        }
        mapWasm.append(now() - t)
        if kept != wantKept { fail("wasm filter kept \(kept) records, expected \(wantKept)") }

        var nKept = 0
        var nKeyBytes = 0
        t = now()
        try amountName.withUnsafeBytes { name in
            try db.read { s in
                try s.scan(prefix: prefix) { (row: ScanRow) -> Bool in
                    let v = row.value
                    if v.tag == .json, let f = jsonField(v.payload, name), let amount = jsonInt(v.payload, f),
                        amount >= 100
                    {
                        nKept += 1
                        nKeyBytes += row.encodedKey.count - 4 - 18
                    }
                    return true
                }
            }
        }
        mapNative.append(now() - t)
        if nKept != kept || nKeyBytes != keyBytes {
            fail("native filter kept \(nKept) records (\(nKeyBytes) key bytes), wasm \(kept) (\(keyBytes))")
        }
        if keyBytes != wantKept * 12 { fail("wasm filter passed \(keyBytes) key bytes, expected \(wantKept * 12)") }

        // Reduce: count and sum of "amount".
        t = now()
        let result = try db.reduce(prefix: prefix, module: "sum")
        reduceWasm.append(now() - t)
        wasmPages = result.pages
        let text = result.result.map { String(decoding: $0, as: UTF8.self) } ?? "(none)"
        let want = #"{"count":\#(records),"sum":\#(wantSum)}"#
        if text != want || result.records != records {
            fail("wasm sum gave \(text) over \(result.records) records, expected \(want)")
        }

        var count: Int64 = 0
        var sum: Int64 = 0
        t = now()
        try amountName.withUnsafeBytes { name in
            try db.read { s in
                try s.scan(prefix: prefix) { (row: ScanRow) -> Bool in
                    let v = row.value
                    if v.tag == .json, let f = jsonField(v.payload, name), let amount = jsonInt(v.payload, f) {
                        let (s2, overflow) = sum.addingReportingOverflow(amount)
                        if overflow { fail("native sum overflows Int64") }
                        sum = s2
                        count += 1
                    }
                    return true
                }
            }
        }
        reduceNative.append(now() - t)
        let nativeText = #"{"count":\#(count),"sum":\#(sum)}"#
        if nativeText != text { fail("native sum gave \(nativeText), wasm \(text)") }

        // The host side of a WASM map alone: the same scan, pages built and copied in, and
        // empty.wat's map_pages, which returns at once (no output).
        var emptyRows = 0
        t = now()
        try db.scan(prefix: prefix, map: "empty") { (_: MappedRow) -> Bool in
            emptyRows += 1
            return true
        }
        mapEmpty.append(now() - t)
        if emptyRows != 0 { fail("empty.wat output \(emptyRows) records") }

        // Per-invocation overhead: the empty map_pages module on an empty page.
        let m = try db.measureInvocation(module: "empty", calls: calls)
        perCall.append(m.perCall)
        instantiate.append(m.instantiateAndCall)
        log(
            String(
                format:
                    "round %d/%d: map wasm %.3f s, native %.3f s, empty.wat %.3f s; reduce wasm %.3f s, native %.3f s; call %.2f µs, instantiate+call %.1f µs",
                r,
                rounds,
                mapWasm.last!,
                mapNative.last!,
                mapEmpty.last!,
                reduceWasm.last!,
                reduceNative.last!,
                perCall.last!,
                instantiate.last!
            )
        )
    }
    let n = Double(records)
    func list(_ xs: [Double]) -> String { "[" + xs.map { String(format: "%.4f", $0) }.joined(separator: ",") + "]" }
    print(
        #"{"system":"llmdb-wasm","runtime":"WasmKit","records":\#(records),"rounds":\#(rounds),"pages":\#(wasmPages),"map_kept":\#(wantKept),"reduce_result":{"count":\#(records),"sum":\#(wantSum)},"#
            + #""map_wasm_records_per_s":\#(Int((n / median(mapWasm)).rounded())),"map_native_records_per_s":\#(Int((n / median(mapNative)).rounded())),"#
            + #""reduce_wasm_records_per_s":\#(Int((n / median(reduceWasm)).rounded())),"reduce_native_records_per_s":\#(Int((n / median(reduceNative)).rounded())),"#
            + #""map_empty_records_per_s":\#(Int((n / median(mapEmpty)).rounded())),"call_overhead_us":\#(String(format: "%.3f", median(perCall))),"instantiate_and_call_us":\#(String(format: "%.2f", median(instantiate))),"calls":\#(calls),"#
            + #""seconds":{"map_wasm":\#(list(mapWasm)),"map_native":\#(list(mapNative)),"reduce_wasm":\#(list(reduceWasm)),"reduce_native":\#(list(reduceNative)),"map_empty":\#(list(mapEmpty))}}"#
    )
    fflush(nil)
} catch {
    log("\(error)")
    exit(1)
}

// The server benchmark of issue 6, the in-process side (scripts/bench_server.py runs it
// beside `llmdb serve` driven by wrk, and reports HTTP ÷ in-process):
//   llmdb-server-bench --dir DIR --memories-file F --queries-file Q [--facts N] [--seconds S]
//                      [--threads T] [--put-threads P] [--batch B] [--sync full|meta|none]
// On a fresh database in DIR (the same options as `llmdb serve`: sync full by default):
//   1. loads N facts `fact:%06d` → factValue(i) (about 100 bytes of JSON) in transactions of
//      10,000 (not timed);
//   2. get: T threads call `Database.get` on uniformly random keys of those N for S seconds;
//      get1: the same on one thread;
//   3. put: P threads call `Database.write { put }` (one durable transaction each, like
//      PUT /v1/facts) on random keys `put:%06d` of N for S seconds;
//   4. remember: the memories of F (one content per line; memory i is
//      `agent:{kind i%4}:m%06d`, confidence 0.5 + (i % 50) / 100) stored with
//      `AgentMemory.remember` in batches of B, one after another (each batch one transaction);
//   5. recall: T threads call `AgentMemory.recall` (limit 10) with random queries of Q for S
//      seconds.
// Latencies are per call (the clock read once per call). Prints one JSON object on stdout;
// progress goes to stderr.
import BenchSupport
import Foundation
import LLMDB
import LLMDBMemory

benchName = "llmdb-server-bench"

// MARK: Arguments

var dir = ""
var memoriesFile = ""
var queriesFile = ""
var factCount = 100_000
var seconds = 5.0
var threads = ProcessInfo.processInfo.activeProcessorCount
var putThreads = 16
var batchSize = 1000
var syncMode = "full"
var args = CommandLine.arguments.dropFirst()
let usage =
    "usage: llmdb-server-bench --dir DIR --memories-file F --queries-file Q [--facts N] [--seconds S] [--threads T] [--put-threads P] [--batch B] [--sync full|meta|none]"
while let a = args.popFirst() {
    switch a {
    case "--dir": dir = args.popFirst() ?? ""
    case "--memories-file": memoriesFile = args.popFirst() ?? ""
    case "--queries-file": queriesFile = args.popFirst() ?? ""
    case "--facts": factCount = Int(args.popFirst() ?? "") ?? -1
    case "--seconds": seconds = Double(args.popFirst() ?? "") ?? -1
    case "--threads": threads = Int(args.popFirst() ?? "") ?? -1
    case "--put-threads": putThreads = Int(args.popFirst() ?? "") ?? -1
    case "--batch": batchSize = Int(args.popFirst() ?? "") ?? -1
    case "--sync": syncMode = args.popFirst() ?? ""
    case "-h", "--help":
        print(usage)
        exit(0)
    default:
        log("unknown argument \(a)\n\(usage)")
        exit(2)
    }
}
guard !dir.isEmpty, !memoriesFile.isEmpty, !queriesFile.isEmpty, factCount > 0, seconds > 0, threads > 0,
    putThreads > 0, batchSize > 0, let sync = SyncPolicy(rawValue: syncMode)
else {
    log(usage)
    exit(2)
}

// MARK: Data (the same formulas as scripts/bench_server.py and scripts/bench_server.lua)

/// About 100 bytes of JSON.
func factValue(_ i: Int) -> String {
    #"{"n":\#(i),"name":"fact \#(i)","tags":["alpha","beta"],"text":"\#(String(repeating: "v", count: 40))"}"#
}
let kinds = ["knowledge", "context", "analysis", "decision"]
func memoryKey(_ i: Int) -> String { "agent:\(kinds[i % 4]):m\(String(format: "%06d", i))" }
func confidence(_ i: Int) -> Double { 0.5 + Double(i % 50) / 100 }

func lines(_ path: String) -> [String] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { fail("cannot read \(path)") }
    return text.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
}

// MARK: Timing

@Sendable @inline(__always) func nowNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// splitmix64.
struct Rng {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// One thread's latencies (ns) and its count of whatever it counts (hits, errors).
final class Lane: @unchecked Sendable {
    // @unchecked Sendable: written by its one thread only, read after that thread is joined.
    var latencies: [UInt32] = []
    var extra = 0
    var error: String? = nil
}

/// Runs `body(lane, rng)` repeatedly on `n` threads for `seconds`; each call is one timed
/// operation. Returns the summary: operations, seconds, per second, latency percentiles.
func load(
    _ name: String,
    threads n: Int,
    seconds: Double,
    _ body: @escaping @Sendable (Lane, inout Rng) throws -> Void
) -> [String: Any] {
    let lanes = (0..<n).map { _ in Lane() }
    let group = DispatchGroup()
    let start = DispatchSemaphore(value: 0)
    let duration = UInt64(seconds * 1e9)
    for (t, lane) in lanes.enumerated() {
        group.enter()
        let thread = Thread {
            var rng = Rng(state: 42 &+ UInt64(t) &* 7919)
            lane.latencies.reserveCapacity(1 << 20)
            start.wait()
            let began = nowNs()
            var t0 = began
            do {
                while t0 - began < duration {
                    try body(lane, &rng)
                    let t1 = nowNs()
                    lane.latencies.append(UInt32(clamping: t1 - t0))
                    t0 = t1
                }
            } catch {
                lane.error = "\(error)"
            }
            group.leave()
        }
        thread.stackSize = 1 << 22
        thread.start()
    }
    let began = nowNs()
    for _ in 0..<n { start.signal() }
    group.wait()
    let elapsed = Double(nowNs() - began) / 1e9
    if let e = lanes.compactMap(\.error).first { fail("\(name): \(e)") }
    var all: [UInt32] = []
    all.reserveCapacity(lanes.reduce(0) { $0 + $1.latencies.count })
    for l in lanes { all.append(contentsOf: l.latencies) }
    var out = summary(all, seconds: elapsed)
    out["threads"] = n
    out["extra"] = lanes.reduce(0) { $0 + $1.extra }
    log(
        String(
            format: "%@: %d ops in %.2f s = %.0f/s, p50 %.1f µs, p99 %.1f µs",
            name,
            all.count,
            elapsed,
            Double(all.count) / elapsed,
            out["p50_us"] as! Double,
            out["p99_us"] as! Double
        )
    )
    return out
}

func summary(_ latencies: [UInt32], seconds: Double) -> [String: Any] {
    let s = latencies.sorted()
    func p(_ q: Double) -> Double {
        s.isEmpty ? 0 : Double(s[min(s.count - 1, Int(q * Double(s.count)))]) / 1e3
    }
    let mean = s.isEmpty ? 0 : Double(s.reduce(0) { $0 + Int($1) }) / Double(s.count) / 1e3
    return [
        "ops": s.count, "seconds": seconds, "per_s": Double(s.count) / seconds, "mean_us": mean,
        "p50_us": p(0.50), "p95_us": p(0.95), "p99_us": p(0.99), "max_us": Double(s.last ?? 0) / 1e3,
    ]
}

// MARK: Run

do {
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let path = dir + "/inprocess.llmdb"
    unlink(path)
    unlink(path + "-lock")
    var o = Database.Options()
    o.sync = sync
    let db = try Database.open(path: path, options: o)
    let memory = AgentMemory(db: db)
    var result: [String: Any] = ["facts": factCount, "sync": syncMode, "batch": batchSize]

    // 1. Facts.
    let keys = (0..<factCount).map { Key("fact:\(String(format: "%06d", $0))") }
    var i = 0
    while i < factCount {
        let end = min(factCount, i + 10_000)
        let first = i
        try db.write { b in
            for j in first..<end { try b.put(keys[j], try Value.json(factValue(j))) }
        }
        i = end
    }
    log("loaded \(factCount) facts")

    // 2. get.
    if try db.get(keys[factCount / 2]) == nil { fail("fact \(factCount / 2) is missing") }
    result["get"] = load("get", threads: threads, seconds: seconds) { lane, rng in
        guard try db.get(keys[rng.below(keys.count)]) != nil else { throw LLMDBError(.notFound, "a fact is missing") }
    }

    result["get1"] = load("get1", threads: 1, seconds: seconds) { lane, rng in
        guard try db.get(keys[rng.below(keys.count)]) != nil else { throw LLMDBError(.notFound, "a fact is missing") }
    }

    // 3. put (durable, one transaction each).
    let putKeys = (0..<factCount).map { Key("put:\(String(format: "%06d", $0))") }
    let putValues = try (0..<1000).map { try Value.json(factValue($0)) }
    result["put"] = load("put", threads: putThreads, seconds: seconds) { _, rng in
        let k = rng.below(putKeys.count)
        try db.write { try $0.put(putKeys[k], putValues[k % putValues.count]) }
    }

    // 4. remember in batches.
    let contents = lines(memoriesFile)
    var batches: [[MemoryInput]] = []
    var batch: [MemoryInput] = []
    for (n, text) in contents.enumerated() {
        var m = MemoryInput(key: memoryKey(n), content: .string(text))
        m.confidence = confidence(n)
        batch.append(m)
        if batch.count == batchSize {
            batches.append(batch)
            batch = []
        }
    }
    if !batch.isEmpty { batches.append(batch) }
    var batchNs: [UInt32] = []
    let r0 = nowNs()
    for b in batches {
        let t0 = nowNs()
        try memory.remember(b)
        batchNs.append(UInt32(clamping: nowNs() - t0))
    }
    let rememberSeconds = Double(nowNs() - r0) / 1e9
    var remember = summary(batchNs, seconds: rememberSeconds)
    remember["memories"] = contents.count
    remember["memories_per_s"] = Double(contents.count) / rememberSeconds
    result["remember"] = remember
    result["memories"] = contents.count
    log(
        String(
            format: "remember: %d memories in %d batches in %.2f s = %.0f memories/s",
            contents.count,
            batches.count,
            rememberSeconds,
            Double(contents.count) / rememberSeconds
        )
    )

    // 5. recall.
    let queries = lines(queriesFile)
    var hits = 0
    for q in queries.prefix(20) { hits += try memory.recall(RecallQuery(text: q)).hits.count }
    if hits == 0 { fail("the first 20 queries recall nothing") }
    var recall = load("recall", threads: threads, seconds: seconds) { lane, rng in
        lane.extra += try memory.recall(RecallQuery(text: queries[rng.below(queries.count)])).hits.count
    }
    recall["hits_avg"] = Double(recall["extra"] as! Int) / Double(max(1, recall["ops"] as! Int))
    result["recall"] = recall
    result["queries"] = queries.count

    db.close()
    unlink(path)
    unlink(path + "-lock")
    let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
} catch {
    fail("\(error)")
}

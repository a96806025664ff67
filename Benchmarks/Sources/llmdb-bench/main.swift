// The LLMDB side of the benchmark. Same contract as Benchmarks/baselines/common.h:
//   llmdb-bench --dir DIR --workload W[,W2,...]|all [--scale S]
// prints one JSON line per workload on stdout; everything else on stderr.
import Dispatch
import Foundation
import LLMDB

// MARK: Contract helpers (mirrors common.h)

nonisolated(unsafe) var prngState: UInt64 = 42
func prngReset() { prngState = 42 }
@inline(__always) func prngNext() -> UInt64 {
    prngState &+= 0x9E37_79B9_7F4A_7C15
    var z = prngState
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
@inline(__always) func randBelow(_ n: Int) -> Int { Int(prngNext() % UInt64(n)) }

nonisolated(unsafe) var scale = 1.0
func scaled(_ n: Int) -> Int { max(1, Int((Double(n) * scale).rounded())) }

/// Writes key%08d into bytes[0..<11] in place (no allocation once the array exists).
@inline(__always) func setKey(_ bytes: inout [UInt8], _ i: Int) {
    var v = i
    bytes.withUnsafeMutableBufferPointer { b in
        b[0] = 0x6B
        b[1] = 0x65
        b[2] = 0x79
        var d = 10
        while d >= 3 {
            b[d] = UInt8(48 + v % 10)
            v /= 10
            d -= 1
        }
    }
}

/// `{"v":<v>,"pad":"xxx…"}`, exactly 100 bytes, built in one allocation (the C baselines
/// format into a stack buffer; this is the closest Swift equivalent).
func makeValue(_ v: Int) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: 100) { b, count in
        var digits: (UInt64, Int) = (0, 0)  // reversed digits packed in a UInt64 (v < 10^16)
        var u = v
        repeat {
            digits.0 = digits.0 << 4 | UInt64(u % 10)
            digits.1 += 1
            u /= 10
        } while u > 0
        var p = 0
        for c in "{\"v\":".utf8 {
            b[p] = c
            p += 1
        }
        for _ in 0..<digits.1 {
            b[p] = UInt8(48 + digits.0 & 0xF)
            digits.0 >>= 4
            p += 1
        }
        for c in ",\"pad\":\"".utf8 {
            b[p] = c
            p += 1
        }
        while p < 98 {
            b[p] = UInt8(ascii: "x")
            p += 1
        }
        b[98] = UInt8(ascii: "\"")
        b[99] = UInt8(ascii: "}")
        count = 100
    }
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func report(_ workload: String, ops: Int, seconds: Double) {
    let ns = seconds * 1e9 / Double(ops)
    print(
        #"{"system":"llmdb","workload":"\#(workload)","ops":\#(ops),"seconds":\#(seconds),"ns_per_op":\#(ns),"ops_per_sec":\#(Double(ops) / seconds)}"#
    )
    fflush(nil)
}

nonisolated(unsafe) var dir = ""
func freshDatabase(sync: SyncPolicy) throws -> Database {
    let path = dir + "/llmdb.llmdb"
    unlink(path)
    unlink(path + "-lock")
    var o = Database.Options()
    o.sync = sync
    o.mapSize = 1 << 30
    return try Database.open(path: path, options: o)
}

/// Loads keys 0..<n ascending, `value(k)`, 10,000 puts per transaction (untimed).
func loadAscending(_ db: Database, _ n: Int) throws {
    var k = 0
    var key = Key([UInt8](repeating: 0, count: 11))
    while k < n {
        let end = min(n, k + 10_000)
        try db.write { b in
            for i in k..<end {
                setKey(&key.bytes, i)
                try b.put(key, .raw(makeValue(i)), validFrom: Instant(microseconds: 1000))
            }
        }
        k = end
    }
}

// MARK: Workloads

func bulkLoad() throws {
    let n = scaled(1_000_000)
    let db = try freshDatabase(sync: .none)
    prngReset()
    var perm = Array(0..<n)
    var i = n - 1
    while i >= 1 {
        perm.swapAt(i, randBelow(i + 1))
        i -= 1
    }
    var key = Key([UInt8](repeating: 0, count: 11))
    let t0 = now()
    var k = 0
    while k < n {
        let end = min(n, k + 10_000)
        try db.write { b in
            for j in k..<end {
                setKey(&key.bytes, perm[j])
                try b.put(key, .raw(makeValue(perm[j])))
            }
        }
        k = end
    }
    report("bulk_load", ops: n, seconds: now() - t0)
}

func pointRead() throws {
    let n = scaled(1_000_000)
    let db = try freshDatabase(sync: .none)
    try loadAscending(db, n)
    prngReset()
    var key = Key([UInt8](repeating: 0, count: 11))
    var checksum = 0
    let t0 = now()
    var done = 0
    while done < n {
        let end = min(n, done + 10_000)
        try db.read(validAt: .endOfTime) { snap in
            for _ in done..<end {
                setKey(&key.bytes, randBelow(n))
                checksum &+= try snap.withValue(key) { v in Int(v.payload[0]) + v.payload.count } ?? -1_000_000
            }
        }
        done = end
    }
    report("point_read", ops: n, seconds: now() - t0)
    FileHandle.standardError.write("point_read checksum \(checksum)\n".data(using: .utf8)!)
    precondition(checksum == n * (123 + 100), "point_read: wrong values read")
}

func versions(_ d: Int) throws {
    let total = scaled(100_000)
    let keys = max(1, total / d)
    let db = try freshDatabase(sync: .none)
    var key = Key([UInt8](repeating: 0, count: 11))
    var pending = 0
    var batch = WriteBatch()
    for k in 0..<keys {
        setKey(&key.bytes, k)
        for j in 0..<d {
            try batch.put(key, .raw(makeValue(k * d + j)), validFrom: Instant(microseconds: Int64(1000 + 10 * j)))
            pending += 1
            if pending == 10_000 {
                try db.commit(batch)
                batch = WriteBatch()
                pending = 0
            }
        }
    }
    if pending > 0 { try db.commit(batch) }
    let reads = scaled(200_000)
    prngReset()
    var checksum = 0
    let t0 = now()
    var done = 0
    while done < reads {
        let end = min(reads, done + 10_000)
        try db.read(validAt: .endOfTime) { snap in
            for _ in done..<end {
                setKey(&key.bytes, randBelow(keys))
                checksum &+= try snap.withValue(key) { v in Int(v.payload[0]) + v.payload.count } ?? -1_000_000
            }
        }
        done = end
    }
    report("versions_\(d)", ops: reads, seconds: now() - t0)
    precondition(checksum == reads * (123 + 100), "versions_\(d): wrong values read")
    // Spot-check that the latest version is the one returned.
    setKey(&key.bytes, keys - 1)
    let v = try db.get(key, validAt: .endOfTime)!.value!.payload
    precondition(v == makeValue(keys * d - 1), "versions_\(d): not the latest version")
}

func prefixScan() throws {
    let n = scaled(1_000_000)
    let db = try freshDatabase(sync: .none)
    try loadAscending(db, n)
    let prefixes = max(1, n / 100)
    let scans = scaled(10_000)
    prngReset()
    var prefix = Key([UInt8](repeating: 0, count: 11))
    var rows = 0
    var checksum = 0
    let t0 = now()
    var done = 0
    while done < scans {
        let end = min(scans, done + 100)
        try db.read(validAt: .endOfTime) { snap in
            for _ in done..<end {
                setKey(&prefix.bytes, randBelow(prefixes) * 100)
                prefix.bytes.removeLast(2)
                try snap.scan(prefix: prefix) { row in
                    rows += 1
                    checksum &+= Int(row.encodedKey.count) + row.value.payload.count
                    return true
                }
                prefix.bytes.append(0)
                prefix.bytes.append(0)
            }
        }
        done = end
    }
    report("prefix_scan", ops: scans, seconds: now() - t0)
    FileHandle.standardError.write("prefix_scan rows \(rows) checksum \(checksum)\n".data(using: .utf8)!)
    precondition(rows == scans * min(100, n), "prefix_scan: wrong row count \(rows)")
}

func durable(_ threads: Int) throws {
    let total = scaled(2000)
    let db = try freshDatabase(sync: .full)
    let start = DispatchSemaphore(value: 0)
    let group = DispatchGroup()
    nonisolated(unsafe) var failure: (any Error)? = nil
    for t in 0..<threads {
        group.enter()
        let thread = Thread {
            start.wait()
            var key = Key([UInt8](repeating: 0, count: 11))
            for i in (total * t / threads)..<(total * (t + 1) / threads) {
                setKey(&key.bytes, i)
                do { try db.write { try $0.put(key, .raw(makeValue(i))) } } catch { failure = error }
            }
            group.leave()
        }
        thread.start()
    }
    let t0 = now()
    for _ in 0..<threads { start.signal() }
    group.wait()
    let seconds = now() - t0
    if let failure { throw failure }
    report("durable_commit_\(threads)", ops: total, seconds: seconds)
    let s = try db.stats()
    FileHandle.standardError.write(
        "durable_commit_\(threads): \(s.groupedWrites) writes in \(s.groupCommits) group commits (\(Double(s.groupedWrites) / Double(max(1, s.groupCommits))) per commit)\n"
            .data(using: .utf8)!
    )
}

// MARK: Main

let all = [
    "bulk_load", "point_read", "versions_1", "versions_10", "versions_100", "versions_1000", "prefix_scan",
    "durable_commit_1", "durable_commit_8",
]
var workloads: [String] = []
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--dir": dir = args.popFirst() ?? ""
    case "--scale": scale = Double(args.popFirst() ?? "") ?? 1
    case "--workload":
        let w = args.popFirst() ?? "all"
        workloads = w == "all" ? all : w.split(separator: ",").map(String.init)
    case "-h", "--help":
        print(
            "usage: llmdb-bench --dir DIR --workload W[,W2,...]|all [--scale S]\nworkloads: \(all.joined(separator: " "))"
        )
        exit(0)
    default:
        FileHandle.standardError.write("llmdb-bench: unknown argument \(a)\n".data(using: .utf8)!)
        exit(2)
    }
}
guard !dir.isEmpty, !workloads.isEmpty, workloads.allSatisfy(all.contains) else {
    FileHandle.standardError.write(
        "llmdb-bench: need --dir DIR and --workload W (one of \(all.joined(separator: ", ")) or all)\n".data(
            using: .utf8
        )!
    )
    exit(2)
}
try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
do {
    for w in workloads {
        switch w {
        case "bulk_load": try bulkLoad()
        case "point_read": try pointRead()
        case "prefix_scan": try prefixScan()
        case "durable_commit_1": try durable(1)
        case "durable_commit_8": try durable(8)
        default: try versions(Int(w.dropFirst("versions_".count))!)
        }
    }
} catch {
    FileHandle.standardError.write("llmdb-bench: \(error)\n".data(using: .utf8)!)
    exit(1)
}

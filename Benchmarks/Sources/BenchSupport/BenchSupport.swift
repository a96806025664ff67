// Helpers shared by the benchmark programs llmdb-wasm-bench, llmdb-doc-bench and
// llmdb-lql-bench: the clock, medians, timing loops, progress and failure lines, and the
// document data set the documents and LQL benchmarks (and their SQLite baselines) share.
import Foundation

/// Monotonic seconds.
public func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

public func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// The program's name, for progress and error lines on stderr.
nonisolated(unsafe) public var benchName = "bench"

public func log(_ s: String) {
    FileHandle.standardError.write("\(benchName): \(s)\n".data(using: .utf8)!)
}

public func fail(_ s: String) -> Never {
    log("error: \(s)")
    exit(1)
}

/// Runs `f` `reps` times: the mean seconds per call and the last result.
public func timed<R>(_ reps: Int, _ f: () throws -> R) rethrows -> (Double, R) {
    var last: R? = nil
    let t = now()
    for _ in 0..<reps { last = try f() }
    return ((now() - t) / Double(reps), last!)
}

/// Calls per round so that a round lasts about the budget, from one untimed warm-up call.
public func repsFor(_ budgetMs: Double, _ f: () throws -> Void) rethrows -> Int {
    try f()
    let t = now()
    try f()
    let one = max(now() - t, 1e-7)
    return max(1, min(5000, Int(budgetMs / 1e3 / one)))
}

/// Milliseconds and microseconds of a median, and the per-round list in milliseconds.
public func ms(_ xs: [Double]) -> String { String(format: "%.4f", median(xs) * 1e3) }
public func us(_ xs: [Double]) -> String { String(format: "%.2f", median(xs) * 1e6) }
public func msList(_ xs: [Double]) -> String {
    "[" + xs.map { String(format: "%.4f", $0 * 1e3) }.joined(separator: ",") + "]"
}

/// The document data set (the same in Benchmarks/baselines/sqlite_json.c and sqlite_lql.c):
/// for i in 0..<N, id `p%06d`, body
/// `{"name":"Name <i>","city":"City<i%50, 2 digits>","age":<i%90>,"score":<i*7%1000>}`.
public let cities = (0..<50).map { String(format: "City%02d", $0) }
public func documentID(_ i: Int) -> String { String(format: "p%06d", i) }
public func documentBody(_ i: Int, age: Int? = nil) -> String {
    #"{"name":"Name \#(i)","city":"\#(cities[i % 50])","age":\#(age ?? i % 90),"score":\#(i * 7 % 1000)}"#
}

import Foundation
import LLMDB
import LLMDBDocuments
import LLMDBQuery
import Testing

/// Runs `body` on a thread with a `stackSize`-byte stack and waits for it: the server runs
/// queries on threads of a fixed stack size, and a query must fit in it or be refused.
func onThread(stackSize: Int, _ body: @escaping @Sendable () -> String?) -> String? {
    final class Box: @unchecked Sendable {
        // @unchecked Sendable: written by the thread before the semaphore is signalled.
        var value: String?
    }
    let box = Box()
    let done = DispatchSemaphore(value: 0)
    let t = Thread {
        box.value = body()
        done.signal()
    }
    t.stackSize = stackSize
    t.start()
    done.wait()
    return box.value
}

/// The message of the error `LQL.run` gives, or nil if it succeeds.
func queryError(
    _ db: Database,
    _ text: String,
    _ params: [String: JSONValue] = [:],
    limits: QueryLimits = QueryLimits()
)
    -> String?
{
    do {
        _ = try LQL.run(text, on: db, parameters: params, limits: limits)
        return nil
    } catch let e as LLMDBError {
        #expect(e.code == .invalidQuery, "\(e)")
        return e.message
    } catch {
        Issue.record("not an LLMDBError: \(error)")
        return "\(error)"
    }
}

@Suite("LQL: arithmetic never traps")
struct ArithmeticTests {
    @Test(
        "the extreme integer cases give SQL's answer",
        arguments: [
            ("(-9223372036854775807-1) / -1", JSONValue.double(9_223_372_036_854_775_808)),
            ("(-9223372036854775807-1) % -1", .int(0)),
            ("-(-9223372036854775807-1)", .double(9_223_372_036_854_775_808)),
            ("ABS(-9223372036854775807-1)", .double(9_223_372_036_854_775_808)),
            ("9223372036854775807 + 1", .double(9_223_372_036_854_775_808)),
            ("(-9223372036854775807-1) - 1", .double(Double(Int64.min) - 1)),
            ("9223372036854775807 * 2", .double(Double(Int64.max) * 2)),
            ("(-9223372036854775807-1) * -1", .double(9_223_372_036_854_775_808)),
            ("7 / 2", .double(3.5)),
            ("-7 / 2", .double(-3.5)),
            ("6 / -3", .int(-2)),
            ("-7 % 3", .int(-1)),
            ("7 % -3", .int(1)),
            ("ROUND(1e300)", .double(1e300)),
            ("ROUND(-9.3e18)", .double(-9.3e18)),
            ("ROUND(2.5)", .int(3)),
        ] as [(String, JSONValue)]
    )
    func extremes(expr: String, expected: JSONValue) throws {
        let q = try QDB()
        try q.db.write { try $0.put(Key("k"), .json("1")) }
        let r = try LQL.run("SELECT \(expr) AS x FROM kv", on: q.db).rows
        #expect(r == [.object([JSONMember("x", expected)])])
    }

    @Test("parameters at the extremes: :a / :b, :a % :b, -:a")
    func parameters() throws {
        let q = try QDB()
        try q.db.write { try $0.put(Key("k"), .json("1")) }
        let p: [String: JSONValue] = ["a": .int(.min), "b": .int(-1)]
        #expect(try q.q("SELECT :a / :b AS x FROM kv", p) == [["x": .double(9_223_372_036_854_775_808)]])
        #expect(try q.q("SELECT :a % :b AS x FROM kv", p) == [["x": 0]])
        #expect(try q.q("SELECT -:a AS x FROM kv", p) == [["x": .double(9_223_372_036_854_775_808)]])
        #expect(try q.q("SELECT :a * :a AS x FROM kv", p) == [["x": .double(Double(Int64.min) * Double(Int64.min))]])
        let u: [String: JSONValue] = ["u": .uint(.max), "m": .int(.min)]
        #expect(try q.q("SELECT :u + :m AS x FROM kv", u) == [["x": .double(Double(UInt64.max) + Double(Int64.min))]])
    }

    @Test("a result past the range of doubles, and division by zero, are clear errors")
    func overflowErrors() throws {
        let q = try QDB()
        try q.db.write { try $0.put(Key("k"), .json(#"{"big":1e308,"zero":0}"#)) }
        for expr in ["1e308 * 10", "-1e308 - 1e308", "value.big * value.big", "1e308 / 1e-308", "1e308 + 1e308"] {
            let m = queryError(q.db, "SELECT \(expr) AS x FROM kv")
            #expect(m?.contains("numeric overflow") == true, "\(expr): \(m ?? "no error")")
        }
        for expr in ["1 / 0", "1 % 0", "1.5 / 0", "(-9223372036854775807-1) / value.zero", "1 % 0.0"] {
            let m = queryError(q.db, "SELECT \(expr) AS x FROM kv")
            #expect(m?.contains("division by zero") == true, "\(expr): \(m ?? "no error")")
        }
    }

    @Test("SUM and AVG over extreme integers and doubles")
    func aggregates() throws {
        let q = try QDB()
        try q.db.write { tx in
            try tx.put(Key("n/1"), .json(#"{"i":9223372036854775807,"d":1e308}"#))
            try tx.put(Key("n/2"), .json(#"{"i":9223372036854775807,"d":1e308}"#))
            try tx.put(Key("n/3"), .json(#"{"i":-9223372036854775808,"d":-1}"#))
        }
        // The running sum passes Int64.max on the way, but the sum is exact (and fits).
        let exact = Int64.max - 1
        #expect(try q.q("SELECT SUM(value.i) AS s FROM kv('n/')") == [["s": .int(exact)]])
        #expect(try q.q("SELECT AVG(value.i) AS s FROM kv('n/')") == [["s": .double(Double(exact) / 3)]])
        #expect(try q.q("SELECT SUM(value.i) AS s FROM kv('n/') WHERE value.d < 0") == [["s": .int(.min)]])
        // A sum past 64 bits is the nearest double.
        #expect(
            try q.q("SELECT SUM(value.i) AS s FROM kv('n/') WHERE value.d > 0")
                == [["s": .double(Double(Int64.max) * 2)]]
        )
        let m = queryError(q.db, "SELECT SUM(value.d) AS s FROM kv('n/')")
        #expect(m?.contains("numeric overflow") == true, "\(m ?? "no error")")
    }

    @Test("property: SUM of integers is exact whatever the order of the rows")
    func sumOrder() throws {
        let q = try QDB()
        var g = SeededRNG(seed: 11)
        let extremes: [Int64] = [.max, .min, .max - 1, .min + 1, 1, -1, -2, 2, 0, 1 << 62, -(1 << 62)]
        for round in 0..<30 {
            let values = (0..<Int(g.next() % 8 + 1)).map { _ in extremes[Int(g.next() % UInt64(extremes.count))] }
            try q.db.write { tx in
                for (i, v) in values.enumerated() { try tx.put(Key("r\(round)/\(i)"), .json("\(v)")) }
            }
            let exact = values.reduce(Int128(0)) { $0 + Int128($1) }
            let expected: JSONValue = Int64(exactly: exact).map { .int($0) } ?? .double(Double(exact))
            #expect(try q.q("SELECT SUM(value) AS s FROM kv('r\(round)/')") == [["s": expected]], "\(values)")
        }
    }

    @Test("a huge LIMIT or OFFSET with ORDER BY is no overflow")
    func hugeLimits() throws {
        let q = try QDB()
        try q.db.write { tx in for i in 0..<3 { try tx.put(Key("k\(i)"), .json("\(i)")) } }
        for (limit, offset) in [
            (Int64.max, 0), (4_611_686_018_427_387_904, 0), (1, Int64.max - 1), (Int64.max, Int64.max),
        ] {
            let r = try LQL.run(
                "SELECT key FROM kv ORDER BY key DESC LIMIT :l OFFSET :o",
                on: q.db,
                parameters: ["l": .int(limit), "o": .int(offset)]
            )
            #expect(r.rows.count == (offset == 0 ? 3 : 0), "\(limit) \(offset)")
        }
    }

    /// The reference: exact integer arithmetic in 128 bits, and IEEE doubles.
    enum Ref: Equatable {
        case int(Int64)
        case double(Double)
        case error
    }

    static func reference(_ op: String, _ x: Ref, _ y: Ref) -> Ref {
        if case .int(let a) = x, case .int(let b) = y {
            let (a2, b2) = (Int128(a), Int128(b))
            var exact: Int128? = nil
            switch op {
            case "+": exact = a2 + b2
            case "-": exact = a2 - b2
            case "*": exact = a2 * b2
            case "/":
                if b == 0 { return .error }
                if a2 % b2 == 0 { exact = a2 / b2 }
            default:  // %
                if b == 0 { return .error }
                return .int(Int64(a2 % b2))
            }
            if let exact, let n = Int64(exactly: exact) { return .int(n) }
        }
        func d(_ r: Ref) -> Double {
            switch r {
            case .int(let n): Double(n)
            case .double(let v): v
            case .error: .nan
            }
        }
        let (a, b) = (d(x), d(y))
        let r: Double
        switch op {
        case "+": r = a + b
        case "-": r = a - b
        case "*": r = a * b
        case "/":
            if b == 0 { return .error }
            r = a / b
        default:
            if b == 0 { return .error }
            r = a.truncatingRemainder(dividingBy: b)
        }
        return r.isFinite ? .double(r) : .error
    }

    static let leaves: [(String, Ref)] = [
        ("(-9223372036854775807-1)", .int(.min)), ("9223372036854775807", .int(.max)), ("-1", .int(-1)),
        ("0", .int(0)), ("1", .int(1)), ("2", .int(2)), ("3037000500", .int(3_037_000_500)),
        ("1e308", .double(1e308)), ("-1e308", .double(-1e308)), ("0.5", .double(0.5)),
        ("5e-324", .double(.leastNonzeroMagnitude)),
        ("(-0.0)", .double(-0.0)), ("4611686018427387904", .int(4_611_686_018_427_387_904)),
    ]

    /// A random expression of the given depth, its text and the reference's answer.
    static func expression(_ depth: Int, _ g: inout SeededRNG) -> (String, Ref) {
        if depth == 0 || g.next() % 4 == 0 { return leaves[Int(g.next() % UInt64(leaves.count))] }
        switch g.next() % 6 {
        case 0:
            let (t, v) = expression(depth - 1, &g)
            switch v {
            case .int(let n) where n != .min: return ("-(\(t))", .int(-n))
            case .int(let n): return ("-(\(t))", .double(-Double(n)))
            case .double(let d): return ("-(\(t))", .double(-d))
            case .error: return ("-(\(t))", .error)
            }
        case 1:
            let (t, v) = expression(depth - 1, &g)
            switch v {
            case .int(let n) where n != .min: return ("ABS(\(t))", .int(abs(n)))
            case .int(let n): return ("ABS(\(t))", .double(abs(Double(n))))
            case .double(let d): return ("ABS(\(t))", .double(abs(d)))
            case .error: return ("ABS(\(t))", .error)
            }
        default:
            let op = ["+", "-", "*", "/", "%"][Int(g.next() % 5)]
            let (ta, a) = expression(depth - 1, &g)
            let (tb, b) = expression(depth - 1, &g)
            if a == .error || b == .error { return ("(\(ta) \(op) \(tb))", .error) }
            return ("(\(ta) \(op) \(tb))", reference(op, a, b))
        }
    }

    @Test("property: random expressions over extreme values agree with 128-bit and IEEE arithmetic, or fail cleanly")
    func randomExpressions() throws {
        let q = try QDB()
        try q.db.write { try $0.put(Key("k"), .json("1")) }
        var g = SeededRNG(seed: 20_261_203)
        for _ in 0..<1500 {
            let (text, expected) = Self.expression(4, &g)
            // Literals and parameters both: the same values through the parameter path.
            for query in ["SELECT \(text) AS x FROM kv"] {
                do {
                    let rows = try LQL.run(query, on: q.db).rows
                    let got = rows.first?["x"]
                    switch (expected, got) {
                    case (.int(let n), .int(let m)?): #expect(n == m, "\(text)")
                    case (.double(let d), .double(let e)?):
                        #expect(d == e || (d.isNaN && e.isNaN), "\(text): \(d) vs \(e)")
                    default: Issue.record("\(text): expected \(expected), got \(String(describing: got))")
                    }
                } catch let e as LLMDBError {
                    #expect(expected == .error, "\(text): \(e.message)")
                    #expect(e.code == .invalidQuery)
                }
            }
        }
    }
}

@Suite("LQL: deep input is refused, never a stack overflow")
struct DepthTests {
    static let limit = Parser.maxDepth

    /// Each recursive form of the grammar, `n` deep.
    static func forms(_ n: Int) -> [(String, String)] {
        [
            (
                "a left-deep + chain",
                "SELECT " + Array(repeating: "1", count: n).joined(separator: "+") + " AS x FROM kv"
            ),
            ("a * chain", "SELECT " + Array(repeating: "2", count: n).joined(separator: " * ") + " AS x FROM kv"),
            ("an || chain", "SELECT " + Array(repeating: "'a'", count: n).joined(separator: " || ") + " AS x FROM kv"),
            (
                "an OR chain",
                "SELECT key FROM kv WHERE " + Array(repeating: "key = 'a'", count: n).joined(separator: " OR ")
            ),
            (
                "an AND chain",
                "SELECT key FROM kv WHERE " + Array(repeating: "TRUE", count: n).joined(separator: " AND ")
            ),
            (
                "parentheses",
                "SELECT " + String(repeating: "(", count: n) + "1" + String(repeating: ")", count: n) + " AS x FROM kv"
            ),
            ("NOT prefixes", "SELECT key FROM kv WHERE " + String(repeating: "NOT ", count: n) + "TRUE"),
            ("unary minus prefixes", "SELECT " + String(repeating: "- ", count: n) + "1 AS x FROM kv"),
            (
                "nested calls",
                "SELECT " + String(repeating: "ABS(", count: n) + "1" + String(repeating: ")", count: n)
                    + " AS x FROM kv"
            ),
            (
                "nested IN lists",
                "SELECT key FROM kv WHERE " + String(repeating: "1 IN (", count: n) + "1"
                    + String(repeating: ")", count: n)
            ),
            (
                "BETWEEN chains",
                "SELECT key FROM kv WHERE " + Array(repeating: "1 BETWEEN 0 AND 2", count: n).joined(separator: " AND ")
            ),
            ("repeated EXPLAIN", String(repeating: "EXPLAIN ", count: n) + "SELECT key FROM kv"),
            (
                "repeated SETTING DEFAULT",
                String(repeating: "SETTING DEFAULT VALID_TIME ALL ", count: n) + "SELECT key FROM kv"
            ),
            (
                "a deep ORDER BY expression",
                "SELECT key FROM kv ORDER BY " + Array(repeating: "1", count: n).joined(separator: "-")
            ),
            (
                "a deep GROUP BY expression",
                "SELECT COUNT(*) AS n FROM kv GROUP BY " + Array(repeating: "1", count: n).joined(separator: "+")
            ),
            ("a deep HISTORY OF key", "HISTORY OF " + Array(repeating: "'a'", count: n).joined(separator: " || ")),
        ]
    }

    /// The server runs operations on 8 MiB stacks; the deepest input the limits allow fits in
    /// a quarter of that even in a debug build.
    static let stack = 2 << 20

    @Test("every recursive form at 10× and 250× the limit is refused with a clear error, on a 2 MiB stack")
    func refused() throws {
        let q = try QDB()
        try q.db.write { try $0.put(Key("a"), .json("1")) }
        let db = q.db
        for n in [10 * Self.limit, 50_000] {
            for (name, text) in Self.forms(n) {
                let m = onThread(stackSize: Self.stack) { queryError(db, text) }
                #expect(m?.contains("nested too deeply") == true, "\(name) × \(n): \(m ?? "no error")")
            }
        }
    }

    @Test("every recursive form just under the limit runs, on a 2 MiB stack in a debug build")
    func underTheLimit() throws {
        let q = try QDB()
        try q.db.write { try $0.put(Key("a"), .json("1")) }
        let db = q.db
        // 10 levels of room for the statement, the select list and BETWEEN's own nodes.
        for (name, text) in Self.forms(Self.limit - 10) {
            let m = onThread(stackSize: Self.stack) { queryError(db, text) }
            #expect(m == nil, "\(name): \(m ?? "")")
        }
        // The deepest a chain may be: exactly the limit passes, one more is refused.
        for (n, ok) in [(Self.limit - 1, true), (Self.limit + 1, false)] {
            let text = "SELECT " + Array(repeating: "1", count: n).joined(separator: "+") + " AS x FROM kv"
            let m = onThread(stackSize: Self.stack) { queryError(db, text) }
            #expect((m == nil) == ok, "\(n) terms: \(m ?? "ran")")
        }
    }

    @Test("JSON records past depth 512, and filters past depth 64, are refused; at the limits they work")
    func jsonNesting() throws {
        let q = try QDB()
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        let m = queryError(q.db, "INSERT INTO c RECORDS '\(deep)'")
        #expect(m?.contains("nesting depth") == true, "\(m ?? "no error")")
        @Sendable func nots(_ n: Int) -> String {
            String(repeating: #"{"$not":"#, count: n) + #"{"a":1}"# + String(repeating: "}", count: n)
        }
        let result = onThread(stackSize: Self.stack) {
            do {
                let f = try Filter.parse(nots(Filter.maxDepth - 1))
                guard f.matches(["a": 2]) != f.matches(["a": 1]) else { return "wrong answer" }
                _ = try Filter.parse(nots(Filter.maxDepth))
                return "no error at depth \(Filter.maxDepth + 1)"
            } catch {
                return "\(error)"
            }
        }
        #expect(result?.contains("nested too deeply") == true, "\(result ?? "")")
        let obj = String(repeating: #"{"a":"#, count: 511) + "1" + String(repeating: "}", count: 511)
        let parsed = onThread(stackSize: Self.stack) {
            guard let v = try? JSONValue(parsing: obj), (try? JSONValue(parsing: v.text)) == v else { return "failed" }
            return nil
        }
        #expect(parsed == nil)
    }
}

@Suite("LQL: joins, grouping and sorting stay within the time and memory limits")
struct QueryBudgetTests {
    static func big(_ n: Int, pad: Int = 200) throws -> QDB {
        let q = try QDB()
        let filler = String(repeating: "x", count: pad)
        var ins: [String] = []
        for i in 0..<n { ins.append("('d\(i)', \(i), \(i % 7), '\(filler)')") }
        for chunk in stride(from: 0, to: ins.count, by: 500) {
            try q.q(
                "INSERT INTO big (_id, n, g, pad) VALUES "
                    + ins[chunk..<min(chunk + 500, ins.count)].joined(separator: ", ")
            )
        }
        return q
    }

    @Test("a cross join past the time limit stops at the limit, not after the whole product")
    func joinDeadline() throws {
        let q = try Self.big(3000, pad: 10)
        var limits = QueryLimits()
        limits.timeoutMicroseconds = 300_000
        let start = monotonicNow()
        let m = queryError(q.db, "SELECT COUNT(*) AS n FROM big a JOIN big b ON 1=1", limits: limits)
        let elapsed = monotonicNow() - start
        #expect(m?.contains("ran longer than 300 ms") == true, "\(m ?? "no error")")
        // 9 million pairs take many seconds in a debug build; the limit stops it at once.
        #expect(elapsed < 3.0, "took \(elapsed) s")
    }

    @Test("a join's right side past the memory budget is refused; the database is untouched")
    func joinMemory() throws {
        let q = try Self.big(2000, pad: 1000)
        var limits = QueryLimits()
        limits.maxMemoryBytes = 1 << 20
        let m = queryError(q.db, "SELECT a._id FROM big a JOIN big b ON a.n = b.n LIMIT 1", limits: limits)
        #expect(m?.contains("more than 1 MiB of memory") == true, "\(m ?? "no error")")
        limits.maxMemoryBytes = 64 << 20
        #expect(
            try LQL.run("SELECT a._id FROM big a JOIN big b ON a.n = b.n LIMIT 1", on: q.db, limits: limits).rows.count
                == 1
        )
    }

    @Test("aggregates keep one state per group, not the rows: COUNT over a 90,000-pair join in 1 MiB")
    func streamingAggregates() throws {
        let q = try Self.big(300, pad: 10)
        var limits = QueryLimits()
        limits.maxMemoryBytes = 1 << 20
        let r = try LQL.run(
            "SELECT COUNT(*) AS n, SUM(a.n) AS s, MIN(b.n) AS lo, MAX(b.n) AS hi FROM big a JOIN big b ON 1=1",
            on: q.db,
            limits: limits
        )
        #expect(r.rows == [["n": 90_000, "s": .int(Int64(300 * (299 * 300 / 2))), "lo": 0, "hi": 299]])
        // Groups, each with its own state; HAVING and ORDER BY on aggregates not selected.
        let g = try LQL.run(
            "SELECT g, COUNT(*) AS n FROM big GROUP BY g HAVING SUM(n) > 6300 ORDER BY MAX(n) DESC, g",
            on: q.db,
            limits: limits
        )
        var expected: [(Int64, Int64, Int64)] = []  // (g, count, max)
        for k in 0..<7 {
            let members = (0..<300).filter { $0 % 7 == k }
            if members.reduce(0, +) > 6300 { expected.append((Int64(k), Int64(members.count), Int64(members.max()!))) }
        }
        expected.sort { $0.2 != $1.2 ? $0.2 > $1.2 : $0.0 < $1.0 }
        #expect(g.rows == expected.map { ["g": .int($0.0), "n": .int($0.1)] })
    }

    @Test("property: ORDER BY with LIMIT and OFFSET keeps only what it returns, and agrees with a full sort")
    func topK() throws {
        let q = try Self.big(3000, pad: 300)
        var limits = QueryLimits()
        // Too small for 3,000 padded rows, enough for the ones kept.
        limits.maxMemoryBytes = 1 << 20
        let all = (0..<3000).map { (id: "d\($0)", n: $0, g: $0 % 7) }
        var g = SeededRNG(seed: 7)
        for _ in 0..<20 {
            let limit = Int(g.next() % 50) + 1
            let offset = Int(g.next() % 50)
            let r = try LQL.run(
                "SELECT _id, pad FROM big ORDER BY g DESC, n LIMIT \(limit) OFFSET \(offset)",
                on: q.db,
                limits: limits
            )
            let expected = all.sorted { $0.g != $1.g ? $0.g > $1.g : $0.n < $1.n }.dropFirst(offset).prefix(limit)
            #expect(r.rows.map { $0["_id"] } == expected.map { .string($0.id) })
        }
        let m = queryError(q.db, "SELECT _id, pad FROM big ORDER BY n", limits: limits)
        #expect(m?.contains("MiB of memory") == true, "\(m ?? "no error")")
    }
}

extension QueryBudgetTests {
    @Test("an UPDATE that would hold more documents than the budget is refused and writes nothing")
    func writeBudget() throws {
        let q = try Self.big(2000, pad: 1000)
        var limits = QueryLimits()
        limits.maxMemoryBytes = 1 << 20
        let before = try q.db.read { $0.txID }
        let m = queryError(q.db, "UPDATE big SET tag = 'x' WHERE n >= 0", limits: limits)
        #expect(m?.contains("MiB of memory") == true, "\(m ?? "no error")")
        #expect(try q.db.read { $0.txID } == before)
        // The documents a WHERE rejects are not held: a narrow UPDATE fits.
        let r = try LQL.run("UPDATE big SET tag = 'x' WHERE n < 10", on: q.db, limits: limits)
        #expect(r.rows == [r.rows[0]] && r.rows[0]["affected"] == 10)
    }

    @Test("an index that gives more candidates than the cap is not used: the query scans, with the same rows")
    func indexCandidateCap() throws {
        let q = try Self.big(300, pad: 10)
        try q.db.collection("big").createIndex(on: "g")
        var limits = QueryLimits()
        let query = "SELECT _id FROM big WHERE g = 3 ORDER BY n"
        let expected = (0..<300).filter { $0 % 7 == 3 }.map { JSONValue.object([JSONMember("_id", .string("d\($0)"))]) }
        let viaIndex = try LQL.run(query, on: q.db, limits: limits)
        #expect(viaIndex.rows == expected)
        #expect(viaIndex.scanned == expected.count)  // read only the candidates
        limits.maxIndexCandidates = 10
        let scanned = try LQL.run(query, on: q.db, limits: limits)
        #expect(scanned.rows == expected)
        #expect(scanned.scanned == 300)  // the whole collection, streamed
    }
}

@Suite("LQL: HISTORY OF … IN PARTITION")
struct HistoryPartitionTests {
    @Test("HISTORY OF 'x' IN PARTITION 1 parses as documented and reads that partition")
    func inPartition() throws {
        let q = try QDB()
        try q.db.write { tx in
            try tx.put(Key("x", partition: 1), .json("\"one\""))
            try tx.put(Key("x", partition: 0), .json("\"zero\""))
        }
        #expect(try q.q("HISTORY OF 'x' IN PARTITION 1").map { $0["value"] } == ["one"])
        #expect(try q.q("HISTORY OF 'x'").map { $0["value"] } == ["zero"])
        #expect(try q.q("HISTORY OF :k IN PARTITION :p AS OF TRANSACTION 1", ["k": "x", "p": 1]).count == 1)
        #expect(try q.q("EXPLAIN HISTORY OF 'x' IN PARTITION 1").count == 2)
        let m = queryError(q.db, "HISTORY OF 'x' IN PARTITION 'one'")
        #expect(m?.contains("IN PARTITION takes a partition number") == true, "\(m ?? "")")
    }
}

func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

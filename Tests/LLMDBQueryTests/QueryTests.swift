import Foundation
import LLMDB
import LLMDBDocuments
import LLMDBQuery
import Testing

final class QDB: @unchecked Sendable {
    // @unchecked Sendable: set once in init.
    let dir: String
    let clock = ManualClock(start: Instant(microseconds: 1_700_000_000_000_000))
    let db: Database
    init() throws {
        dir = NSTemporaryDirectory() + "llmdb-q-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var o = Database.Options()
        o.sync = .none
        o.clock = clock
        db = try Database.open(path: dir + "/test.llmdb", options: o)
    }
    deinit {
        db.close()
        try? FileManager.default.removeItem(atPath: dir)
    }

    @discardableResult
    func q(_ text: String, _ params: [String: JSONValue] = [:]) throws -> [JSONValue] {
        try LQL.run(text, on: db, parameters: params).rows
    }
}

func j(_ s: String) throws -> JSONValue { try JSONValue(parsing: s) }

@Suite("LQL: syntax")
struct SyntaxTests {
    @Test(
        "syntax errors carry line, column and what was expected",
        arguments: [
            (
                "SELEC name FROM users",
                "line 1, column 1: expected SELECT, INSERT, UPDATE, DELETE, ERASE, BEGIN, HISTORY OF or EXPLAIN"
            ),
            ("SELECT name users", "line 1, column 18: expected FROM, found the end of the query"),
            ("SELECT name FROM", "line 1, column 17: expected a collection name, or kv"),
            ("SELECT name FROM users WHERE", "line 1, column 29: expected a value, a column"),
            ("SELECT name FROM users\nWHERE age >", "line 2, column 12: expected a value"),
            ("SELECT name FROM users WHERE city = 'Paris", "line 1, column 37: unterminated string"),
            ("SELECT (age FROM users", "line 1, column 13: expected ')'"),
            ("SELECT name FROM users LIMIT 5 garbage", "line 1, column 32: expected the end of the statement"),
            (
                "SELECT name FROM users FOR VALID_TIME SOON",
                "line 1, column 39: expected AS OF, FROM … TO, BETWEEN … AND or ALL"
            ),
            ("SELECT name FROM users WHERE a NOT 3", "line 1, column 36: expected IN, LIKE or BETWEEN after NOT"),
            ("SELECT $ FROM users", "line 1, column 8: expected a parameter number after $"),
            ("SELECT name FROM users WHERE a = 99999999999999999999", "line 1, column 34: the integer"),
            ("SELECT # FROM users", "line 1, column 8: unexpected character '#'"),
        ] as [(String, String)]
    )
    func errors(text: String, expected: String) throws {
        do {
            _ = try Parser.parse(text)
            Issue.record("parsed: \(text)")
        } catch {
            #expect(error.description.hasPrefix(expected), "\(error.description)")
        }
    }

    @Test("a seeded fuzzer never crashes the parser: random bytes, random tokens, mutated queries")
    func fuzz() {
        var rng = SeededRNG(seed: 20_261_125)
        let words = [
            "SELECT", "FROM", "WHERE", "GROUP", "BY", "ORDER", "LIMIT", "OFFSET", "AND", "OR", "NOT", "IN", "LIKE",
            "IS", "NULL",
            "FOR", "VALID_TIME", "SYSTEM_TIME", "AS", "OF", "TRANSACTION", "BETWEEN", "ALL", "TO", "HISTORY", "EXPLAIN",
            "kv",
            "users", "name", "a.b", "(", ")", ",", "*", "=", "<", ">=", "!=", "+", "-", "/", "'x'", "'", "\"", "$1",
            ":p", "1", "2.5",
            "COUNT", "SUM", ";", ".", "--c\n",
        ]
        let seeds = [
            "SELECT name, COUNT(*) FROM users FOR VALID_TIME AS OF '2026-01-01' WHERE age > 3 AND city IN ('a','b') GROUP BY name ORDER BY name DESC LIMIT 3",
            "HISTORY OF 'users/ada' AS OF TRANSACTION 3",
            "EXPLAIN SELECT * FROM kv('a') FOR SYSTEM_TIME BETWEEN 1 AND 2",
        ]
        for round in 0..<4000 {
            var text = ""
            switch round % 3 {
            case 0:
                let n = Int(rng.next() % 40)
                text = String(decoding: (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, as: UTF8.self)
            case 1:
                text = (0..<Int(rng.next() % 25)).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(
                    separator: " "
                )
            default:
                var chars = Array(seeds[Int(rng.next() % UInt64(seeds.count))])
                for _ in 0..<Int(rng.next() % 4 + 1) where !chars.isEmpty {
                    let at = Int(rng.next() % UInt64(chars.count))
                    if rng.next() % 2 == 0 {
                        chars.remove(at: at)
                    } else {
                        chars.insert(Character(UnicodeScalar(UInt8(32 + rng.next() % 90))), at: at)
                    }
                }
                text = String(chars)
            }
            _ = try? Parser.parse(text)
        }
        // Deep nesting is refused, not a stack overflow.
        let deep =
            "SELECT " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000) + " FROM users"
        #expect(throws: QueryError.self) { _ = try Parser.parse(deep) }
        let nots = "SELECT a FROM u WHERE " + String(repeating: "NOT ", count: 5000) + "a"
        #expect(throws: QueryError.self) { _ = try Parser.parse(nots) }
    }
}

struct SeededRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("LQL: queries")
struct QueryTests {
    static func seed(_ t: QDB) throws {
        let users = try t.db.collection("users")
        let rows = [
            ("ada", #"{"name":"Ada","city":"Paris","age":36,"tags":["x"],"address":{"zip":"75001"}}"#),
            ("bob", #"{"name":"Bob","city":"Rome","age":25}"#),
            ("cy", #"{"name":"Cy","city":"Paris","age":41}"#),
            ("dee", #"{"name":"Dee","city":"Oslo","age":null}"#),
        ]
        for (id, body) in rows {
            t.clock.advance(by: 1_000_000)
            try users.insert(try j(body), id: id)
        }
    }

    func names(_ rows: [JSONValue]) -> [String] {
        rows.compactMap { if case .string(let s)? = $0["name"] { s } else { nil } }
    }

    @Test("projections, WHERE, ORDER BY, LIMIT/OFFSET, expressions and functions")
    func basics() throws {
        let t = try QDB()
        try Self.seed(t)
        #expect(names(try t.q("SELECT name FROM users WHERE city = 'Paris'")) == ["Ada", "Cy"])
        #expect(
            names(try t.q("SELECT name FROM users WHERE age >= 30 AND NOT city = 'Rome' ORDER BY age DESC")) == [
                "Cy", "Ada",
            ]
        )
        #expect(names(try t.q("SELECT name FROM users WHERE city IN ('Rome', 'Oslo')")) == ["Bob", "Dee"])
        #expect(names(try t.q("SELECT name FROM users WHERE name LIKE '_d%' OR name LIKE 'C_'")) == ["Ada", "Cy"])
        #expect(names(try t.q("SELECT name FROM users WHERE age IS NULL")) == ["Dee"])
        #expect(
            names(try t.q("SELECT name FROM users WHERE age IS NOT NULL ORDER BY name LIMIT 2 OFFSET 1")) == [
                "Bob", "Cy",
            ]
        )
        #expect(names(try t.q("SELECT name FROM users WHERE address.zip = '75001'")) == ["Ada"])
        #expect(names(try t.q("SELECT name FROM users WHERE age BETWEEN 30 AND 40")) == ["Ada"])
        let r = try t.q(
            "SELECT UPPER(name) AS n, age + 1 AS next, age * 2 - 1, LENGTH(name) FROM users WHERE _id = 'ada'"
        )
        #expect(r == [try j(#"{"n":"ADA","next":37,"age * 2 - 1":71,"LENGTH(name)":3}"#)])
        #expect(try t.q("SELECT COALESCE(age, 0) AS a FROM users WHERE _id = 'dee'") == [try j(#"{"a":0}"#)])
        #expect(try t.q("SELECT name FROM users u WHERE u.city = 'Rome'") == [try j(#"{"name":"Bob"}"#)])
        #expect(
            try t.q("SELECT name FROM users WHERE city = $1 AND age < :max", ["1": "Paris", "max": 40]) == [
                try j(#"{"name":"Ada"}"#)
            ]
        )
    }

    @Test("GROUP BY with COUNT, SUM, AVG, MIN, MAX and HAVING")
    func aggregates() throws {
        let t = try QDB()
        try Self.seed(t)
        let r = try t.q(
            "SELECT city, COUNT(*) AS n, SUM(age) s, AVG(age) a, MIN(age) lo, MAX(name) hi FROM users GROUP BY city HAVING COUNT(*) >= 1 ORDER BY n DESC, city"
        )
        #expect(r.first == (try j(#"{"city":"Paris","n":2,"s":77,"a":38.5,"lo":36,"hi":"Cy"}"#)))
        #expect(r.count == 3)
        #expect(try t.q("SELECT COUNT(*) AS n, COUNT(age) AS with_age FROM users") == [try j(#"{"n":4,"with_age":3}"#)])
        #expect(try t.q("SELECT city FROM users GROUP BY city HAVING COUNT(*) > 1") == [try j(#"{"city":"Paris"}"#)])
        #expect(try t.q("SELECT COUNT(*) AS n FROM users WHERE age > 100") == [try j(#"{"n":0}"#)])
    }

    @Test("temporal clauses: valid time, system time, transaction, windows, system columns, HISTORY OF")
    func temporal() throws {
        let t = try QDB()
        try Self.seed(t)
        let users = try t.db.collection("users")
        let before = try t.db.read { $0.txID }
        let beforeTime = t.clock.now()
        t.clock.advance(by: 1_000_000)
        try users.patch("ada", with: try j(#"{"city":"Lyon"}"#))
        let future = t.clock.now().advanced(by: 10_000_000)
        try users.replace("bob", with: try j(#"{"name":"Bob","city":"Paris","age":26}"#), validFrom: future)
        #expect(names(try t.q("SELECT name FROM users WHERE city = 'Paris'")) == ["Cy"])
        #expect(
            names(try t.q("SELECT name FROM users AS OF TRANSACTION \(before) WHERE city = 'Paris'")) == ["Ada", "Cy"]
        )
        #expect(
            names(try t.q("SELECT name FROM users FOR SYSTEM_TIME AS OF '\(beforeTime.iso8601)' WHERE city = 'Paris'"))
                == ["Ada", "Cy"]
        )
        #expect(
            names(try t.q("SELECT name FROM users FOR VALID_TIME AS OF \(future.microseconds) WHERE city = 'Paris'"))
                == ["Bob", "Cy"]
        )
        // Every version of ada over all valid time, with its period.
        let versions = try t.q(
            "SELECT city, _valid_from, _valid_to, _tx_id FROM users FOR VALID_TIME ALL WHERE _id = 'ada' ORDER BY _valid_from"
        )
        #expect(versions.map { $0["city"] } == [.string("Paris"), .string("Lyon")])
        #expect(versions[0]["_valid_to"] == versions[1]["_valid_from"])
        #expect(versions[1]["_valid_to"] == .null)
        // FROM … TO is half-open: a window ending where Lyon starts does not see Lyon.
        let lyonStart = versions[1]["_valid_from"]!
        if case .string(let s) = lyonStart {
            #expect(
                try t.q("SELECT city FROM users FOR VALID_TIME FROM 0 TO '\(s)' WHERE _id = 'ada'").map { $0["city"] }
                    == [.string("Paris")]
            )
            #expect(try t.q("SELECT city FROM users FOR VALID_TIME BETWEEN 0 AND '\(s)' WHERE _id = 'ada'").count == 2)
        }
        // System time ALL sees a correction and the entry it corrected.
        let vf = try #require(try users.get("cy")).validFrom
        try t.db.write { b in
            try b.put(Key("users/cy"), try Value.json(#"{"name":"Cy","city":"Paris","age":42}"#), validFrom: vf)
        }
        let cy = try t.q("SELECT age, _tx_id FROM users FOR SYSTEM_TIME ALL WHERE _id = 'cy' ORDER BY _tx_id")
        #expect(cy.map { $0["age"] } == [.int(41), .int(42)])
        #expect(try t.q("SELECT age FROM users WHERE _id = 'cy'") == [try j(#"{"age":42}"#)])
        // Query-wide defaults apply where a table has no clause of its own.
        #expect(
            names(
                try t.q(
                    "SETTING DEFAULT SYSTEM_TIME AS OF TRANSACTION \(before) SELECT name FROM users WHERE city = 'Paris'"
                )
            ) == ["Ada", "Cy"]
        )
        #expect(
            names(
                try t.q(
                    "SETTING DEFAULT VALID_TIME AS OF \(future.microseconds), DEFAULT SYSTEM_TIME AS OF TRANSACTION 1 SELECT name FROM users AS OF TRANSACTION \(before + 2) WHERE city = 'Paris'"
                )
            ) == ["Bob", "Cy"]
        )
        // kv and HISTORY OF.
        #expect(try t.q("SELECT key FROM kv('users/') WHERE value.city = 'Paris'").count == 1)
        let h = try t.q("HISTORY OF 'users/ada'")
        #expect(h.count == 2 && h.last?["value"]?["city"] == .string("Lyon"))
        #expect(try t.q("HISTORY OF 'users/ada' AS OF TRANSACTION \(before)").count == 1)
    }

    @Test("bad queries: unknown collection, field, function; type errors; missing parameters; runaway queries")
    func errors() throws {
        let t = try QDB()
        try Self.seed(t)
        func fails(
            _ text: String,
            _ needle: String,
            limits: QueryLimits = QueryLimits(),
            _ params: [String: JSONValue] = [:]
        ) {
            do {
                _ = try LQL.run(text, on: t.db, parameters: params, limits: limits)
                Issue.record("ran: \(text)")
            } catch let e as LLMDBError {
                #expect(e.code == .invalidQuery)
                #expect(e.message.contains(needle), "\(e.message)")
            } catch {
                Issue.record("\(error)")
            }
        }
        fails("SELECT name FROM nope", "line 1, column 18: unknown collection 'nope'")
        fails("SELECT SHOUT(name) FROM users", "line 1, column 8: unknown function SHOUT")
        fails("SELECT name FROM users WHERE age > $1", "line 1, column 36: the parameter $1 has no value")
        fails("SELECT name FROM users WHERE name + 1 > 2", "type error: string + number")
        fails("SELECT name FROM users WHERE age", "a condition must be true or false, not a number")
        fails("SELECT name FROM users WHERE COUNT(*) > 1", "aggregates are not allowed in WHERE")
        fails("SELECT SUM(name) FROM users", "SUM takes numbers")
        fails("SELECT name FROM users FOR VALID_TIME AS OF 'yesterday'", "'yesterday' is not a time")
        fails("SELECT name FROM users FOR VALID_TIME FROM 10 TO 5", "ends before it starts")
        fails("SELECT name FROM users LIMIT -1", "LIMIT must be a non-negative integer")
        var small = QueryLimits()
        small.maxScannedRows = 2
        fails("SELECT name FROM users", "read more than 2 rows", limits: small)
        // With a schema, an unknown field is an error.
        try t.db.collection("users").setSchema(
            try j(#"{"type":"object","properties":{"name":{},"city":{},"age":{},"tags":{},"address":{}}}"#)
        )
        fails("SELECT nme FROM users", "line 1, column 8: unknown field 'nme' in 'users'")
    }

    @Test("EXPLAIN shows the key range, the time bounds and the index; the index answers like a scan")
    func explainAndIndex() throws {
        let t = try QDB()
        try Self.seed(t)
        let users = try t.db.collection("users")
        let plain = try LQL.run("EXPLAIN SELECT name FROM users WHERE city = 'Paris' LIMIT 1", on: t.db).plan
        #expect(plain.first?.contains("key range ['users/', 'users0')") == true)
        #expect(plain.contains("limit: 1 (stops the scan early)"))
        let scan = try t.q("SELECT name FROM users WHERE city = 'Paris' AND age > 30")
        try users.createIndex(on: "city")
        let plan = try LQL.run(
            "EXPLAIN SELECT name FROM users FOR VALID_TIME AS OF 1700000005000000 WHERE city = 'Paris' AND age > 30",
            on: t.db
        ).plan
        #expect(plan.first?.contains("via index 'doc.users.city'") == true, "\(plan)")
        #expect(plan.contains { $0.hasPrefix("valid time: AS OF 2023-11-14") })
        #expect(try t.q("SELECT name FROM users WHERE city = 'Paris' AND age > 30") == scan)
        let point = try LQL.run("EXPLAIN SELECT name FROM users WHERE _id = 'ada' AND age > 1", on: t.db).plan
        #expect(point.first?.contains("point read of the key 'users/ada'") == true, "\(point)")
        #expect(try t.q("SELECT name FROM users WHERE _id = 'ada' AND age > 1") == [try j(#"{"name":"Ada"}"#)])
        #expect(try t.q("SELECT name FROM users WHERE _id = 'nobody'") == [])
    }
}

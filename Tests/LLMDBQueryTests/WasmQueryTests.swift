import LLMDB
import LLMDBQuery
import LLMDBWasm
import Testing

@Suite("LQL: EMBEDDED WASM")
struct WasmQueryTests {
    static func module(_ body: String) -> [UInt8] {
        Array(
            """
            (module
              (memory (export "memory") 1)
              (global $top (mut i32) (i32.const 1024))
              (func (export "llmdb_alloc") (param $n i32) (result i32)
                (local $p i32) (local $end i32)
                (local.set $p (i32.and (i32.add (global.get $top) (i32.const 15)) (i32.const -16)))
                (local.set $end (i32.add (local.get $p) (local.get $n)))
                (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
                  (then (drop (memory.grow (i32.div_u (i32.add (local.get $n) (i32.const 65535)) (i32.const 65536))))))
                (global.set $top (local.get $end))
                (local.get $p))
              \(body))
            """.utf8
        )
    }

    /// A map_pages that ignores its input and outputs one page: a record `good` with the
    /// JSON `{"n":1}`, then a record `bad` whose JSON payload is `payload`.
    static func emitting(badJSON payload: String) -> [UInt8] {
        func u32(_ n: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(n).littleEndian, Array.init) }
        func record(_ key: String, _ value: String) -> [UInt8] {
            let k = Array(key.utf8)
            let v = Array(value.utf8)
            let size = (48 + k.count + v.count + 7) & ~7
            var r = u32(size) + u32(0) + u32(k.count) + u32(v.count)
            r += [UInt8](repeating: 0, count: 8) + withUnsafeBytes(of: Int64.max.littleEndian, Array.init)
            r += withUnsafeBytes(of: UInt64(1).littleEndian, Array.init) + [0x01, 0, 0, 0, 0, 0, 0, 0] + k + v
            return r + [UInt8](repeating: 0, count: size - r.count)
        }
        let body = record("good", #"{"n":1}"#) + record("bad", payload)
        let page = u32(16 + body.count) + u32(2) + u32(1) + u32(0) + body
        let data = page.map { "\\" + (($0 < 16 ? "0" : "") + String($0, radix: 16)) }.joined()
        return module(
            """
            (data (i32.const 64) "\(data)")
            (func (export "map_pages") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
              (if (i32.gt_u (i32.const \(page.count)) (local.get $cap)) (then (return (i32.const \(page.count)))))
              (memory.copy (local.get $out) (i32.const 64) (i32.const \(page.count)))
              (i32.const \(page.count)))
            """
        )
    }

    @Test("a map_pages record with malformed JSON fails the query with the module named, never drops the row")
    func malformedOutput() throws {
        let t = try QDB()
        try t.q("INSERT INTO users (_id, name) VALUES ('ada', 'Ada')")
        try t.db.addCode(Self.emitting(badJSON: #"{"n":"#), name: "broken-json")
        #expect { try t.q("SELECT key, value.n AS n FROM EMBEDDED WASM broken-json(users)") } throws: { e in
            let e = e as? LLMDBError
            return e?.code == .codeFailed
                && e?.message.contains("module 'broken-json' function 'map_pages' wrote a malformed output page")
                    == true
                && e?.message.contains("not valid JSON") == true
        }
        // With the second record well-formed, both rows come back.
        try t.db.addCode(Self.emitting(badJSON: #"{"n":2}"#), name: "fine-json")
        let rows = try t.q("SELECT key, value.n AS n FROM EMBEDDED WASM fine-json(users) ORDER BY key")
        #expect(rows == [try j(#"{"key":"bad","n":2}"#), try j(#"{"key":"good","n":1}"#)])
    }

    @Test("a map_pages module as a table function and a reduce_pages module as an aggregate, as of a transaction")
    func tableFunctionAndAggregate() throws {
        let t = try QDB()
        try t.q("INSERT INTO users (_id, name, age) VALUES ('ada', 'Ada', 36), ('bob', 'Bob', 25)")
        let first = try t.db.read { $0.txID }
        try t.q("INSERT INTO users (_id, name, age) VALUES ('cy', 'Cy', 41)")
        try t.db.addCode(
            Self.module(
                """
                (func (export "map_pages") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
                  (if (i32.gt_u (local.get $len) (local.get $cap)) (then (return (local.get $len))))
                  (memory.copy (local.get $out) (local.get $in) (local.get $len))
                  (local.get $len))
                """
            ),
            name: "ident"
        )
        try t.db.addCode(
            Self.module(
                """
                (func (export "reduce_pages") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
                  (if (i32.lt_u (local.get $cap) (i32.const 8)) (then (return (i32.const 8))))
                  (i64.store (local.get $out)
                    (i64.add
                      (if (result i64) (i32.eqz (i32.load offset=12 (local.get $in))) (then (i64.const 0)) (else (i64.load (local.get $out))))
                      (i64.extend_i32_u (i32.load offset=4 (local.get $in)))))
                  (i32.const 8))
                """
            ),
            name: "my-count"
        )
        let mapped = try t.q(
            "SELECT key, value.name AS name FROM EMBEDDED WASM ident(users) WHERE value.age > 30 ORDER BY key"
        )
        #expect(mapped.map { $0["name"] } == [.string("Ada"), .string("Cy")])
        #expect(try t.q("SELECT key FROM EMBEDDED WASM ident(kv('users/')) AS OF TRANSACTION \(first)").count == 2)
        // Without reduce_finish, the accumulator in hex: a little-endian u64 count.
        #expect(try t.q("SELECT EMBEDDED WASM my-count() AS n FROM users") == [try j(#"{"n":"0300000000000000"}"#)])
        #expect(
            try t.q("SELECT EMBEDDED WASM my-count() AS n FROM kv('users/') AS OF TRANSACTION \(first)") == [
                try j(#"{"n":"0200000000000000"}"#)
            ]
        )
        let plan = try LQL.run("EXPLAIN SELECT key FROM EMBEDDED WASM ident(users)", on: t.db).plan
        #expect(plan.first?.contains("the map_pages module 'ident'") == true)
        #expect(throws: LLMDBError.self) { try t.q("SELECT EMBEDDED WASM my-count() FROM users WHERE age > 1") }
        #expect(throws: LLMDBError.self) { try t.q("SELECT key FROM EMBEDDED WASM missing(users)") }
        // A module that traps mid-query fails the query with its name.
        try t.db.addCode(
            Self.module(#"(func (export "map_pages") (param i32 i32 i32 i32) (result i32) (unreachable))"#),
            name: "trap"
        )
        #expect { try t.q("SELECT key FROM EMBEDDED WASM trap(users)") } throws: { e in
            "\(e)".contains("module 'trap' function 'map_pages' trapped")
        }
    }
}

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

import Foundation
import LLMDB
import LLMDBWasm
import Testing

@testable import LLMDBDocuments

@Suite("Documents: migrations")
struct MigrationTests {
    static let v1 =
        #"{"type":"object","required":["name"],"properties":{"name":{"type":"string"},"age":{"type":["string","integer"]}}}"#
    static let proposal = #"""
        {"schema":{"type":"object","required":["first","last"],
                   "properties":{"first":{"type":"string"},"last":{"type":"string"},"age":{"type":"integer"},"active":{"type":"boolean"}}},
         "steps":[{"split":{"path":"name","separator":" ","into":["first","last"]}},
                  {"convert":{"path":"age","to":"integer"}},
                  {"set_default":{"path":"active","value":true}}],
         "reverse":[{"remove":"active"},{"join":{"paths":["first","last"],"separator":" ","into":"name"}}]}
        """#

    static func seed(_ t: DocDB, _ n: Int = 6) throws -> LLMDBDocuments.Collection {
        let c = try t.db.collection("people")
        try c.setSchema(try json(v1))
        for i in 0..<n { try c.insert(try json(#"{"name":"Ada \#(i)","age":"\#(30 + i)"}"#), id: "p\(i)") }
        return c
    }

    @Test("dry run reports, apply makes the version current at once, reads project lazily, old versions stay readable")
    func lazy() throws {
        let t = try DocDB()
        let c = try Self.seed(t)
        let before = try t.db.read { $0.txID }
        let report = try c.dryRun(try json(Self.proposal))
        #expect(report.examined == 6 && report.changed == 6 && report.failures.isEmpty)
        #expect(report.samples.first?.after == (try json(#"{"age":30,"first":"Ada","last":"0","active":true}"#)))
        #expect(try t.db.read { $0.txID } == before)  // a dry run writes nothing
        let plan = try c.plan(proposal: try json(Self.proposal))
        #expect(plan.from == 1 && plan.to == 2 && plan.reversible && plan.documents == 6)
        try c.applyMigration(try json(Self.proposal))
        // Current version at once, without any rewrite.
        let d = try #require(try c.get("p1"))
        #expect(d.schemaVersion == 2 && d.storedVersion == 1)
        #expect(d.body == (try json(#"{"age":31,"first":"Ada","last":"1","active":true}"#)))
        #expect(
            try c.find(try Filter.parse(#"{"first":"Ada","age":{"$gte":33}}"#)).documents.map(\.id) == [
                "p3", "p4", "p5",
            ]
        )
        // Pinned to the old version.
        #expect(try c.get("p1", schemaVersion: 1)?.body == (try json(#"{"name":"Ada 1","age":"31"}"#)))
        // New writes are validated against version 2 and stored at it.
        try c.insert(try json(#"{"first":"Bob","last":"B","age":5}"#), id: "bob")
        #expect(try c.get("bob")?.storedVersion == 2)
        #expect(try c.get("bob", schemaVersion: 1)?.body == (try json(#"{"age":5,"name":"Bob B"}"#)))
        #expect(throws: LLMDBError.self) { try c.insert(try json(#"{"name":"old shape"}"#), id: "old") }
        // As of before the migration: version 1 was current, the original document.
        #expect(try c.get("p1", tx: .id(before))?.body == (try json(#"{"name":"Ada 1","age":"31"}"#)))
        // The rewrite: system corrections, marked in the log, original bytes kept for the past.
        let original = try t.db.get(Key("people/p1"))?.value
        let done = try c.rewrite(batchSize: 4)
        #expect(done.state == .done && done.rewritten == 6)
        #expect(try c.get("p1")?.storedVersion == 2)
        #expect(try t.db.get(Key("people/p1"), tx: .id(before))?.value == original)
        let history = try t.db.history(of: Key("people/p1"), withCorrections: true)
        #expect(history.count == 2 && history[0].validFrom == history[1].validFrom)
        #expect(try t.db.transactions().contains { $0.migration })
        #expect(try c.find(try Filter.parse(#"{"first":"Ada"}"#)).documents.count == 6)
    }

    @Test("a transform failing on some documents: dry run lists them, apply refuses unless told to skip")
    func failures() throws {
        let t = try DocDB()
        let c = try Self.seed(t, 3)
        try c.insert(try json(#"{"name":"Odd","age":"old"}"#), id: "odd")
        let report = try c.dryRun(try json(Self.proposal))
        #expect(report.failures.map(\.id) == ["odd"])
        #expect(report.failures.first?.reason.contains("cannot convert $.age to integer") == true)
        let before = try t.db.read { $0.txID }
        #expect { try c.applyMigration(try json(Self.proposal)) } throws: { e in
            "\(e)".contains("1 document would fail")
        }
        #expect(try t.db.read { $0.txID } == before)
        #expect(try c.schemas().count == 1)
        let (m, r) = try c.applyMigration(try json(Self.proposal), skipFailures: true)
        #expect(m.skipped == ["odd"] && r.failures.count == 1)
        #expect(try c.get("odd")?.schemaVersion == 1)  // skipped: shown as stored
        #expect(try c.get("p0")?.schemaVersion == 2)
        let done = try c.rewrite()
        #expect(done.rewritten == 3)
        #expect(try c.get("odd")?.storedVersion == 1)
    }

    @Test("a chain of two migrations projects through both; a document skipped on the way stays as stored")
    func twoSteps() throws {
        let t = try DocDB()
        let c = try t.db.collection("people")
        try c.insert(try json(#"{"name":"Ada L","age":"36"}"#), id: "a")
        try c.insert(try json(#"{"name":"Odd","age":"old"}"#), id: "odd")
        try c.applyMigration(
            try json(#"{"schema":{"type":"object"},"steps":[{"convert":{"path":"age","to":"integer"}}]}"#),
            skipFailures: true
        )
        try c.applyMigration(
            try json(#"{"schema":{"type":"object"},"steps":[{"rename":{"from":"age","to":"years"}}]}"#)
        )
        let a = try #require(try c.get("a"))
        #expect(a.body == (try json(#"{"name":"Ada L","years":36}"#)))
        #expect(a.schemaVersion == 2 && a.storedVersion == nil)
        let odd = try #require(try c.get("odd"))
        #expect(odd.schemaVersion == 0)
        #expect(odd.body == (try json(#"{"name":"Odd","age":"old"}"#)))
        #expect(try c.get("a", schemaVersion: 1)?.body == (try json(#"{"name":"Ada L","age":36}"#)))
        #expect(try c.rewrite().rewritten == 1)
        #expect(try c.get("odd")?.storedVersion == nil)
        #expect(try c.get("a")?.storedVersion == 2)
    }

    /// A map_pages module in WAT: `body` computes the result (params $in $len $out $cap).
    static func mapModule(_ body: String) -> [UInt8] {
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
              (func (export "map_pages") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
                \(body)))
            """.utf8
        )
    }

    @Test("a WASM step runs a registered map_pages module over each document; its failures are listed by the dry run")
    func wasmStep() throws {
        let t = try DocDB()
        let c = try Self.seed(t, 3)
        let identity =
            "(if (i32.gt_u (local.get $len) (local.get $cap)) (then (return (local.get $len)))) (memory.copy (local.get $out) (local.get $in) (local.get $len)) (local.get $len)"
        try t.db.addCode(Self.mapModule(identity), name: "ident")
        try t.db.addCode(Self.mapModule("(unreachable)"), name: "trap")
        try t.db.addCode(Self.mapModule("(i32.const 0)"), name: "drop")
        let bad = #"{"schema":{"type":"object"},"steps":[{"wasm":"trap"}]}"#
        let report = try c.dryRun(try json(bad))
        #expect(report.failures.count == 3)
        #expect(report.failures.first?.reason.contains("module 'trap' function 'map_pages' trapped") == true)
        let dropped = try c.dryRun(try json(#"{"schema":{"type":"object"},"steps":[{"wasm":"drop"}]}"#))
        #expect(dropped.failures.first?.reason.contains("output no record") == true)
        #expect { try c.dryRun(try json(#"{"schema":{"type":"object"},"steps":[{"wasm":"missing"}]}"#)) } throws: { e in
            "\(e)".contains("no module named 'missing'")
        }
        try c.applyMigration(
            try json(
                #"{"schema":{"type":"object"},"steps":[{"wasm":{"module":"ident"}},{"rename":{"from":"name","to":"full"}}]}"#
            )
        )
        #expect(try c.get("p1")?.body == (try json(#"{"age":"31","full":"Ada 1"}"#)))
        #expect(try c.rewrite().rewritten == 3)
        #expect(try c.get("p1")?.storedVersion == 2)
    }

    @Test("no reverse transform: reads pinned to the old version say so")
    func irreversible() throws {
        let t = try DocDB()
        let c = try Self.seed(t, 1)
        try c.applyMigration(try json(#"{"schema":{"type":"object"},"steps":[{"remove":"age"}]}"#))
        try c.rewrite()
        #expect { _ = try c.get("p0", schemaVersion: 1) } throws: { e in
            "\(e)".contains("no reverse transform from schema version 2 to 1")
        }
        #expect { _ = try c.get("p0", schemaVersion: 7) } throws: { e in "\(e)".contains("no schema version 7") }
    }

    @Test("a chain with a gap or a cycle is refused clearly")
    func brokenChains() throws {
        let t = try DocDB()
        let c = try Self.seed(t, 1)
        // A schema version 3 with a migration 2→3 but none 1→2: a gap.
        try t.db.write { b in
            try b.putSystem(
                Key("_meta/schema/people/2", partition: Key.systemPartition),
                try Value.json(#"{"type":"object"}"#)
            )
            try b.putSystem(
                Key("_meta/schema/people/3", partition: Key.systemPartition),
                try Value.json(#"{"type":"object"}"#)
            )
            try b.putSystem(
                Key("_meta/migration/people/3", partition: Key.systemPartition),
                try Value.json(#"{"from":2,"to":3,"steps":[]}"#)
            )
        }
        #expect { _ = try c.get("p0") } throws: { e in "\(e)".contains("no migration from schema version 1 to 2") }
        // A record going backwards: a cycle.
        try t.db.write { b in
            try b.putSystem(
                Key("_meta/migration/people/2", partition: Key.systemPartition),
                try Value.json(#"{"from":3,"to":2,"steps":[]}"#)
            )
        }
        #expect { _ = try c.get("p0") } throws: { e in
            "\(e)".contains("does not go one version forward (a cycle or a skip)")
        }
    }

    @Test("pause and resume: nothing lost or duplicated")
    func pauseResume() throws {
        let t = try DocDB()
        let c = try Self.seed(t, 25)
        try c.applyMigration(try json(Self.proposal))
        var batches = 0
        let paused = try c.rewrite(batchSize: 10) { _ in
            batches += 1
            if batches == 1 { try? c.setMigrationState(.paused) }
        }
        #expect(paused.state == .paused && paused.rewritten == 10)
        #expect(try c.migrationStatus()?.state == .paused)
        let done = try c.rewrite(batchSize: 10)
        #expect(done.state == .done && done.rewritten == 25)
        for i in 0..<25 {
            #expect(try t.db.history(of: Key("people/p\(i)"), withCorrections: true).count == 2)
            #expect(try c.get("p\(i)")?.storedVersion == 2)
        }
    }

    @Test("concurrent writers during the rewrite lose nothing")
    func concurrentWriters() async throws {
        let t = try DocDB()
        let c = try Self.seed(t, 200)
        try c.applyMigration(try json(Self.proposal))
        let rewrite = c.rewriteInBackground(batchSize: 16)
        await withTaskGroup(of: Void.self) { group in
            for i in stride(from: 0, to: 200, by: 7) {
                group.addTask { _ = try? c.patch("p\(i)", with: try json(#"{"note":"patched \#(i)"}"#)) }
            }
        }
        let done = try await rewrite.value
        #expect(done.state == .done)
        for i in 0..<200 {
            let d = try #require(try c.get("p\(i)"))
            #expect(d.storedVersion == 2, "p\(i) was not migrated")
            #expect(d.body["first"] == .string("Ada"))
            if i % 7 == 0 { #expect(d.body["note"] == .string("patched \(i)"), "the patch of p\(i) was lost") }
        }
    }

    @Test("convert never traps or stores a non-number: extreme strings and doubles fail the document cleanly")
    func convertExtremes() throws {
        let t = try DocDB()
        let c = try t.db.collection("nums")
        let cases: [(String, String, JSONValue?)] = [
            ("a", #""1e999""#, nil), ("b", #""-1e999""#, nil), ("c", #""nan""#, nil), ("d", #""inf""#, nil),
            ("e", #""9223372036854775807""#, .double(9_223_372_036_854_775_808)),
            ("f", #""1e15""#, .int(1_000_000_000_000_000)), ("g", #""12""#, .int(12)), ("h", "1e300", nil),
        ]
        for (id, v, _) in cases { try c.insert(try json(#"{"v":\#(v)}"#), id: id) }
        let report = try c.dryRun(
            try json(#"{"schema":{"type":"object"},"steps":[{"convert":{"path":"v","to":"number"}}]}"#)
        )
        #expect(report.failures.map(\.id).sorted() == ["a", "b", "c", "d"])
        for (id, _, expected) in cases {
            guard let expected else { continue }
            let s = try #require(report.samples.first { $0.id == id } ?? nil)
            #expect(s.after["v"] == expected, "\(id): \(s.after)")
        }
        let ints = try c.dryRun(
            try json(#"{"schema":{"type":"object"},"steps":[{"convert":{"path":"v","to":"integer"}}]}"#)
        )
        #expect(ints.failures.map(\.id).sorted() == ["a", "b", "c", "d", "f", "h"])
    }
}

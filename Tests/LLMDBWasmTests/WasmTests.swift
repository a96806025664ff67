import Foundation
import LLMDB
import LLMDBWasm
import Testing

@Suite("WebAssembly: registry")
struct RegistryTests {
    @Test("a module is registered content-addressed, listed, shown as of a time, and removed")
    func registry() throws {
        let t = try WasmDatabase()
        let db = t.db
        t.clock.advance(by: 10)
        let info = try db.addCode(WAT.identityMap, name: "ident")
        #expect(info.meta.kind == .mapPages)
        #expect(info.meta.sha256.count == 64)
        #expect(info.meta.exports.contains("map_pages"))
        #expect(try db.listCode().map(\.meta.name) == ["ident"])
        #expect(try db.code(String(info.meta.sha256.prefix(10))).meta.name == "ident")
        // Versioned like any fact: before registration there was nothing.
        #expect(try db.listCode(tx: .id(info.txID - 1)).isEmpty)
        t.clock.advance(by: 10)
        try db.removeCode("ident")
        #expect(try db.listCode().isEmpty)
        #expect(try db.listCode(tx: .id(info.txID)).map(\.meta.name) == ["ident"])
        #expect(throws: LLMDBError.self) { try db.code("ident") }
    }

    @Test("the same name with new code retracts the old module in the same transaction")
    func rename() throws {
        let t = try WasmDatabase()
        let a = try t.db.addCode(WAT.identityMap, name: "m")
        let b = try t.db.addCode(WAT.map("(i32.const 0)"), name: "m")
        #expect(a.meta.sha256 != b.meta.sha256)
        #expect(try t.db.listCode().map(\.meta.sha256) == [b.meta.sha256])
    }

    @Test("the same bytes under a second name keep both: both resolve and are listed, removing one keeps the other")
    func secondName() throws {
        let t = try WasmDatabase()
        let db = t.db
        try db.put("k:1", .raw("x"))
        t.clock.advance(by: 10)
        let first = try db.addCode(WAT.identityMap, name: "first")
        t.clock.advance(by: 10)
        let second = try db.addCode(WAT.identityMap, name: "second")
        #expect(second.meta.sha256 == first.meta.sha256)
        #expect(try db.listCode().map(\.meta.name) == ["first", "second"])
        #expect(try db.code("first").meta.name == "first")
        #expect(try db.code("first").txID == first.txID)  // its registration is its own
        #expect(try db.code("second").meta.sha256 == first.meta.sha256)
        #expect(try db.scan(prefix: "k:", map: "first").count == 1)
        #expect(try db.scan(prefix: "k:", map: "second").count == 1)
        // A sha256 prefix names the bytes: both names have them, so the first by name.
        #expect(try db.code(String(first.meta.sha256.prefix(12))).meta.sha256 == first.meta.sha256)

        t.clock.advance(by: 10)
        let removed = try db.removeCode("first")
        #expect(try db.listCode().map(\.meta.name) == ["second"])
        #expect(throws: LLMDBError.self) { try db.code("first") }
        #expect(try db.scan(prefix: "k:", map: "second").count == 1)
        // Versioned like any fact.
        #expect(try db.listCode(tx: .id(first.txID)).map(\.meta.name) == ["first"])
        #expect(try db.listCode(tx: .id(removed.txID - 1)).map(\.meta.name) == ["first", "second"])

        // The bytes go with their last name.
        try db.removeCode("second")
        #expect(try db.listCode().isEmpty)
        #expect(try db.read { try $0.get(.code(first.meta.sha256)) }?.value == nil)
    }

    @Test("one file registered as two kinds under two names (docs/wasm-abi.md): each name keeps its kind")
    func oneFileTwoKinds() throws {
        let t = try WasmDatabase()
        let both = WAT.module(
            """
            (func (export "map_pages") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
              (if (i32.gt_u (local.get $len) (local.get $cap)) (then (return (local.get $len))))
              (memory.copy (local.get $out) (local.get $in) (local.get $len))
              (local.get $len))
            (func (export "reduce_pages") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
              (if (i32.lt_u (local.get $cap) (i32.const 8)) (then (return (i32.const 8))))
              (i64.store (local.get $out)
                (i64.add
                  (if (result i64) (i32.eqz (i32.load offset=12 (local.get $in))) (then (i64.const 0)) (else (i64.load (local.get $out))))
                  (i64.extend_i32_u (i32.load offset=4 (local.get $in)))))
              (i32.const 8))
            """
        )
        try MapReduceTests.fill(t.db, 3)
        let map = try t.db.addCode(both, name: "as-map", kind: .mapPages)
        let reduce = try t.db.addCode(both, name: "as-reduce", kind: .reducePages)
        #expect(map.meta.sha256 == reduce.meta.sha256)
        let listed = try t.db.listCode()
        #expect(listed.map(\.meta.name) == ["as-map", "as-reduce"])
        #expect(listed.map(\.meta.kind) == [.mapPages, .reducePages])
        #expect(listed.map(\.meta.function) == ["map_pages", "reduce_pages"])
        #expect(try t.db.scan(prefix: "k:", map: "as-map").count == 3)
        let r = try t.db.reduce(prefix: "k:", module: "as-reduce")
        #expect(r.accumulator.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } == 3)
        #expect(throws: LLMDBError.self) { _ = try t.db.scan(prefix: "k:", map: "as-reduce") }
    }

    @Test("a hook pins the bytes: removing the name it was defined by is allowed while another name keeps them")
    func hookKeepsBytes() throws {
        let t = try WasmDatabase()
        try t.db.addCode(WAT.rejectB, name: "no-b")
        try t.db.addCode(WAT.rejectB, name: "no-b-too")
        try t.db.addHook(name: "h", module: "no-b", scope: KeyScope(prefix: ""))
        try t.db.removeCode("no-b")
        #expect(throws: LLMDBError.self) { try t.db.put("b1", .raw("x")) }  // the hook still runs
        try t.db.put("a1", .raw("x"))
        #expect { try t.db.removeCode("no-b-too") } throws: { e in
            "\(e)".contains("is used by hook 'h'")
        }
        try t.db.removeCode("no-b-too", force: true)
        #expect(try t.db.listCode().isEmpty)
    }

    @Test("moving a name to new code keeps the old bytes while another name has them")
    func moveKeepsShared() throws {
        let t = try WasmDatabase()
        try t.db.put("k:1", .raw("x"))
        let old = try t.db.addCode(WAT.identityMap, name: "m")
        let keep = try t.db.addCode(WAT.identityMap, name: "keep")
        #expect(try t.db.listCode(tx: .id(keep.txID)).map(\.meta.name) == ["keep", "m"])
        let new = try t.db.addCode(WAT.map("(i32.const 0)"), name: "m")
        #expect(try t.db.listCode().map(\.meta.sha256) == [old.meta.sha256, new.meta.sha256])  // keep, m
        #expect(try t.db.code("m").meta.sha256 == new.meta.sha256)
        #expect(try t.db.scan(prefix: "k:", map: "keep").count == 1)
        #expect(try t.db.scan(prefix: "k:", map: "m").isEmpty)
    }

    @Test("bad modules are refused with a message naming the problem, and nothing is written")
    func refusals() throws {
        var small = WasmLimits()
        small.maxModuleBytes = 50
        let t = try WasmDatabase()
        let db = t.db
        let before = try db.transactionCount()
        func refused(_ bytes: [UInt8], _ needle: String, kind: WasmFunctionKind? = nil, in d: Database? = nil) {
            do {
                try (d ?? db).addCode(bytes, name: "bad", kind: kind)
                Issue.record("accepted a bad module (\(needle))")
            } catch let e as LLMDBError {
                #expect(e.code == .invalidModule || e.code == .codeLimit, "\(e)")
                #expect(e.message.contains(needle), "\(e.message)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        refused([0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00, 0xFF, 0xFF], "not valid WebAssembly")
        refused(Array("(module (func".utf8), "not valid WAT")
        refused([0xFF, 0xFE, 0x00], "neither a WebAssembly binary")
        // No function of the kind.
        refused(WAT.module(""), "say which kind")
        refused(WAT.module(""), "does not export the map_pages function", kind: .mapPages)
        // Wrong signature.
        refused(
            WAT.module(#"(func (export "map_pages") (param i32) (result i32) (local.get 0))"#),
            "map_pages has the signature (i32) -> i32"
        )
        // No memory export.
        refused(
            Array(#"(module (func (export "map_pages") (param i32 i32 i32 i32) (result i32) (i32.const 0)))"#.utf8),
            "does not export its memory"
        )
        // Imports that are not granted.
        refused(
            WAT.map(
                "(i32.const 0)",
                imports: #"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#
            ),
            "wasi_snapshot_preview1.fd_write"
        )
        refused(
            WAT.map("(i32.const 0)", imports: #"(import "llmdb" "clock_now" (func (result i64)))"#),
            "needs the 'clock' capability"
        )
        refused(WAT.module("", memoryPages: 2000), "initial memory", kind: .mapPages)
        let tiny = try t.open(limits: small)
        refused(WAT.identityMap, "the limit is 50 bytes", in: tiny)
        tiny.close()
        #expect(try db.transactionCount() == before)
        #expect(try db.listCode().isEmpty)
        // Granted, the clock import is accepted.
        var granted = WasmLimits()
        granted.grants = [.clock]
        let g = try t.open(limits: granted)
        try g.addCode(
            WAT.map("(i32.const 0)", imports: #"(import "llmdb" "clock_now" (func (result i64)))"#),
            name: "clocked"
        )
        g.close()
    }

    @Test("a stored module whose bytes no longer match their sha256 is detected")
    func tampered() throws {
        let t = try WasmDatabase()
        let info = try t.db.addCode(WAT.rejectB, name: "hook")
        try t.db.addHook(name: "h", module: "hook", scope: KeyScope(prefix: ""))
        // Replace the stored bytes with another module's, keeping the key (the hash).
        let other = try WasmDatabase()
        let otherInfo = try other.db.addCode(WAT.identityMap, name: "hook")
        let record = try #require(
            try other.db.read { try $0.get(Key("_meta/code/" + otherInfo.meta.sha256, partition: Key.systemPartition)) }
        )
        try t.db.write {
            try $0.putSystem(Key("_meta/code/" + info.meta.sha256, partition: Key.systemPartition), record.value!)
        }
        let fresh = try t.open()  // an empty module cache
        let before = try fresh.transactionCount()
        #expect {
            try fresh.write { try $0.put("a", .raw("x")) }
        } throws: { e in
            (e as? LLMDBError)?.code == .invalidModule && "\(e)".contains("do not match their sha256")
        }
        #expect(try fresh.transactionCount() == before)
        fresh.close()
    }
}

@Suite("WebAssembly: map and reduce")
struct MapReduceTests {
    static func fill(_ db: Database, _ n: Int) throws {
        try db.write { b in
            for i in 0..<n { try b.put(Key("k:\(String(i).leftPad(6))"), .raw("v\(i)")) }
        }
    }

    @Test("map_pages over several pages returns exactly the rows of the native scan")
    func identity() throws {
        let t = try WasmDatabase()
        try Self.fill(t.db, 10_000)
        try t.db.put(Key([0x6B, 0x3A, 0x00, 0x01]), .raw("zero in key"))
        try t.db.addCode(WAT.identityMap, name: "ident")
        let mapped = try t.db.scan(prefix: "k:", map: "ident")
        let native = try t.db.read { try $0.scan(prefix: "k:") }
        #expect(mapped.count == native.count)
        #expect(mapped.map(\.key) == native.map(\.key))
        #expect(mapped.map(\.value) == native.map(\.value))
        #expect(mapped.map(\.validFrom) == native.map(\.validFrom))
        #expect(mapped.map(\.txID) == native.map(\.txID))
        // Early stop.
        #expect(try t.db.scan(prefix: "k:", map: "ident", limit: 5).count == 5)
    }

    @Test("reduce_pages folds every page, as of any transaction")
    func reduce() throws {
        let t = try WasmDatabase()
        try Self.fill(t.db, 9_000)
        let first = try t.db.transactionCount()
        try t.db.write { b in for i in 9_000..<9_500 { try b.put(Key("k:\(i)"), .raw("v")) } }
        try t.db.addCode(WAT.countReduce, name: "count")
        func count(_ r: ReduceResult) -> UInt64 { r.accumulator.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } }
        let now = try t.db.reduce(prefix: "k:", module: "count")
        #expect(count(now) == 9_500)
        #expect(now.records == 9_500)
        #expect(now.pages == 3)
        #expect(count(try t.db.reduce(prefix: "k:", module: "count", tx: .id(first))) == 9_000)
        #expect(count(try t.db.reduce(prefix: "nothing:", module: "count")) == 0)
    }

    @Test("using a module of the wrong kind is refused")
    func wrongKind() throws {
        let t = try WasmDatabase()
        try t.db.addCode(WAT.countReduce, name: "count")
        #expect(throws: LLMDBError.self) { _ = try t.db.scan(prefix: "k:", map: "count") }
        #expect(throws: LLMDBError.self) { _ = try t.db.reduce(prefix: "k:", module: "missing") }
    }
}

@Suite("WebAssembly: limits and faults")
struct LimitTests {
    /// Runs a map over one record and returns the error.
    static func failure(_ module: [UInt8], limits: WasmLimits = WasmLimits()) throws -> LLMDBError {
        let t = try WasmDatabase(limits: limits)
        try t.db.put("k:1", .raw("x"))
        try t.db.addCode(module, name: "m", kind: .mapPages)
        do {
            _ = try t.db.scan(prefix: "k:", map: "m")
        } catch let e as LLMDBError {
            return e
        }
        Issue.record("the scan succeeded")
        return LLMDBError(.invalidArgument, "")
    }

    @Test("a module that loops forever is stopped at the wall-clock deadline")
    func deadline() throws {
        var limits = WasmLimits()
        limits.deadlineMicroseconds = 30_000
        limits.fuel = .max
        let start = Date()
        let e = try Self.failure(WAT.map("(loop $l (br $l)) (i32.const 0)"), limits: limits)
        #expect(e.code == .codeLimit)
        #expect(
            e.message.contains("module 'm' function 'map_pages' exceeded the wall-clock deadline of 30.0 ms"),
            "\(e)"
        )
        #expect(Date().timeIntervalSince(start) < 5)
    }

    @Test("a module that loops forever runs out of fuel first when the budget is small")
    func fuel() throws {
        var limits = WasmLimits()
        limits.fuel = 100_000
        limits.deadlineMicroseconds = 10_000_000
        let e = try Self.failure(WAT.map("(loop $l (br $l)) (i32.const 0)"), limits: limits)
        #expect(e.code == .codeLimit)
        #expect(e.message.contains("ran out of fuel: the budget is 100000 units per call"), "\(e)")
    }

    /// A map_pages that runs `grow` (which must leave nothing on the stack), then copies its
    /// input to its output.
    static func growThenCopy(_ grow: String) -> [UInt8] {
        WAT.map(
            """
            \(grow)
            (if (i32.gt_u (local.get $len) (local.get $cap)) (then (return (local.get $len))))
            (memory.copy (local.get $out) (local.get $in) (local.get $len))
            (local.get $len)
            """
        )
    }

    @Test("memory.grow past the memory limit (64 MiB) returns -1 to the module, which goes on")
    func memoryGrowFails() throws {
        let t = try WasmDatabase()
        try t.db.put("k:1", .raw("x"))
        // Up to the limit it grows; one page more is -1 (anything else traps).
        try t.db.addCode(
            Self.growThenCopy(
                """
                (if (i32.eq (memory.grow (i32.sub (i32.const 1024) (memory.size))) (i32.const -1)) (then unreachable))
                (if (i32.ne (memory.size) (i32.const 1024)) (then unreachable))
                (if (i32.ne (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
                (if (i32.ne (memory.grow (i32.const 65536)) (i32.const -1)) (then unreachable))
                (if (i32.ne (memory.size) (i32.const 1024)) (then unreachable))
                """
            ),
            name: "greedy"
        )
        let rows = try t.db.scan(prefix: "k:", map: "greedy")
        #expect(rows.map(\.value) == [.raw("x")])
        // A smaller limit is the limit.
        var limits = WasmLimits()
        limits.memoryBytes = 4 << 20
        let small = try t.open(limits: limits)
        try small.addCode(
            Self.growThenCopy("(if (i32.ne (memory.grow (i32.const 100)) (i32.const -1)) (then unreachable))"),
            name: "over-4-mib"
        )
        #expect(try small.scan(prefix: "k:", map: "over-4-mib").count == 1)
        small.close()
    }

    @Test("a module told -1 by memory.grow may report its own error, which names it")
    func memoryGrowReported() throws {
        let e = try Self.failure(
            WAT.map(
                """
                (if (i32.eq (memory.grow (i32.const 2000)) (i32.const -1))
                  (then (call $fail (i32.const 16) (i32.const 13)) (return (i32.const 0))))
                (i32.const 0)
                """,
                imports: #"(import "llmdb" "fail" (func $fail (param i32 i32))) (data (i32.const 16) "out of memory")"#
            )
        )
        #expect(e.code == .codeFailed)
        #expect(e.message.contains("module 'm' function 'map_pages' failed: out of memory"), "\(e)")
    }

    @Test("an allocator that cannot grow memory past the limit returns 0: the operation fails with code_limit")
    func allocatorOutOfMemory() throws {
        var limits = WasmLimits()
        limits.memoryBytes = 1 << 20
        let t = try WasmDatabase(limits: limits)
        // A value larger than the limit: the input page cannot be allocated.
        try t.db.put("k:1", .raw([UInt8](repeating: 7, count: 2 << 20)))
        try t.db.addCode(WAT.identityMap, name: "m")
        #expect { _ = try t.db.scan(prefix: "k:", map: "m") } throws: { e in
            guard let e = e as? LLMDBError, e.code == .codeLimit else { return false }
            return e.message.contains("module 'm' function 'llmdb_alloc' could not allocate")
                && e.message.contains("the memory limit is 1048576 bytes")
        }
    }

    @Test("a map_pages record whose value does not decode as its type fails the scan, naming the module")
    func malformedValues() throws {
        let bad: [(tag: UInt8, payload: [UInt8], says: String)] = [
            (0x01, Array("{bad".utf8), "record 1's json value is not valid JSON"),
            (0x01, Array("null".utf8), "record 1's json value is JSON null"),
            (0x02, [0xC1], "record 1's msgpack value is not valid MessagePack"),
            (0x02, [0xC0], "record 1's msgpack value is MessagePack nil"),
            (0x20, [0, 0, 0, 2, 1, 2, 3], "record 1's vector value is malformed"),
            (0x10, [0, 9], "record 1's edge value is malformed"),
        ]
        for b in bad {
            let page = WAT.outputPage([
                (key: "ok", tag: 0x01, payload: Array(#"{"fine":true}"#.utf8)),
                (key: "bad", tag: b.tag, payload: b.payload),
            ])
            let e = try Self.failure(WAT.emitting(page))
            #expect(e.code == .codeFailed, "\(e)")
            #expect(
                e.message.contains("module 'm' function 'map_pages' wrote a malformed output page: \(b.says)"),
                "\(e)"
            )
            #expect(!e.message.contains("{bad"), "the message quotes the value: \(e)")
        }
        // A transaction id past Int64.max (ids are shown as JSON integers) is malformed too.
        for tx in [UInt64(Int64.max) + 1, .max] {
            let page = WAT.outputPage([(key: "k", tag: 0x01, payload: Array("1".utf8))], txID: tx)
            let e = try Self.failure(WAT.emitting(page))
            #expect(
                e.message.contains(
                    "malformed output page: record 0 has the transaction id \(tx), past the largest one"
                ),
                "\(e)"
            )
        }
        // The same page with well-formed values is read as it is.
        let t = try WasmDatabase()
        try t.db.put("k:1", .raw("x"))
        let good = WAT.outputPage([
            (key: "j", tag: 0x01, payload: Array(#"{"fine":true}"#.utf8)),
            (key: "m", tag: 0x02, payload: [0x81, 0xA1, 0x61, 0x01]),  // {"a": 1}
            (key: "r", tag: 0x00, payload: [0xFF, 0x00]),
        ])
        try t.db.addCode(WAT.emitting(good), name: "good", kind: .mapPages)
        let rows = try t.db.scan(prefix: "k:", map: "good")
        #expect(rows.map(\.key) == [Key("j"), Key("m"), Key("r")])
        #expect(rows.map { $0.value?.tag } == [.json, .messagePack, .raw])
    }

    @Test("a length past the output buffer, or a malformed output page, is an error, never a crash")
    func badOutput() throws {
        let huge = try Self.failure(WAT.map("(i32.const 2147483647)"))
        #expect(huge.code == .codeLimit)
        #expect(huge.message.contains("asked for 2147483647 bytes of output"), "\(huge)")
        let again = try Self.failure(WAT.map("(i32.add (local.get $cap) (i32.const 1))"))
        #expect(again.code == .codeFailed)
        #expect(again.message.contains("after being given"), "\(again)")
        // A page header claiming more bytes than returned.
        let lying = try Self.failure(
            WAT.map(
                "(i32.store (local.get $out) (i32.const 100000)) (i32.store offset=4 (local.get $out) (i32.const 1)) (i32.const 16)"
            )
        )
        #expect(lying.code == .codeFailed)
        #expect(lying.message.contains("malformed output page"), "\(lying)")
        // A record whose size runs past the page.
        let record = try Self.failure(
            WAT.map(
                """
                (i32.store (local.get $out) (i32.const 64)) (i32.store offset=4 (local.get $out) (i32.const 1))
                (i32.store offset=16 (local.get $out) (i32.const 4096)) (i32.const 64)
                """
            )
        )
        #expect(record.code == .codeFailed)
        #expect(record.message.contains("record 0 has size 4096"), "\(record)")
    }

    @Test("a trap in the middle of a page, or llmdb.fail, fails the operation with the module's name")
    func traps() throws {
        let trap = try Self.failure(WAT.map("(unreachable)"))
        #expect(trap.code == .codeFailed)
        #expect(trap.message.contains("module 'm' function 'map_pages' trapped"), "\(trap)")
        let failed = try Self.failure(
            WAT.map(
                "(call $fail (i32.const 16) (i32.const 4)) (i32.const 0)",
                imports: #"(import "llmdb" "fail" (func $fail (param i32 i32))) (data (i32.const 16) "nope")"#
            )
        )
        #expect(failed.code == .codeFailed)
        #expect(failed.message.contains("failed: nope"), "\(failed)")
    }

    @Test("out-of-bounds memory access in the guest traps cleanly")
    func outOfBounds() throws {
        let e = try Self.failure(WAT.map("(i32.store (i32.const -4) (i32.const 1)) (i32.const 0)"))
        #expect(e.code == .codeFailed)
    }
}

@Suite("WebAssembly: hooks")
struct HookTests {
    @Test("a hook rejects a transaction with its reason; nothing is written")
    func rejects() throws {
        let t = try WasmDatabase()
        let db = t.db
        try db.addCode(WAT.rejectB, name: "no-b")
        try db.addHook(name: "no-b", module: "no-b", scope: KeyScope(prefix: ""))
        #expect(try db.hooks().map(\.name) == ["no-b"])
        let before = try db.transactionCount()
        #expect {
            try db.write { b in
                try b.put("a1", .raw("ok"))
                try b.put("b1", .raw("bad"))
            }
        } throws: { e in
            let e = e as? LLMDBError
            return e?.code == .hookRejected
                && e!.message.contains("hook 'no-b' (module 'no-b') rejected the transaction: bad key")
        }
        #expect(try db.transactionCount() == before)
        #expect(try db.get("a1") == nil)
        try db.write { try $0.put("a2", .raw("fine")) }
        #expect(try db.get("a2") != nil)
        // Deletes and erases are seen too.
        #expect(throws: LLMDBError.self) { try db.write { try $0.delete("b2") } }
        #expect(throws: LLMDBError.self) { try db.erase("b3") }
        // Other partitions are out of scope.
        try db.write { try $0.put(Key("b1", partition: 7), .raw("elsewhere")) }
        try db.removeHook("no-b")
        try db.write { try $0.put("b1", .raw("allowed now")) }
    }

    @Test("a hook that rejects one of several concurrent group-committed writers fails only that writer")
    func groupCommit() async throws {
        let t = try WasmDatabase()
        let db = t.db
        try db.addCode(WAT.rejectB, name: "no-b")
        try db.addHook(name: "no-b", module: "no-b", scope: KeyScope(prefix: ""))
        let results = await withTaskGroup(of: (Int, Bool).self) { group in
            for i in 0..<16 {
                group.addTask {
                    let key = i == 5 ? Key("bad\(i)") : Key("good\(i)")
                    do {
                        try await db.write { try $0.put(key, .raw("v")) }
                        return (i, true)
                    } catch {
                        return (i, false)
                    }
                }
            }
            var out: [Int: Bool] = [:]
            for await (i, ok) in group { out[i] = ok }
            return out
        }
        for i in 0..<16 { #expect(results[i] == (i != 5)) }
        #expect(try db.get("bad5") == nil)
        for i in 0..<16 where i != 5 { #expect(try db.get(Key("good\(i)")) != nil) }
    }

    @Test("a module removed while a hook references it: refused, or (forced) writes fail clearly")
    func removedModule() throws {
        let t = try WasmDatabase()
        let db = t.db
        try db.addCode(WAT.rejectB, name: "no-b")
        try db.addHook(name: "guard", module: "no-b", scope: KeyScope(prefix: "a"))
        #expect {
            try db.removeCode("no-b")
        } throws: { e in "\(e)".contains("used by hook 'guard'") }
        try db.removeCode("no-b", force: true)
        let before = try db.transactionCount()
        #expect {
            try db.write { try $0.put("a1", .raw("x")) }
        } throws: { e in
            (e as? LLMDBError)?.code == .notFound && "\(e)".contains("hook 'guard' uses module 'no-b'")
        }
        #expect(try db.transactionCount() == before)
        try db.write { try $0.put("z1", .raw("out of scope")) }
    }

    @Test("without a code runner, writes a hook covers fail instead of skipping it")
    func noRunner() throws {
        let t = try WasmDatabase()
        try t.db.addCode(WAT.rejectB, name: "no-b")
        try t.db.addHook(name: "no-b", module: "no-b", scope: KeyScope(prefix: "b"))
        let plain = try t.open(runner: false)
        #expect {
            try plain.write { try $0.put("b1", .raw("x")) }
        } throws: { e in (e as? LLMDBError)?.code == .codeUnavailable }
        try plain.write { try $0.put("a1", .raw("not covered")) }
        plain.close()
    }

    @Test("user writes to the system partition are refused")
    func reserved() throws {
        let t = try WasmDatabase()
        #expect {
            try t.db.write { try $0.put(Key("_meta/code/x", partition: Key.systemPartition), .raw("x")) }
        } throws: { e in (e as? LLMDBError)?.code == .reservedPartition }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

@Suite("WebAssembly: code failing inside writes")
struct WriteFailureTests {
    static func hook(_ code: String) -> [UInt8] {
        WAT.module(
            """
            (func (export "tx_hook") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
              \(code))
            """
        )
    }
    static func index(_ code: String) -> [UInt8] {
        WAT.module(
            """
            (func (export "custom_index") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
              \(code))
            """
        )
    }

    /// Installs `module` as a hook or an index over "k", then checks that a write under it
    /// fails with `code` and a message containing `needle`, and that nothing was written.
    func check(
        _ module: [UInt8],
        asIndex: Bool,
        _ code: LLMDBError.Code,
        _ needle: String,
        limits: WasmLimits = WasmLimits()
    ) throws {
        let t = try WasmDatabase(limits: limits)
        let db = t.db
        try db.put("k0", .raw("before"))
        try db.addCode(module, name: "m")
        if asIndex {
            // The index is built from the existing entry at once: that fails too, and nothing is defined.
            #expect(throws: LLMDBError.self) { try db.addIndex(name: "ix", module: "m", scope: KeyScope(prefix: "k")) }
            #expect(try db.indexes().isEmpty)
            try db.write { b in try b.erase("k0") }
            try db.addIndex(name: "ix", module: "m", scope: KeyScope(prefix: "k"))
        } else {
            try db.addHook(name: "h", module: "m", scope: KeyScope(prefix: "k"))
        }
        let before = try db.transactionCount()
        #expect {
            try db.write { b in
                try b.put("k1", .raw("one"))
                try b.put("k2", .raw("two"))
            }
        } throws: { e in
            let e = e as? LLMDBError
            return e?.code == code && e!.message.contains(needle)
        }
        #expect(try db.transactionCount() == before)
        #expect(try db.get("k1") == nil)
        #expect(try db.get("k2") == nil)
        // The process and the database carry on.
        try db.write { try $0.put("other", .raw("fine")) }
        #expect(try db.verify().problems.isEmpty)
    }

    @Test("a hook that traps mid-page fails the write; nothing is written")
    func hookTrap() throws {
        try check(
            Self.hook("(i32.store (local.get $out) (i32.const 1)) (unreachable)"),
            asIndex: false,
            .codeFailed,
            "module 'm' function 'tx_hook' trapped"
        )
    }

    @Test("a hook that loops forever fails the write at the deadline; nothing is written")
    func hookDeadline() throws {
        var limits = WasmLimits()
        limits.deadlineMicroseconds = 20_000
        limits.fuel = .max
        try check(
            Self.hook("(loop $l (br $l)) (i32.const 0)"),
            asIndex: false,
            .codeLimit,
            "exceeded the wall-clock deadline",
            limits: limits
        )
    }

    @Test("an index whose code traps or writes malformed keys fails the write; nothing is written")
    func indexFailures() throws {
        try check(Self.index("(unreachable)"), asIndex: true, .codeFailed, "function 'custom_index' trapped")
        // An entry naming a record that is not in the page.
        try check(
            Self.index(
                "(i32.store (local.get $out) (i32.const 99)) (i32.store offset=4 (local.get $out) (i32.const 1)) (i32.const 12)"
            ),
            asIndex: true,
            .codeFailed,
            "names record 99"
        )
        // A zero-length index key.
        try check(
            Self.index(
                "(i32.store (local.get $out) (i32.const 0)) (i32.store offset=4 (local.get $out) (i32.const 0)) (i32.const 8)"
            ),
            asIndex: true,
            .codeFailed,
            "an index key of 0 bytes"
        )
    }
}

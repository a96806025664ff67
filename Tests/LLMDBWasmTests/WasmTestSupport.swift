import Foundation
import LLMDB
import LLMDBWasm

/// A database with a WebAssembly runtime in a fresh temporary directory.
final class WasmDatabase: @unchecked Sendable {
    // @unchecked Sendable: `db` is set once in init.
    let dir: String
    let path: String
    let clock: ManualClock
    let db: Database

    init(limits: WasmLimits = WasmLimits(), runner: Bool = true) throws {
        dir = NSTemporaryDirectory() + "llmdb-wasm-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        path = dir + "/test.llmdb"
        clock = ManualClock(start: Instant(microseconds: 1_000_000))
        var o = Database.Options()
        o.sync = .none
        o.clock = clock
        if runner { o.codeRunner = WasmRuntime(limits: limits) }
        db = try Database.open(path: path, options: o)
    }

    /// Another handle on the same file, with its own runtime (an empty module cache).
    func open(limits: WasmLimits = WasmLimits(), runner: Bool = true) throws -> Database {
        var o = Database.Options()
        o.sync = .none
        o.clock = clock
        if runner { o.codeRunner = WasmRuntime(limits: limits) }
        return try Database.open(path: path, options: o)
    }

    deinit {
        db.close()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// WAT modules for tests: the ABI's exports (memory, a bump allocator) around `body`.
enum WAT {
    static func module(_ body: String, imports: String = "", memoryPages: Int = 1) -> [UInt8] {
        Array(
            """
            (module
              \(imports)
              (memory (export "memory") \(memoryPages))
              (global $top (mut i32) (i32.const 1024))
              (func (export "llmdb_alloc") (param $n i32) (result i32)
                (local $p i32) (local $end i32)
                (local.set $p (i32.and (i32.add (global.get $top) (i32.const 15)) (i32.const -16)))
                (local.set $end (i32.add (local.get $p) (local.get $n)))
                (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
                  (then
                    (if (i32.eq
                          (memory.grow (i32.sub (i32.div_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 65536)) (memory.size)))
                          (i32.const -1))
                      (then (return (i32.const 0))))))
                (global.set $top (local.get $end))
                (local.get $p))
              \(body)
            )
            """.utf8
        )
    }

    /// map_pages that copies its input page to the output.
    static let identityMap = module(
        """
        (func (export "map_pages") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
          (if (i32.gt_u (local.get $len) (local.get $cap)) (then (return (local.get $len))))
          (memory.copy (local.get $out) (local.get $in) (local.get $len))
          (local.get $len))
        """
    )

    /// reduce_pages counting records into a u64 accumulator.
    static let countReduce = module(
        """
        (func (export "reduce_pages") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
          (if (i32.lt_u (local.get $cap) (i32.const 8)) (then (return (i32.const 8))))
          (i64.store (local.get $out)
            (i64.add
              (if (result i64) (i32.eqz (i32.load offset=12 (local.get $in))) (then (i64.const 0)) (else (i64.load (local.get $out))))
              (i64.extend_i32_u (i32.load offset=4 (local.get $in)))))
          (i32.const 8))
        """
    )

    /// A map_pages whose body is `code` (which must end by returning an i32).
    static func map(_ code: String, imports: String = "") -> [UInt8] {
        module(
            """
            (func (export "map_pages") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
              \(code))
            """,
            imports: imports
        )
    }

    /// tx_hook rejecting any operation whose key starts with 'b', with the reason "bad key".
    static let rejectB = module(
        """
        (data (i32.const 16) "bad key")
        (func (export "tx_hook") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
          (local $n i32) (local $i i32) (local $r i32)
          (local.set $n (i32.load offset=4 (local.get $in)))
          (local.set $r (i32.add (local.get $in) (i32.const 16)))
          (block $done (loop $next
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (if (i32.eq (i32.load8_u offset=48 (local.get $r)) (i32.const 98))
              (then
                (if (i32.lt_u (local.get $cap) (i32.const 7)) (then (return (i32.const 7))))
                (memory.copy (local.get $out) (i32.const 16) (i32.const 7))
                (return (i32.const 7))))
            (local.set $r (i32.add (local.get $r) (i32.load (local.get $r))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next)))
          (i32.const 0))
        """
    )

    /// custom_index emitting each record's value payload as its index key.
    static let indexByValue = module(
        """
        (func (export "custom_index") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
          (local $n i32) (local $i i32) (local $r i32) (local $o i32) (local $vl i32) (local $need i32)
          (local.set $n (i32.load offset=4 (local.get $in)))
          (local.set $r (i32.add (local.get $in) (i32.const 16)))
          (block $done (loop $next
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $vl (i32.load offset=12 (local.get $r)))
            (if (i32.and (i32.ne (i32.load8_u offset=40 (local.get $r)) (i32.const 255))
                         (i32.and (i32.gt_u (local.get $vl) (i32.const 0)) (i32.le_u (local.get $vl) (i32.const 255))))
              (then
                (local.set $need (i32.and (i32.add (local.get $vl) (i32.const 11)) (i32.const -4)))
                (if (i32.le_u (i32.add (local.get $o) (local.get $need)) (local.get $cap))
                  (then
                    (i32.store (i32.add (local.get $out) (local.get $o)) (local.get $i))
                    (i32.store offset=4 (i32.add (local.get $out) (local.get $o)) (local.get $vl))
                    (memory.copy
                      (i32.add (i32.add (local.get $out) (local.get $o)) (i32.const 8))
                      (i32.add (i32.add (local.get $r) (i32.const 48)) (i32.load offset=8 (local.get $r)))
                      (local.get $vl))))
                (local.set $o (i32.add (local.get $o) (local.get $need)))))
            (local.set $r (i32.add (local.get $r) (i32.load (local.get $r))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next)))
          (local.get $o))
        """
    )
}

extension WAT {
    /// A map_pages that ignores its input and writes `page` (a whole output page) as its
    /// output: for outputs a real module would not write.
    static func emitting(_ page: [UInt8]) -> [UInt8] {
        let data = page.map { "\\" + String($0, radix: 16).leftPad(2) }.joined()
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

    /// An output page (docs/wasm-abi.md) of records of partition 0, valid from 0, tx `txID`.
    static func outputPage(_ records: [(key: String, tag: UInt8, payload: [UInt8])], txID: UInt64 = 1) -> [UInt8] {
        func u32(_ n: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(n).littleEndian, Array.init) }
        func u64(_ n: UInt64) -> [UInt8] { withUnsafeBytes(of: n.littleEndian, Array.init) }
        var body: [UInt8] = []
        for r in records {
            let key = Array(r.key.utf8)
            let size = (48 + key.count + r.payload.count + 7) & ~7
            var rec = u32(size) + u32(0) + u32(key.count) + u32(r.payload.count)
            rec += u64(0) + u64(UInt64(Int64.max)) + u64(txID)
            rec += [r.tag, 0, 0, 0, 0, 0, 0, 0]
            rec += key + r.payload
            rec += [UInt8](repeating: 0, count: size - rec.count)
            body += rec
        }
        return u32(16 + body.count) + u32(records.count) + u32(1) + u32(0) + body
    }
}

extension Database {
    func transactionCount() throws -> TxID { try read { $0.txID } }
}

extension Database {
    @discardableResult
    func put(_ key: Key, _ value: Value, validFrom: Instant? = nil) throws -> Commit {
        try write { try $0.put(key, value, validFrom: validFrom) }
    }
}

import Foundation
@_spi(Testing) import LLMDBStorage
import Testing

@Suite struct StorageTests {
    final class Dir {
        let path = NSTemporaryDirectory() + "llmdb-storage-" + UUID().uuidString
        init() { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func put(_ tx: borrowing WriteTransaction, _ t: Table, _ k: String, _ v: String) throws {
        try bytes(k).withUnsafeBytes { kb in try bytes(v).withUnsafeBytes { vb in try tx.put(t, kb, vb) } }
    }

    func value(_ rtx: borrowing ReadTransaction, _ t: Table, _ k: String) throws -> String? {
        let key = bytes(k)
        return try key.withUnsafeBytes { kb -> String? in
            guard let v = try rtx.get(t, kb) else { return nil }
            return String(decoding: v, as: UTF8.self)
        }
    }

    @Test func singleFileEnvironmentWithNamedTables() throws {
        let dir = Dir()
        let path = dir.path + "/db"
        let env = try Environment(path: path, options: .init())
        let tables = try env.openTables(["a", "b"], create: true)
        let a = try #require(tables["a"])
        let b = try #require(tables["b"])
        let tx = try env.beginWrite()
        try put(tx, a, "k", "in a")
        try put(tx, b, "k", "in b")
        try tx.commit()
        let (va, vb) = try env.read { (rtx: consuming ReadTransaction) throws in
            (
                try value(rtx, a, "k"),
                try value(rtx, b, "k")
            )
        }
        #expect(va == "in a")
        #expect(vb == "in b")
        var isDir: ObjCBool = true
        #expect(FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue)
        #expect(FileManager.default.fileExists(atPath: path + "-lock"))
    }

    @Test func cursorSeeksAndSteps() throws {
        let dir = Dir()
        let env = try Environment(path: dir.path + "/db", options: .init())
        let t = try #require(try env.openTables(["t"], create: true)["t"])
        let tx = try env.beginWrite()
        for k in ["b", "d", "f"] { try put(tx, t, k, k.uppercased()) }
        try tx.commit()
        try env.read { (rtx: consuming ReadTransaction) throws in
            let c = try rtx.cursor(t)
            let e = try bytes("c").withUnsafeBytes { try c.seek(atLeast: $0) }
            #expect(e.map { String(decoding: $0.key, as: UTF8.self) } == "d")
            #expect(try c.previous().map { String(decoding: $0.value, as: UTF8.self) } == "B")
            #expect(try c.previous() == nil)
            #expect(try c.last().map { String(decoding: $0.key, as: UTF8.self) } == "f")
            #expect(try c.next() == nil)
            #expect(try bytes("g").withUnsafeBytes { try c.seek(atLeast: $0) } == nil)
            #expect(try bytes("d").withUnsafeBytes { try c.seek(exactly: $0) } != nil)
            #expect(try bytes("e").withUnsafeBytes { try c.seek(exactly: $0) } == nil)
        }
    }

    @Test func readersSeeTheirSnapshotWhileTheWriterCommits() throws {
        let dir = Dir()
        let env = try Environment(path: dir.path + "/db", options: .init())
        let t = try #require(try env.openTables(["t"], create: true)["t"])
        let tx = try env.beginWrite()
        try put(tx, t, "k", "old")
        try tx.commit()
        try env.read { (rtx: consuming ReadTransaction) throws in
            // A write commits while this snapshot is open: the snapshot keeps the old value.
            let done = DispatchSemaphore(value: 0)
            Thread {
                let w = try! env.beginWrite()
                try! self.put(w, t, "k", "new")
                try! w.commit()
                done.signal()
            }.start()
            #expect(done.wait(timeout: .now() + 10) == .success, "the writer was blocked by a reader")
            #expect(try value(rtx, t, "k") == "old")
        }
        #expect(try env.read { rtx in try value(rtx, t, "k") } == "new")
    }

    @Test func nestedTransactionAbortKeepsTheParent() throws {
        struct Boom: Error {}
        let dir = Dir()
        let env = try Environment(path: dir.path + "/db", options: .init())
        let t = try #require(try env.openTables(["t"], create: true)["t"])
        let tx = try env.beginWrite()
        try put(tx, t, "parent", "1")
        #expect(throws: Boom.self) {
            try tx.nested { (child: inout WriteTransaction) in
                try self.put(child, t, "child", "1")
                throw Boom()
            }
        }
        try tx.nested { (child: inout WriteTransaction) in try self.put(child, t, "child2", "1") }
        try tx.commit()
        try env.read { (rtx: consuming ReadTransaction) throws in
            #expect(try value(rtx, t, "parent") != nil)
            #expect(try value(rtx, t, "child") == nil)
            #expect(try value(rtx, t, "child2") != nil)
        }
    }

    @Test func mapFullThenGrow() throws {
        let dir = Dir()
        var o = Environment.Options()
        o.mapSize = 256 << 10
        o.maxMapSize = 4 << 20
        let env = try Environment(path: dir.path + "/db", options: o)
        let t = try #require(try env.openTables(["t"], create: true)["t"])
        let big = String(repeating: "x", count: 100_000)
        var full = false
        for i in 0..<20 {
            let tx = try env.beginWrite()
            do {
                try put(tx, t, "k\(i)", big)
                try tx.commit()
            } catch let e as LMDBError {
                #expect(e.code == .mapFull)
                #expect(e.description.contains("MDB_MAP_FULL"))
                full = true
                break
            }
        }
        #expect(full)
        let before = env.mapSize
        #expect(try env.grow())
        #expect(env.mapSize > before)
        let tx = try env.beginWrite()
        try put(tx, t, "after", big)
        try tx.commit()
    }

    @Test func errorsAreTypedAndNamed() throws {
        let dir = Dir()
        let e = #expect(throws: LMDBError.self) {
            try Environment(path: dir.path + "/missing/dir/db", options: .init())
        }
        #expect(e?.code == .noSuchFile)
        #expect(e?.description.hasPrefix("mdb_env_open: ENOENT") == true)
        #expect(LMDBError.Code.mapFull ~= LMDBError(code: .mapFull, operation: "x"))
        #expect(LMDBError.Code.notFound.name == "MDB_NOTFOUND")
    }

    @Test func faultInjection() throws {
        let dir = Dir()
        let env = try Environment(path: dir.path + "/db", options: .init())
        let t = try #require(try env.openTables(["t"], create: true)["t"])
        env.faults.arm(.commit, .ioError)
        let tx = try env.beginWrite()
        try put(tx, t, "k", "v")
        var caught: LMDBError? = nil
        do { try tx.commit() } catch { caught = error }
        #expect(caught?.code == .ioError)
        #expect(try env.read { rtx in try value(rtx, t, "k") } == nil)
    }
}

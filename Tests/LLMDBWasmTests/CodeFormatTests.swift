import Foundation
import LLMDB
import LLMDBWasm
import Testing

@Suite("WebAssembly: stored code formats")
struct CodeFormatTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/formats")

    /// A copy of the fixture `name`, opened with a WebAssembly runtime.
    static func open(_ name: String) throws -> (Database, String) {
        let dir = NSTemporaryDirectory() + "llmdb-format-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/" + name
        try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent(name).path, toPath: path)
        var o = Database.Options()
        o.sync = .none
        o.codeRunner = WasmRuntime()
        return (try Database.open(path: path, options: o), dir)
    }

    @Test("code records that name their module inline (before name records) stay readable, and gain names")
    func inlineNames() throws {
        let (db, dir) = try Self.open("code-v1.llmdb")
        defer {
            db.close()
            try? FileManager.default.removeItem(atPath: dir)
        }
        // As the old build wrote it (see Tests/Fixtures/formats/README.md).
        #expect(try db.listCode().map(\.meta.name) == ["legacy-map", "moved"])
        let map = try db.code("legacy-map")
        #expect(map.meta.kind == .mapPages && map.meta.function == "map_pages" && map.txID == 3)
        #expect(map.meta.sha256.hasPrefix("0fe7a169"))
        let moved = try db.code("moved")
        #expect(moved.meta.kind == .reducePages && moved.txID == 7)
        #expect(try db.listCode(tx: .id(4)).map(\.meta.name) == ["legacy-count", "legacy-map"])
        #expect(try db.listCode(tx: .id(5)).map(\.meta.name) == ["gone", "legacy-count", "legacy-map"])
        #expect(try db.listCode(tx: .id(6)).map(\.meta.name) == ["legacy-count", "legacy-map"])
        #expect(try db.scan(prefix: "k:", map: "legacy-map").count == 2)
        let counted = try db.reduce(prefix: "k:", module: "moved")
        #expect(counted.accumulator.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } == 2)

        // The same bytes under a second name: both live; removing the old name keeps the new.
        let second = try db.addCode(WAT.identityMap, name: "second-map")
        #expect(second.meta.sha256 == map.meta.sha256)
        #expect(try db.listCode().map(\.meta.name) == ["legacy-map", "moved", "second-map"])
        #expect(try db.code("legacy-map").txID == 3)
        try db.removeCode("legacy-map")
        #expect(try db.listCode().map(\.meta.name) == ["moved", "second-map"])
        #expect(throws: LLMDBError.self) { try db.code("legacy-map") }
        #expect(try db.scan(prefix: "k:", map: "second-map").count == 2)
        // The count module under its old inline name only: its bytes go with it.
        try db.removeCode("moved")
        #expect(try db.listCode().map(\.meta.name) == ["second-map"])
        #expect(try db.read { try $0.get(.code(moved.meta.sha256)) }?.value == nil)
        // History reads as before.
        #expect(try db.listCode(tx: .id(4)).map(\.meta.name) == ["legacy-count", "legacy-map"])
        #expect(try db.listCode(tx: .id(7)).map(\.meta.name) == ["legacy-map", "moved"])
    }
}

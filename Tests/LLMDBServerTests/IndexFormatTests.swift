import Foundation
import LLMDB
import LLMDBDocuments
import LLMDBMemory
import LLMDBService
import LLMDBWasm
import Testing

/// A database written by the build before the derived-data seam (commit 21a06ac), with each
/// kind of index the core then maintained itself: it opens, answers exactly as that build did
/// (the figures below are what it answered, see Tests/Fixtures/formats/README.md), and goes on
/// maintaining its indexes.
@Suite("Indexes written before the derived-data seam")
struct IndexFormatTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/formats")

    /// A copy of `indexes-v1.llmdb`, opened as `llmdb serve` opens a database.
    static func open() throws -> (Database, String) {
        let dir = NSTemporaryDirectory() + "llmdb-index-format-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/indexes-v1.llmdb"
        try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent("indexes-v1.llmdb").path, toPath: path)
        var o = Database.Options()
        o.sync = .none
        o.codeRunner = WasmRuntime()
        o.indexKinds = Database.Options.builtInIndexKinds
        return (try Database.open(path: path, options: o), dir)
    }

    func search(_ c: LLMDBDocuments.Collection, _ q: String, tx: TxID) throws -> [String] {
        try c.search(q, tx: .id(tx)).map { "\($0.document.id) \($0.score)" }
    }

    func recall(_ db: Database, _ q: String, tx: TxID) throws -> [String] {
        var query = RecallQuery(text: q)
        query.tx = .id(tx)
        return try AgentMemory(db: db).recall(query).hits.map { "\($0.memory.key) \($0.score)" }
    }

    func colour(_ db: Database, _ k: String, tx: TxID) throws -> [String] {
        try db.lookup(index: "colour", key: Array(k.utf8), tx: .id(tx)).map(\.key.description)
    }

    @Test("JSON-path, full-text and WebAssembly indexes of the old format answer as that build did")
    func answersUnchanged() throws {
        let (db, dir) = try Self.open()
        defer {
            db.close()
            try? FileManager.default.removeItem(atPath: dir)
        }
        // Definitions without a kind, each claimed by its kind.
        #expect(try db.indexes().map(\.indexKind) == ["wasm", "full_text", "json_path", "full_text"])
        let notes = try db.collection("notes")
        #expect(try search(notes, "quick fox", tx: 7) == ["n1 2.5574043016026784"])
        #expect(try search(notes, "brown", tx: 7) == ["n3 0.7361701090084937"])
        #expect(try search(notes, "quick fox", tx: 8) == ["n1 1.83946802118179", "n4 1.83946802118179"])
        #expect(try search(notes, "brown", tx: 23) == ["n3 0.919734010590895"])

        #expect(try recall(db, "quick fox", tx: 11) == ["agent:knowledge:fox 0.6931471805599453"])
        #expect(try recall(db, "lazy dogs", tx: 11) == ["agent:knowledge:dog 1.3862943611198906"])
        #expect(try recall(db, "quick fox", tx: 12) == ["agent:knowledge:fox 0.9066488893385706"])
        #expect(try recall(db, "lazy dogs", tx: 12) == ["agent:knowledge:dog 2.0453311437211354"])
        #expect(try recall(db, "quick fox", tx: 23) == ["agent:knowledge:fox 1.100115725358523"])
        #expect(try recall(db, "lazy dogs", tx: 23) == [])

        let alpha = try Filter.parse(#"{"title":"alpha"}"#)
        #expect(try notes.explain(alpha).hasPrefix("index 'doc.notes.title' on title"))
        #expect(try notes.find(alpha, tx: .id(3)).documents.map(\.id) == ["n1"])
        #expect(try notes.find(alpha, tx: .id(4)).documents.map(\.id) == ["n1", "n3"])
        #expect(try notes.find(alpha).documents.map(\.id) == ["n3"])

        #expect(try colour(db, "red", tx: 18) == ["c:1"])
        #expect(try colour(db, "blue", tx: 19) == ["c:2"])
        #expect(try colour(db, "red", tx: 23) == ["c:1", "c:3"])
        #expect(try colour(db, "blue", tx: 23) == [])
        #expect(try colour(db, "green", tx: 23) == ["c:2"])
        #expect(try db.verify().problems == [])
    }

    @Test("an old database's indexes go on being maintained: writes, deletes and erases after the upgrade")
    func maintainedAfterOpen() throws {
        let (db, dir) = try Self.open()
        defer {
            db.close()
            try? FileManager.default.removeItem(atPath: dir)
        }
        let notes = try db.collection("notes")
        try notes.insert(.object([JSONMember("title", "alpha"), JSONMember("body", "a quick fox again")]), id: "n5")
        let alpha = try Filter.parse(#"{"title":"alpha"}"#)
        #expect(try notes.find(alpha).documents.map(\.id) == ["n3", "n5"])
        #expect(try notes.search("again").map(\.document.id) == ["n5"])
        // The statistics kept up by each write rank as a build from scratch does.
        let maintained = try notes.search("quick fox").map { "\($0.document.id) \($0.score)" }
        #expect(Set(maintained.map { $0.prefix(2) }) == ["n1", "n4", "n5"], "\(maintained)")
        try notes.createTextIndex(path: "body")
        #expect(try notes.search("quick fox").map { "\($0.document.id) \($0.score)" } == maintained)
        try db.write { try $0.put("c:5", .raw("red")) }
        try db.write { try $0.erase("c:1") }
        #expect(try db.lookup(index: "colour", key: Array("red".utf8)).map(\.key.description) == ["c:3", "c:5"])
        try AgentMemory(db: db).remember([MemoryInput(key: "agent:knowledge:owl", content: "owls are quick at night")])
        var q = RecallQuery(text: "owls")
        q.limit = 5
        #expect(try AgentMemory(db: db).recall(q).hits.map(\.memory.key) == ["agent:knowledge:owl"])
        #expect(try db.verify().problems == [])
    }
}

import Foundation
import LLMDB
import LLMDBDocuments
import Testing

final class DocDB: @unchecked Sendable {
    // @unchecked Sendable: set once in init.
    let dir: String
    let clock = ManualClock(start: Instant(microseconds: 1_000_000))
    let db: Database
    init() throws {
        dir = NSTemporaryDirectory() + "llmdb-doc-test-" + UUID().uuidString
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
}

func json(_ text: String) throws -> JSONValue { try JSONValue(parsing: text) }

@Suite("Documents: CRUD and time")
struct CRUDTests {
    @Test("insert, get, replace, patch, delete, each readable as of earlier transactions")
    func lifecycle() throws {
        let t = try DocDB()
        let users = try t.db.collection("users")
        let (id, c1) = try users.insert(
            try json(#"{"name":"Ada","address":{"city":"London","zip":"N1"},"tags":["a"]}"#),
            id: "ada"
        )
        #expect(id == "ada")
        t.clock.advance(by: 10)
        try users.patch("ada", with: try json(#"{"address":{"city":"Paris","zip":null},"age":36}"#))
        let now = try #require(try users.get("ada"))
        #expect(now.body == (try json(#"{"name":"Ada","address":{"city":"Paris"},"tags":["a"],"age":36}"#)))
        #expect(try users.get("ada", tx: .id(c1.txID))?.body["address"]?["city"] == .string("London"))
        t.clock.advance(by: 10)
        let c3 = try users.replace("ada", with: try json(#"{"name":"Ada Lovelace"}"#))
        t.clock.advance(by: 10)
        try users.delete("ada")
        #expect(try users.get("ada") == nil)
        #expect(try users.get("ada", tx: .id(c3.txID))?.body == (try json(#"{"name":"Ada Lovelace"}"#)))
        #expect(try users.history("ada").count == 4)
        // A generated id.
        let (gen, _) = try users.insert(try json(#"{"name":"Bob"}"#))
        #expect(gen.count == 22)
        #expect(try users.get(gen)?.body["name"] == .string("Bob"))
    }

    @Test("bad input is refused and nothing is written")
    func badInput() throws {
        let t = try DocDB()
        let users = try t.db.collection("users")
        try users.insert(try json(#"{"n":1}"#), id: "x")
        let before = try t.db.read { $0.txID }
        func refused(_ code: LLMDBError.Code, _ body: () throws -> Void) {
            #expect { try body() } throws: { e in (e as? LLMDBError)?.code == code }
        }
        refused(.invalidJSON) { _ = try json(#"{"n":"#) }
        refused(.conflict) { try users.insert(try json(#"{"n":2}"#), id: "x") }
        refused(.conflict) { try users.replace("missing", with: try json("{}")) }
        refused(.conflict) { try users.delete("missing") }
        refused(.notFound) { try users.patch("missing", with: try json("{}")) }
        refused(.invalidValue) { try users.insert(try json("[1,2]"), id: "arr") }
        refused(.invalidValue) { try users.insert(try json(#"{"_v":3}"#), id: "v") }
        refused(.invalidArgument) { _ = try t.db.collection("bad name") }
        refused(.invalidArgument) { try users.insert(try json("{}"), id: "") }
        refused(.invalidQuery) { _ = try Filter.parse(#"{"a":{"$regex":"x"}}"#) }
        refused(.invalidQuery) { _ = try Filter.parse(#"[1]"#) }
        refused(.invalidQuery) { _ = try Filter.parse(#"{"a..b":1}"#) }
        refused(.invalidQuery) { _ = try users.find(cursor: "not a cursor") }
        #expect(try t.db.read { $0.txID } == before)
        #expect(try users.get("x")?.body == (try json(#"{"n":1}"#)))
    }

    @Test("concurrent patches lose no update")
    func concurrentPatches() async throws {
        let t = try DocDB()
        let users = try t.db.collection("users")
        try users.insert(try json("{}"), id: "shared")
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                group.addTask { _ = try? users.patch("shared", with: try json(#"{"f\#(i)":true}"#)) }
            }
        }
        let doc = try #require(try users.get("shared"))
        for i in 0..<8 { #expect(doc.body["f\(i)"] == .bool(true), "field f\(i) was lost") }
    }
}

@Suite("Documents: find")
struct FindTests {
    static func seed(_ t: DocDB) throws -> LLMDBDocuments.Collection {
        let c = try t.db.collection("people")
        let rows = [
            #"{"name":"a","age":30,"city":"Paris","tags":["x","y"],"address":{"zip":"75001"}}"#,
            #"{"name":"b","age":25,"city":"Berlin","tags":["y"]}"#,
            #"{"name":"c","age":40,"city":"Paris","tags":[]}"#,
            #"{"name":"d","age":35.5,"city":"Rome"}"#,
            #"{"name":"e","city":null}"#,
        ]
        for (i, r) in rows.enumerated() { try c.insert(try json(r), id: "p\(i)") }
        return c
    }

    func ids(_ r: FindResult) -> [String] { r.documents.map(\.id) }

    @Test("every operator, projections, sort, limit and count")
    func operators() throws {
        let t = try DocDB()
        let c = try Self.seed(t)
        func find(_ f: String) throws -> [String] { ids(try c.find(try Filter.parse(f))) }
        #expect(try find("{}") == ["p0", "p1", "p2", "p3", "p4"])
        #expect(try find(#"{"city":"Paris"}"#) == ["p0", "p2"])
        #expect(try find(#"{"age":{"$gt":30}}"#) == ["p2", "p3"])
        #expect(try find(#"{"age":{"$gte":30,"$lt":40}}"#) == ["p0", "p3"])
        #expect(try find(#"{"age":{"$lte":25}}"#) == ["p1"])
        #expect(try find(#"{"city":{"$ne":"Paris"}}"#) == ["p1", "p3", "p4"])
        #expect(try find(#"{"city":{"$in":["Rome","Berlin"]}}"#) == ["p1", "p3"])
        #expect(try find(#"{"city":{"$nin":["Rome","Berlin"]}}"#) == ["p0", "p2", "p4"])
        #expect(try find(#"{"address.zip":{"$exists":true}}"#) == ["p0"])
        #expect(try find(#"{"age":{"$exists":false}}"#) == ["p4"])
        #expect(try find(#"{"city":null}"#) == ["p4"])
        #expect(try find(#"{"tags":{"$contains":"y"}}"#) == ["p0", "p1"])
        #expect(try find(#"{"tags":"x"}"#) == ["p0"])
        #expect(try find(#"{"$or":[{"city":"Rome"},{"age":25}]}"#) == ["p1", "p3"])
        #expect(try find(#"{"$not":{"city":"Paris"}}"#) == ["p1", "p3", "p4"])
        #expect(try find(#"{"$and":[{"city":"Paris"},{"age":{"$gt":35}}]}"#) == ["p2"])
        #expect(try find(#"{"age":"30"}"#) == [])  // types never compare equal
        let projected = try c.find(try Filter.parse(#"{"name":"a"}"#), fields: ["name", "address.zip"])
        #expect(projected.documents.first?.body == (try json(#"{"name":"a","address":{"zip":"75001"}}"#)))
        #expect(ids(try c.find(sort: [SortKey("age", descending: true)])) == ["p2", "p3", "p0", "p1", "p4"])
        #expect(
            ids(try c.find(sort: [SortKey("city"), SortKey("age", descending: true)])) == [
                "p4", "p1", "p2", "p0", "p3",
            ]
        )
        #expect(ids(try c.find(limit: 2)) == ["p0", "p1"])
        #expect(try c.count(try Filter.parse(#"{"city":"Paris"}"#)) == 2)
    }

    @Test("cursor pagination returns every match once, in order, with and without sort")
    func pagination() throws {
        let t = try DocDB()
        let c = try t.db.collection("items")
        for i in 0..<57 { try c.insert(try json(#"{"n":\#(i % 7),"i":\#(i)}"#), id: String(format: "i%03d", i)) }
        for sort in [[], [SortKey("n")], [SortKey("n", descending: true), SortKey("i")]] {
            let all = try c.find(sort: sort).documents.map(\.id)
            var paged: [String] = []
            var cursor: String? = nil
            repeat {
                let page = try c.find(sort: sort, limit: 10, cursor: cursor)
                paged += page.documents.map(\.id)
                cursor = page.cursor
            } while cursor != nil
            #expect(paged == all)
            #expect(all.count == 57)
        }
    }

    @Test("find as of a valid time and a transaction")
    func asOf() throws {
        let t = try DocDB()
        let c = try Self.seed(t)
        let before = try t.db.read { $0.txID }
        t.clock.advance(by: 100)
        try c.patch("p1", with: try json(#"{"city":"Paris"}"#))
        #expect(ids(try c.find(try Filter.parse(#"{"city":"Paris"}"#))) == ["p0", "p1", "p2"])
        #expect(ids(try c.find(try Filter.parse(#"{"city":"Paris"}"#), tx: .id(before))) == ["p0", "p2"])
        let future = t.clock.now().advanced(by: 1_000)
        try c.insert(try json(#"{"city":"Paris"}"#), id: "later", validFrom: future)
        #expect(try c.count(try Filter.parse(#"{"city":"Paris"}"#)) == 3)
        #expect(try c.count(try Filter.parse(#"{"city":"Paris"}"#), validAt: future) == 4)
    }
}

@Suite("Documents: indexes")
struct DocumentIndexTests {
    @Test("an index on a JSON path is used by find, explained, and agrees with a full scan at every time")
    func indexMatchesScan() throws {
        var rng = SystemRandomNumberGenerator()
        let t = try DocDB()
        let c = try t.db.collection("users")
        let cities = ["Paris", "Rome", "Oslo"]
        var txs: [TxID] = []
        for i in 0..<80 {
            t.clock.advance(by: 5)
            let id = "u\(Int.random(in: 0..<25, using: &rng))"
            let city = cities.randomElement(using: &rng)!
            let body = try json(#"{"city":"\#(city)","n":\#(i),"tags":["\#(city.lowercased())"]}"#)
            if try c.get(id) == nil {
                try c.insert(body, id: id)
            } else if Bool.random(using: &rng) {
                try c.replace(id, with: body)
            } else {
                try c.delete(id)
            }
            txs.append(try t.db.read { $0.txID })
            if i == 40 { try c.createIndex(on: "city") }
        }
        try c.createIndex(on: "tags")
        #expect(try c.explain(try Filter.parse(#"{"city":"Paris","n":{"$gt":3}}"#)).contains("index 'doc.users.city'"))
        #expect(try c.explain(try Filter.parse(#"{"n":3}"#)).contains("full scan"))
        for tx in txs {
            for f in [#"{"city":"Paris"}"#, #"{"city":{"$in":["Rome","Oslo"]}}"#, #"{"tags":"oslo"}"#] {
                let filter = try Filter.parse(f)
                let viaIndex = try c.find(filter, tx: .id(tx))
                #expect(viaIndex.plan.contains("index"))
                var expected: [String] = []
                for d in try c.find(tx: .id(tx)).documents where filter.matches(d.body) { expected.append(d.id) }
                #expect(viaIndex.documents.map(\.id) == expected, "\(f) at tx \(tx)")
            }
        }
        try c.dropIndex(on: "city")
        #expect(try c.explain(try Filter.parse(#"{"city":"Paris"}"#)).contains("full scan"))
    }
}

@Suite("Documents: schemas")
struct SchemaTests {
    static let schema = #"""
        {"type":"object","required":["name","age"],"additionalProperties":false,
         "properties":{"name":{"type":"string","minLength":1,"pattern":"^[A-Z]"},
                       "age":{"type":"integer","minimum":0,"maximum":150},
                       "role":{"enum":["admin","user"]},
                       "address":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},
                       "tags":{"type":"array","items":{"type":"string"},"maxItems":2}}}
        """#

    @Test("writes are validated against the current schema; every violation is listed with its path")
    func validation() throws {
        let t = try DocDB()
        let c = try t.db.collection("people")
        try c.insert(try json(#"{"anything":true}"#), id: "old")
        let v1 = try c.setSchema(try json(Self.schema))
        #expect(v1.version == 1)
        try c.insert(try json(#"{"name":"Ada","age":36,"role":"admin","tags":["x"]}"#), id: "ada")
        #expect(try c.get("ada")?.schemaVersion == 1)
        #expect(try c.get("old")?.schemaVersion == nil)
        let before = try t.db.read { $0.txID }
        do {
            try c.insert(
                try json(#"{"name":"ada","age":-1,"role":"root","address":{},"tags":["a",2,"c"],"extra":1}"#),
                id: "bad"
            )
            Issue.record("accepted a document violating the schema")
        } catch let e as LLMDBError {
            #expect(e.code == .schemaViolation)
            for needle in [
                "$.name: does not match the pattern", "$.age: less than the minimum 0", "$.role:",
                "$.address.city: required but missing",
                "$.tags[1]: expected string, found integer", "$.tags: 3 items", "$.extra: not allowed",
            ] {
                #expect(e.message.contains(needle), "missing \(needle) in \(e.message)")
            }
        }
        #expect(try t.db.read { $0.txID } == before)
        #expect(try c.get("bad") == nil)
        // The stored fact carries the version; the document API hides it.
        #expect(try t.db.get(Key("people/ada"))?.value?.payload.starts(with: Array(#"{"_v":1,"#.utf8)) == true)
    }

    @Test("invalid schemas are refused with every problem named")
    func invalidSchemas() throws {
        let t = try DocDB()
        let c = try t.db.collection("people")
        #expect {
            try c.setSchema(
                try json(
                    #"{"type":"strin","properties":{"a":{"minimum":"x","pattern":"("}},"required":[1],"oneOf":[]}"#
                )
            )
        } throws: { e in
            let m = (e as? LLMDBError)?.message ?? ""
            return (e as? LLMDBError)?.code == .invalidSchema && m.contains("$.type")
                && m.contains("$.properties.a.minimum")
                && m.contains("$.properties.a.pattern") && m.contains("$.required")
                && m.contains("unsupported keyword 'oneOf'")
        }
        #expect(try c.schemas().isEmpty)
    }

    @Test("schemas are listed, read as of a time, diffed, and dropped")
    func listAndDiff() throws {
        let t = try DocDB()
        let c = try t.db.collection("people")
        let v1 = try c.setSchema(try json(#"{"type":"object","properties":{"name":{"type":"string"}}}"#))
        let v2 = try c.setSchema(
            try json(
                #"{"type":"object","properties":{"name":{"type":["string","null"]},"age":{"type":"integer"}},"required":["age"]}"#
            )
        )
        #expect(try c.schemas().map(\.version) == [1, 2])
        #expect(try c.schemas(tx: .id(v1.txID)).map(\.version) == [1])
        let diff = v2.schema.diff(from: v1.schema)
        #expect(diff.contains { $0.hasPrefix("+ $.age: added") })
        #expect(diff.contains { $0.hasPrefix("~ $.name type:") })
        #expect(diff.contains { $0.hasPrefix("~ $ required:") })
        try c.dropSchema()
        #expect(try c.schemas().isEmpty)
        try c.insert(try json(#"{"free":"again"}"#), id: "x")
    }
}

@Suite("Documents: full-text search")
struct DocumentTextSearchTests {
    @Test("search ranks by BM25, follows updates, and answers as of earlier transactions")
    func search() throws {
        let t = try DocDB()
        let notes = try t.db.collection("notes")
        let (_, c1) = try notes.insert(
            try json(#"{"title":"JWT rotation","body":"rotate signing keys weekly"}"#),
            id: "a"
        )
        try notes.insert(try json(#"{"title":"Billing","body":"invoice retry after timeout"}"#), id: "b")
        // Built from the stored versions, so it answers about the past too.
        try notes.createTextIndex()
        #expect(try notes.search("rotate keys").map(\.document.id) == ["a"])
        t.clock.advance(by: 10)
        try notes.replace("a", with: try json(#"{"title":"JWT","body":"use JWKS endpoint"}"#))
        #expect(try notes.search("rotate").isEmpty)
        #expect(try notes.search("rotate", tx: .id(c1.txID)).map(\.document.id) == ["a"])
        #expect(try notes.search("jwks").first?.document.body["body"] == .string("use JWKS endpoint"))
        // The text index is not an equality index for find.
        #expect(try notes.find(try Filter.parse(#"{"title":"Billing"}"#)).documents.map(\.id) == ["b"])
        #expect(throws: LLMDBError.self) { try notes.search("the") }
        let other = try t.db.collection("other")
        #expect(throws: LLMDBError.self) { try other.search("x") }
    }
}

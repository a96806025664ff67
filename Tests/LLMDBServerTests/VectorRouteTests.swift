import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LLMDB
import LLMDBService
import LLMDBVector
import NIOCore
import Testing

@testable import LLMDBServer

@Suite("REST and MCP: vector collections")
struct VectorRouteTests {
    @Test("create, put one and a batch, get as of, search with a filter and as of, delete, stats, drop")
    func roundTrip() async throws {
        let t = try ServerDB()
        try await t.app().test(.router) { client in
            let created = try await send(client, .post, "/v1/vectors/notes", #"{"dimensions":3}"#)
            #expect(created.status == 200 && created.json["metric"] == "cosine", "\(created.json)")
            let one = try await send(
                client,
                .put,
                "/v1/vectors/notes/vectors",
                #"{"key":"a","vector":[1,0,0],"metadata":{"lang":"en"}}"#
            )
            #expect(one.status == 200, "\(one.json)")
            guard case .int(let tx1)? = one.json["tx"] else {
                Issue.record("no tx: \(one.json)")
                return
            }
            let batch = try await send(
                client,
                .put,
                "/v1/vectors/notes/vectors",
                #"{"vectors":[{"key":"b","vector":[0,1,0],"metadata":{"lang":"fr"}},{"key":"c","vector":[0.9,0.1,0],"metadata":{"lang":"en"}},{"key":"a","vector":[0,0,1],"metadata":{"lang":"en"}}]}"#
            )
            #expect(batch.status == 200 && batch.json["count"] == 3, "\(batch.json)")

            let now = try await send(client, .get, "/v1/vectors/notes/vectors?key=a")
            #expect(now.json["vector"] == [0.0, 0.0, 1.0], "\(now.json)")
            let then = try await send(client, .get, "/v1/vectors/notes/vectors?key=a&tx=\(tx1)")
            #expect(then.json["vector"] == [1.0, 0.0, 0.0], "\(then.json)")

            func keys(_ body: String) async throws -> [String] {
                let r = try await send(client, .post, "/v1/vectors/notes/search", body)
                #expect(r.status == 200, "\(r.json)")
                guard case .array(let hits)? = r.json["hits"] else { return [] }
                return hits.compactMap { if case .string(let k)? = $0["key"] { k } else { nil } }
            }
            #expect(try await keys(#"{"vector":[1,0,0],"k":2}"#) == ["c", "a"])
            #expect(try await keys(#"{"vector":[1,0,0],"filter":{"lang":"fr"}}"#) == ["b"])
            #expect(try await keys(#"{"vector":[1,0,0],"tx":\#(tx1)}"#) == ["a"])
            // The hits carry no floats, and max_bytes bounds them.
            let small = try await send(
                client,
                .post,
                "/v1/vectors/notes/search",
                #"{"vector":[1,0,0],"max_bytes":150}"#
            )
            if case .array(let hits)? = small.json["hits"] {
                #expect(hits.count < 3 && small.json["truncated"] == true, "\(small.json)")
                #expect(hits.allSatisfy { $0["vector"] == nil })
            } else {
                Issue.record("\(small.json)")
            }

            #expect(try await send(client, .delete, "/v1/vectors/notes/vectors?key=c").status == 200)
            #expect(try await keys(#"{"vector":[1,0,0]}"#) == ["a", "b"])
            let stats = try await send(client, .get, "/v1/vectors/notes")
            #expect(stats.json["vectors"] == 2 && stats.json["versions"] == 5, "\(stats.json)")
            #expect(try await send(client, .delete, "/v1/vectors/notes/vectors?key=b&erase=true").status == 200)
            #expect(try await send(client, .get, "/v1/vectors/notes").json["versions"] == 4)
            let list = try await send(client, .get, "/v1/vectors")
            #expect(
                list.json["collections"] == [["name": "notes", "dimensions": 3, "metric": "cosine", "partition": 0]],
                "\(list.json)"
            )
            #expect(try await send(client, .delete, "/v1/vectors/notes").status == 200)
            let gone = try await send(client, .post, "/v1/vectors/notes/search", #"{"vector":[1,0,0]}"#)
            #expect(gone.status == 404 && gone.code == "not_found", "\(gone.json)")
        }
    }

    @Test("bad input gets a 400 that names it, and the database is unchanged")
    func badInput() async throws {
        let t = try ServerDB()
        try await t.app().test(.router) { client in
            #expect(try await send(client, .post, "/v1/vectors/v", #"{"dimensions":2}"#).status == 200)
            let before = try t.db.stats().lastTxID
            let cases: [(HTTPRequest.Method, String, String?, String)] = [
                (.put, "/v1/vectors/v/vectors", #"{"key":"k","vector":[1,2,3]}"#, "3 dimensions"),
                (.put, "/v1/vectors/v/vectors", #"{"key":"k","vector":[0,0]}"#, "zero vector"),
                (.put, "/v1/vectors/v/vectors", #"{"key":"k","vector":[1,"x"]}"#, "element 1 is not a number"),
                (.put, "/v1/vectors/v/vectors", #"{"key":"k","vector":[1,2],"colour":1}"#, "unknown field"),
                (
                    .put, "/v1/vectors/v/vectors",
                    #"{"vectors":[{"key":"ok","vector":[1,2]},{"key":"bad","vector":[1]}]}"#, "1 dimensions"
                ),
                (
                    .put, "/v1/vectors/v/vectors", #"{"vectors":[{"key":"k","vector":[1,2],"x":1}]}"#,
                    "unknown field 'x'"
                ),
                (.post, "/v1/vectors/v/search", #"{"vector":[1,2],"k":0}"#, "'k' must be from 1 to 100"),
                (.post, "/v1/vectors/v/search", #"{"vector":[1,2],"k":101}"#, "'k' must be from 1 to 100"),
                (.post, "/v1/vectors/v/search", #"{"vector":[1,2],"filter":[1]}"#, "'filter' must be an object"),
                (.post, "/v1/vectors/v/search", #"{"vector":[1,2,3]}"#, "3 dimensions"),
                (.post, "/v1/vectors/v", #"{"dimensions":3}"#, "exists with 2 dimensions"),
                (.post, "/v1/vectors/w", #"{"dimensions":3,"metric":"hamming"}"#, "'metric' must be"),
                (.post, "/v1/vectors/w", #"{"dimensions":0}"#, "dimensions are 1 to 65536"),
            ]
            for (method, uri, body, message) in cases {
                let r = try await send(client, method, uri, body)
                guard case .string(let m)? = r.json["error"]?["message"] else {
                    Issue.record("\(uri) \(body ?? ""): \(r.json)")
                    continue
                }
                #expect(r.status == 400 || r.status == 409, "\(uri) \(body ?? ""): \(r.json)")
                #expect(m.contains(message), "\(uri) \(body ?? ""): \(m)")
            }
            let missing = try await send(client, .post, "/v1/vectors/nope/search", #"{"vector":[1,2]}"#)
            #expect(missing.status == 404, "\(missing.json)")
            #expect(try t.db.stats().lastTxID == before)
        }
    }

    @Test("an API key limited to other prefixes may not read or write a collection's vectors")
    func scopes() async throws {
        let t = try ServerDB()
        _ = try APIKeys.create(t.db, name: "admin", role: .admin, partitions: nil, prefixes: nil)
        let (admin, _) = try APIKeys.create(t.db, name: "admin2", role: .admin, partitions: nil, prefixes: nil)
        let (notes, _) = try APIKeys.create(
            t.db,
            name: "notes",
            role: .write,
            partitions: nil,
            prefixes: ["vec/notes/"]
        )
        let (other, _) = try APIKeys.create(t.db, name: "other", role: .write, partitions: nil, prefixes: ["agent:"])
        try await t.app().test(.router) { client in
            #expect(
                try await send(client, .post, "/v1/vectors/notes", #"{"dimensions":2}"#, token: admin).status == 200
            )
            let put = #"{"key":"k","vector":[1,2]}"#
            #expect(try await send(client, .put, "/v1/vectors/notes/vectors", put, token: notes).status == 200)
            #expect(try await send(client, .put, "/v1/vectors/notes/vectors", put, token: other).status == 403)
            let search = #"{"vector":[1,2]}"#
            #expect(try await send(client, .post, "/v1/vectors/notes/search", search, token: other).status == 403)
            #expect(try await send(client, .post, "/v1/vectors/notes/search", search, token: notes).status == 200)
            // Creating a collection needs an admin key without a prefix restriction.
            let create = try await send(client, .post, "/v1/vectors/more", #"{"dimensions":2}"#, token: notes)
            #expect(create.status == 403, "\(create.json)")
        }
    }

    @Test("MCP: vector_search is listed and answers like the REST route")
    func mcpTool() async throws {
        let t = try ServerDB()
        let c = try t.db.createVectorCollection("mem", dimensions: 2)
        try c.put("x", [1, 0], metadata: ["topic": "tea"])
        try c.put("y", [0, 1], metadata: ["topic": "coffee"])
        try await t.app().test(.router) { client in
            let session = try #require(try await openSession(client))
            let list = try await mcp(
                client,
                .post,
                #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
                session: session
            )
            #expect("\(list.json)".contains("vector_search"))
            let r = try await mcp(
                client,
                .post,
                mcpToolCall(3, "vector_search", #"{"collection":"mem","vector":[0.1,0.9],"k":1}"#),
                session: session
            )
            let answer = try #require(r.tool, "\(r.json)")
            guard case .array(let hits)? = answer.json["hits"] else {
                Issue.record("\(answer.json)")
                return
            }
            #expect(!answer.isError && hits.count == 1 && hits[0]["key"] == "y", "\(answer.json)")
            let bad = try await mcp(
                client,
                .post,
                mcpToolCall(4, "vector_search", #"{"collection":"mem","vector":[1]}"#),
                session: session
            )
            #expect(bad.tool?.isError == true, "\(bad.json)")
        }
    }
}

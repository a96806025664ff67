import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LLMDB
import LLMDBServer
import LLMDBService
import Logging
import NIOCore
import Testing

final class ServerDB: @unchecked Sendable {
    // @unchecked Sendable: set once in init.
    let dir: String
    let db: Database
    let front: HTTPFront
    init(options: ServerOptions = ServerOptions()) throws {
        dir = NSTemporaryDirectory() + "llmdb-server-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var o = Database.Options()
        o.sync = .none
        db = try Database.open(path: dir + "/test.llmdb", options: o)
        let service = Service(db: db, limits: options.limits)
        front = HTTPFront(
            service: service,
            options: options,
            logger: Logger(label: "test"),
            mcp: MCPSessions(service: service, version: "test")
        )
    }
    deinit {
        db.close()
        try? FileManager.default.removeItem(atPath: dir)
    }

    func app() -> some ApplicationProtocol {
        Application(
            router: front.router(),
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0))
        )
    }
}

struct Reply {
    let status: Int
    let json: JSONValue
    var code: String? {
        if case .string(let c)? = json["error"]?["code"] { return c }
        return nil
    }
}

func send(
    _ client: some TestClientProtocol,
    _ method: HTTPRequest.Method,
    _ uri: String,
    _ body: String? = nil,
    token: String? = nil
) async throws -> Reply {
    var headers: HTTPFields = [:]
    if let token { headers[.authorization] = "Bearer " + token }
    if body != nil { headers[.contentType] = "application/json" }
    return try await client.execute(
        uri: uri,
        method: method,
        headers: headers,
        body: body.map { ByteBuffer(string: $0) }
    ) {
        response in
        let text = String(buffer: response.body)
        let json = (try? JSONValue(parsing: text)) ?? .string(text)
        return Reply(status: Int(response.status.code), json: json)
    }
}

@Suite("REST: facts, memory, errors")
struct RESTTests {
    @Test("facts and memories round-trip, with as-of reads")
    func roundTrip() async throws {
        let t = try ServerDB()
        try await t.app().test(.router) { client in
            let put = try await send(client, .put, "/v1/facts", #"{"key":"k1","value":{"a":1}}"#)
            #expect(put.status == 200)
            guard case .int(let tx1)? = put.json["tx"] else {
                Issue.record("no tx in \(put.json)")
                return
            }
            _ = try await send(client, .put, "/v1/facts", #"{"key":"k1","value":{"a":2}}"#)
            let now = try await send(client, .get, "/v1/facts?key=k1")
            #expect(now.json["value"] == ["a": 2])
            let then = try await send(client, .get, "/v1/facts?key=k1&tx=\(tx1)")
            #expect(then.json["value"] == ["a": 1])
            let r = try await send(
                client,
                .post,
                "/v1/memory/remember",
                #"{"memories":[{"key":"agent:knowledge:jwt","content":"rotate JWKS signing keys","confidence":0.7},{"key":"agent:decision:t1","content":"use RS256"}]}"#
            )
            #expect(r.status == 200)
            let hits = try await send(client, .post, "/v1/memory/recall", #"{"query":"jwks rotate","limit":5}"#)
            #expect(hits.status == 200)
            guard case .array(let ms)? = hits.json["memories"] else {
                Issue.record("no memories in \(hits.json)")
                return
            }
            #expect(ms.map { $0["key"] } == [.string("agent:knowledge:jwt")])
            let bounded =
                #"{"key":"price","value":8,"valid_from":"2024-06-01T00:00:00Z","valid_to":"2024-06-08T00:00:00Z"}"#
            #expect(try await send(client, .put, "/v1/facts", bounded).status == 200)
            let during = try await send(client, .get, "/v1/facts?key=price&valid_at=2024-06-03T00:00:00Z")
            #expect(during.json["value"] == 8)
            #expect(during.json["valid_to"] == .string("2024-06-08T00:00:00.000000Z"))
            let open = try await send(client, .get, "/v1/facts?key=k1")
            #expect(open.json["valid_to"] == .null)
            let scan = try await send(client, .get, "/v1/scan?prefix=agent:&limit=1")
            #expect(scan.json["next_cursor"] == .string("agent:decision:t1"))
        }
    }

    @Test("bad input gets a JSON error with the right status, and writes nothing")
    func badInput() async throws {
        var options = ServerOptions()
        options.limits.maxBodyBytes = 256
        let t = try ServerDB(options: options)
        try await t.app().test(.router) { client in
            let cases: [(HTTPRequest.Method, String, String?, Int, String)] = [
                (.post, "/v1/memory/recall", "{bad", 400, "invalid_json"),
                (.post, "/v1/memory/recall", "[1]", 400, "invalid_argument"),
                (.post, "/v1/memory/recall", #"{"query":5}"#, 400, "invalid_argument"),
                (.post, "/v1/memory/recall", #"{}"#, 400, "invalid_argument"),
                (.post, "/v1/memory/recall", #"{"query":"x","bogus":1}"#, 400, "invalid_argument"),
                (.post, "/v1/memory/remember", #"{"key":"notagent","content":"x"}"#, 400, "invalid_argument"),
                (
                    .post, "/v1/memory/remember", #"{"key":"agent:k:x","content":"x","confidence":2}"#, 400,
                    "invalid_argument"
                ),
                (.put, "/v1/facts", #"{"key":"k","value":"x","valid_from":"yesterday"}"#, 400, "invalid_argument"),
                (.get, "/v1/facts?key=nothing", nil, 404, "not_found"),
                (.get, "/v1/facts?key=k&tx=abc", nil, 400, "invalid_argument"),
                (.post, "/v1/query", #"{"lql":"SELEC * FROM x"}"#, 400, "invalid_query"),
                (.get, "/v1/no-such-route", nil, 404, "not_found"),
                (
                    .post, "/v1/memory/recall", "{\"query\":\"" + String(repeating: "a", count: 400) + "\"}", 413,
                    "too_large"
                ),
                (
                    .post, "/v1/apply", #"{"operations":[{"op":"put","key":"a","value":1},{"op":"put","key":""}]}"#,
                    400, "invalid_argument"
                ),
            ]
            for (method, uri, body, status, code) in cases {
                let r = try await send(client, method, uri, body)
                #expect(r.status == status, "\(method) \(uri) \(body ?? ""): \(r.json)")
                #expect(r.code == code, "\(method) \(uri) \(body ?? ""): \(r.json)")
                if case .string(let m)? = r.json["error"]?["message"] { #expect(!m.isEmpty) }
            }
        }
        #expect(try t.db.read { $0.txID } == 0)
    }
}

@Suite("Auth: keys, roles and namespace scopes")
struct AuthTests {
    @Test("a key scoped to one namespace can neither read nor write another, by REST or LQL")
    func scopes() async throws {
        let t = try ServerDB()
        let (writer, _) = try APIKeys.create(
            t.db,
            name: "kn",
            role: .write,
            partitions: nil,
            prefixes: ["agent:knowledge:"]
        )
        let (reader, _) = try APIKeys.create(t.db, name: "ro", role: .read, partitions: nil, prefixes: nil)
        let (admin, _) = try APIKeys.create(t.db, name: "admin", role: .admin, partitions: nil, prefixes: nil)
        let (revoked, info) = try APIKeys.create(t.db, name: "old", role: .admin, partitions: nil, prefixes: nil)
        _ = try APIKeys.revoke(t.db, id: info.id)
        try await t.app().test(.router) { client in
            let mine = #"{"key":"agent:knowledge:a","content":"alpha notes"}"#
            let other = #"{"key":"agent:decision:a","content":"alpha decision"}"#
            #expect(try await send(client, .post, "/v1/memory/remember", mine).status == 401)
            #expect(try await send(client, .post, "/v1/memory/remember", mine, token: "llmdb_bad").status == 401)
            #expect(try await send(client, .post, "/v1/memory/remember", mine, token: revoked).status == 401)
            #expect(try await send(client, .post, "/v1/memory/remember", mine, token: writer).status == 200)
            #expect(try await send(client, .post, "/v1/memory/remember", other, token: admin).status == 200)
            let denied = try await send(client, .post, "/v1/memory/remember", other, token: writer)
            #expect(denied.status == 403)
            #expect(denied.code == "forbidden")
            #expect(try await send(client, .get, "/v1/facts?key=agent:decision:a", token: writer).status == 403)
            #expect(
                try await send(client, .get, "/v1/memory/history?key=agent:decision:a", token: writer).status == 403
            )
            #expect(
                try await send(
                    client,
                    .post,
                    "/v1/memory/recall",
                    #"{"query":"alpha","namespace":"agent:decision:"}"#,
                    token: writer
                )
                .status == 403
            )
            // Without a namespace, recall stays inside the key's only prefix.
            let hits = try await send(client, .post, "/v1/memory/recall", #"{"query":"alpha"}"#, token: writer)
            guard case .array(let ms)? = hits.json["memories"] else {
                Issue.record("\(hits.json)")
                return
            }
            #expect(ms.map { $0["key"] } == [.string("agent:knowledge:a")])
            let lql = #"{"lql":"SELECT * FROM kv('agent:')"}"#
            #expect(try await send(client, .post, "/v1/query", lql, token: writer).status == 403)
            #expect(try await send(client, .post, "/v1/scan?prefix=agent:", token: writer).status != 200)
            #expect(try await send(client, .get, "/v1/scan?prefix=agent:", token: writer).status == 403)
            // A read key reads but does not write, and LQL writes are refused.
            #expect(try await send(client, .get, "/v1/facts?key=agent:decision:a", token: reader).status == 200)
            #expect(try await send(client, .post, "/v1/memory/remember", mine, token: reader).status == 403)
            let insert = #"{"lql":"INSERT INTO notes (_id, t) VALUES ('a', 'x')"}"#
            #expect(try await send(client, .post, "/v1/query", insert, token: reader).status == 403)
            let wrapped =
                #"{"lql":"SETTING DEFAULT VALID_TIME AS OF '2026-01-01' INSERT INTO notes (_id, t) VALUES ('b', 'x')"}"#
            #expect(try await send(client, .post, "/v1/query", wrapped, token: reader).status == 403)
            let comment = #"{"lql":"-- a note\n  insert INTO notes (_id, t) VALUES ('c', 'x')"}"#
            #expect(try await send(client, .post, "/v1/query", comment, token: reader).status == 403)
            #expect(try await send(client, .get, "/metrics").status == 401)
            #expect(try await send(client, .get, "/metrics", token: reader).status == 200)
            #expect(try await send(client, .post, "/v1/query", insert, token: admin).status == 200)
        }
    }

    @Test("keys are stored hashed and verified in constant time; revoked keys fail")
    func keysHashed() throws {
        let t = try ServerDB()
        let (token, info) = try APIKeys.create(t.db, name: "k", role: .read, partitions: [1], prefixes: nil)
        let stored = try #require(
            try t.db.read { s in try s.scan(prefix: Key("_meta/apikey/", partition: Key.systemPartition)) }.first
        )
        let secret = String(token.split(separator: "_")[2])
        #expect(!String(decoding: stored.value!.payload, as: UTF8.self).contains(secret))
        #expect(try APIKeys.verify(t.db, token: token)?.partitions == [1])
        #expect(try APIKeys.verify(t.db, token: token + "0") == nil)
        _ = try APIKeys.revoke(t.db, id: info.id)
        #expect(try APIKeys.verify(t.db, token: token) == nil)
        #expect(throws: LLMDBError.self) { try APIKeys.revoke(t.db, id: info.id) }
    }

    @Test("a non-loopback address without keys is refused at start-up")
    func nonLoopback() throws {
        var o = ServerOptions()
        o.host = "0.0.0.0"
        let t = try ServerDB(options: o)
        #expect(throws: APIError.self) { try t.front.checkStartup() }
        _ = try APIKeys.create(t.db, name: "k", role: .admin, partitions: nil, prefixes: nil)
        try t.front.checkStartup()
    }
}

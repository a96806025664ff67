import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LLMDB
import LLMDBService
import NIOCore
import Testing

@testable import LLMDBServer

/// One answer of `/mcp`: the status, the session id, the SSE events (id and data) and the
/// JSON of the last event with data (or of the whole body when it is not a stream).
struct MCPReply {
    let status: Int
    let session: String?
    let events: [(id: String?, data: String)]
    let json: JSONValue

    /// The JSON answer inside a `tools/call` result's text, and whether it is an error.
    var tool: (json: JSONValue, isError: Bool)? {
        guard case .array(let content)? = json["result"]?["content"], case .string(let text)? = content.first?["text"]
        else { return nil }
        return ((try? JSONValue(parsing: text)) ?? .string(text), json["result"]?["isError"] == .bool(true))
    }
}

let mcpInitialize =
    #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"0"}}}"#

func mcpToolCall(_ id: Int, _ name: String, _ arguments: String) -> String {
    #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"\#(name)","arguments":\#(arguments)}}"#
}

func mcp(
    _ client: some TestClientProtocol,
    _ method: HTTPRequest.Method = .post,
    _ body: String? = nil,
    token: String? = nil,
    session: String? = nil,
    lastEventID: String? = nil
) async throws -> MCPReply {
    var headers: HTTPFields = [.accept: "application/json, text/event-stream"]
    if body != nil { headers[.contentType] = "application/json" }
    if let token { headers[.authorization] = "Bearer " + token }
    if let session { headers[HTTPField.Name("Mcp-Session-Id")!] = session }
    if let lastEventID { headers[HTTPField.Name("Last-Event-ID")!] = lastEventID }
    return try await client.execute(
        uri: "/mcp",
        method: method,
        headers: headers,
        body: body.map { ByteBuffer(string: $0) }
    ) { response in
        let text = String(buffer: response.body)
        var events: [(id: String?, data: String)] = []
        var id: String? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
            if line.hasPrefix("data: ") || line == "data:" {
                events.append((id, String(line.dropFirst(min(6, line.count)))))
                id = nil
            }
        }
        let last = events.last(where: { !$0.data.isEmpty })?.data ?? text
        return MCPReply(
            status: Int(response.status.code),
            session: response.headers[HTTPField.Name("Mcp-Session-Id")!],
            events: events,
            json: (try? JSONValue(parsing: last)) ?? .string(last)
        )
    }
}

/// Opens an MCP session (initialize, then the initialized notification) and returns its id.
func openSession(_ client: some TestClientProtocol, token: String? = nil) async throws -> String? {
    let r = try await mcp(client, .post, mcpInitialize, token: token)
    guard r.status == 200, let id = r.session else { return nil }
    let n = try await mcp(
        client,
        .post,
        #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        token: token,
        session: id
    )
    #expect(n.status == 202, "\(n.json)")
    return id
}

@Suite("Hostile clients (issue 13): sessions, metrics, keys and scopes")
struct HostileClientTests {
    @Test("one key's MCP sessions are bounded: its oldest idle session goes, other keys still get theirs")
    func oneKeyCannotTakeEveryMCPSession() async throws {
        // As the defaults (1000 in all, a tenth per key), scaled down to keep the test short.
        var options = ServerOptions()
        options.limits.maxMCPSessions = 30
        let total = 30
        let perKey = 3
        let t = try ServerDB(options: options)
        let (reader, info) = try APIKeys.create(t.db, name: "greedy", role: .read, partitions: nil, prefixes: nil)
        let (admin, _) = try APIKeys.create(t.db, name: "admin", role: .admin, partitions: nil, prefixes: nil)
        try await t.app().test(.router) { client in
            var mine: [String] = []
            for _ in 0..<total {
                let r = try await mcp(client, .post, mcpInitialize, token: reader)
                #expect(r.status == 200, "\(r.json)")
                if let id = r.session { mine.append(id) }
            }
            // Another key still gets a session, at once.
            let other = try await mcp(client, .post, mcpInitialize, token: admin)
            #expect(other.status == 200, "the admin key's initialize after \(total) sessions of one key: \(other.json)")
            // The greedy key holds at most its bound; its oldest sessions were closed first.
            let held = await t.front.mcp!.sessions.values.filter { $0.principal == info.id }.count
            #expect(held == perKey)
            let oldest = try await mcp(
                client,
                .post,
                #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
                token: reader,
                session: mine.first
            )
            #expect(oldest.status == 404, "\(oldest.json)")
            let newest = try await mcp(
                client,
                .post,
                #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
                token: reader,
                session: mine.last
            )
            #expect(newest.status == 200, "\(newest.json)")
        }
    }

    @Test("MCP tool calls over HTTP are counted per tool in /metrics, with their status")
    func mcpToolCallsInMetrics() async throws {
        let t = try ServerDB()
        try await t.app().test(.router) { client in
            let session = try #require(try await openSession(client))
            let remember = try await mcp(
                client,
                .post,
                mcpToolCall(2, "remember", #"{"key":"agent:knowledge:m","content":"metrics of tools"}"#),
                session: session
            )
            #expect(remember.tool?.isError == false, "\(remember.json)")
            for id in 3...4 {
                let r = try await mcp(client, .post, mcpToolCall(id, "recall", #"{"query":"tools"}"#), session: session)
                #expect(r.tool?.isError == false, "\(r.json)")
            }
            let bad = try await mcp(client, .post, mcpToolCall(5, "recall", #"{"query":5}"#), session: session)
            #expect(bad.tool?.isError == true, "\(bad.json)")
            let text = try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
            func count(_ route: String, _ status: Int) -> Int? {
                for line in text.split(separator: "\n") where line.hasPrefix("llmdb_http_requests_total{") {
                    guard line.contains(#"route="\#(route)""#), line.contains(#"status="\#(status)""#) else { continue }
                    return line.split(separator: " ").last.flatMap { Int($0) }
                }
                return nil
            }
            #expect(count("mcp:tools/call:recall", 200) == 2, "\(text)")
            #expect(count("mcp:tools/call:recall", 400) == 1, "\(text)")
            #expect(count("mcp:tools/call:remember", 200) == 1, "\(text)")
            #expect(
                text.contains(
                    #"llmdb_http_request_duration_seconds_count{method="POST",route="mcp:tools/call:recall"}"#
                )
            )
        }
    }

    @Test("a key created by another process is required from the very next request")
    func newKeyTakesEffectAtOnce() async throws {
        let t = try ServerDB()
        try await t.app().test(.router) { client in
            #expect(try await send(client, .get, "/v1/scan?prefix=a").status == 200)
            #expect(try await send(client, .post, "/v1/memory/recall", #"{"query":"x"}"#).status == 200)
            // Another process, as `llmdb key create` is run beside a server: a second handle of
            // the file in this process would share (and on close drop) this one's LMDB locks.
            let created = try runLLMDB([
                "key", "create", "--db", t.dir + "/test.llmdb", "--name", "first", "--role", "admin", "--json",
            ])
            #expect(created.status == 0, "\(created.stderr)")
            let made = try JSONValue(parsing: created.stdout)
            guard case .string(let token)? = made["token"], case .string(let id)? = made["id"] else {
                Issue.record("llmdb key create printed \(created.stdout)")
                return
            }
            let refused = try await send(client, .put, "/v1/facts", #"{"key":"k","value":1}"#)
            #expect(refused.status == 401, "an unauthenticated write right after the first key: \(refused.json)")
            #expect(try await send(client, .get, "/v1/scan?prefix=a").status == 401)
            #expect(try await send(client, .get, "/v1/scan?prefix=a", token: token).status == 200)
            // Revoking the last key opens loopback again, also at once.
            let revoked = try runLLMDB(["key", "revoke", "--db", t.dir + "/test.llmdb", id])
            #expect(revoked.status == 0, "\(revoked.stderr)")
            #expect(try await send(client, .get, "/v1/scan?prefix=a").status == 200)
            #expect(try await send(client, .get, "/v1/scan?prefix=a", token: token).status == 401)
        }
        #expect(try t.db.get(Key("k")) == nil)
    }

    @Test("a key whose valid time starts ahead of the server's clock is required and accepted alike")
    func keyValidAhead() async throws {
        let t = try ServerDB()
        let (token, info) = try APIKeys.create(t.db, name: "ahead", role: .admin, partitions: nil, prefixes: nil)
        // Move the key's record an hour ahead in valid time (as a writer whose clock is
        // ahead would have written it): absent now, present from then on.
        let k = Key("_meta/apikey/" + info.id, partition: Key.systemPartition)
        let fact = try #require(try t.db.get(k))
        let record = try #require(fact.value)
        _ = try await t.db.write { b in
            try b.deleteSystem(k, validFrom: fact.validFrom)
            try b.putSystem(k, record, validFrom: fact.validFrom.advanced(by: 3_600_000_000))
        }
        #expect(try t.db.get(k) == nil)
        try await t.app().test(.router) { client in
            let anonymous = try await send(client, .get, "/v1/scan?prefix=a")
            #expect(anonymous.status == 401, "a key exists (in its latest state): \(anonymous.json)")
            let keyed = try await send(client, .get, "/v1/scan?prefix=a", token: token)
            #expect(keyed.status == 200, "the key that makes keys required must be accepted: \(keyed.json)")
            #expect(try APIKeys.list(t.db).map(\.id) == [info.id])
            // Revoking reaches the state ahead too: then no key is required, and this one is refused.
            _ = try APIKeys.revoke(t.db, id: info.id)
            #expect(try await send(client, .get, "/v1/scan?prefix=a", token: token).status == 401)
            #expect(try await send(client, .get, "/v1/scan?prefix=a").status == 200)
        }
    }

    @Test("the migration status (one record per collection, all partitions) needs an unscoped key")
    func migrationStatusNeedsUnscopedKey() async throws {
        let t = try ServerDB()
        let (p7, _) = try APIKeys.create(t.db, name: "p7", role: .read, partitions: [7], prefixes: nil)
        let (ns, _) = try APIKeys.create(t.db, name: "ns", role: .read, partitions: nil, prefixes: ["users/"])
        let (reader, _) = try APIKeys.create(t.db, name: "reader", role: .read, partitions: nil, prefixes: nil)
        try await t.app().test(.router) { client in
            for (token, uri) in [
                (p7, "/v1/collections/users/migrations/status?partition=7"),
                (ns, "/v1/collections/users/migrations/status"),
            ] {
                let r = try await send(client, .get, uri, token: token)
                #expect(r.status == 403 && r.code == "forbidden", "\(uri): \(r.json)")
                if case .string(let m)? = r.json["error"]?["message"] {
                    #expect(m.contains("migration status"), "\(m)")
                }
            }
            let r = try await send(client, .get, "/v1/collections/users/migrations/status?partition=7", token: reader)
            #expect(r.status == 200, "\(r.json)")
        }
    }

    @Test("partition- and prefix-scoped keys may not read the transaction log, /metrics or the code registry")
    func scopedKeysAndGlobalData() async throws {
        let t = try ServerDB()
        let (p7, _) = try APIKeys.create(t.db, name: "p7", role: .write, partitions: [7], prefixes: nil)
        let (ns, _) = try APIKeys.create(
            t.db,
            name: "ns",
            role: .write,
            partitions: nil,
            prefixes: ["agent:knowledge:"]
        )
        let (reader, _) = try APIKeys.create(t.db, name: "reader", role: .read, partitions: nil, prefixes: nil)
        let (admin, _) = try APIKeys.create(t.db, name: "admin", role: .admin, partitions: nil, prefixes: nil)
        let (p7admin, _) = try APIKeys.create(t.db, name: "p7admin", role: .admin, partitions: [7], prefixes: nil)
        let wat =
            #"(module (memory (export \"memory\") 1) (func (export \"llmdb_alloc\") (param i32) (result i32) (i32.const 1024)) (func (export \"map_pages\") (param i32 i32 i32 i32) (result i32) (local.get 1)))"#
        try await t.app().test(.router) { client in
            let added = try await send(client, .post, "/v1/code", #"{"name":"ident","wat":"\#(wat)"}"#, token: admin)
            #expect(added.status == 200, "\(added.json)")
            #expect(
                try await send(client, .put, "/v1/facts", #"{"key":"k","value":1,"partition":7}"#, token: p7).status
                    == 200
            )
            for token in [p7, ns] {
                for uri in ["/v1/transactions", "/v1/code", "/v1/code/ident", "/metrics"] {
                    let r = try await send(client, .get, uri, token: token)
                    #expect(r.status == 403, "\(uri): \(r.json)")
                    #expect(r.code == "forbidden", "\(uri): \(r.json)")
                }
            }
            for uri in ["/v1/transactions", "/v1/code", "/v1/code/ident", "/metrics"] {
                #expect(try await send(client, .get, uri, token: reader).status == 200, "\(uri)")
            }
            // Nor change what is one for every partition: the code registry, a collection's
            // schema, migrations and text index (all defined per name, not per partition).
            let changes: [(HTTPRequest.Method, String, String)] = [
                (.post, "/v1/code", #"{"name":"mine","wat":"\#(wat)"}"#),
                (.delete, "/v1/code/ident", ""),
                (.put, "/v1/collections/users/schema", #"{"schema":{"type":"object"},"partition":7}"#),
                (.put, "/v1/collections/users/text-index", #"{"partition":7}"#),
                (
                    .post, "/v1/collections/users/migrations",
                    #"{"migration":{"steps":[{"op":"set_default","path":"a","value":1}]},"partition":7}"#
                ),
            ]
            for (method, uri, body) in changes {
                let r = try await send(client, method, uri, body.isEmpty ? nil : body, token: p7admin)
                #expect(r.status == 403 && r.code == "forbidden", "\(method) \(uri): \(r.json)")
            }
            #expect(try await send(client, .get, "/v1/code/ident", token: admin).status == 200)
            #expect(try await send(client, .get, "/v1/collections/users/schema", token: admin).status == 404)
            // Their own partition and prefix still work.
            #expect(try await send(client, .get, "/v1/facts?key=k&partition=7", token: p7).status == 200)
            // Over MCP the same operations apply the same rules.
            let session = try #require(try await openSession(client, token: p7))
            let q = try await mcp(
                client,
                .post,
                mcpToolCall(2, "query", #"{"lql":"SELECT key FROM kv"}"#),
                token: p7,
                session: session
            )
            #expect(q.tool?.isError == true && q.tool?.json["error"]?["code"] == .string("forbidden"), "\(q.json)")
            let mine = try await mcp(
                client,
                .post,
                mcpToolCall(3, "list_namespaces", #"{"partition":7}"#),
                token: p7,
                session: session
            )
            #expect(mine.tool?.isError == false, "\(mine.json)")
            let theirs = try await mcp(
                client,
                .post,
                mcpToolCall(4, "list_namespaces", #"{}"#),
                token: p7,
                session: session
            )
            #expect(theirs.tool?.json["error"]?["code"] == .string("forbidden"), "\(theirs.json)")
            let resource = try await mcp(
                client,
                .post,
                #"{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"llmdb://namespaces"}}"#,
                token: p7,
                session: session
            )
            #expect(resource.json["error"] != nil, "\(resource.json)")
        }
    }
}

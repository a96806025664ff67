import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LLMDB
import LLMDBService
import MCP
import NIOCore
import Synchronization
import Testing

@testable import LLMDBServer

/// A `POST /mcp` with the headers given (none added): the status and the JSON of its answer.
func rawMCP(
    _ client: some TestClientProtocol,
    _ body: String,
    headers: HTTPFields
) async throws -> (status: Int, json: JSONValue) {
    try await client.execute(uri: "/mcp", method: .post, headers: headers, body: ByteBuffer(string: body)) {
        let text = String(buffer: $0.body)
        return (Int($0.status.code), (try? JSONValue(parsing: text)) ?? .string(text))
    }
}

extension MCPSessions {
    func ids(of principal: String) -> Set<String> {
        Set(sessions.filter { $0.value.principal == principal }.keys)
    }
}

@Suite("MCP over HTTP: messages the SDK would never answer, and making room for sessions")
struct MCPSessionTests {
    @Test(
        "a message the SDK would read otherwise is refused with 400, and the session stays idle",
        arguments: [
            // method with result or error: the SDK takes it for a response and never answers
            (#"{"jsonrpc":"2.0","id":7,"method":"tools/list","result":{}}"#, "not both"),
            (#"{"jsonrpc":"2.0","id":7,"method":"tools/list","error":{"code":1,"message":"x"}}"#, "not both"),
            // ids the SDK cannot answer with
            (#"{"jsonrpc":"2.0","id":true,"method":"tools/list"}"#, "must be a string or an integer"),
            (#"{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}"#, "must be a string or an integer"),
            (#"{"jsonrpc":"2.0","id":1e2,"method":"tools/list"}"#, "must be a string or an integer"),
            (#"{"jsonrpc":"2.0","id":null,"method":"tools/list"}"#, "must be a string or an integer"),
            (#"{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}"#, "must be a string or an integer"),
            (#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"tools/list"}"#, "must be a string or an integer"),
            (#"{"jsonrpc":"2.0","id":7,"method":5}"#, "'method' must be a string"),
            (#"{"jsonrpc":"2.0","result":{}}"#, "needs the id"),
        ] as [(String, String)]
    )
    func unanswerableMessages(message: String, reason: String) async throws {
        let t = try ServerDB()
        try await t.app().test(.router) { client in
            let session = try #require(try await openSession(client))
            let transport = try #require(await t.front.mcp!.sessions[session]).transport
            let r = try await withoutHanging("the answer to \(message)", unblock: { await t.front.mcp!.closeAll() }) {
                try await mcp(client, .post, message, session: session)
            }
            #expect(r.status == 400, "\(r.json)")
            if case .string(let m)? = r.json["error"]?["message"] {
                #expect(m.contains(reason), "\(m)")
            } else {
                Issue.record("no error message: \(r.json)")
            }
            #expect(transport.inProgress.load(ordering: .relaxed) == 0)
            // The session goes on: integer and string ids are answered.
            for id in ["8", #""eight""#] {
                let ok = try await mcp(
                    client,
                    .post,
                    #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/list"}"#,
                    session: session
                )
                #expect(ok.status == 200 && ok.json["result"] != nil, "\(ok.json)")
            }
            #expect(transport.inProgress.load(ordering: .relaxed) == 0)
        }
    }

    @Test("a session has at most maxOpenRequests requests in progress; more get 503")
    func openRequestsPerSessionAreBounded() async throws {
        // A transport with no server behind it: nothing answers, so every request stays open.
        let transport = MCPSessionTransport(sessionID: "s", historyLimit: 1 << 16)
        try await transport.connect()
        func post(_ body: String, session: Bool = true) async -> MCP.HTTPResponse {
            var headers = [
                "Accept": "application/json, text/event-stream", "Content-Type": "application/json",
            ]
            if session { headers["Mcp-Session-Id"] = "s" }
            return await transport.handleRequest(
                MCP.HTTPRequest(method: "POST", headers: headers, body: Data(body.utf8), path: "/mcp")
            )
        }
        #expect(await post(mcpInitialize, session: false).statusCode == 200)
        let limit = MCPSessionTransport.maxOpenRequests
        for id in 2...limit {
            let r = await post(#"{"jsonrpc":"2.0","id":\#(id),"method":"tools/list"}"#)
            #expect(r.statusCode == 200)
        }
        #expect(transport.inProgress.load(ordering: .relaxed) == limit)
        let refused = await post(#"{"jsonrpc":"2.0","id":1000,"method":"tools/list"}"#)
        #expect(refused.statusCode == 503)
        #expect(transport.inProgress.load(ordering: .relaxed) == limit)
        // An answer frees its place.
        try await transport.send(Data(#"{"jsonrpc":"2.0","id":2,"result":{}}"#.utf8))
        #expect(transport.inProgress.load(ordering: .relaxed) == limit - 1)
        #expect(await post(#"{"jsonrpc":"2.0","id":1001,"method":"tools/list"}"#).statusCode == 200)
        await transport.disconnect()
    }

    /// Bad `initialize` requests: each is refused, and none may close a session.
    static let badInitializes: [(String, HTTPFields, Int)] = {
        let good: HTTPFields = [.accept: "application/json, text/event-stream", .contentType: "application/json"]
        return [
            // the Accept header lacks text/event-stream
            (mcpInitialize, [.accept: "application/json", .contentType: "application/json"], 406),
            // a duplicate member
            (
                #"{"jsonrpc":"2.0","id":1,"id":2,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#,
                good, 400
            ),
            // canonically equivalent member names
            (
                #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"},"_meta":{"café":1,"cafe\u0301":2}}}"#,
                good, 400
            ),
            // a protocol version that is not a string
            (
                #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":20250618,"capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#,
                good, 400
            ),
            // malformed params
            (#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"clientInfo":"me"}}"#, good, 400),
            // method with result
            (#"{"jsonrpc":"2.0","id":1,"method":"initialize","result":{}}"#, good, 400),
            // an id the SDK cannot answer with
            (
                #"{"jsonrpc":"2.0","id":true,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#,
                good, 400
            ),
        ]
    }()

    @Test("a refused initialize closes no session: neither at the global cap nor at its key's bound")
    func badInitializeEvictsNothing() async throws {
        var options = ServerOptions()
        options.limits.maxMCPSessions = 4
        options.limits.maxMCPSessionsPerKey = 2
        let t = try ServerDB(options: options)
        let (a, ai) = try APIKeys.create(t.db, name: "a", role: .read, partitions: nil, prefixes: nil)
        let (b, bi) = try APIKeys.create(t.db, name: "b", role: .read, partitions: nil, prefixes: nil)
        let (c, _) = try APIKeys.create(t.db, name: "c", role: .read, partitions: nil, prefixes: nil)
        try await t.app().test(.router) { client in
            for token in [a, a, b, b] { _ = try #require(try await openSession(client, token: token)) }
            let before = await t.front.mcp!.sessions.keys.sorted()
            #expect(before.count == 4)
            // At the global cap (c) and at the key's own bound (a): all idle, none may go.
            for token in [c, a] {
                for (body, headers, status) in Self.badInitializes {
                    var withKey = headers
                    withKey[.authorization] = "Bearer " + token
                    let h = withKey
                    let r = try await withoutHanging(
                        "the answer to \(body)",
                        unblock: { await t.front.mcp!.closeAll() }
                    ) {
                        try await rawMCP(client, body, headers: h)
                    }
                    #expect(r.status == status, "\(body): \(r.json)")
                    #expect(await t.front.mcp!.sessions.keys.sorted() == before, "\(body) closed a session")
                }
            }
            #expect(await t.front.mcp!.ids(of: ai.id).count == 2)
            #expect(await t.front.mcp!.ids(of: bi.id).count == 2)
            // A good initialize still makes room.
            let r = try await mcp(client, .post, mcpInitialize, token: c)
            #expect(r.status == 200, "\(r.json)")
        }
    }

    @Test("at the cap, only the key with the most sessions gives one up; when all of its are busy, 503")
    func onlyTheTopKeyGivesUpASession() async throws {
        var options = ServerOptions()
        options.limits.maxMCPSessions = 4
        options.limits.maxMCPSessionsPerKey = 3
        let t = try ServerDB(options: options)
        let (a, ai) = try APIKeys.create(t.db, name: "a", role: .read, partitions: nil, prefixes: nil)
        let (b, bi) = try APIKeys.create(t.db, name: "b", role: .read, partitions: nil, prefixes: nil)
        let (c, ci) = try APIKeys.create(t.db, name: "c", role: .read, partitions: nil, prefixes: nil)
        try await t.app().test(.router) { client in
            var mine: [String] = []
            for _ in 0..<3 { mine.append(try #require(try await openSession(client, token: a))) }
            let theirs = try #require(try await openSession(client, token: b))
            // All of a's (the most) are busy; b's one is idle.
            for id in mine {
                try #require(await t.front.mcp!.sessions[id]).transport.inProgress.add(1, ordering: .relaxed)
            }
            let refused = try await mcp(client, .post, mcpInitialize, token: c)
            #expect(refused.status == 503, "\(refused.json)")
            #expect(await t.front.mcp!.sessions[theirs] != nil, "b's only session was closed for c")
            #expect(await t.front.mcp!.ids(of: ci.id).isEmpty)
            // One of a's goes idle: that is the one that makes room.
            try #require(await t.front.mcp!.sessions[mine[1]]).transport.inProgress.subtract(1, ordering: .relaxed)
            let opened = try await mcp(client, .post, mcpInitialize, token: c)
            #expect(opened.status == 200, "\(opened.json)")
            #expect(await t.front.mcp!.sessions[mine[1]] == nil)
            #expect(await t.front.mcp!.ids(of: ai.id) == [mine[0], mine[2]])
            #expect(await t.front.mcp!.ids(of: bi.id) == [theirs])
            for id in [mine[0], mine[2]] {
                try #require(await t.front.mcp!.sessions[id]).transport.inProgress.subtract(1, ordering: .relaxed)
            }
        }
    }

    @Test("canonically equivalent member names are refused over MCP (one would be lost), kept by REST")
    func canonicallyEquivalentMembers() async throws {
        let t = try ServerDB()
        try await t.app().test(.router) { client in
            let session = try #require(try await openSession(client))
            for (i, arguments) in [
                #"{"key":"agent:knowledge:c","content":{"café":1,"cafe\u0301":2}}"#,
                #"{"key":"agent:knowledge:c","content":[{"x":{"Å":1,"A\u030a":2}}]}"#,
                #"{"key":"agent:knowledge:c","content":"x","cont\u0065nt":"y"}"#,
                // more than 16 members (another way of comparing)
                #"{"key":"agent:knowledge:c","content":{\#((0..<20).map { #""m\#($0)":0,"# }.joined())"café":1,"cafe\u0301":2}}"#,
            ].enumerated() {
                let r = try await mcp(client, .post, mcpToolCall(10 + i, "remember", arguments), session: session)
                #expect(r.status == 400, "\(arguments): \(r.json)")
                if case .string(let m)? = r.json["error"]?["message"] {
                    #expect(m.contains("canonically equivalent") || m.contains("appears twice"), "\(m)")
                } else {
                    Issue.record("\(arguments): no error message: \(r.json)")
                }
            }
            let r = try await mcp(
                client,
                .post,
                mcpToolCall(20, "remember", #"{"key":"agent:knowledge:c","content":{"café":1,"cafe\u0301":2}}"#),
                session: session
            )
            if case .string(let m)? = r.json["error"]?["message"] {
                #expect(m.contains("canonically equivalent") && m.contains("$.params.arguments.content"), "\(m)")
                #expect(m.contains("REST"), "\(m)")
            }
            #expect(try t.db.get(Key("agent:knowledge:c")) == nil)
            // REST compares bytes: both members are kept.
            let rest = try await send(
                client,
                .post,
                "/v1/memory/remember",
                #"{"key":"agent:knowledge:c","content":{"café":1,"cafe\u0301":2}}"#
            )
            #expect(rest.status == 200, "\(rest.json)")
            let stored = try #require(try t.db.get(Key("agent:knowledge:c"))?.value).jsonTree()
            guard case .object(let members)? = stored["content"] else {
                Issue.record("\(stored)")
                return
            }
            #expect(members.count == 2)
        }
    }
}

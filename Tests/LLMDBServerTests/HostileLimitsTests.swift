import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LLMDB
import LLMDBService
import NIOCore
import Synchronization
import Testing

@testable import LLMDBServer

@Suite("Hostile clients (issue 13): concurrency slots per key, MCP tool calls and session history")
struct HostileLimitsTests {
    static func options(total: Int, perKey: Int) -> ServerOptions {
        var o = ServerOptions()
        o.limits.maxConcurrentRequests = total
        o.limits.maxConcurrentPerKey = perKey
        return o
    }

    @Test("one key holding its slots gets 503 busy; other keys, admin included, are still served")
    func slotsPerKey() async throws {
        let t = try ServerDB(options: Self.options(total: 6, perKey: 2))
        let (greedy, g) = try APIKeys.create(t.db, name: "greedy", role: .read, partitions: nil, prefixes: nil)
        let (other, _) = try APIKeys.create(t.db, name: "other", role: .read, partitions: nil, prefixes: nil)
        let (admin, a) = try APIKeys.create(t.db, name: "admin", role: .admin, partitions: nil, prefixes: nil)
        try await t.app().test(.router) { client in
            // The greedy key's requests in progress.
            try t.front.slots.acquire(g.principal)
            try t.front.slots.acquire(g.principal)
            let busy = try await send(client, .get, "/v1/scan?prefix=a", token: greedy)
            #expect(busy.status == 503, "\(busy.json)")
            #expect(busy.code == "busy")
            if case .string(let m)? = busy.json["error"]?["message"] {
                #expect(m.contains("greedy") && m.contains("max_concurrent_per_key"), "\(m)")
            }
            #expect(try await send(client, .get, "/v1/scan?prefix=a", token: other).status == 200)
            #expect(try await send(client, .get, "/v1/scan?prefix=a", token: admin).status == 200)
            #expect(t.front.slots.running == 2)
            // The total still bounds everyone: four more keys at their bound fill it.
            let others = (0..<4).map { Principal(id: "k\($0)", name: "k\($0)", role: .read) }
            for p in others { try t.front.slots.acquire(p) }
            #expect(throws: APIError.self) { try t.front.slots.acquire(a.principal) }
            let full = try await send(client, .get, "/v1/scan?prefix=a", token: admin)
            #expect(full.status == 503 && full.code == "busy", "\(full.json)")
            for p in others { t.front.slots.release(p) }
            t.front.slots.release(g.principal)
            #expect(try await send(client, .get, "/v1/scan?prefix=a", token: greedy).status == 200)
            t.front.slots.release(g.principal)
        }
        #expect(t.front.slots.running == 0)
    }

    @Test("by default a key gets a quarter of max_concurrent")
    func defaultPerKey() {
        var l = RequestLimits()
        #expect(l.concurrentPerKey == 64)
        l.maxConcurrentRequests = 2
        #expect(l.concurrentPerKey == 1)
        l.maxConcurrentPerKey = 5
        #expect(l.concurrentPerKey == 5)
        #expect(RequestLimits().mcpSessionsPerKey == 100)
    }

    @Test("a server with a limit out of its range does not start: the error names the setting and its range")
    func limitsOutOfRange() throws {
        for (key, set) in [
            ("body_timeout_ms", { (l: inout RequestLimits) in l.bodyTimeoutMs = .max }),
            ("query_timeout_ms", { (l: inout RequestLimits) in l.queryTimeoutMs = 86_400_001 }),
            ("max_concurrent", { (l: inout RequestLimits) in l.maxConcurrentRequests = 0 }),
            ("mcp_session_history_bytes", { (l: inout RequestLimits) in l.mcpSessionHistoryBytes = -1 }),
        ] as [(String, (inout RequestLimits) -> Void)] {
            var o = ServerOptions()
            set(&o.limits)
            let t = try ServerDB(options: o)
            let r = RequestLimits.range(key)
            #expect(throws: APIError.self, "\(key)") { try t.front.checkStartup() }
            do { try t.front.checkStartup() } catch let e as APIError {
                #expect(
                    e.message.contains("\(key) must be an integer from \(r.lowerBound) to \(r.upperBound)"),
                    "\(e.message)"
                )
            }
        }
        try ServerDB().front.checkStartup()
    }

    @Test("MCP tool calls over HTTP take the same slots: busy when their key's (or all) slots are taken")
    func mcpToolCallsTakeSlots() async throws {
        let t = try ServerDB(options: Self.options(total: 4, perKey: 1))
        let (greedy, g) = try APIKeys.create(t.db, name: "greedy", role: .write, partitions: nil, prefixes: nil)
        let (other, _) = try APIKeys.create(t.db, name: "other", role: .write, partitions: nil, prefixes: nil)
        try await t.app().test(.router) { client in
            let mine = try #require(try await openSession(client, token: greedy))
            let theirs = try #require(try await openSession(client, token: other))
            let recall = mcpToolCall(2, "recall", #"{"query":"anything"}"#)
            try t.front.slots.acquire(g.principal)
            let busy = try await mcp(client, .post, recall, token: greedy, session: mine)
            #expect(busy.tool?.isError == true, "\(busy.json)")
            #expect(busy.tool?.json["error"]?["code"] == .string("busy"), "\(busy.json)")
            let served = try await mcp(
                client,
                .post,
                mcpToolCall(3, "recall", #"{"query":"x"}"#),
                token: other,
                session: theirs
            )
            #expect(served.tool?.isError == false, "\(served.json)")
            // A REST request of the key waits for the same slot.
            #expect(try await send(client, .get, "/v1/scan?prefix=a", token: greedy).status == 503)
            t.front.slots.release(g.principal)
            let again = try await mcp(
                client,
                .post,
                mcpToolCall(4, "recall", #"{"query":"x"}"#),
                token: greedy,
                session: mine
            )
            #expect(again.tool?.isError == false, "\(again.json)")
            // Every slot taken: MCP answers busy too.
            for i in 0..<4 { try t.front.slots.acquire(Principal(id: "x\(i)", name: "x", role: .read)) }
            let full = try await mcp(
                client,
                .post,
                mcpToolCall(5, "recall", #"{"query":"x"}"#),
                token: other,
                session: theirs
            )
            #expect(full.tool?.json["error"]?["code"] == .string("busy"), "\(full.json)")
            for i in 0..<4 { t.front.slots.release(Principal(id: "x\(i)", name: "x", role: .read)) }
            let metrics = try await client.execute(
                uri: "/metrics",
                method: .get,
                headers: [.authorization: "Bearer " + other]
            ) {
                String(buffer: $0.body)
            }
            #expect(metrics.contains(#"route="mcp:tools/call:recall",status="503""#), "\(metrics)")
        }
        #expect(t.front.slots.running == 0)
    }

    @Test("a session keeps a bounded history of events: the oldest go, recent ones replay")
    func sessionHistoryIsBounded() async throws {
        var options = ServerOptions()
        options.limits.mcpSessionHistoryBytes = 8192
        let t = try ServerDB(options: options)
        try await t.app().test(.router) { client in
            let session = try #require(try await openSession(client))
            let content = String(repeating: "history ", count: 200)
            let r = try await mcp(
                client,
                .post,
                mcpToolCall(2, "remember", #"{"key":"agent:knowledge:h","content":"\#(content)"}"#),
                session: session
            )
            #expect(r.tool?.isError == false, "\(r.json)")
            var primings: [String] = []
            for id in 3..<23 {
                let a = try await mcp(
                    client,
                    .post,
                    mcpToolCall(id, "recall", #"{"query":"history"}"#),
                    session: session
                )
                #expect(a.tool?.isError == false, "\(a.json)")
                if let p = a.events.first?.id { primings.append(p) }
            }
            #expect(primings.count == 20)
            let transport = try #require(await t.front.mcp!.sessions[session]).transport
            let kept = await transport.historyBytes
            #expect(kept > 0 && kept <= 8192, "\(kept) bytes of events kept")
            // The first calls' events are gone: resuming from them is refused.
            let old = try await mcp(client, .get, token: nil, session: session, lastEventID: primings[0])
            #expect(old.status == 400, "\(old.json)")
            // The last call's answer replays, and the stream ends with it.
            let recent = try await mcp(client, .get, token: nil, session: session, lastEventID: primings[19])
            #expect(recent.status == 200)
            #expect(recent.json["id"] == .int(22), "\(recent.json)")
        }
    }

    @Test("no replay buffer at all when the history limit is 0")
    func noHistory() async throws {
        var options = ServerOptions()
        options.limits.mcpSessionHistoryBytes = 0
        let t = try ServerDB(options: options)
        try await t.app().test(.router) { client in
            let session = try #require(try await openSession(client))
            let a = try await mcp(client, .post, mcpToolCall(2, "recall", #"{"query":"x"}"#), session: session)
            #expect(a.tool?.isError == false, "\(a.json)")
            let transport = try #require(await t.front.mcp!.sessions[session]).transport
            #expect(await transport.historyBytes == 0)
        }
    }

    @Test("a key at its session bound whose sessions are all busy is refused; an idle one is evicted")
    func sessionsPerKeyBusy() async throws {
        var options = ServerOptions()
        options.limits.maxMCPSessions = 4
        options.limits.maxMCPSessionsPerKey = 2
        let t = try ServerDB(options: options)
        let (a, ai) = try APIKeys.create(t.db, name: "a", role: .read, partitions: nil, prefixes: nil)
        let (b, _) = try APIKeys.create(t.db, name: "b", role: .read, partitions: nil, prefixes: nil)
        let (c, _) = try APIKeys.create(t.db, name: "c", role: .read, partitions: nil, prefixes: nil)
        try await t.app().test(.router) { client in
            let a1 = try #require(try await openSession(client, token: a))
            let a2 = try #require(try await openSession(client, token: a))
            // Both of a's sessions busy (a request in progress each).
            for id in [a1, a2] {
                let tr = try #require(await t.front.mcp!.sessions[id]).transport
                tr.inProgress.add(1, ordering: .relaxed)
            }
            let refused = try await mcp(client, .post, mcpInitialize, token: a)
            #expect(refused.status == 503, "\(refused.json)")
            // One goes idle: it is the one closed for the new session.
            let tr2 = try #require(await t.front.mcp!.sessions[a2]).transport
            tr2.inProgress.subtract(1, ordering: .relaxed)
            let a3 = try #require(try await openSession(client, token: a))
            #expect(await t.front.mcp!.sessions[a2] == nil)
            #expect(await t.front.mcp!.sessions[a1] != nil)
            // All four taken (a: 2, b: 2); c's initialize makes b (or a's idle one) give one up.
            _ = try #require(try await openSession(client, token: b))
            _ = try #require(try await openSession(client, token: b))
            let c1 = try await mcp(client, .post, mcpInitialize, token: c)
            #expect(c1.status == 200, "\(c1.json)")
            let count = await t.front.mcp!.sessions.count
            #expect(count == 4)
            #expect(await t.front.mcp!.sessions.values.filter { $0.principal == ai.id }.count <= 2)
            _ = a3
        }
    }
}

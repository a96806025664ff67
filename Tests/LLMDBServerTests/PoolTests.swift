import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LLMDB
import LLMDBService
import NIOCore
import Testing

@testable import LLMDBServer

/// Requests that hold their slots on the server's threads until the test opens a gate: the
/// greedy key's operations, started through the same path as a route's (``HTTPFront/runInSlot``).
struct BlockedRequests {
    let gate: Gate
    let tasks: [Task<Void, any Error>]

    /// Starts `count` operations of `principal` that block at `gate`, and returns once
    /// every one of them runs on a thread of the server's pool.
    init(_ front: HTTPFront, _ principal: Principal, count: Int, gate: Gate) async {
        self.gate = gate
        let (started, continuation) = AsyncStream<Void>.makeStream()
        tasks = (0..<count).map { _ in
            Task {
                try await front.runInSlot(principal) {
                    continuation.yield()
                    gate.wait()
                }
            }
        }
        var n = 0
        for await _ in started {
            n += 1
            if n == count { break }
        }
    }

    func release() async throws {
        gate.open()
        for t in tasks { try await t.value }
    }
}

@Suite("The server's threads: one key's slow requests never hold the thread another key needs")
struct PoolTests {
    @Test("a key running its per-key maximum of slow requests (the defaults) leaves others served")
    func greedyKeyAtDefaults() async throws {
        // The defaults: 256 slots, 64 per key. Before, the 64 threads of one shared pool all
        // went to the greedy key and everyone else's request queued behind them.
        let t = try ServerDB()
        let (greedy, g) = try APIKeys.create(t.db, name: "greedy", role: .read, partitions: nil, prefixes: nil)
        let (other, _) = try APIKeys.create(t.db, name: "other", role: .write, partitions: nil, prefixes: nil)
        #expect(t.front.slots.perKey == 64)
        try await t.app().test(.router) { client in
            let gate = Gate()
            // Everything from here waits for no thread but its own: a hang is a failure.
            try await withoutHanging("the other key's requests", unblock: { gate.open() }) {
                let blocked = await BlockedRequests(t.front, g.principal, count: t.front.slots.perKey, gate: gate)
                #expect(t.front.slots.running(g.principal) == 64)
                let busy = try await send(client, .get, "/v1/scan?prefix=a", token: greedy)
                #expect(busy.status == 503 && busy.code == "busy", "\(busy.json)")
                let scan = try await send(client, .get, "/v1/scan?prefix=a", token: other)
                #expect(scan.status == 200, "\(scan.json)")
                let put = try await send(client, .put, "/v1/facts", #"{"key":"a","value":1}"#, token: other)
                #expect(put.status == 200, "\(put.json)")
                let session = try #require(try await openSession(client, token: other))
                let call = try await mcp(
                    client,
                    .post,
                    mcpToolCall(2, "recall", #"{"query":"anything"}"#),
                    token: other,
                    session: session
                )
                #expect(call.tool?.isError == false, "\(call.json)")
                #expect(try await send(client, .get, "/health").status == 200)
                #expect(try await send(client, .get, "/metrics", token: other).status == 200)
                #expect(t.front.slots.running(g.principal) == 64)
                try await blocked.release()
            }
        }
        #expect(t.front.slots.running == 0)
    }

    @Test("with every slot taken by slow requests, /health and /metrics still answer")
    func monitoringNeverQueuesBehindRequests() async throws {
        var options = ServerOptions()
        options.limits.maxConcurrentRequests = 64
        options.limits.maxConcurrentPerKey = 16
        let t = try ServerDB(options: options)
        let keys = try (0..<4).map { i in
            try APIKeys.create(t.db, name: "k\(i)", role: .read, partitions: nil, prefixes: nil)
        }
        try await t.app().test(.router) { client in
            let gate = Gate()
            try await withoutHanging("/health and /metrics", unblock: { gate.open() }) {
                var blocked: [BlockedRequests] = []
                for (_, info) in keys {
                    blocked.append(await BlockedRequests(t.front, info.principal, count: 16, gate: gate))
                }
                #expect(t.front.slots.running == 64)
                let full = try await send(client, .get, "/v1/scan?prefix=a", token: keys[0].token)
                #expect(full.status == 503 && full.code == "busy", "\(full.json)")
                let health = try await send(client, .get, "/health")
                #expect(health.status == 200, "\(health.json)")
                let metrics = try await client.execute(
                    uri: "/metrics",
                    method: .get,
                    headers: [.authorization: "Bearer " + keys[1].token]
                ) { $0.status.code }
                #expect(metrics == 200)
                for b in blocked { try await b.release() }
            }
        }
        #expect(t.front.slots.running == 0)
    }
}

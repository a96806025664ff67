import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LLMDB
import LLMDBServer
import LLMDBService
import Testing

/// Percent-encodes `s` for a query string (every byte that is not unreserved).
func queryEscaped(_ s: String) -> String {
    s.utf8.map { b -> String in
        let c = Character(Unicode.Scalar(b))
        if b < 0x80, c.isLetter || c.isNumber || "-._~".contains(c) { return String(c) }
        return "%" + String(b, radix: 16, uppercase: true).leftPadded(2)
    }.joined()
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}

/// A JSON string literal of `s` (escaping quotes, backslashes and controls only).
func jsonString(_ s: String) -> String { JSONValue.string(s).text }

@Suite("Auth: scopes compare UTF-8 bytes, as storage does")
struct ScopeBytesTests {
    /// Look-alikes of a scope's prefix that are other keys in storage: canonically equivalent
    /// (Swift's `==` and `hasPrefix` say equal), compatibility forms, and other scalars.
    static let outside: [(scope: String, key: String)] = [
        ("Kafka:", "\u{212A}afka:secret"),  // KELVIN SIGN, canonically K
        ("café:", "cafe\u{301}:secret"),  // NFD of an NFC scope
        ("cafe\u{301}:", "café:secret"),  // NFC of an NFD scope
        ("Å:", "\u{212B}:secret"),  // ANGSTROM SIGN
        ("ﬁle:", "file:secret"),  // compatibility ligature (NFKC would fold it)
        ("Ω:", "\u{2126}:secret"),  // OHM SIGN
        ("한:", "\u{1112}\u{1161}\u{11AB}:secret"),  // Hangul jamo, NFD of 한
    ]

    @Test("a key scoped to a prefix cannot read, scan, write or erase a look-alike key, over REST")
    func lookAlikesRefused() async throws {
        let t = try ServerDB()
        for (_, key) in Self.outside {
            try await t.db.write { try $0.put(Key(key), .json("\"private\"")) }
        }
        try await t.app().test(.router) { client in
            for (scope, key) in Self.outside {
                let (token, _) = try APIKeys.create(t.db, name: "k", role: .write, partitions: nil, prefixes: [scope])
                let q = queryEscaped(key)
                let k = jsonString(key)
                let calls: [(HTTPRequest.Method, String, String?)] = [
                    (.get, "/v1/facts?key=\(q)", nil),
                    (.get, "/v1/facts/history?key=\(q)", nil),
                    (.get, "/v1/facts/timeline?key=\(q)", nil),
                    (.get, "/v1/scan?prefix=\(q)", nil),
                    (.get, "/v1/scan?prefix=\(queryEscaped(String(key.prefix(2))))", nil),
                    (.put, "/v1/facts", #"{"key":\#(k),"value":"overwritten"}"#),
                    (.delete, "/v1/facts?key=\(q)", nil),
                    (.post, "/v1/facts/erase", #"{"key":\#(k)}"#),
                    (.post, "/v1/apply", #"{"operations":[{"op":"put","key":\#(k),"value":1}]}"#),
                ]
                for (method, uri, body) in calls {
                    let r = try await send(client, method, uri, body, token: token)
                    #expect(r.status == 403, "scope \(scope) \(method) \(uri): \(r.status) \(r.json)")
                }
            }
        }
        // Nothing was changed.
        for (_, key) in Self.outside {
            #expect(try t.db.history(of: Key(key), withCorrections: true).map(\.value) == [.json("\"private\"")])
        }
    }

    @Test("a key inside the scope by bytes is allowed even when its characters join across the prefix")
    func byteInsideAllowed() async throws {
        let t = try ServerDB()
        let (token, _) = try APIKeys.create(t.db, name: "k", role: .write, partitions: nil, prefixes: ["Kafka:"])
        try await t.app().test(.router) { client in
            for key in ["Kafka:\u{301}x", "Kafka:\u{200D}y", "Kafka:"] {
                let put = try await send(
                    client,
                    .put,
                    "/v1/facts",
                    #"{"key":\#(jsonString(key)),"value":1}"#,
                    token: token
                )
                #expect(put.status == 200, "\(key): \(put.json)")
                let get = try await send(client, .get, "/v1/facts?key=\(queryEscaped(key))", token: token)
                #expect(get.status == 200 && get.json["value"] == 1, "\(key): \(get.json)")
            }
            let scan = try await send(client, .get, "/v1/scan?prefix=\(queryEscaped("Kafka:\u{301}"))", token: token)
            #expect(scan.status == 200, "\(scan.json)")
        }
    }

    @Test("memory namespaces: a look-alike namespace is another namespace, for every memory operation")
    func memoryNamespaces() async throws {
        let t = try ServerDB()
        let mine = "agent:knowledge:café"
        let other = "agent:knowledge:cafe\u{301}"
        let (token, _) = try APIKeys.create(t.db, name: "m", role: .write, partitions: nil, prefixes: [mine])
        try await t.app().test(.router) { client in
            let admin = try await send(
                client,
                .post,
                "/v1/memory/remember",
                #"{"key":\#(jsonString(other + ":x")),"content":"the other one"}"#
            )
            // With a key defined, the unauthenticated call is refused: write it directly.
            #expect(admin.status == 401)
            let memory = try await send(
                client,
                .post,
                "/v1/memory/remember",
                #"{"key":\#(jsonString(mine + ":x")),"content":"mine"}"#,
                token: token
            )
            #expect(memory.status == 200, "\(memory.json)")
            try await t.db.write { try $0.put(Key(other + ":x"), .json(#"{"content":"the other one"}"#)) }
            let k = jsonString(other + ":x")
            let ns = jsonString(other)
            let calls: [(String, String)] = [
                ("/v1/memory/remember", #"{"key":\#(k),"content":"x"}"#),
                ("/v1/memory/recall", #"{"query":"other","namespace":\#(ns)}"#),
                ("/v1/memory/correct", #"{"key":\#(k),"content":"y","reason":"r"}"#),
                ("/v1/memory/forget", #"{"key":\#(k)}"#),
                ("/v1/memory/forget", #"{"key":\#(k),"erase":true}"#),
                ("/v1/memory/rollback", #"{"prefix":\#(ns),"tx":1,"reason":"r"}"#),
            ]
            for (uri, body) in calls {
                let r = try await send(client, .post, uri, body, token: token)
                #expect(r.status == 403, "\(uri): \(r.status) \(r.json)")
            }
            for uri in [
                "/v1/memory/history?key=\(queryEscaped(other + ":x"))",
                "/v1/memory/evolution?prefix=\(queryEscaped(other))",
                "/v1/memory/as-of?tx=1&prefix=\(queryEscaped(other))",
            ] {
                let r = try await send(client, .get, uri, token: token)
                #expect(r.status == 403, "\(uri): \(r.status) \(r.json)")
            }
        }
        #expect(try t.db.get(Key(other + ":x"))?.value == .json(#"{"content":"the other one"}"#))
    }

    @Test("invalid UTF-8 and lone surrogates in keys are refused, not replaced")
    func invalidSequences() async throws {
        let t = try ServerDB()
        let (token, _) = try APIKeys.create(t.db, name: "k", role: .write, partitions: nil, prefixes: ["Kafka:"])
        try await t.app().test(.router) { client in
            for body in [#"{"key":"Kafka:\udc00","value":1}"#, #"{"key":"Kafka:\ud800x","value":1}"#] {
                let r = try await send(client, .put, "/v1/facts", body, token: token)
                #expect(r.status == 400, "\(body): \(r.json)")
            }
            var raw = Array(#"{"key":"Kafka:"#.utf8)
            raw += [0xFF, 0xFE]
            raw += Array(#"","value":1}"#.utf8)
            let r = try await client.execute(
                uri: "/v1/facts",
                method: .put,
                headers: [.authorization: "Bearer " + token, .contentType: "application/json"],
                body: ByteBuffer(bytes: raw)
            ) { Int($0.status.code) }
            #expect(r == 400)
            let q = try await send(client, .get, "/v1/facts?key=Kafka:%FF%FE", token: token)
            #expect(q.status == 400, "\(q.json)")
        }
        #expect(try t.db.read { s in try s.scan(prefix: Key("Kafka:")) }.isEmpty)
    }
}

@Suite("REST: duplicate members are refused")
struct DuplicateMemberTests {
    @Test(
        "a member twice, at the top or anywhere in the body, is a 400 that names it; nothing is written",
        arguments: [
            (#"{"key":"a","key":"b","value":1}"#, "'key' appears twice in the request"),
            (#"{"key":"a","value":1,"value":2}"#, "'value' appears twice in the request"),
            (#"{"key":"a","value":{"x":1,"y":2,"x":3}}"#, "'x' appears twice in the object at $.value"),
            (#"{"key":"a","value":[1,{"z":1,"z":1}]}"#, "'z' appears twice in the object at $.value[1]"),
            (#"{"key":"a","value":{"café":1,"cafe\u0301":2,"café":3}}"#, "'café' appears twice"),
        ] as [(String, String)]
    )
    func refused(body: String, message: String) async throws {
        let t = try ServerDB()
        try await t.app().test(.router) { client in
            let r = try await send(client, .put, "/v1/facts", body)
            #expect(r.status == 400)
            guard case .string(let m)? = r.json["error"]?["message"] else {
                Issue.record("no message: \(r.json)")
                return
            }
            #expect(m.contains(message), "\(m)")
        }
        #expect(try t.db.get(Key("a")) == nil)
    }

    @Test("names that differ only in normalization are different members")
    func normalizationIsNotDuplication() async throws {
        let t = try ServerDB()
        try await t.app().test(.router) { client in
            let r = try await send(client, .put, "/v1/facts", #"{"key":"a","value":{"café":1,"cafe\u0301":2}}"#)
            #expect(r.status == 200, "\(r.json)")
            let m = try await send(
                client,
                .post,
                "/v1/memory/remember",
                #"{"memories":[{"key":"agent:context:x","content":"a","content":"b"}]}"#
            )
            #expect(m.status == 400, "\(m.json)")
        }
    }
}

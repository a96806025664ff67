import Foundation
import LLMDB
import LLMDBMemory
import LLMDBText
import Testing

final class MemDB: @unchecked Sendable {
    // @unchecked Sendable: set once in init.
    let dir: String
    let clock = ManualClock(start: Instant(microseconds: 1_700_000_000_000_000))
    let db: Database
    let memory: AgentMemory
    init() throws {
        dir = NSTemporaryDirectory() + "llmdb-mem-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var o = Database.Options()
        o.sync = .none
        o.clock = clock
        db = try Database.open(path: dir + "/test.llmdb", options: o)
        memory = AgentMemory(db: db)
    }
    deinit {
        db.close()
        try? FileManager.default.removeItem(atPath: dir)
    }

    func remember(_ key: String, _ text: String, confidence: Double? = nil) throws -> Commit {
        var m = MemoryInput(key: key, content: .string(text))
        m.confidence = confidence
        clock.advance(by: 1_000_000)
        return try memory.remember([m])
    }
}

@Suite("Agent memory: the seed's operations")
struct AgentMemoryTests {
    @Test("a correction keeps the valid time; the original stays visible as of the earlier transaction")
    func correctAnalysis() throws {
        let t = try MemDB()
        let c1 = try t.remember("agent:analysis:abc123", "complexity high in login factory decorator", confidence: 0.87)
        t.clock.advance(by: 1_000_000)
        let (c2, corrected) = try t.memory.correct(
            key: "agent:analysis:abc123",
            content: .string("complexity moderate; found hidden singleton in config"),
            confidence: 0.9,
            reason: "Found hidden singleton pattern in config class"
        )
        #expect(c2.txID > c1.txID)
        #expect(corrected.correctionReason == "Found hidden singleton pattern in config class")
        let now = try #require(try t.memory.get(key: "agent:analysis:abc123"))
        #expect(now.content == .string("complexity moderate; found hidden singleton in config"))
        #expect(now.validFrom == c1.txTime)
        let before = try #require(try t.memory.get(key: "agent:analysis:abc123", tx: .id(c1.txID)))
        #expect(before.content == .string("complexity high in login factory decorator"))
        #expect(before.confidence == 0.87)
        // Recall follows the correction now, and the original as of c1.
        var q = RecallQuery(text: "singleton")
        #expect(try t.memory.recall(q).hits.map(\.memory.key) == ["agent:analysis:abc123"])
        q.tx = .id(c1.txID)
        #expect(try t.memory.recall(q).hits.isEmpty)
        q.text = "decorator"
        #expect(try t.memory.recall(q).hits.count == 1)
        q.tx = .latest
        #expect(try t.memory.recall(q).hits.isEmpty)
        let history = try t.memory.history(key: "agent:analysis:abc123")
        #expect(history.count == 2)
    }

    @Test("knowledge evolution lists each version with its confidence change")
    func evolution() throws {
        let t = try MemDB()
        _ = try t.remember("agent:knowledge:jwt", "use HS256", confidence: 0.5)
        _ = try t.remember("agent:knowledge:jwt", "use RS256 for rotation", confidence: 0.8)
        _ = try t.remember("agent:knowledge:jwt", "use RS256 with JWKS", confidence: 0.75)
        // A superseded version read at its own valid time ends where the next one starts.
        let history = try t.memory.history(key: "agent:knowledge:jwt")
        let first = try #require(try t.memory.get(key: "agent:knowledge:jwt", validAt: history[0].validFrom))
        #expect(first.validTo == history[1].validFrom)
        #expect(try t.memory.get(key: "agent:knowledge:jwt")?.validTo == nil)
        let steps = try t.memory.evolution(prefix: "agent:knowledge:jwt")
        #expect(steps.count == 3)
        #expect(steps[0].confidenceChange == nil)
        #expect(abs(steps[1].confidenceChange! - 0.3) < 1e-9)
        #expect(abs(steps[2].confidenceChange! + 0.05) < 1e-9)
    }

    @Test("rollback restores the earlier context as a new transaction and marks the decision superseded")
    func rollback() throws {
        let t = try MemDB()
        let c1 = try t.remember("agent:context:s1", "implementing auth service")
        _ = try t.remember("agent:context:s1", "switched to billing")
        _ = try t.remember("agent:context:s1-extra", "new scratch context")
        let r = try t.memory.rollback(
            prefix: "agent:context:s1",
            toTx: c1.txID,
            decision: "refactor-7",
            reason: "user asked"
        )
        #expect(r.restored == ["agent:context:s1"])
        #expect(r.removed == ["agent:context:s1-extra"])
        #expect(try t.memory.get(key: "agent:context:s1")?.content == .string("implementing auth service"))
        #expect(try t.memory.get(key: "agent:context:s1-extra") == nil)
        let marker = try #require(try t.memory.get(key: "agent:decision:refactor-7:superseded"))
        #expect(marker.content["status"] == .string("rolled_back"))
        #expect(marker.content["rollback_tx"] == .int(Int64(c1.txID)))
        // Nothing was lost: the rolled-back value is still in the history.
        #expect(try t.memory.history(key: "agent:context:s1").count >= 2)
    }

    @Test("forget hides a memory from recall and reads; erase removes every version")
    func forget() throws {
        let t = try MemDB()
        _ = try t.remember("agent:errors:e1", "timeout in payment gateway")
        let c = try t.remember("agent:errors:e2", "timeout in login")
        t.clock.advance(by: 1_000_000)
        _ = try t.memory.forget(key: "agent:errors:e1")
        #expect(try t.memory.recall(RecallQuery(text: "timeout")).hits.map(\.memory.key) == ["agent:errors:e2"])
        var old = RecallQuery(text: "timeout")
        old.tx = .id(c.txID)
        #expect(try t.memory.recall(old).hits.count == 2)
        _ = try t.memory.forget(key: "agent:errors:e2", erase: true)
        #expect(try t.memory.recall(old).hits.map(\.memory.key) == ["agent:errors:e1"])
        #expect(throws: LLMDBError.self) { try t.memory.history(key: "agent:errors:e2") }
    }

    @Test("expired memories are hidden unless asked for; metadata filters and budgets apply")
    func filtersAndBudgets() throws {
        let t = try MemDB()
        var m = MemoryInput(key: "agent:analysis:cache", content: .string("cached lint result for parser"))
        m.expiresAt = t.clock.now().advanced(by: 5_000_000)
        m.source = "lint"
        try t.memory.remember([m])
        _ = try t.remember(
            "agent:knowledge:parser",
            String(repeating: "parser grammar notes ", count: 200),
            confidence: 0.9
        )
        t.clock.advance(by: 10_000_000)
        var q = RecallQuery(text: "parser")
        q.validAt = t.clock.now()
        #expect(try t.memory.recall(q).hits.map(\.memory.key) == ["agent:knowledge:parser"])
        q.includeExpired = true
        #expect(try t.memory.recall(q).hits.count == 2)
        q.source = "lint"
        #expect(try t.memory.recall(q).hits.map(\.memory.key) == ["agent:analysis:cache"])
        q.source = nil
        q.minConfidence = 0.5
        #expect(try t.memory.recall(q).hits.map(\.memory.key) == ["agent:knowledge:parser"])
        q.minConfidence = nil
        q.maxBytes = 500
        let cut = try t.memory.recall(q)
        #expect(cut.truncated)
        #expect(cut.bytes <= 500)
        #expect(cut.json.text.utf8.count <= 500)
        #expect(cut.hits.count == 1)
    }

    @Test("bad input is refused with a clear error and writes nothing")
    func badInput() throws {
        let t = try MemDB()
        let before = try t.db.read { $0.txID }
        for key in ["notagent:x:y", "agent:Bad Kind:x", "agent:knowledge:", "agent:knowledge"] {
            #expect(throws: LLMDBError.self) { try t.memory.remember([MemoryInput(key: key, content: "x")]) }
        }
        var m = MemoryInput(key: "agent:knowledge:x", content: "x")
        m.confidence = 1.5
        #expect(throws: LLMDBError.self) { try t.memory.remember([m]) }
        #expect(throws: LLMDBError.self) {
            try t.memory.remember([MemoryInput(key: "agent:knowledge:x", content: .null)])
        }
        #expect(throws: LLMDBError.self) { try t.memory.correct(key: "agent:knowledge:none", reason: "x") }
        #expect(throws: LLMDBError.self) { try t.memory.forget(key: "agent:knowledge:none") }
        #expect(throws: LLMDBError.self) { try t.memory.recall(RecallQuery(text: "")) }
        #expect(try t.db.read { $0.txID } == before)
        _ = try t.remember("agent:knowledge:x", "something")
        #expect(throws: LLMDBError.self) { try t.memory.correct(key: "agent:knowledge:x", reason: "  ") }
        #expect(throws: LLMDBError.self) { try t.memory.recall(RecallQuery(text: "the of")) }
    }
}

@Suite("Full-text recall: BM25 against a reference model")
struct RecallModelTests {
    static let vocabulary = [
        "auth", "token", "jwt", "login", "cache", "parser", "grammar", "billing", "invoice", "retry",
        "timeout", "index", "query", "schema", "migration", "lambda", "closure", "actor", "swift", "python",
    ]

    struct Version {
        var key: String
        var words: [String]?  // nil: forgotten
        var tx: TxID
    }

    @Test("rankings and scores equal a brute-force BM25 as of every transaction", arguments: [1, 2, 3])
    func model(seed: UInt64) throws {
        var rng = SplitMix(seed: seed)
        let t = try MemDB()
        var log: [Version] = []
        for _ in 0..<60 {
            let key = "agent:knowledge:k\(rng.next() % 12)"
            if rng.next() % 6 == 0, try t.memory.get(key: key) != nil {
                t.clock.advance(by: 1_000_000)
                let c = try t.memory.forget(key: key)
                log.append(Version(key: key, words: nil, tx: c.txID))
                continue
            }
            let words = (0..<(1 + Int(rng.next() % 8))).map { _ in Self.vocabulary[Int(rng.next() % 20)] }
            let c = try t.remember(key, words.joined(separator: " "))
            log.append(Version(key: key, words: words, tx: c.txID))
        }
        let last = try t.db.read { $0.txID }
        for tx in stride(from: TxID(2), through: last, by: 3) {
            for query in [["auth", "token"], ["swift"], ["cache", "parser", "timeout"]] {
                var q = RecallQuery(text: query.joined(separator: " "))
                q.tx = .id(tx)
                q.limit = 100
                let got = try t.memory.recall(q).hits
                let want = Self.bm25(log.filter { $0.tx <= tx }, query: query)
                #expect(got.map(\.memory.key).sorted() == want.map(\.key).sorted(), "tx \(tx) query \(query)")
                let scores = Dictionary(uniqueKeysWithValues: want)
                for h in got {
                    #expect(abs(h.bm25 - (scores[h.memory.key] ?? -1)) < 1e-9, "tx \(tx) \(h.memory.key)")
                }
                #expect(zip(got, got.dropFirst()).allSatisfy { $0.score >= $1.score })
            }
        }
    }

    /// BM25 with the index's statistics: N and the average length over every indexed
    /// version; df over distinct keys that ever had the word; the score of each key's
    /// current version.
    static func bm25(_ versions: [Version], query: [String]) -> [(key: String, Double)] {
        let indexed = versions.compactMap { v in v.words.map { (v.key, $0) } }
        let n = Double(indexed.count)
        let avg = max(1, Double(indexed.map(\.1.count).reduce(0, +)) / n)
        var current: [String: [String]] = [:]
        for v in versions {
            if let w = v.words { current[v.key] = w } else { current[v.key] = nil }
        }
        var scores: [String: Double] = [:]
        for term in Set(query) {
            let df = Double(Set(indexed.filter { $0.1.contains(term) }.map(\.0)).count)
            guard df > 0 else { continue }
            let idf = log(1 + (n - df + 0.5) / (df + 0.5))
            for (key, words) in current {
                let tf = Double(words.filter { $0 == term }.count)
                guard tf > 0 else { continue }
                let len = Double(words.count)
                scores[key, default: 0] += idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * len / avg))
            }
        }
        return scores.map { ($0.key, $0.value) }
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Text analysis")
struct TextAnalyzerTests {
    @Test("words are lower-cased runs of letters and digits; one-letter words, stop words and long words are dropped")
    func words() {
        #expect(TextAnalyzer.words("The JWT-token's TTL is 300s; a b C") == ["jwt", "token", "ttl", "300s"])
        #expect(TextAnalyzer.words("Ünïcode STRASSE naïve 東京 Ωmega") == ["ünïcode", "strasse", "naïve", "東京", "ωmega"])
        #expect(TextAnalyzer.words(String(repeating: "x", count: 65) + " ok") == ["ok"])
        #expect(TextAnalyzer.words("") == [])
        #expect(TextAnalyzer.words("émoji 🙂 ok") == ["émoji", "ok"])
    }
}

@Suite("valid_to of as-of reads")
struct ValidToModelTests {
    @Test("Snapshot.validTo equals the end of the timeline run holding the valid time", arguments: [7, 8])
    func agreesWithHistory(seed: UInt64) throws {
        var rng = SplitMix(seed: seed)
        let t = try MemDB()
        let base = Instant(microseconds: 1_000_000_000)
        for i in 0..<80 {
            let key = Key("k\(rng.next() % 4)")
            let from = base.advanced(by: Int64(rng.next() % 50) * 1000)
            t.clock.advance(by: 1_000_000)
            if rng.next() % 5 == 0 {
                let to = from.advanced(by: Int64(1 + rng.next() % 20) * 1000)
                _ = try t.db.write { try $0.delete(key, validFrom: from, validTo: to) }
            } else if rng.next() % 3 == 0 {
                let to = from.advanced(by: Int64(1 + rng.next() % 20) * 1000)
                _ = try t.db.write { try $0.put(key, try Value.json("\(i)"), validFrom: from, validTo: to) }
            } else {
                _ = try t.db.write { try $0.put(key, try Value.json("\(i)"), validFrom: from) }
            }
        }
        let last = try t.db.read { $0.txID }
        for tx in stride(from: TxID(1), through: last, by: 7) {
            for k in 0..<4 {
                let key = Key("k\(k)")
                let runs = try t.db.timeline(of: key, asOf: .id(tx))
                for step in stride(from: Int64(-2), through: 75, by: 3) {
                    let v = base.advanced(by: step * 1000)
                    // getWithValidTo walks on from the lookup's cursor; validTo(of:) seeks anew.
                    let (got, sought) = try t.db.read(validAt: v, tx: .id(tx)) {
                        (try $0.getWithValidTo(key), try $0.validTo(of: key))
                    }
                    #expect(got?.validTo == sought, "tx \(tx) \(key) at \(v)")
                    let run = runs.first { $0.validFrom <= v && ($0.validTo.map { v < $0 } ?? true) }
                    if let run {
                        #expect(got?.value == run.value, "tx \(tx) \(key) at \(v)")
                        #expect(got?.validTo == run.validTo, "tx \(tx) \(key) at \(v)")
                    } else {
                        #expect(got == nil, "tx \(tx) \(key) at \(v)")
                    }
                }
            }
        }
    }
}

@Suite("Agent memory: extreme instants")
struct ExtremeInstantTests {
    @Test("recall weighted by recency over memories at the ends of time computes, never traps")
    func recencyAtTheEnds() throws {
        let t = try MemDB()
        var early = MemoryInput(key: "agent:knowledge:early", content: "token signing with RS256")
        early.validFrom = .beginningOfTime
        var late = MemoryInput(key: "agent:knowledge:late", content: "token signing rotated keys")
        late.validFrom = Instant(microseconds: Int64.max - 2)
        try t.memory.remember([early, late])
        for at in [Instant(microseconds: Int64.max - 1), .beginningOfTime, Instant(microseconds: 0)] {
            var q = RecallQuery(text: "token signing")
            q.validAt = at
            q.recencyWeight = 1
            let r = try t.memory.recall(q)
            #expect(r.hits.allSatisfy { $0.score.isFinite }, "\(at)")
            #expect(r.hits.count == (at == .beginningOfTime ? 1 : at.microseconds == 0 ? 1 : 2), "\(at)")
        }
    }
}

import Foundation
import LLMDB
import LLMDBStorage
import LLMDBVector
import Testing

/// A database in a temporary folder, with a manual clock.
final class VectorTestDatabase: @unchecked Sendable {
    // @unchecked Sendable: used by one test at a time.
    let dir: String
    let path: String
    let clock = ManualClock(start: Instant(microseconds: 1_000_000))
    var db: Database

    init() throws {
        dir = NSTemporaryDirectory() + "llmdb-vector-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        path = dir + "/v.llmdb"
        db = try Database.open(path: path, options: Self.options(clock))
    }

    static func options(_ clock: ManualClock) -> Database.Options {
        var o = Database.Options()
        o.sync = .none
        o.clock = clock
        return o
    }

    func reopen() throws {
        db.close()
        db = try Database.open(path: path, options: Self.options(clock))
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }
}

/// The reference: each key's vector read with a point read as of (V, T), distances in Double.
enum BruteForce {
    static func distance(_ metric: VectorMetric, _ a: [Float], _ b: [Float]) -> Double {
        let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        switch metric {
        case .dot: return -dot
        case .l2: return zip(a, b).reduce(0.0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }
        case .cosine:
            let na = a.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let nb = b.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            return 1 - dot / (na * nb)
        }
    }

    /// Every key visible at (V, T) that matches the filters, with its record and distance.
    static func visible(
        _ c: VectorCollection,
        keys: [String],
        query: [Float],
        filters: [VectorFilter],
        validAt: Instant?,
        tx: TxSelector
    ) throws -> [(record: VectorRecord, distance: Double)] {
        try keys.compactMap { k in
            guard let r = try c.get(k, validAt: validAt, tx: tx) else { return nil }
            guard
                filters.allSatisfy({ f in r.metadata.map { $0.values(atPath: f.path[...]).contains(f.value) } ?? false }
                )
            else { return nil }
            return (r, distance(c.info.metric, query, r.vector))
        }
    }
}

@Suite("Vector collections: bitemporal vectors and exact search")
struct VectorCollectionTests {
    static let dims = 8

    static func vector(_ g: inout Generator) -> [Float] {
        var v = (0..<dims).map { _ in Float(Int(g.next() % 2001) - 1000) / 1000 }
        if !v.contains(where: { $0 != 0 }) { v[0] = 1 }
        return v
    }

    @Test(
        "exact search equals a brute-force reference as of every transaction of random histories, with and without filters",
        arguments: VectorMetric.allCases
    )
    func modelBased(metric: VectorMetric) throws {
        for seed in 0..<4 {
            var g = Generator(state: UInt64(seed) &+ 77)
            let t = try VectorTestDatabase()
            let c = try t.db.createVectorCollection("docs", dimensions: Self.dims, metric: metric)
            let keys = (0..<10).map { "k\($0)" }
            var commits: [Commit] = []
            for step in 0..<60 {
                let k = keys[Int(g.next() % UInt64(keys.count))]
                let lang: JSONValue = ["en", "fr", "de"][Int(g.next() % 3)]
                let meta: JSONValue = .object([JSONMember("lang", lang), JSONMember("step", .int(Int64(step)))])
                switch g.next() % 10 {
                case 0..<4: commits.append(try c.put(k, Self.vector(&g), metadata: meta))
                case 4:
                    // A correction of the past.
                    let from = Instant(microseconds: Int64(g.next() % UInt64(t.clock.now().microseconds)))
                    commits.append(try c.put(k, Self.vector(&g), metadata: meta, validFrom: from))
                case 5:
                    let from = t.clock.now()
                    commits.append(
                        try c.put(k, Self.vector(&g), metadata: meta, validFrom: from, validTo: from.advanced(by: 3000))
                    )
                case 6: commits.append(try c.delete(k))
                case 7: commits.append(try c.erase(k))
                default:
                    let items = (0..<3).map { i in
                        VectorItem("k\((Int(g.next() % 10) + i) % 10)", Self.vector(&g), metadata: meta)
                    }
                    commits.append(try c.put(items))
                }
                t.clock.advance(by: 1000)
                // Probe: now, and as of a random earlier (valid time, tx).
                let old = commits[Int(g.next() % UInt64(commits.count))]
                let probes: [(Instant?, TxSelector)] = [
                    (nil, .latest), (old.txTime, .id(old.txID)),
                    (Instant(microseconds: Int64(g.next() % UInt64(t.clock.now().microseconds))), .id(old.txID)),
                ]
                for (validAt, tx) in probes {
                    let query = Self.vector(&g)
                    let filters = g.next() % 2 == 0 ? [] : [VectorFilter("lang", equals: "en")]
                    let k = 1 + Int(g.next() % 6)
                    let hits = try c.search(query, k: k, filters: filters, validAt: validAt, tx: tx)
                    let want = try BruteForce.visible(
                        c,
                        keys: keys,
                        query: query,
                        filters: filters,
                        validAt: validAt,
                        tx: tx
                    )
                    #expect(hits.count == min(k, want.count), "seed \(seed) step \(step)")
                    for h in hits {
                        let r = try #require(want.first { $0.record.key == h.key }, "\(h.key) is not visible")
                        #expect(abs(Double(h.distance) - r.distance) < 1e-4)
                        #expect(h.validFrom == r.record.validFrom && h.txID == r.record.txID)
                        #expect(h.metadata == r.record.metadata)
                    }
                    // Nothing nearer than the last hit was left out.
                    if let worst = hits.last {
                        for w in want where w.distance < Double(worst.distance) - 1e-4 {
                            #expect(
                                hits.contains { $0.key == w.record.key },
                                "seed \(seed) step \(step): \(w.record.key) missing"
                            )
                        }
                    }
                    #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.distance <= $1.distance })
                }
            }
        }
    }

    @Test("bad input is refused with a clear error and the database is unchanged")
    func badInput() throws {
        let t = try VectorTestDatabase()
        let c = try t.db.createVectorCollection("docs", dimensions: 3, metric: .cosine)
        try c.put("a", [1, 0, 0], metadata: ["lang": "en"])
        let before = try t.db.stats().lastTxID
        func refused(_ code: LLMDBError.Code, _ words: String, _ body: () throws -> Void) {
            do {
                try body()
                Issue.record("accepted: \(words)")
            } catch let e as LLMDBError {
                #expect(e.code == code && e.message.contains(words), "\(e.code): \(e.message)")
            } catch { Issue.record("\(error)") }
        }
        refused(.invalidValue, "2 dimensions") { try c.put("b", [1, 0]) }
        refused(.invalidValue, "finite") { try c.put("b", [1, .nan, 0]) }
        refused(.invalidValue, "finite") { try c.put("b", [1, .infinity, 0]) }
        refused(.invalidValue, "zero vector") { try c.put("b", [0, 0, 0]) }
        refused(.invalidValue, "JSON object") { try c.put("b", [1, 0, 0], metadata: "en") }
        // A batch with one bad vector writes none of it.
        refused(.invalidValue, "4 dimensions") {
            try c.put([VectorItem("b", [1, 0, 0]), VectorItem("c", [1, 0, 0, 0])])
        }
        // Through the core, not the façade: the collection's kind still refuses.
        refused(.invalidValue, "not a vector") {
            try t.db.write { try $0.put(Key("vec/docs/raw"), .json("{\"x\":1}")) }
        }
        refused(.invalidValue, "2 dimensions") { try t.db.write { try $0.put(Key("vec/docs/raw"), .vector([1, 2])) } }
        refused(.invalidArgument, "k must be") { _ = try c.search([1, 0, 0], k: 0) }
        refused(.invalidArgument, "k must be") { _ = try c.search([1, 0, 0], k: VectorCollection.maxK + 1) }
        refused(.invalidArgument, "2 dimensions") { _ = try c.search([1, 0], k: 1) }
        refused(.invalidArgument, "finite") { _ = try c.search([1, .nan, 0], k: 1) }
        refused(.invalidArgument, "zero query") { _ = try c.search([0, 0, 0], k: 1) }
        refused(.notFound, "no vector collection") { _ = try t.db.vectorCollection("nope") }
        refused(.conflict, "exists with 3 dimensions") { _ = try t.db.createVectorCollection("docs", dimensions: 4) }
        refused(.invalidArgument, "name") { _ = try t.db.createVectorCollection("bad/name", dimensions: 4) }
        refused(.invalidArgument, "dimensions") { _ = try t.db.createVectorCollection("zero", dimensions: 0) }
        #expect(try t.db.stats().lastTxID == before)
        #expect(try c.get("b") == nil && c.get("raw") == nil)
        // The same definition again is the same collection.
        #expect(try t.db.createVectorCollection("docs", dimensions: 3).info == c.info)
        // A filter on a field no vector has matches nothing.
        #expect(try c.search([1, 0, 0], k: 3, filters: [VectorFilter("missing", equals: 1)]).isEmpty)
    }

    @Test("history, as-of, erase and reopening: vectors are facts like any other")
    func time() throws {
        let t = try VectorTestDatabase()
        var c = try t.db.createVectorCollection("mem", dimensions: 2, metric: .l2)
        let first = try c.put("x", [0, 0], metadata: ["v": 1])
        t.clock.advance(by: 1000)
        let second = try c.put("x", [10, 10], metadata: ["v": 2])
        t.clock.advance(by: 1000)
        try c.put("y", [1, 1])
        // Now x is far; as of the first transaction it was at the origin.
        #expect(try c.search([0, 0], k: 1).map(\.key) == ["y"])
        let asOf = try c.search([0, 0], k: 2, tx: .id(first.txID))
        #expect(asOf.map(\.key) == ["x"] && asOf[0].distance == 0 && asOf[0].txID == first.txID)
        #expect(try c.get("x", tx: .id(first.txID))?.metadata == ["v": 1])
        // A deleted vector never comes back in a search now; the past still has it.
        try c.delete("y")
        #expect(try c.search([0, 0], k: 5).map(\.key) == ["x"])
        #expect(try c.search([0, 0], k: 5, tx: .id(second.txID)).map(\.key) == ["x"])
        // Erase removes every version, in the past too.
        try c.erase("x")
        #expect(try c.search([0, 0], k: 5, tx: .id(first.txID)).isEmpty)
        #expect(try c.get("x", tx: .id(first.txID)) == nil)
        try c.put("z", [3, 4])
        try t.reopen()
        c = try t.db.vectorCollection("mem")
        #expect(c.info.dimensions == 2 && c.info.metric == .l2)
        let hit = try #require(try c.search([0, 0], k: 1).first)
        #expect(hit.key == "z" && hit.distance == 25)
        #expect(try t.db.vectorCollections().map(\.name) == ["mem"])
        #expect(try t.db.verify().ok)
    }
}

@Suite("Vector collections: verify")
struct VectorVerifyTests {
    @Test("verify checks every stored version of a collection, and names no key")
    func verifyFindsDamage() throws {
        let t = try VectorTestDatabase()
        let c = try t.db.createVectorCollection("v", dimensions: 2)
        try c.put("secret-key", [1, 2], metadata: ["a": 1])
        try c.put("b", [3, 4])
        var report = try t.db.verify()
        #expect(report.ok && report.indexesChecked == 1, "\(report.problems)")
        t.db.close()
        // Damage one version below the database: three floats where the collection has two.
        do {
            let env = try Environment(path: t.path, options: .init())
            let facts = try #require(try env.openTables(["facts"], create: false)["facts"])
            let tx = try env.beginWrite()
            let c = try tx.cursor(facts)
            var key: [UInt8]? = nil
            var e = try c.first()
            while let entry = e {
                if String(decoding: entry.key, as: UTF8.self).contains("secret-key") { key = Array(entry.key) }
                e = try c.next()
            }
            let k = try #require(key)
            var value: [UInt8] = [0x20, 0, 0, 0, 3]
            for x: Float in [1, 2, 3] { withUnsafeBytes(of: x) { value += $0 } }
            try k.withUnsafeBytes { k in try value.withUnsafeBytes { v in try tx.put(facts, k, v) } }
            try tx.commit()
        }
        try t.reopen()
        _ = try t.db.vectorCollection("v")  // registers the kind with this process
        report = try t.db.verify()
        #expect(report.indexesChecked == 1 && report.problems.count == 1, "\(report.problems)")
        #expect(report.problems.first?.contains("3 dimensions, the collection's have 2") == true, "\(report.problems)")
        #expect(report.problems.allSatisfy { !$0.contains("secret-key") && !$0.contains("nothing was written") })
    }
}

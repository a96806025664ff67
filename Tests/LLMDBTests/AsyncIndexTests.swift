import Foundation
@_spi(Testing) import LLMDB
import LLMDBStorage
import Testing

/// Asynchronous indexes: the toy kind of IndexKindTests, maintained by the background builder.
@Suite("Asynchronous indexes: the background builder, its watermark and its resumption")
struct AsyncIndexTests {
    static let definition = IndexKindTests.definition

    func open(_ kind: PrefixCount = PrefixCount(asynchronous: true)) throws -> TempDatabase {
        let t = try TempDatabase()
        try t.db.register(kind)
        return t
    }

    func status(_ db: Database) throws -> AsyncIndexStatus {
        try #require(try db.read { try $0.asyncIndex(named: "per-prefix") })
    }

    @Test("matches a brute-force count whenever it has caught up, over random histories; erase is immediate")
    func modelBased() throws {
        for seed in 0..<8 {
            var rng = SplitMix64(seed: UInt64(seed) &+ 1000)
            let t = try open()
            let keys = (0..<12).map { Key("p/\(["a", "b", "c"][$0 % 3]):\($0)") } + [Key("q/a:1"), Key("p/nocolon")]
            var defined = false
            for step in 0..<90 {
                if !defined, step == 15 + seed {
                    try t.db.defineIndex(Self.definition)
                    defined = true
                }
                let roll = rng.next() % 100
                let k = keys[Int(rng.next() % UInt64(keys.count))]
                do {
                    _ = try t.db.write { b in
                        switch roll {
                        case 0..<50:
                            for _ in 0..<(1 + Int(rng.next() % 3)) {
                                let from: Instant? =
                                    rng.next() % 3 == 0 ? Instant(microseconds: Int64(rng.next() % 2_000_000)) : nil
                                try b.put(keys[Int(rng.next() % UInt64(keys.count))], .raw("v\(step)"), validFrom: from)
                            }
                        case 50..<62:
                            let from = Instant(microseconds: Int64(rng.next() % 1_000_000))
                            try b.put(k, .raw("r\(step)"), validFrom: from, validTo: from.advanced(by: 500_000))
                        case 62..<74: try b.delete(k)
                        case 74..<88: try b.erase(k)
                        default:
                            // Fails at the end: nothing is written, and nothing is queued.
                            try b.put(k, .raw("lost"))
                            try b.expect(keys[0], .version(999_999))
                        }
                    }
                } catch let e as LLMDBError {
                    #expect(e.code == .conflict, "\(e)")
                }
                t.clock.advance(by: 1000)
                guard defined else { continue }
                if (74..<88).contains(roll) {
                    // Erase leaves derived data in the erasing transaction, whatever is queued.
                    #expect(
                        !(try PrefixCount.marked(t.db, index: "per-prefix")).contains(
                            String(decoding: k.bytes, as: UTF8.self)
                        )
                    )
                }
                if rng.next() % 4 == 0 || step == 89 {
                    #expect(try t.db.waitForAsyncIndexes())
                    let s = try status(t.db)
                    let last = try t.db.stats().lastTxID
                    #expect(s.caughtUp && s.indexedThrough == last, "\(s)")
                    let want = try PrefixCount.bruteForce(t.db, scope: "p/")
                    let got = try PrefixCount.counts(t.db, index: "per-prefix")
                    #expect(got == want, "seed \(seed), step \(step)")
                    if got != want { return }
                }
            }
            let report = try t.db.verify()
            #expect(report.indexesChecked == 1 && report.ok)
        }
    }

    @Test("an index behind the facts says so: stats, verify and its watermark")
    func behind() throws {
        let t = try open()
        for i in 0..<5 { try t.db.write { try $0.put(Key("p/k:\(i)"), .raw("v")) } }
        t.db.pauseAsyncIndexing(true)
        let defined = try t.db.defineIndex(Self.definition)
        for i in 5..<8 { try t.db.write { try $0.put(Key("p/k:\(i)"), .raw("v")) } }
        var s = try status(t.db)
        #expect(s.phase == .building && s.indexedThrough == nil && s.pendingTransactions == 3)
        #expect(s.buildHorizon == defined.txID && s.kindRegistered && !s.caughtUp)
        #expect(try PrefixCount.counts(t.db, index: "per-prefix") == [:])
        var report = try t.db.verify()
        #expect(report.ok && report.indexesBehind == ["per-prefix"] && report.indexesChecked == 0)
        #expect(try t.db.stats().asyncIndexes == [s])

        t.db.pauseAsyncIndexing(false)
        #expect(try t.db.waitForAsyncIndexes())
        s = try status(t.db)
        #expect(s.phase == .live && s.caughtUp && s.builtEntries == 5 && s.caughtUpEntries == 3)
        #expect(try PrefixCount.counts(t.db, index: "per-prefix") == ["p/k:": 8])
        report = try t.db.verify()
        #expect(report.ok && report.indexesChecked == 1 && report.indexesBehind.isEmpty)

        // Live, with commits queued: the watermark is the last transaction before them.
        t.db.pauseAsyncIndexing(true)
        let last = try t.db.stats().lastTxID
        for i in 8..<10 { try t.db.write { try $0.put(Key("p/j:\(i)"), .raw("v")) } }
        try t.db.write { try $0.put("elsewhere", .raw("not covered")) }
        s = try status(t.db)
        #expect(s.phase == .live && s.indexedThrough == last && s.pendingTransactions == 2)
        t.db.pauseAsyncIndexing(false)
        #expect(try t.db.waitForAsyncIndexes())
        #expect(try PrefixCount.counts(t.db, index: "per-prefix") == ["p/k:": 8, "p/j:": 2])
        let lastTx = try t.db.stats().lastTxID
        #expect(try status(t.db).indexedThrough == lastTx)
    }

    @Test("a kind that fails in the builder stops its index and says why; writes go on; redefining rebuilds it")
    func failure() throws {
        let t = try open(PrefixCount(poison: Key("p/poison:1"), asynchronous: true))
        try t.db.write { try $0.put("p/a:1", .raw("1")) }
        try t.db.defineIndex(Self.definition)
        #expect(try t.db.waitForAsyncIndexes())
        // The poisoned write commits (the index is not in its transaction); the builder stops.
        try t.db.write { try $0.put("p/poison:1", .raw("boom")) }
        try t.db.write { try $0.put("p/b:1", .raw("2")) }
        #expect(try t.db.waitForAsyncIndexes())
        var s = try status(t.db)
        #expect(s.phase == .failed && s.error?.contains("poisoned key") == true, "\(s)")
        #expect(s.pendingTransactions == 2 && s.indexedThrough == s.buildHorizon)
        #expect(try t.db.read { try $0.get("p/b:1") } != nil)
        #expect(try t.db.verify().indexesBehind == ["per-prefix"])
        // Erase the poison, redefine: the index is built again and catches up.
        try t.db.erase("p/poison:1")
        try t.db.defineIndex(Self.definition)
        #expect(try t.db.waitForAsyncIndexes())
        s = try status(t.db)
        #expect(s.phase == .live && s.caughtUp && s.error == nil)
        #expect(try PrefixCount.counts(t.db, index: "per-prefix") == ["p/a:": 1, "p/b:": 1])
    }

    @Test("dropping an asynchronous index removes its rows, state and queue")
    func drop() throws {
        let t = try open()
        try t.db.write { try $0.put("p/a:1", .raw("1")) }
        t.db.pauseAsyncIndexing(true)
        try t.db.defineIndex(Self.definition)
        try t.db.write { try $0.put("p/b:1", .raw("2")) }
        try t.db.dropIndex(named: "per-prefix")
        t.db.pauseAsyncIndexing(false)
        #expect(try t.db.asyncIndexes().isEmpty)
        let left = try t.db.read { s in try s.tx.stat(s.db.asyncTable!).entries }
        #expect(left == 0)
        #expect(try PrefixCount.counts(t.db, index: "per-prefix") == [:])
        // A write the dropped index covered queues nothing.
        try t.db.write { try $0.put("p/c:1", .raw("3")) }
        #expect(try t.db.read { s in try s.tx.stat(s.db.asyncTable!).entries } == 0)
    }

    /// Every entry the facts hold in `scope` that is not a tombstone.
    func storedEntries(_ db: Database, scope: String) throws -> Int {
        try db.read { s in
            let c = try s.tx.cursor(s.db.facts)
            let start = EntryKey.prefix(Key(scope))
            var n = 0
            var e = try start.withUnsafeBytes { try c.seek(atLeast: $0) }
            while let entry = e, EntryKey.hasPrefix(entry.key, start) {
                if entry.value.first != ValueTag.tombstone.rawValue { n += 1 }
                e = try c.next()
            }
            return n
        }
    }

    /// Whether any key or value of the seam's own table holds `bytes`.
    func asyncTableHolds(_ db: Database, _ bytes: String) throws -> Bool {
        let needle = Array(bytes.utf8)
        return try db.read { s in
            let c = try s.tx.cursor(s.db.asyncTable!)
            var e = try c.first()
            while let row = e {
                for part in [Array(row.key), Array(row.value)] where part.count >= needle.count {
                    for i in 0...(part.count - needle.count) where Array(part[i..<(i + needle.count)]) == needle {
                        return true
                    }
                }
                e = try c.next()
            }
            return false
        }
    }

    @Test(
        "a ranged write during a build: the value it restores under an older tx is given once, ahead of the cursor or behind it"
    )
    func rangeWriteDuringBuild() throws {
        let tally = Tally()
        let t = try open(PrefixCount(asynchronous: true, tally: tally))
        try t.db.write { b in
            for i in 0..<3000 { try b.put(Key("p/k:\(String(format: "%04d", i))"), .raw("old")) }
        }
        t.db.pauseAsyncIndexing(true)
        try t.db.defineIndex(Self.definition)
        // One batch: the build has gone past the first entries (at least a chunk of 64, at most
        // a batch of 1024: fewer when the batch's time ran out first), not the rest.
        #expect(try t.db.runAsyncIndexBatch())
        let built = try status(t.db).builtEntries
        #expect(built >= 64 && built <= 1024, "\(built)")
        // Each restores the old value at its end, under the old tx (within the build's horizon):
        // behind the cursor it must be queued, ahead of it the build gives it.
        let from = Instant(microseconds: 1_000_000_000)
        for key in ["p/k:0010", "p/k:2500"] {
            try t.db.write { try $0.put(Key(key), .raw("new"), validFrom: from, validTo: from.advanced(by: 1_000_000)) }
        }
        t.db.pauseAsyncIndexing(false)
        #expect(try t.db.waitForAsyncIndexes())
        #expect(try status(t.db).caughtUp)
        // Every stored entry once: the 3000, and two for each ranged write.
        #expect(try storedEntries(t.db, scope: "p/") == 3004)
        #expect(tally.entries == 3004)
        #expect(try PrefixCount.counts(t.db, index: "per-prefix") == PrefixCount.bruteForce(t.db, scope: "p/"))
    }

    @Test(
        "erase during a build leaves no byte of the key in the queue or the build's cursor, and the build gives the rest once"
    )
    func eraseCleansTheQueue() throws {
        let tally = Tally()
        let t = try open(PrefixCount(asynchronous: true, tally: tally))
        try t.db.write { b in
            for i in 0..<3000 { try b.put(Key("p/k:\(String(format: "%04d", i))"), .raw("v")) }
        }
        t.db.pauseAsyncIndexing(true)
        try t.db.defineIndex(Self.definition)
        #expect(try t.db.runAsyncIndexBatch())
        // The cursor holds the last key the batch went past, and the queue a later write.
        let built = try status(t.db).builtEntries
        #expect(built >= 64 && built <= 1024, "\(built)")
        let cursor = "p/k:\(String(format: "%04d", built - 1))"
        #expect(try asyncTableHolds(t.db, cursor))
        try t.db.write { try $0.put("p/k:late-secret", .raw("v")) }
        try t.db.write { try $0.put("p/k:kept", .raw("v")) }
        #expect(try asyncTableHolds(t.db, "p/k:late-secret"))
        try t.db.erase(Key(cursor))
        try t.db.erase("p/k:late-secret")
        #expect(try !asyncTableHolds(t.db, cursor))
        #expect(try !asyncTableHolds(t.db, "p/k:late-secret"))
        #expect(try status(t.db).pendingTransactions == 2)
        t.db.pauseAsyncIndexing(false)
        #expect(try t.db.waitForAsyncIndexes())
        let s = try status(t.db)
        #expect(s.caughtUp && s.caughtUpEntries == 1, "\(s)")
        // Given once each: the erased key's entry before its erase, and every other entry.
        #expect(try storedEntries(t.db, scope: "p/") == 3000)
        #expect(tally.entries == 3001)
        #expect(try PrefixCount.counts(t.db, index: "per-prefix") == PrefixCount.bruteForce(t.db, scope: "p/"))
        #expect(try t.db.verify().ok)
    }

    @Test("a SIGKILL in the middle of a build: the build resumes where its last committed batch ended")
    func killMidBuild() async throws {
        let dir = NSTemporaryDirectory() + "llmdb-async-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/db.llmdb"
        let total = 8 * 1000
        await #expect(processExitsWith: .signal(SIGKILL)) { [path = path as String, total = total as Int] in
            var o = Database.Options()
            // Killed in the 50th call of add (64 entries each, 16 a batch): three batches of the
            // build are committed.
            o.indexKinds = [PrefixCount(asynchronous: true, tally: Tally(killAtCall: 50))]
            let db = try Database.open(path: path, options: o)
            for batch in 0..<(total / 1000) {
                try db.write { b in
                    for i in 0..<1000 { try b.put(Key("p/k\(batch % 5):\(batch)-\(i)"), .raw("v")) }
                }
            }
            try db.defineIndex(IndexKindTests.definition)
            for i in 0..<20 { try db.write { try $0.put(Key("p/late:\(i)"), .raw("v")) } }
            _ = try db.waitForAsyncIndexes(timeout: .seconds(120))
            Issue.record("the build finished before the kill")
        }

        // What the killed process left: part of the build, committed.
        var o = Database.Options()
        o.readOnly = true
        o.indexKinds = [PrefixCount(asynchronous: true)]
        let left = try #require(try Database.open(path: path, options: o).asyncIndexes().first)
        #expect(left.phase == .building && left.builtEntries > 0 && left.builtEntries < UInt64(total), "\(left)")

        let tally = Tally()
        o = Database.Options()
        o.indexKinds = [PrefixCount(asynchronous: true, tally: tally)]
        let db = try Database.open(path: path, options: o)
        #expect(try db.waitForAsyncIndexes(timeout: .seconds(120)))
        let done = try #require(try db.asyncIndexes().first)
        let late = try db.read { try $0.scan(prefix: Key("p/late:")).count }
        // Every entry once: the build's count is the total, and this process did only the rest.
        #expect(done.caughtUp && done.builtEntries == UInt64(total) && done.caughtUpEntries == UInt64(late), "\(done)")
        #expect(tally.entries == total - Int(left.builtEntries) + late)
        let want = try PrefixCount.bruteForce(db, scope: "p/")
        #expect(try PrefixCount.counts(db, index: "per-prefix") == want)
        let report = try db.verify()
        #expect(report.ok && report.indexesChecked == 1)
    }
}

import LLMDB
import Testing

/// The worked examples of docs/time-semantics.md, one test each.
@Suite struct TimeSemanticsTests {
    let a: Key = "a"

    @Test func openEndedPutHoldsUntilTheNextEntry() throws {
        let tmp = try TempDatabase()
        let db = tmp.db
        try db.write { try $0.put(a, .raw("v1"), validFrom: t(10)) }
        try db.write { try $0.put(a, .raw("v2"), validFrom: t(20)) }
        #expect(try db.text(a, at: 9) == nil)
        #expect(try db.text(a, at: 10) == "v1")
        #expect(try db.text(a, at: 19) == "v1")
        #expect(try db.text(a, at: 20) == "v2")
        // A retroactive put does not override later versions.
        try db.write { try $0.put(a, .raw("v0"), validFrom: t(5)) }
        #expect(try db.text(a, at: 5) == "v0")
        #expect(try db.text(a, at: 10) == "v1")
        #expect(try db.text(a, at: 25) == "v2")
    }

    @Test func rangePutRestoresThePriorValueAtItsEnd() throws {
        let tmp = try TempDatabase()
        let db = tmp.db
        let c1 = try db.write { try $0.put(a, .raw("base"), validFrom: t(0)) }
        let c2 = try db.write { try $0.put(a, .raw("promo"), validFrom: t(10), validTo: t(20)) }
        #expect(try db.text(a, at: 9) == "base")
        #expect(try db.text(a, at: 10) == "promo")
        #expect(try db.text(a, at: 19) == "promo")
        #expect(try db.text(a, at: 20) == "base")
        // The copy at 20 keeps the original tx.
        let h = try db.history(of: a)
        #expect(h.map(\.validFrom) == [t(0), t(10), t(20)])
        #expect(h.map(\.txID) == [c1.txID, c2.txID, c1.txID])
        #expect(h.map(\.validTo) == [t(10), t(20), nil])
        // The timeline merges nothing here (values differ) and keeps three runs.
        let runs = try db.timeline(of: a)
        #expect(runs.count == 3)
        // As of the first transaction, the promotion is not known.
        #expect(try db.text(a, at: 15, tx: .id(c1.txID)) == "base")
    }

    @Test func rangePutOverNothingEndsInATombstone() throws {
        let tmp = try TempDatabase()
        let db = tmp.db
        try db.write { try $0.put(a, .raw("x"), validFrom: t(10), validTo: t(20)) }
        #expect(try db.text(a, at: 15) == "x")
        #expect(try db.text(a, at: 20) == nil)
        let h = try db.history(of: a)
        #expect(h.count == 2)
        #expect(h[1].isTombstone)
    }

    @Test func rangePutCoversInnerBoundaries() throws {
        let tmp = try TempDatabase()
        let db = tmp.db
        try db.write { b in
            try b.put(a, .raw("p"), validFrom: t(0))
            try b.put(a, .raw("q"), validFrom: t(10))
            try b.put(a, .raw("r"), validFrom: t(20))
        }
        try db.write { try $0.put(a, .raw("z"), validFrom: t(5), validTo: t(15)) }
        #expect(try db.text(a, at: 4) == "p")
        #expect(try db.text(a, at: 5) == "z")
        #expect(try db.text(a, at: 10) == "z")
        #expect(try db.text(a, at: 15) == "q")
        #expect(try db.text(a, at: 20) == "r")
    }

    @Test func openPutReplacesTheRemainderOfARangeWrite() throws {
        let tmp = try TempDatabase()
        let db = tmp.db
        try db.write { b in
            try b.put(a, .raw("p"), validFrom: t(0))
            try b.put(a, .raw("q"), validFrom: t(10))
        }
        // A range write over [0, 30) splits at 10 and restores at 30.
        try db.write { try $0.put(a, .raw("R"), validFrom: t(0), validTo: t(30)) }
        // An open put at 5 replaces the range write's remainder (the entry at 10), but not the restore at 30.
        try db.write { try $0.put(a, .raw("S"), validFrom: t(5)) }
        #expect(try db.text(a, at: 4) == "R")
        #expect(try db.text(a, at: 10) == "S")
        #expect(try db.text(a, at: 29) == "S")
        #expect(try db.text(a, at: 30) == "q")
    }

    @Test func correctionKeepsTheOldEntryForEarlierTransactions() throws {
        let tmp = try TempDatabase()
        let db = tmp.db
        let c1 = try db.write { try $0.put(a, .json(#"{"score":8.5}"#), validFrom: t(100)) }
        tmp.clock.advance(by: 1000)
        let c2 = try db.write { try $0.put(a, .json(#"{"score":7.2}"#), validFrom: t(100)) }
        #expect(try db.get(a, validAt: t(100))?.value == .json(#"{"score":7.2}"#))
        #expect(try db.get(a, validAt: t(100), tx: .id(c1.txID))?.value == .json(#"{"score":8.5}"#))
        #expect(try db.get(a, validAt: t(100), tx: .time(c1.txTime))?.value == .json(#"{"score":8.5}"#))
        #expect(
            try db.get(a, validAt: t(100), tx: .time(c2.txTime.advanced(by: -1)))?.value == .json(#"{"score":8.5}"#)
        )
        #expect(try db.history(of: a).count == 1)
        let all = try db.history(of: a, withCorrections: true)
        #expect(all.map(\.txID) == [c1.txID, c2.txID])
    }

    @Test func readBeforeTheFirstTransactionSeesNothing() throws {
        let tmp = try TempDatabase()
        let db = tmp.db
        let c = try db.write { try $0.put(a, .raw("v"), validFrom: t(0)) }
        #expect(try db.get(a, validAt: t(0), tx: .time(c.txTime.advanced(by: -1))) == nil)
        #expect(try db.get(a, validAt: t(0), tx: .id(0)) == nil)
        #expect(try db.get(a, validAt: t(0), tx: .time(c.txTime)) != nil)
    }

    @Test func deleteWritesTombstonesAndHistoryKeepsThem() throws {
        let tmp = try TempDatabase()
        let db = tmp.db
        try db.write { try $0.put(a, .raw("v"), validFrom: t(0)) }
        try db.write { try $0.delete(a, validFrom: t(10)) }
        try db.write { try $0.delete("never", validFrom: t(10)) }
        #expect(try db.text(a, at: 9) == "v")
        #expect(try db.text(a, at: 10) == nil)
        let h = try db.history(of: a)
        #expect(h.map(\.isTombstone) == [false, true])
        #expect(try db.history(of: "never").map(\.isTombstone) == [true])
    }

    @Test func rangeDeleteRestoresAtItsEnd() throws {
        let tmp = try TempDatabase()
        let db = tmp.db
        try db.write { try $0.put(a, .raw("v"), validFrom: t(0)) }
        try db.write { try $0.delete(a, validFrom: t(10), validTo: t(20)) }
        #expect(try db.text(a, at: 15) == nil)
        #expect(try db.text(a, at: 20) == "v")
        let runs = try db.timeline(of: a)
        #expect(runs.map(\.validFrom) == [t(0), t(20)])
        #expect(runs.map(\.validTo) == [t(10), nil])
    }

    @Test func timelineMergesEqualRunsAndWindowsFollowSQL2011() throws {
        let tmp = try TempDatabase()
        let db = tmp.db
        try db.write { b in
            try b.put(a, .raw("x"), validFrom: t(0))
            try b.put(a, .raw("x"), validFrom: t(10))
            try b.put(a, .raw("y"), validFrom: t(20))
            try b.delete(a, validFrom: t(30))
            try b.put(a, .raw("x"), validFrom: t(40))
        }
        let runs = try db.timeline(of: a)
        #expect(runs.map(\.validFrom) == [t(0), t(20), t(40)])
        #expect(runs.map(\.validTo) == [t(20), t(30), nil])
        // FROM a TO b is half-open: a run starting at b is out.
        #expect(try db.timeline(of: a, window: .from(t(20), to: t(40))).map(\.validFrom) == [t(20)])
        // BETWEEN a AND b is closed: a run starting at b is in.
        #expect(try db.timeline(of: a, window: .between(t(20), and: t(40))).map(\.validFrom) == [t(20), t(40)])
        // AS OF: start ≤ t < end.
        #expect(try db.timeline(of: a, window: .asOf(t(19))).map(\.validFrom) == [t(0)])
        #expect(try db.timeline(of: a, window: .asOf(t(35))).isEmpty)
        // FROM 0 TO 20 does not include the run starting at 20.
        #expect(try db.timeline(of: a, window: .from(t(0), to: t(20))).map(\.validFrom) == [t(0)])
    }

    @Test func opsInOneTransactionApplyInOrderAndLastWriteWins() throws {
        let tmp = try TempDatabase()
        let db = tmp.db
        let c = try db.write { b in
            try b.put(a, .raw("first"), validFrom: t(0))
            try b.put(a, .raw("second"), validFrom: t(0))
            try b.put(a, .raw("mid"), validFrom: t(5), validTo: t(8))
        }
        #expect(try db.text(a, at: 0) == "second")
        #expect(try db.text(a, at: 5) == "mid")
        #expect(try db.text(a, at: 8) == "second")
        #expect(try db.history(of: a, withCorrections: true).count == 3)
        #expect(try db.history(of: a).allSatisfy { $0.txID == c.txID })
    }

    @Test func defaultValidTimeIsTheTransactionTime() throws {
        let tmp = try TempDatabase(start: 5_000)
        let db = tmp.db
        let c = try db.write { try $0.put(a, .raw("now")) }
        #expect(c.txTime == t(5_000))
        #expect(try db.get(a)?.validFrom == t(5_000))
        #expect(try db.text(a, at: 4_999) == nil)
    }

    @Test func transactionTimesStrictlyIncreaseEvenWhenTheClockStepsBack() throws {
        let tmp = try TempDatabase(start: 10_000)
        let db = tmp.db
        let c1 = try db.write { try $0.put(a, .raw("1")) }
        tmp.clock.advance(by: -5_000)
        let c2 = try db.write { try $0.put(a, .raw("2")) }
        #expect(c2.txTime == c1.txTime.advanced(by: 1))
        #expect(c2.txID == c1.txID + 1)
        // And across a restart.
        let db2 = try tmp.reopen()
        let c3 = try db2.write { try $0.put(a, .raw("3")) }
        #expect(c3.txTime == c2.txTime.advanced(by: 1))
        #expect(c3.txID == c2.txID + 1)
    }

    @Test func explicitTransactionTimeForImports() throws {
        let tmp = try TempDatabase(start: 1)
        let db = tmp.db
        let c = try db.write(txTime: t(1_000_000)) { try $0.put(a, .raw("imported"), validFrom: t(0)) }
        #expect(c.txTime == t(1_000_000))
        #expect(try db.transactions().first?.explicitTime == true)
    }

    @Test func eraseRemovesEveryEntryAndLeavesOnlyALogRecord() throws {
        let tmp = try TempDatabase()
        let db = tmp.db
        let c1 = try db.write { try $0.put(a, .raw("secret"), validFrom: t(0)) }
        try db.write { try $0.put(a, .raw("secret2"), validFrom: t(10)) }
        try db.write { try $0.put("b", .raw("kept"), validFrom: t(0)) }
        let e = try db.erase(a)
        #expect(try db.get(a, validAt: t(5), tx: .id(c1.txID)) == nil)
        #expect(try db.history(of: a, withCorrections: true).isEmpty)
        #expect(try db.text("b", at: 0) == "kept")
        let record = try #require(try db.transactions().last)
        #expect(record.txID == e.txID)
        #expect(record.erases == 1)
        #expect(record.entriesErased == 2)
    }

    @Test func scanReturnsEachKeyWithAPrefixAsOf() throws {
        let tmp = try TempDatabase()
        let db = tmp.db
        let c1 = try db.write { b in
            try b.put("agent:analysis:1", .raw("a1"), validFrom: t(0))
            try b.put("agent:analysis:2", .raw("a2"), validFrom: t(0))
            try b.put("agent:context:1", .raw("c1"), validFrom: t(0))
            try b.put(Key("agent:analysis:9", partition: 7), .raw("other partition"), validFrom: t(0))
        }
        try db.write { b in
            try b.delete("agent:analysis:2", validFrom: t(10))
            try b.put("agent:analysis:3", .raw("a3"), validFrom: t(10))
        }
        let now = try db.read(validAt: t(10)) { try $0.scan(prefix: "agent:analysis:") }
        #expect(now.map(\.key.description) == ["agent:analysis:1", "agent:analysis:3"])
        let before = try db.read(validAt: t(10), tx: .id(c1.txID)) { try $0.scan(prefix: "agent:analysis:") }
        #expect(before.map(\.key.description) == ["agent:analysis:1", "agent:analysis:2"])
        let other = try db.read(validAt: t(10)) { try $0.scan(prefix: Key("agent:", partition: 7)) }
        #expect(other.map(\.key.description) == ["agent:analysis:9"])
        let limited = try db.read(validAt: t(10)) { try $0.scan(prefix: "agent:", limit: 1) }
        #expect(limited.count == 1)
    }

    @Test func keysWithZeroBytesAndPrefixKeysStaySeparate() throws {
        let tmp = try TempDatabase()
        let db = tmp.db
        let k0 = Key([0x61])
        let k1 = Key([0x61, 0x00])
        let k2 = Key([0x61, 0x00, 0x62])
        let k3 = Key([0x61, 0x62])
        try db.write { b in
            for (i, k) in [k0, k1, k2, k3].enumerated() { try b.put(k, .raw("\(i)"), validFrom: t(0)) }
        }
        for (i, k) in [k0, k1, k2, k3].enumerated() { #expect(try db.text(k, at: 0) == "\(i)") }
        let all = try db.read(validAt: t(0)) { try $0.scan(prefix: Key([0x61])) }
        #expect(all.map(\.key) == [k0, k1, k2, k3])
        #expect(try db.read(validAt: t(0)) { try $0.scan(prefix: Key([0x61, 0x00])) }.map(\.key) == [k1, k2])
    }

    @Test func preEpochValidTimesSortCorrectly() throws {
        let tmp = try TempDatabase()
        let db = tmp.db
        try db.write { b in
            try b.put(a, .raw("ancient"), validFrom: t(-1_000_000_000))
            try b.put(a, .raw("epoch"), validFrom: t(0))
        }
        #expect(try db.text(a, at: -1) == "ancient")
        #expect(try db.text(a, at: 0) == "epoch")
        #expect(try db.text(a, at: -2_000_000_000) == nil)
    }

    @Test func transactionLogWindows() throws {
        let tmp = try TempDatabase(start: 100)
        let db = tmp.db
        for i in 0..<5 {
            tmp.clock.set(t(100 + Int64(i) * 10))
            try db.write { try $0.put(a, .raw("\(i)")) }
        }
        #expect(try db.transactions(in: .from(t(110), to: t(130))).map(\.txID) == [2, 3])
        #expect(try db.transactions(in: .between(t(110), and: t(130))).map(\.txID) == [2, 3, 4])
        #expect(try db.transactions(in: .asOf(t(120))).map(\.txID) == [3])
        #expect(try db.transactions().count == 5)
    }
}

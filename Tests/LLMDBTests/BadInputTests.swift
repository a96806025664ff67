import Foundation
@_spi(Testing) import LLMDB
@_spi(Testing) import LLMDBStorage
import Testing

/// Every bad input and fault gets a clear error and leaves the database as it was.
@Suite struct BadInputTests {
    @Test func emptyKeyIsRefused() throws {
        let tmp = try TempDatabase()
        let before = try tmp.db.fingerprint()
        let error = #expect(throws: LLMDBError.self) { try tmp.db.write { try $0.put(Key(""), .raw("x")) } }
        #expect(error?.code == .emptyKey)
        #expect(error?.message.contains("empty") == true)
        #expect(try tmp.db.fingerprint() == before)
    }

    @Test func keyOverTheLimitIsRefusedAndTheMessageNamesTheLimit() throws {
        let tmp = try TempDatabase()
        let before = try tmp.db.fingerprint()
        try tmp.db.write { try $0.put(Key([UInt8](repeating: 0x41, count: Key.maxEncodedLength)), .raw("fits")) }
        let mid = try tmp.db.fingerprint()
        #expect(mid != before)
        let long = Key([UInt8](repeating: 0x41, count: Key.maxEncodedLength + 1))
        let error = #expect(throws: LLMDBError.self) { try tmp.db.write { try $0.put(long, .raw("x")) } }
        #expect(error?.code == .keyTooLong)
        #expect(error?.message.contains("\(Key.maxEncodedLength)") == true)
        #expect(error?.message.contains("511") == true)
        // Zero bytes are escaped and count twice.
        let zeros = Key([UInt8](repeating: 0, count: Key.maxEncodedLength / 2 + 1))
        #expect(throws: LLMDBError.self) { try tmp.db.write { try $0.put(zeros, .raw("x")) } }
        #expect(try tmp.db.fingerprint() == mid)
    }

    @Test func jsonNullAndInvalidJSONAreRefused() throws {
        let e1 = #expect(throws: LLMDBError.self) { try Value.json("null") }
        #expect(e1?.code == .nullValue)
        let e2 = #expect(throws: LLMDBError.self) { try Value.json(" null ") }
        #expect(e2?.code == .nullValue)
        let e3 = #expect(throws: LLMDBError.self) { try Value.json(#"{"a": 1,}"#) }
        #expect(e3?.code == .invalidJSON)
        #expect(e3?.message.contains("byte") == true)
        let e4 = #expect(throws: LLMDBError.self) { try Value.messagePack(json: "null") }
        #expect(e4?.code == .nullValue)
        let e5 = #expect(throws: LLMDBError.self) { try Value.messagePack([0xC1]) }
        #expect(e5?.code == .invalidValue)
        #expect(try Value.json(#"{"a": null}"#).tag == .json)
    }

    @Test func validToNotAfterValidFromIsRefused() throws {
        let tmp = try TempDatabase(start: 1_000)
        try tmp.db.write { try $0.put("k", .raw("v"), validFrom: t(0)) }
        let before = try tmp.db.fingerprint()
        let e1 = #expect(throws: LLMDBError.self) {
            try tmp.db.write { try $0.put("k", .raw("x"), validFrom: t(10), validTo: t(10)) }
        }
        #expect(e1?.code == .invalidTimeRange)
        let e2 = #expect(throws: LLMDBError.self) {
            try tmp.db.write { try $0.delete("k", validFrom: t(10), validTo: t(5)) }
        }
        #expect(e2?.code == .invalidTimeRange)
        // Without valid_from the start is the transaction time (1000): checked at commit,
        // and the transaction's earlier operation is not written either.
        let e3 = #expect(throws: LLMDBError.self) {
            try tmp.db.write { b in
                try b.put("other", .raw("would be written"), validFrom: t(0))
                try b.put("k", .raw("x"), validTo: t(500))
            }
        }
        #expect(e3?.code == .invalidTimeRange)
        #expect(try tmp.db.fingerprint() == before)
        // A failed transaction does not consume a tx id.
        let c = try tmp.db.write { try $0.put("k", .raw("y"), validFrom: t(1)) }
        #expect(c.txID == 2)
    }

    @Test func explicitTransactionTimeMustBeAfterTheLast() throws {
        let tmp = try TempDatabase(start: 1_000)
        let c = try tmp.db.write { try $0.put("k", .raw("v")) }
        let before = try tmp.db.fingerprint()
        for bad in [c.txTime, c.txTime.advanced(by: -1), t(0)] {
            let e = #expect(throws: LLMDBError.self) { try tmp.db.write(txTime: bad) { try $0.put("k", .raw("x")) } }
            #expect(e?.code == .transactionTimeNotIncreasing)
            #expect(e?.message.contains("not after") == true)
        }
        #expect(try tmp.db.fingerprint() == before)
        #expect(try tmp.db.write(txTime: c.txTime.advanced(by: 1)) { try $0.put("k", .raw("x")) }.txID == c.txID + 1)
    }

    @Test func aFileThatIsNotADatabaseIsRefusedAndUntouched() throws {
        let temp = try TempDirectory()
        let dir = temp.path
        let path = dir + "/notes.txt"
        let content = Data(String(repeating: "just some text, not a database\n", count: 300).utf8)
        try content.write(to: URL(fileURLWithPath: path))
        let e = #expect(throws: LLMDBError.self) { try Database.open(path: path) }
        #expect(e?.code == .notADatabase)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == content)
        #expect(!FileManager.default.fileExists(atPath: path + "-lock"))
        // An empty file and a directory too.
        let empty = dir + "/empty"
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        #expect(throws: LLMDBError.self) { try Database.open(path: empty) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: empty)).isEmpty)
        let e2 = #expect(throws: LLMDBError.self) { try Database.open(path: dir) }
        #expect(e2?.code == .notADatabase)
    }

    @Test func anLMDBFileThatIsNotLLMDBIsRefused() throws {
        let temp = try TempDirectory()
        let dir = temp.path
        let path = dir + "/plain.mdb"
        do {
            let env = try Environment(path: path, options: .init())
            _ = try env.openTables(["something"], create: true)
        }
        let e = #expect(throws: LLMDBError.self) { try Database.open(path: path) }
        #expect(e?.code == .notADatabase)
    }

    @Test func anotherFormatVersionIsRefused() throws {
        let tmp = try TempDatabase()
        try tmp.db.write { try $0.put("k", .raw("v")) }
        tmp.db.close()
        // Rewrite the format record as version 99, with the storage layer.
        do {
            let env = try Environment(path: tmp.path, options: .init())
            let meta = try #require(try env.openTables(["meta"], create: false)["meta"])
            let tx = try env.beginWrite()
            let key = Array("_meta/format".utf8)
            let value: [UInt8] = Array("LLMDB".utf8) + [0, 0, 0, 0, 99]
            try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try tx.put(meta, k, v) } }
            try tx.commit()
        }
        let size = try FileManager.default.attributesOfItem(atPath: tmp.path)[.size] as? Int
        let e = #expect(throws: LLMDBError.self) { try Database.open(path: tmp.path) }
        #expect(e?.code == .formatVersion)
        #expect(e?.message.contains("99") == true)
        #expect(try FileManager.default.attributesOfItem(atPath: tmp.path)[.size] as? Int == size)
    }

    @Test func unknownValueTagIsAnErrorNotACrash() throws {
        let tmp = try TempDatabase()
        try tmp.db.write { try $0.put("k", .raw("v"), validFrom: t(0)) }
        tmp.db.close()
        do {
            let env = try Environment(path: tmp.path, options: .init())
            let facts = try #require(try env.openTables(["facts"], create: false)["facts"])
            // [partition 0]["k"][00 00][valid_from 0, sign flipped][tx 1], value tag 0x7e.
            var key: [UInt8] = [0, 0, 0, 0, 0x6B, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0]
            key += [0, 0, 0, 0, 0, 0, 0, 1]
            let value: [UInt8] = [0x7E, 1, 2, 3]
            let tx = try env.beginWrite()
            try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try tx.put(facts, k, v) } }
            try tx.commit()
        }
        let db = try tmp.reopen()
        let e = #expect(throws: LLMDBError.self) { try db.get("k", validAt: t(0)) }
        #expect(e?.code == .unknownValueTag)
        #expect(e?.message.contains("0x7e") == true)
        let report = try db.verify()
        #expect(!report.ok)
        #expect(report.problems.contains { $0.contains("unknown type tag") })
    }

    @Test func readOnlyDatabaseRefusesWritesAndStaysUnchanged() throws {
        let tmp = try TempDatabase()
        try tmp.db.write { try $0.put("k", .raw("v")) }
        let db = try tmp.reopen(readOnly: true)
        let before = try db.fingerprint()
        let e = #expect(throws: LLMDBError.self) { try db.write { try $0.put("k", .raw("x")) } }
        #expect(e?.code == .readOnly)
        #expect(try db.fingerprint() == before)
        #expect(try db.get("k") != nil)
    }

    @Test func mapFullAtTheLimitFailsCleanly() throws {
        let tmp = try TempDatabase(mapSize: 1 << 20, maxMapSize: 1 << 20)
        let big = Value.raw([UInt8](repeating: 0x5A, count: 64 << 10))
        var i = 0
        var error: LLMDBError? = nil
        var before = try tmp.db.fingerprint()
        while error == nil && i < 100 {
            before = try tmp.db.fingerprint()
            do { try tmp.db.write { try $0.put(Key("k\(i)"), big) } } catch let e as LLMDBError { error = e }
            i += 1
        }
        #expect(error?.code == .mapFull)
        #expect(error?.message.contains("map size") == true)
        #expect(try tmp.db.fingerprint() == before)
        #expect(try tmp.db.verify().ok)
    }

    @Test func theMapGrowsOnDemand() throws {
        let tmp = try TempDatabase(mapSize: 1 << 20, maxMapSize: 256 << 20)
        let big = Value.raw([UInt8](repeating: 0x5A, count: 64 << 10))
        for i in 0..<128 { try tmp.db.write { try $0.put(Key("k\(i)"), big) } }
        let s = try tmp.db.stats()
        #expect(s.mapSize > 8 << 20)
        #expect(s.transactions == 128)
        #expect(try tmp.db.get("k127")?.value == big)
    }

    @Test func diskFullAndIOErrorsAtCommitLeaveTheDatabaseAsItWas() throws {
        let tmp = try TempDatabase()
        try tmp.db.write { try $0.put("k", .raw("v")) }
        let before = try tmp.db.fingerprint()
        defer { tmp.db.faults.reset() }
        tmp.db.faults.arm(.commit, .noSpace)
        let e1 = #expect(throws: LLMDBError.self) { try tmp.db.write { try $0.put("k", .raw("lost")) } }
        #expect(e1?.code == .diskFull)
        #expect(try tmp.db.fingerprint() == before)
        tmp.db.faults.arm(.put, .ioError)
        let e2 = #expect(throws: LLMDBError.self) { try tmp.db.write { try $0.put("k2", .raw("lost")) } }
        #expect(e2?.code == .storage)
        #expect(e2?.message.contains("EIO") == true)
        #expect(try tmp.db.fingerprint() == before)
        // The database still works afterwards.
        try tmp.db.write { try $0.put("k", .raw("after")) }
        #expect(try tmp.db.get("k")?.value == .raw("after"))
    }

    @Test func anErrorThrownByTheWriteClosureWritesNothing() throws {
        struct Boom: Error {}
        let tmp = try TempDatabase()
        let before = try tmp.db.fingerprint()
        #expect(throws: Boom.self) {
            try tmp.db.write { b in
                try b.put("k", .raw("v"))
                throw Boom()
            }
        }
        #expect(try tmp.db.fingerprint() == before)
    }

    @Test func invalidTimesAreRefusedByTheParser() {
        for bad in [
            "", "yesterday", "2024-13-01", "2024-02-30", "2024-01-01T25:00:00Z", "2024-01-01T00:00:00.1234567Z",
            "2024-01-01T00:00:00Zjunk",
        ] {
            #expect(Instant(parsing: bad) == nil, "\(bad)")
        }
        #expect(Instant(parsing: "1970-01-01T00:00:00Z") == t(0))
        #expect(Instant(parsing: "1970-01-01T00:00:01.5Z") == t(1_500_000))
        #expect(Instant(parsing: "1970-01-01T01:00:00+01:00") == t(0))
        #expect(Instant(parsing: "1969-12-31T23:59:59.999999Z") == t(-1))
        #expect(Instant(parsing: "-5") == t(-5))
        #expect(t(-1).iso8601 == "1969-12-31T23:59:59.999999Z")
        #expect(Instant(parsing: "2024-02-29T12:34:56.789012Z")!.iso8601 == "2024-02-29T12:34:56.789012Z")
    }
}

@Suite struct EraseTests {
    @Test func erasedBytesAreGoneFromTheFileAfterCompaction() throws {
        let marker = "SECRET-\(UUID().uuidString)"
        let tmp = try TempDatabase()
        try tmp.db.write { b in
            try b.put("secret", .raw(marker), validFrom: t(0))
            try b.put("kept", .raw("still here"), validFrom: t(0))
        }
        try tmp.db.write { try $0.put("secret", .raw(marker + "-v2"), validFrom: t(10)) }
        let file = { try Data(contentsOf: URL(fileURLWithPath: tmp.path)) }
        #expect(try file().range(of: Data(marker.utf8)) != nil)
        try tmp.db.erase("secret")
        // Compaction is refused while this process has the file open.
        let busy = #expect(throws: LLMDBError.self) { try Database.compact(path: tmp.path) }
        #expect(busy?.message.contains("open in this process") == true)
        #expect(try tmp.reopen().get("secret", validAt: t(5), tx: .id(1)) == nil)
        // Release every handle, compact, and look at the raw file.
        try tmp.closeForCompaction()
        let r = try Database.compact(path: tmp.path)
        #expect(r.bytesAfter > 0)
        #expect(try file().range(of: Data(marker.utf8)) == nil)
        let after = try tmp.reopen()
        #expect(try after.get("kept", validAt: t(0))?.value == .raw("still here"))
        #expect(try after.verify().ok)
        #expect(try after.transactions().last?.entriesErased == 2)
    }
}

@Suite struct ReviewRegressionTests {
    @Test func transactionTimeExhaustionIsRefusedNotWrapped() throws {
        let tmp = try TempDatabase(start: 1_000)
        try tmp.db.write(txTime: Instant(microseconds: .max - 1)) { try $0.put("a", .raw("1"), validFrom: t(0)) }
        let before = try tmp.db.fingerprint()
        let e = #expect(throws: LLMDBError.self) { try tmp.db.write { try $0.put("a", .raw("2"), validFrom: t(0)) } }
        #expect(e?.code == .transactionTimeNotIncreasing)
        #expect(try tmp.db.fingerprint() == before)
        #expect(try tmp.db.verify().ok)
    }

    @Test func aWriteInsideAReadScopeThatNeedsGrowthFailsInsteadOfHanging() throws {
        let tmp = try TempDatabase(mapSize: 1 << 20, maxMapSize: 64 << 20)
        let db = tmp.db
        let big = Value.raw([UInt8](repeating: 7, count: 2 << 20))
        let e = try db.read { _ -> LLMDBError? in
            do {
                try db.write { try $0.put("big", big) }
                return nil
            } catch let e as LLMDBError { return e }
        }
        #expect(e?.code == .mapFull)
        #expect(e?.message.contains("read closure") == true)
        // Outside a read scope the same write grows the map and succeeds.
        try db.write { try $0.put("big", big) }
        #expect(try db.get("big")?.value == big)
    }

    @Test func anInterruptedCreationIsFinishedOnOpen() throws {
        let temp = try TempDirectory()
        let dir = temp.path
        // The tables exist, empty, but the format record was never written.
        let path = dir + "/db"
        do {
            let env = try Environment(path: path, options: .init())
            _ = try env.openTables(["facts", "txlog", "txtime", "meta"], create: true)
        }
        let db = try Database.open(path: path)
        try db.write { try $0.put("k", .raw("v")) }
        #expect(try db.verify().ok)
        // Non-empty tables without a format record are not adopted.
        let other = dir + "/other"
        do {
            let env = try Environment(path: other, options: .init())
            let tables = try env.openTables(["facts", "txlog", "txtime", "meta"], create: true)
            let tx = try env.beginWrite()
            try [UInt8](repeating: 1, count: 30).withUnsafeBytes { k in
                try [UInt8](repeating: 1, count: 3).withUnsafeBytes { v in try tx.put(tables["facts"]!, k, v) }
            }
            try tx.commit()
        }
        let e = #expect(throws: LLMDBError.self) { try Database.open(path: other) }
        #expect(e?.code == .notADatabase)
    }

    @Test func compactionKeepsTheFilesPermissions() throws {
        let tmp = try TempDatabase()
        try tmp.db.write { try $0.put("k", .raw("v")) }
        try tmp.closeForCompaction()
        #expect(chmod(tmp.path, 0o600) == 0)
        try Database.compact(path: tmp.path)
        let mode = try FileManager.default.attributesOfItem(atPath: tmp.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try tmp.reopen().get("k")?.value == .raw("v"))
    }
}

import Foundation
import LLMDB
import LLMDBStorage
import Testing

/// A toy index kind, defined here and plugged in through the core's seam: for each key
/// prefix (the bytes up to and including the first ':'), how many keys in its scope have
/// a stored value (an entry that is not a tombstone) at some valid and transaction time. Rows: `[0x10][name]key` marks a key counted, `[0x11][name]prefix` holds
/// the count (u64 BE).
struct PrefixCount: IndexKind {
    static let keyTag: UInt8 = 0x10
    static let countTag: UInt8 = 0x11
    var name: String { "prefix_count" }
    /// Makes the maintainer fail on this key (to test rollback).
    var poison: Key? = nil
    /// Makes the maintainer write a row outside its own (to test the scope of the rows).
    var trespass = false
    /// Maintained by the background builder instead of the writing transaction.
    var asynchronous = false
    /// Counts the entries given to `add` (in this process).
    var tally: Tally? = nil

    func maintenance(for definition: ExtensionDefinition) -> IndexMaintenance {
        asynchronous ? .asynchronous : .synchronous
    }

    func validate(_ definition: ExtensionDefinition) throws(LLMDBError) {
        if definition.string(setting: "separator") != ":" {
            throw LLMDBError(.invalidArgument, "prefix_count '\(definition.name)': the setting separator must be \":\"")
        }
    }

    func maintainer(for definition: ExtensionDefinition) throws -> any IndexMaintainer {
        Maintainer(poison: poison, trespass: trespass, tally: tally)
    }

    static func prefix(_ key: Key) -> [UInt8] {
        let b = key.bytes
        if let i = b.firstIndex(of: UInt8(ascii: ":")) { return Array(b[...i]) }
        return b
    }

    static func read(_ v: UnsafeRawBufferPointer?) -> UInt64 {
        guard let v, v.count == 8 else { return 0 }
        return v.reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func bytes(_ n: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: n >> (56 - 8 * $0)) } }

    final class Maintainer: IndexMaintainer {
        let poison: Key?
        let trespass: Bool
        let tally: Tally?
        init(poison: Key?, trespass: Bool, tally: Tally? = nil) {
            self.poison = poison
            self.trespass = trespass
            self.tally = tally
        }

        func bump(_ key: Key, by delta: Int, _ rows: borrowing IndexRows) throws {
            let countKey = rows.prefix(PrefixCount.countTag) + PrefixCount.prefix(key)
            let n = Int(PrefixCount.read(try rows.get(countKey))) + delta
            if n == 0 { try rows.delete(countKey) } else { try rows.put(countKey, PrefixCount.bytes(UInt64(n))) }
        }

        func add(_ entries: [IndexedEntry], _ rows: borrowing IndexRows) throws {
            if trespass { try rows.put([PrefixCount.countTag] + Array("someone-else".utf8) + [0, 0], [1]) }
            tally?.added(entries.count)
            for e in entries where !e.isTombstone {
                if e.key == poison { throw LLMDBError(.invalidArgument, "poisoned key") }
                let marker = rows.prefix(PrefixCount.keyTag) + e.key.bytes
                if try rows.get(marker) == nil {
                    try rows.put(marker, [])
                    try bump(e.key, by: 1, rows)
                }
            }
        }

        func erase(_ key: Key, _ rows: borrowing IndexRows) throws {
            if try rows.delete(rows.prefix(PrefixCount.keyTag) + key.bytes) { try bump(key, by: -1, rows) }
        }
    }

    /// The counts the index holds now, by prefix.
    static func counts(_ db: Database, index: String) throws -> [String: UInt64] {
        try db.read { s in
            var out: [String: UInt64] = [:]
            guard let table = s.db.index else { return out }
            let start = IndexStore.namePrefix(countTag, index)
            let c = try s.tx.cursor(table)
            var e = try start.withUnsafeBytes { try c.seek(atLeast: $0) }
            while let row = e, EntryKey.hasPrefix(row.key, start) {
                out[String(decoding: row.key[start.count...], as: UTF8.self)] = read(row.value)
                e = try c.next()
            }
            return out
        }
    }

    /// The keys the index counts.
    static func marked(_ db: Database, index: String) throws -> Set<String> {
        try db.read { s in
            var out: Set<String> = []
            guard let table = s.db.index else { return out }
            let start = IndexStore.namePrefix(keyTag, index)
            let c = try s.tx.cursor(table)
            var e = try start.withUnsafeBytes { try c.seek(atLeast: $0) }
            while let row = e, EntryKey.hasPrefix(row.key, start) {
                out.insert(String(decoding: row.key[start.count...], as: UTF8.self))
                e = try c.next()
            }
            return out
        }
    }

    /// The counts by brute force over the facts: distinct keys with a stored value.
    static func bruteForce(_ db: Database, scope: String) throws -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        try db.read { s in
            let c = try s.tx.cursor(s.db.facts)
            let start = EntryKey.prefix(Key(scope))
            var counted: Key? = nil
            var e = try start.withUnsafeBytes { try c.seek(atLeast: $0) }
            while let entry = e, EntryKey.hasPrefix(entry.key, start) {
                let d = try #require(EntryKey.decode(entry.key))
                if d.key != counted, entry.value.first != ValueTag.tombstone.rawValue {
                    out[String(decoding: prefix(d.key), as: UTF8.self), default: 0] += 1
                    counted = d.key
                }
                e = try c.next()
            }
        }
        return out
    }
}

@Suite("The derived-data seam: an index kind from outside the core")
struct IndexKindTests {
    static let definition = ExtensionDefinition.index(
        "per-prefix",
        kind: "prefix_count",
        scope: KeyScope(prefix: "p/"),
        settings: [JSONMember("separator", ":")]
    )

    func open(_ kind: PrefixCount = PrefixCount()) throws -> TempDatabase {
        let t = try TempDatabase()
        try t.db.register(kind)
        return t
    }

    @Test("a toy kind matches a brute-force count after every transaction of random histories")
    func modelBased() throws {
        for seed in 0..<12 {
            var rng = SplitMix64(seed: UInt64(seed))
            let t = try open(PrefixCount(poison: Key("p/poison:1")))
            let keys =
                (0..<14).map { Key("p/\(["a", "b", "c", "d"][$0 % 4]):\($0)") } + [Key("q/a:1"), Key("p/nocolon")]
            var defined = false
            for step in 0..<120 {
                if !defined, step == 30 + seed {
                    try t.db.defineIndex(Self.definition)
                    defined = true
                }
                let roll = rng.next() % 100
                do {
                    _ = try t.db.write { b in
                        for _ in 0..<(1 + Int(rng.next() % 3)) {
                            let k = keys[Int(rng.next() % UInt64(keys.count))]
                            switch roll {
                            case 0..<45:
                                let from: Instant? =
                                    rng.next() % 3 == 0 ? Instant(microseconds: Int64(rng.next() % 2_000_000)) : nil
                                try b.put(k, .raw("v\(step)"), validFrom: from)
                            case 45..<60:
                                let from = Instant(microseconds: Int64(rng.next() % 1_000_000))
                                try b.put(k, .raw("r\(step)"), validFrom: from, validTo: from.advanced(by: 500_000))
                            case 60..<72: try b.delete(k)
                            case 72..<84: try b.erase(k)
                            case 84..<92:
                                // Fails at the end: everything before it rolls back, index rows too.
                                try b.put(k, .raw("lost"))
                                try b.expect(keys[0], .version(999_999))
                            default:
                                // Once the index exists (so that its build never meets it).
                                try b.put(k, .raw("x"))
                                if defined { try b.put(Key("p/poison:1"), .raw("boom")) }
                            }
                        }
                    }
                } catch let e as LLMDBError {
                    #expect(e.code == .conflict || e.code == .invalidArgument, "\(e)")
                }
                t.clock.advance(by: 1000)
                if defined {
                    let want = try PrefixCount.bruteForce(t.db, scope: "p/")
                    let got = try PrefixCount.counts(t.db, index: "per-prefix")
                    #expect(got == want, "seed \(seed), step \(step)")
                    if got != want { return }
                }
            }
            #expect(try t.db.verify().indexesChecked == 1)
        }
    }

    @Test("a database opened without a kind refuses the writes its indexes cover and keeps the rest")
    func missingKind() throws {
        let t = try open()
        try t.db.write { try $0.put("p/a:1", .raw("1")) }
        try t.db.defineIndex(Self.definition)
        #expect(try PrefixCount.counts(t.db, index: "per-prefix") == ["p/a:": 1])
        let db = try t.reopen()
        #expect(db.registeredIndexKinds == [])
        let before = try db.read { try $0.get("p/a:1") }
        #expect(throws: LLMDBError.self) { try db.write { try $0.put("p/b:1", .raw("2")) } }
        do { try db.write { try $0.put("p/b:1", .raw("2")) } } catch let e as LLMDBError {
            #expect(e.code == .codeUnavailable)
            #expect(e.message.contains("'prefix_count'") && e.message.contains("per-prefix"), "\(e.message)")
        }
        #expect(throws: LLMDBError.self) { try db.write { try $0.erase("p/a:1") } }
        // Nothing changed; reads and writes outside the index's scope go on.
        #expect(try db.read { try $0.get("p/b:1") } == nil)
        #expect(try db.read { try $0.get("p/a:1") }?.txID == before?.txID)
        try db.write { try $0.put("elsewhere", .raw("ok")) }
        #expect(try db.verify().indexesUnchecked == ["per-prefix"])
        // Registered again: the writes go through and the index follows.
        try db.register(PrefixCount())
        try db.write { try $0.put("p/b:1", .raw("2")) }
        #expect(try PrefixCount.counts(db, index: "per-prefix") == ["p/a:": 1, "p/b:": 1])
        #expect(try db.verify().ok)
    }

    @Test("a definition its kind refuses is not stored; nor one of a kind not registered")
    func refusedDefinitions() throws {
        let t = try open()
        let bad = ExtensionDefinition.index("bad", kind: "prefix_count", scope: KeyScope(prefix: "p/"))
        #expect(throws: LLMDBError.self) { try t.db.defineIndex(bad) }
        do { try t.db.defineIndex(bad) } catch let e as LLMDBError {
            #expect(e.code == .invalidArgument && e.message.contains("separator"), "\(e.message)")
        }
        #expect(try t.db.read { try $0.get(Key("_meta/index/bad", partition: Key.systemPartition)) } == nil)
        let unknown = ExtensionDefinition.index("u", kind: "no_such_kind", scope: KeyScope(prefix: "p/"))
        do {
            try t.db.defineIndex(unknown)
            Issue.record("defined an index of a kind not registered")
        } catch let e as LLMDBError {
            #expect(e.code == .codeUnavailable && e.message.contains("no_such_kind"), "\(e.message)")
        }
        #expect(throws: LLMDBError.self) { try t.db.register(PrefixCountNamed(name: "Bad Name")) }
    }

    @Test("an index may not write another's rows: the transaction fails and nothing is written")
    func rowsAreScoped() throws {
        let t = try open(PrefixCount(trespass: true))
        try t.db.write { try $0.put("p/a:1", .raw("1")) }
        let last = try t.db.stats().lastTxID
        do {
            try t.db.defineIndex(Self.definition)
            Issue.record("the index wrote outside its rows")
        } catch let e as LLMDBError {
            #expect(e.code == .invalidArgument && e.message.contains("outside its own rows"), "\(e.message)")
        }
        #expect(try t.db.stats().lastTxID == last)
        #expect(try PrefixCount.counts(t.db, index: "someone-else") == [:])
    }

    @Test("dropping an index removes its rows; redefining it builds it again")
    func dropAndRedefine() throws {
        let t = try open()
        for i in 0..<5 { try t.db.write { try $0.put(Key("p/k:\(i)"), .raw("v")) } }
        try t.db.defineIndex(Self.definition)
        #expect(try PrefixCount.counts(t.db, index: "per-prefix") == ["p/k:": 5])
        try t.db.dropIndex(named: "per-prefix")
        #expect(try PrefixCount.counts(t.db, index: "per-prefix") == [:])
        let rows = try t.db.read { s in try s.tx.stat(s.db.index!).entries }
        #expect(rows == 0)
        try t.db.defineIndex(Self.definition)
        #expect(try PrefixCount.counts(t.db, index: "per-prefix") == ["p/k:": 5])
    }
}

/// Counts what a maintainer was given; `killAt` kills the process (SIGKILL) in the call of
/// `add` that reaches it, before that call returns.
final class Tally: @unchecked Sendable {
    // @unchecked Sendable: `count` is guarded by `lock`.
    private let lock = NSLock()
    private var count = 0
    private var calls = 0
    let killAtCall: Int?

    init(killAtCall: Int? = nil) { self.killAtCall = killAtCall }

    func added(_ n: Int) {
        let (c, k) = lock.withLock {
            count += n
            calls += 1
            return (calls, killAtCall)
        }
        if let k, c >= k { kill(getpid(), SIGKILL) }
    }

    var entries: Int { lock.withLock { count } }
}

/// A kind whose name is given (to test name checks).
struct PrefixCountNamed: IndexKind {
    let name: String
    func validate(_ definition: ExtensionDefinition) throws(LLMDBError) {}
    func maintainer(for definition: ExtensionDefinition) throws -> any IndexMaintainer {
        PrefixCount.Maintainer(poison: nil, trespass: false)
    }
}

import LLMDB
import LLMDBWasm
import Testing

@Suite("WebAssembly: custom indexes")
struct IndexTests {
    func keys(_ facts: [Fact]) -> [String] { facts.map { String(decoding: $0.key.bytes, as: UTF8.self) } }

    @Test("an index is built from existing data and answers as of valid and transaction time")
    func asOf() throws {
        let t = try WasmDatabase()
        let db = t.db
        t.clock.advance(by: 100)
        let c1 = try db.put("user:1", .raw("Paris"))
        t.clock.advance(by: 100)
        try db.put("user:2", .raw("Berlin"))
        try db.put("other", .raw("Paris"))
        try db.addCode(WAT.indexByValue, name: "by-value")
        let defined = try db.addIndex(name: "city", module: "by-value", scope: KeyScope(prefix: "user:"))
        #expect(defined.function == "custom_index")
        let built = try db.transactionCount()
        t.clock.advance(by: 100)
        try db.put("user:1", .raw("Rome"))
        #expect(keys(try db.lookup(index: "city", key: Array("Paris".utf8))) == [])
        #expect(keys(try db.lookup(index: "city", key: Array("Paris".utf8), tx: .id(built))) == ["user:1"])
        #expect(keys(try db.lookup(index: "city", key: Array("Paris".utf8), tx: .id(c1.txID))) == ["user:1"])
        #expect(keys(try db.lookup(index: "city", key: Array("Rome".utf8))) == ["user:1"])
        #expect(keys(try db.lookup(index: "city", key: Array("Berlin".utf8))) == ["user:2"])
        // Valid time: a value that becomes true later.
        let later = t.clock.now().advanced(by: 1_000_000)
        try db.put("user:3", .raw("Oslo"), validFrom: later)
        #expect(keys(try db.lookup(index: "city", key: Array("Oslo".utf8))) == [])
        #expect(keys(try db.lookup(index: "city", key: Array("Oslo".utf8), validAt: later)) == ["user:3"])
        // A retraction hides the key now, not in the past.
        let beforeDelete = try db.transactionCount()
        t.clock.advance(by: 100)
        try db.write { try $0.delete("user:2") }
        #expect(keys(try db.lookup(index: "city", key: Array("Berlin".utf8))) == [])
        #expect(keys(try db.lookup(index: "city", key: Array("Berlin".utf8), tx: .id(beforeDelete))) == ["user:2"])
        // An erase removes the key from the index at every time.
        try db.erase("user:1")
        #expect(keys(try db.lookup(index: "city", key: Array("Paris".utf8), tx: .id(built))) == [])
        #expect(keys(try db.lookup(index: "city", key: Array("Rome".utf8))) == [])
        try db.removeIndex("city")
        #expect(throws: LLMDBError.self) { _ = try db.lookup(index: "city", key: Array("Rome".utf8)) }
        #expect(try db.indexes().isEmpty)
    }

    /// Model: for random histories, a lookup as of random (V, T) returns exactly the keys
    /// whose value as of (V, T) is the looked-up value, both for an index maintained on
    /// every write and for one built afterwards from the stored entries.
    @Test("model: index lookups equal a brute-force as-of read", arguments: [1, 2, 3, 4] as [UInt64])
    func model(seed: UInt64) throws {
        var rng = SplitMix(seed: seed)
        let t = try WasmDatabase()
        let db = t.db
        try db.addCode(WAT.indexByValue, name: "by-value")
        try db.addIndex(name: "live", module: "by-value", scope: KeyScope(prefix: "u:"))
        let values = ["a", "b", "c", "d"]
        let keysAll = (0..<8).map { "u:\($0)" }
        var times: [Instant] = []
        for _ in 0..<120 {
            t.clock.advance(by: Int64(rng.next() % 50 + 1))
            let now = t.clock.now()
            times.append(now)
            let key = Key(keysAll[Int(rng.next() % UInt64(keysAll.count))])
            let from = now.advanced(by: Int64(rng.next() % 400) - 200)
            let value = Value.raw(values[Int(rng.next() % UInt64(values.count))])
            switch rng.next() % 10 {
            case 0..<5: try db.write { try $0.put(key, value, validFrom: from) }
            case 5..<7:
                try db.write {
                    try $0.put(key, value, validFrom: from, validTo: from.advanced(by: Int64(rng.next() % 300 + 1)))
                }
            case 7..<9: try db.write { try $0.delete(key, validFrom: from) }
            default: try db.erase(key)
            }
        }
        try db.addIndex(name: "built", module: "by-value", scope: KeyScope(prefix: "u:"))
        let last = try db.transactionCount()
        for _ in 0..<60 {
            let tx = TxID(rng.next() % last) + 1
            let v = times[Int(rng.next() % UInt64(times.count))].advanced(by: Int64(rng.next() % 400) - 200)
            for value in values {
                var expected: [String] = []
                for k in keysAll {
                    if let f = try db.get(Key(k), validAt: v, tx: .id(tx)), f.value == .raw(value) {
                        expected.append(k)
                    }
                }
                for index in ["live", "built"] {
                    let got = keys(try db.lookup(index: index, key: Array(value.utf8), validAt: v, tx: .id(tx)))
                    #expect(got == expected, "seed \(seed) index \(index) value \(value) at v=\(v) tx=\(tx)")
                }
            }
        }
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

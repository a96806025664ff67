import Foundation
import LLMDB
import LLMDBStorage

/// A database in a fresh temporary directory, removed when the value is released.
final class TempDatabase: @unchecked Sendable {
    // @unchecked Sendable: `handle` is replaced only by the test that owns this value, never concurrently.
    let dir: String
    let path: String
    let clock: ManualClock
    private var handle: Database?
    var db: Database { handle! }

    init(sync: SyncPolicy = .none, mapSize: Int? = nil, maxMapSize: Int? = nil, start: Int64 = 1_000_000) throws {
        dir = NSTemporaryDirectory() + "llmdb-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        path = dir + "/test.llmdb"
        clock = ManualClock(start: Instant(microseconds: start))
        var o = Database.Options()
        o.sync = sync
        o.clock = clock
        if let mapSize { o.mapSize = mapSize }
        if let maxMapSize { o.maxMapSize = maxMapSize }
        handle = try Database.open(path: path, options: o)
    }

    func reopen(readOnly: Bool = false) throws -> Database {
        handle?.close()
        handle = nil
        var o = Database.Options()
        o.sync = .none
        o.clock = clock
        o.readOnly = readOnly
        handle = try Database.open(path: path, options: o)
        return db
    }

    /// Releases the database so that the file can be compacted.
    func closeForCompaction() throws {
        handle?.close()
        handle = nil
    }

    deinit {
        handle?.close()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// A fresh temporary directory, removed when the value is released.
final class TempDirectory {
    let path = NSTemporaryDirectory() + "llmdb-test-" + UUID().uuidString
    init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

func t(_ us: Int64) -> Instant { Instant(microseconds: us) }

extension Database {
    /// The value of `key` as a string (raw values), as of (`v`, `tx`).
    func text(_ key: Key, at v: Int64, tx: TxSelector = .latest) throws -> String? {
        guard let f = try get(key, validAt: t(v), tx: tx), let value = f.value else { return nil }
        return String(decoding: value.payload, as: UTF8.self)
    }

    /// The whole file's observable state, for "nothing changed" checks.
    func fingerprint() throws -> String {
        let s = try stats()
        let log = try transactions()
        let all = try read(validAt: .endOfTime) { try $0.scan(prefix: Key([], partition: 0)) }
        return
            "\(s.entries)|\(s.transactions)|\(log.map(\.txID))|\(all.map { "\($0.key)=\($0.value?.payload ?? [])@\($0.txID)" })"
    }
}

/// A seeded pseudo-random generator for property and model-based tests.
/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and the same on every platform.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    init(state: UInt64) { self.state = state }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<n` (n > 0; the modulo bias is irrelevant here).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + below(r.count) }
    mutating func percent(_ p: Int) -> Bool { below(100) < p }
    mutating func chance(_ p: Int) -> Bool { percent(p) }
    mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
}

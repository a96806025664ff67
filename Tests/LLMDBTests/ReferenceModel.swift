// An in-memory reference implementation of DESIGN.md "Time semantics" (rules 1–10).
//
// Written from the spec only, never from the LLMDB sources: it exists to catch bugs in
// the real implementation, so it favours being obviously correct over being fast. Every
// read is a linear scan over a key's entries; nothing is indexed or cached.
//
// Plain types only (byte arrays, strings, Int64 microseconds, UInt64 tx ids), so that the
// model shares no code with what it checks. `ModelBasedTests.swift` maps the real API's
// types onto these.

struct ReferenceModel {
    typealias KeyBytes = [UInt8]

    /// `Instant.endOfTime`: +∞, in microseconds.
    static let endOfTime = Int64.max

    /// One stored version: (key, validFrom, tx) → value, or a tombstone (`value == nil`).
    struct Entry: Hashable {
        var validFrom: Int64
        var tx: UInt64
        var value: String?
    }

    /// A read result in the shape the real API returns (`Fact`).
    struct Row: Hashable, CustomStringConvertible {
        var key: KeyBytes
        /// nil for a tombstone (only histories return those).
        var value: String?
        var validFrom: Int64
        /// nil for an open end; always nil for point reads and scans.
        var validTo: Int64?
        var txID: UInt64
        var txTime: Int64

        var description: String {
            let v = value.map { "\"\($0)\"" } ?? "⊥"
            let to = validTo.map(ReferenceModel.show) ?? ""
            return "\(ReferenceModel.show(key))=\(v)@\(ReferenceModel.show(validFrom))..\(to) tx\(txID)(\(txTime))"
        }
    }

    /// A timeline element (`TimelineRun`).
    struct Run: Hashable, CustomStringConvertible {
        var value: String
        var validFrom: Int64
        var validTo: Int64?

        var description: String {
            "\"\(value)\"@\(ReferenceModel.show(validFrom))..\(validTo.map(ReferenceModel.show) ?? "")"
        }
    }

    /// One operation of a write transaction. `from == nil` means the transaction's time;
    /// `to == nil` means open-ended (rule 2); otherwise `[from, to)` (rule 3), where
    /// `to == endOfTime` is a range to +∞.
    enum Op: Hashable {
        case put(KeyBytes, String, from: Int64?, to: Int64?)
        case delete(KeyBytes, from: Int64?, to: Int64?)
        case erase(KeyBytes)
    }

    /// Rule 9, SQL:2011 periods over valid time.
    enum Window: Hashable, CustomStringConvertible {
        case all
        case asOf(Int64)
        case from(Int64, to: Int64)
        case between(Int64, and: Int64)

        /// Whether the period `[start, end)` matches (`end` = `endOfTime` for an open end).
        func matches(start: Int64, end: Int64) -> Bool {
            switch self {
            case .all: return true
            case .asOf(let t): return start <= t && t < end
            case .from(let a, let b): return start < b && end > a
            case .between(let a, let b): return start <= b && end > a
            }
        }

        var description: String {
            switch self {
            case .all: return "ALL"
            case .asOf(let t): return "AS OF \(ReferenceModel.show(t))"
            case .from(let a, let b): return "FROM \(ReferenceModel.show(a)) TO \(ReferenceModel.show(b))"
            case .between(let a, let b): return "BETWEEN \(ReferenceModel.show(a)) AND \(ReferenceModel.show(b))"
            }
        }
    }

    enum Failure: Error, Hashable {
        /// `validTo ≤ validFrom` (rule 3).
        case invalidTimeRange
        /// An explicit transaction time not later than the last one (rule 10).
        case transactionTimeNotIncreasing
    }

    /// All entries of every key (rule 7's erase removes a key's array).
    private(set) var store: [KeyBytes: [Entry]] = [:]
    /// `txTimes[i]` is the time of tx `i + 1`. Tx ids start at 1 and increase by 1.
    private(set) var txTimes: [Int64] = []

    var latestTx: UInt64 { UInt64(txTimes.count) }

    func txTime(of tx: UInt64) -> Int64 { txTimes[Int(tx) - 1] }

    // MARK: - Transaction time (rule 10)

    /// The time the next transaction gets: an explicit time must be later than the last
    /// one; a clock reading that is not later than the last one yields last + 1 µs.
    func nextTxTime(clock: Int64, explicit: Int64?) throws(Failure) -> Int64 {
        let last = txTimes.last
        if let explicit {
            if let last, explicit <= last { throw .transactionTimeNotIncreasing }
            return explicit
        }
        if let last, clock <= last { return last + 1 }
        return clock
    }

    // MARK: - Writes (rules 2, 3, 5, 6, 7)

    /// Applies a transaction atomically: on any error nothing changes and no tx id is used.
    /// Returns the new tx id.
    @discardableResult
    mutating func commit(_ ops: [Op], clock: Int64, explicitTxTime: Int64? = nil) throws(Failure) -> UInt64 {
        let time = try nextTxTime(clock: clock, explicit: explicitTxTime)
        let tx = latestTx + 1
        var next = store
        for op in ops {
            switch op {
            case .put(let key, let value, let from, let to):
                try Self.write(&next, key, value, start: from ?? time, end: to, tx: tx)
            case .delete(let key, let from, let to):
                try Self.write(&next, key, nil, start: from ?? time, end: to, tx: tx)
            case .erase(let key):
                next[key] = nil
            }
        }
        store = next
        txTimes.append(time)
        return tx
    }

    /// The entry "in effect" at `t` among `entries` (all of them, whatever their tx):
    /// the greatest validFrom ≤ t, then the greatest tx at it.
    static func inEffect(_ entries: [Entry], at t: Int64) -> Entry? {
        var best: Entry?
        for e in entries where e.validFrom <= t {
            if let b = best, !precedes(b, e) { continue }
            best = e
        }
        return best
    }

    /// Order by (validFrom, tx).
    static func precedes(_ a: Entry, _ b: Entry) -> Bool {
        a.validFrom != b.validFrom ? a.validFrom < b.validFrom : a.tx < b.tx
    }

    /// Rule 5: the same (validFrom, tx) written again replaces the old entry.
    static func set(_ entries: inout [Entry], _ e: Entry) {
        entries.removeAll { $0.validFrom == e.validFrom && $0.tx == e.tx }
        entries.append(e)
    }

    /// One put (`value != nil`) or delete (`value == nil`) of `key`.
    static func write(
        _ store: inout [KeyBytes: [Entry]],
        _ key: KeyBytes,
        _ value: String?,
        start: Int64,
        end: Int64?,
        tx: UInt64
    ) throws(Failure) {
        var entries = store[key] ?? []
        if let end {
            // Rule 3: [start, end).
            guard end > start else { throw .invalidTimeRange }
            if end != endOfTime && !entries.contains(where: { $0.validFrom == end }) {
                if let e = inEffect(entries, at: end) {
                    set(&entries, Entry(validFrom: end, tx: e.tx, value: e.value))  // keeps e's tx
                } else {
                    set(&entries, Entry(validFrom: end, tx: tx, value: nil))
                }
            }
            let inside = Set(entries.map(\.validFrom).filter { $0 > start && $0 < end })
            set(&entries, Entry(validFrom: start, tx: tx, value: value))
            for b in inside {
                set(&entries, Entry(validFrom: b, tx: tx, value: value))
            }
        } else {
            // Rule 2: open-ended at start.
            let previous = inEffect(entries, at: start)
            set(&entries, Entry(validFrom: start, tx: tx, value: value))
            if let p = previous {
                let later = Set(entries.map(\.validFrom).filter { $0 > start }).sorted()
                for b in later {
                    let e = entries.filter { $0.validFrom == b }.max { $0.tx < $1.tx }!
                    guard e.tx == p.tx && e.value == p.value else { break }
                    set(&entries, Entry(validFrom: b, tx: tx, value: value))
                }
            }
        }
        store[key] = entries
    }

    // MARK: - Reads (rules 1, 8, 9)

    /// Rule 1: `T` given as a time is the last tx with tx time ≤ t (0 = before the first).
    func resolve(time t: Int64) -> UInt64 {
        var tx: UInt64 = 0
        for (i, time) in txTimes.enumerated() where time <= t { tx = UInt64(i + 1) }
        return tx
    }

    /// Rule 1: the value of `key` at valid time `v` as known at tx `t`, or nil when absent.
    func get(_ key: KeyBytes, validAt v: Int64, tx t: UInt64) -> Row? {
        var best: Entry?
        for e in store[key] ?? [] where e.validFrom <= v && e.tx <= t {
            if let b = best, !Self.precedes(b, e) { continue }
            best = e
        }
        guard let best, let value = best.value else { return nil }
        return Row(
            key: key,
            value: value,
            validFrom: best.validFrom,
            validTo: nil,
            txID: best.tx,
            txTime: txTime(of: best.tx)
        )
    }

    /// Rule 8: the history of `key` as of tx `t`.
    func history(_ key: KeyBytes, tx t: UInt64, withCorrections: Bool) -> [Row] {
        let visible = (store[key] ?? []).filter { $0.tx <= t }
        // For each valid_from, the entry with the greatest tx ≤ t.
        var latest: [Int64: Entry] = [:]
        for e in visible where latest[e.validFrom].map({ $0.tx < e.tx }) ?? true {
            latest[e.validFrom] = e
        }
        let starts = latest.keys.sorted()
        // validTo = the next valid_from of the history (nil for the last one).
        var validTo: [Int64: Int64] = [:]
        for (v, next) in zip(starts, starts.dropFirst()) { validTo[v] = next }
        func row(_ e: Entry) -> Row {
            Row(
                key: key,
                value: e.value,
                validFrom: e.validFrom,
                validTo: validTo[e.validFrom],
                txID: e.tx,
                txTime: txTime(of: e.tx)
            )
        }
        if withCorrections {
            return visible.sorted(by: Self.precedes).map(row)
        }
        return starts.map { row(latest[$0]!) }
    }

    /// Rule 8: the history as of tx `t` merged into maximal runs of equal values, with
    /// gaps (tombstones) left out.
    func timeline(_ key: KeyBytes, tx t: UInt64) -> [Run] {
        var runs: [Run] = []
        for r in history(key, tx: t, withCorrections: false) {
            guard let value = r.value else { continue }
            if let last = runs.last, last.value == value, last.validTo == r.validFrom {
                runs[runs.count - 1].validTo = r.validTo
            } else {
                runs.append(Run(value: value, validFrom: r.validFrom, validTo: r.validTo))
            }
        }
        return runs
    }

    /// The timeline's runs that match `window` (rule 9), unclipped.
    func timeline(_ key: KeyBytes, tx t: UInt64, window: Window) -> [Run] {
        Self.filter(timeline(key, tx: t), window)
    }

    static func filter(_ runs: [Run], _ window: Window) -> [Run] {
        runs.filter { window.matches(start: $0.validFrom, end: $0.validTo ?? endOfTime) }
    }

    /// Keys that start with `prefix` and have a value at (v, t), in key byte order.
    func scan(prefix: KeyBytes, validAt v: Int64, tx t: UInt64, limit: Int) -> [Row] {
        let keys = store.keys.filter { $0.starts(with: prefix) }.sorted { $0.lexicographicallyPrecedes($1) }
        return Array(keys.compactMap { get($0, validAt: v, tx: t) }.prefix(limit))
    }

    /// Every valid time at which some key has an entry (the interesting read points).
    var allValidFroms: Set<Int64> {
        var s = Set<Int64>()
        for entries in store.values { for e in entries { s.insert(e.validFrom) } }
        return s
    }

    // MARK: - Display

    static func show(_ t: Int64) -> String { t == endOfTime ? "inf" : String(t) }

    static func show(_ key: KeyBytes) -> String {
        key.map { b in
            (0x21...0x7e).contains(b) ? String(UnicodeScalar(b)) : "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
        }.joined()
    }
}

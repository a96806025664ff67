import LLMDBStorage

/// The write half of the time semantics (DESIGN.md, rules 2–7), applied inside the
/// writer's LMDB transaction. Every decision reads the latest state, including the
/// earlier operations of the same transaction.
enum Apply {
    static let tombstone: [UInt8] = [ValueTag.tombstone.rawValue]

    /// The last committed transaction in the file, or (0, beginning of time).
    static func lastTransaction(
        _ txn: borrowing WriteTransaction,
        _ tables: Tables
    ) throws(LMDBError) -> (id: TxID, time: Instant) {
        let c = try txn.cursor(tables.txlog)
        guard let e = try c.last(), e.key.count == 8 else { return (0, .beginningOfTime) }
        let id = EntryKey.readU64(e.key, at: 0)
        return (id, TransactionRecord.time(e.value) ?? .beginningOfTime)
    }

    static func transaction(
        _ ops: [WriteBatch.Op],
        _ txn: borrowing WriteTransaction,
        _ tables: Tables,
        txID: TxID,
        txTime: Instant,
        explicit: Bool
    ) throws {
        var puts = 0
        var deletes = 0
        var erases = 0
        var written = 0
        var erased = 0
        for op in ops {
            switch op {
            case .put(let key, let value, let from, let to):
                if value == tombstone { deletes += 1 } else { puts += 1 }
                written += try put(key, value, from: from ?? txTime, to: to, txn, tables.facts, txID: txID)
            case .erase(let key):
                erases += 1
                erased += try erase(key, txn, tables.facts)
            }
        }
        let record = TransactionRecord(
            txID: txID,
            txTime: txTime,
            puts: puts,
            deletes: deletes,
            erases: erases,
            entriesWritten: written,
            entriesErased: erased,
            explicitTime: explicit
        )
        var idKey: [UInt8] = []
        EntryKey.appendU64(txID, to: &idKey)
        var timeKey: [UInt8] = []
        EntryKey.appendU64(EntryKey.timeBits(txTime), to: &timeKey)
        try put(txn, tables.txlog, idKey, record.encoded())
        try put(txn, tables.txtime, timeKey, idKey)
    }

    @inline(__always)
    static func put(_ txn: borrowing WriteTransaction, _ table: Table, _ key: [UInt8], _ value: [UInt8]) throws {
        try key.withUnsafeBytes { k in
            try value.withUnsafeBytes { v in try txn.put(table, k, v) }
        }
    }

    struct Entry {
        let validFrom: Instant
        let tx: TxID
        let value: [UInt8]
    }

    /// The entry in effect at `t` as of the latest state: the greatest valid_from ≤ t, and at
    /// it the greatest tx.
    static func inEffect(_ c: borrowing Cursor, prefix: [UInt8], at t: Instant) throws -> Entry? {
        var probe = prefix + [UInt8](repeating: 0, count: 16)
        EntryKey.setTimes(&probe, prefixCount: prefix.count, validFrom: t, tx: .max)
        let found = try probe.withUnsafeBytes { p in try c.seek(atLeast: p) }
        let e: Cursor.Entry?
        if let found, EntryKey.belongs(found.key, to: prefix), EntryKey.times(found.key) == (t, .max) {
            e = found
        } else {
            e = found == nil ? try c.last() : try c.previous()
        }
        guard let e, EntryKey.belongs(e.key, to: prefix) else { return nil }
        let (vf, tx) = EntryKey.times(e.key)
        return Entry(validFrom: vf, tx: tx, value: Array(e.value))
    }

    /// Writes an open-ended (`to == nil`) or ranged put or delete. Returns entries written.
    static func put(
        _ key: Key,
        _ value: [UInt8],
        from start: Instant,
        to end: Instant?,
        _ txn: borrowing WriteTransaction,
        _ facts: Table,
        txID: TxID
    ) throws -> Int {
        if let end, end <= start {
            throw LLMDBError(
                .invalidTimeRange,
                "valid_to (\(end)) must be after valid_from (\(start)); nothing was written"
            )
        }
        let prefix = EntryKey.keyPrefix(key)
        var writes: [(Instant, TxID, [UInt8])] = []
        do {
            let c = try txn.cursor(facts)
            if let end {
                // Rule 3: [start, end) — every boundary inside, and the prior value restored at end.
                if end != .endOfTime {
                    let atEnd = try firstEntry(c, prefix: prefix, atOrAfter: end)
                    if atEnd?.validFrom != end {
                        if let e = try inEffect(c, prefix: prefix, at: end) {
                            writes.append((end, e.tx, e.value))
                        } else {
                            writes.append((end, txID, tombstone))
                        }
                    }
                }
                writes.append((start, txID, value))
                try forEachGroup(c, prefix: prefix, after: start) { vf, _ in
                    guard vf < end else { return false }
                    writes.append((vf, txID, value))
                    return true
                }
            } else {
                // Rule 2: open-ended — also replaces the remainder of the range write in effect at start.
                let previous = try inEffect(c, prefix: prefix, at: start)
                writes.append((start, txID, value))
                if let previous {
                    try forEachGroup(c, prefix: prefix, after: start) { vf, latest in
                        guard latest.tx == previous.tx, latest.value == previous.value else { return false }
                        writes.append((vf, txID, value))
                        return true
                    }
                }
            }
        }
        var buffer = prefix + [UInt8](repeating: 0, count: 16)
        for (vf, tx, v) in writes {
            EntryKey.setTimes(&buffer, prefixCount: prefix.count, validFrom: vf, tx: tx)
            try put(txn, facts, buffer, v)
        }
        return writes.count
    }

    /// The first entry of the key with valid_from ≥ t.
    static func firstEntry(_ c: borrowing Cursor, prefix: [UInt8], atOrAfter t: Instant) throws -> Entry? {
        var probe = prefix + [UInt8](repeating: 0, count: 16)
        EntryKey.setTimes(&probe, prefixCount: prefix.count, validFrom: t, tx: 0)
        guard let e = try probe.withUnsafeBytes({ p in try c.seek(atLeast: p) }),
            EntryKey.belongs(e.key, to: prefix)
        else { return nil }
        let (vf, tx) = EntryKey.times(e.key)
        return Entry(validFrom: vf, tx: tx, value: Array(e.value))
    }

    /// Calls `body` for each distinct valid_from greater than `after`, ascending, with the
    /// latest entry (greatest tx) at it, until `body` returns false.
    static func forEachGroup(
        _ c: borrowing Cursor,
        prefix: [UInt8],
        after: Instant,
        _ body: (Instant, Entry) throws -> Bool
    ) throws {
        var probe = prefix + [UInt8](repeating: 0, count: 16)
        EntryKey.setTimes(&probe, prefixCount: prefix.count, validFrom: after, tx: .max)
        var e = try probe.withUnsafeBytes { p in try c.seek(atLeast: p) }
        var pending: Entry? = nil
        while let cur = e, EntryKey.belongs(cur.key, to: prefix) {
            let (vf, tx) = EntryKey.times(cur.key)
            if vf > after {
                if let p = pending, p.validFrom != vf {
                    if try !body(p.validFrom, p) { return }
                }
                pending = Entry(validFrom: vf, tx: tx, value: Array(cur.value))
            }
            e = try c.next()
        }
        if let p = pending { _ = try body(p.validFrom, p) }
    }

    /// Rule 7: removes every entry of the key. Returns how many.
    static func erase(_ key: Key, _ txn: borrowing WriteTransaction, _ facts: Table) throws -> Int {
        let prefix = EntryKey.keyPrefix(key)
        let c = try txn.cursor(facts)
        var n = 0
        while let e = try prefix.withUnsafeBytes({ p in try c.seek(atLeast: p) }),
            EntryKey.belongs(e.key, to: prefix)
        {
            try c.deleteCurrent()
            n += 1
        }
        return n
    }
}

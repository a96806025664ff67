import LLMDBStorage

extension Snapshot {
    /// Every entry of `key` visible in this snapshot (tx ≤ ``txID``), ordered by
    /// (valid_from, tx), with their valid_from and tx.
    func entries(of key: Key) throws -> [(validFrom: Instant, tx: TxID, value: Value?)] {
        try key.validate()
        let prefix = EntryKey.keyPrefix(key)
        var out: [(Instant, TxID, Value?)] = []
        var e = try prefix.withUnsafeBytes { try cursor.seek(atLeast: $0) }
        while let cur = e, EntryKey.belongs(cur.key, to: prefix) {
            let (vf, t) = EntryKey.times(cur.key)
            if t <= txID {
                out.append((vf, t, try Value.decode(stored: cur.value)))
            }
            e = try cursor.next()
        }
        return out
    }

    /// The history of `key` as of this snapshot's transaction (rule 8): for each valid_from,
    /// the latest entry; or, `withCorrections`, every entry. Tombstones included.
    public func history(of key: Key, withCorrections: Bool = false) throws -> [Fact] {
        let all = try entries(of: key)
        var latest: [(validFrom: Instant, tx: TxID, value: Value?)] = []
        for e in all {
            if let last = latest.last, last.validFrom == e.validFrom {
                latest[latest.count - 1] = e
            } else {
                latest.append(e)
            }
        }
        var nextFrom: [Instant: Instant] = [:]
        for i in latest.indices.dropLast() { nextFrom[latest[i].validFrom] = latest[i + 1].validFrom }
        var times: [TxID: Instant] = [:]
        func time(_ t: TxID) throws -> Instant {
            if let k = times[t] { return k }
            let v = try transactionTime(t)
            times[t] = v
            return v
        }
        return try (withCorrections ? all : latest).map { e in
            Fact(
                key: key,
                value: e.value,
                validFrom: e.validFrom,
                validTo: nextFrom[e.validFrom],
                txID: e.tx,
                txTime: try time(e.tx)
            )
        }
    }

    /// The timeline of `key`: the history merged into maximal runs of equal values, gaps
    /// (retractions) left out, keeping the runs that match `window` (over valid time).
    public func timeline(of key: Key, window: TimeWindow = .all) throws -> [TimelineRun] {
        var runs: [TimelineRun] = []
        for f in try history(of: key) {
            guard let value = f.value else { continue }
            if let last = runs.last, last.value == value, last.validTo == f.validFrom {
                runs[runs.count - 1] = TimelineRun(value: value, validFrom: last.validFrom, validTo: f.validTo)
            } else {
                runs.append(TimelineRun(value: value, validFrom: f.validFrom, validTo: f.validTo))
            }
        }
        return runs.filter { window.matches(start: $0.validFrom, end: $0.validTo ?? .endOfTime) }
    }

    /// The transactions whose time matches `window`, ascending.
    public func transactions(in window: TimeWindow = .all, limit: Int = .max) throws -> [TransactionRecord] {
        let c = try tx.cursor(db.txlog)
        var out: [TransactionRecord] = []
        // Start at the first transaction at or after the window's lower bound (one seek in
        // the time index), and stop past its upper bound: times increase with ids.
        var e: Cursor.Entry?
        if window.kind == .all {
            e = try c.first()
        } else {
            var probe: [UInt8] = []
            EntryKey.appendU64(EntryKey.timeBits(window.lower), to: &probe)
            let t = try tx.cursor(db.txtime)
            guard let first = try probe.withUnsafeBytes({ try t.seek(atLeast: $0) }) else { return out }
            e = try c.seek(atLeast: first.value)
        }
        while let cur = e, out.count < limit {
            let id = EntryKey.readU64(cur.key, at: 0)
            if id > txID { break }
            let record = try TransactionRecord.decode(txID: id, cur.value)
            if window.matches(instant: record.txTime) {
                out.append(record)
            } else if record.txTime > window.upper {
                break
            }
            e = try c.next()
        }
        return out
    }
}

extension Database {
    /// The history of `key` as of transaction `tx` (see ``Snapshot/history(of:withCorrections:)``).
    public func history(of key: Key, asOf tx: TxSelector = .latest, withCorrections: Bool = false) throws -> [Fact] {
        try read(tx: tx) { try $0.history(of: key, withCorrections: withCorrections) }
    }

    /// The timeline of `key` as of transaction `tx`, filtered by a valid-time `window`.
    public func timeline(of key: Key, window: TimeWindow = .all, asOf tx: TxSelector = .latest) throws -> [TimelineRun]
    {
        try read(tx: tx) { try $0.timeline(of: key, window: window) }
    }

    /// The transaction log, filtered by a transaction-time `window`.
    public func transactions(in window: TimeWindow = .all, limit: Int = .max) throws -> [TransactionRecord] {
        try read { try $0.transactions(in: window, limit: limit) }
    }
}

extension Snapshot {
    /// Where the value of `key` in effect at this snapshot's valid time ends, as recorded by
    /// this snapshot's transaction: the valid_from of the first later version with another
    /// value (or a retraction), nil when it holds for ever. This is the end of the timeline
    /// run (``timeline(of:window:)``) that holds the valid time: a version split by a later
    /// write keeps its value across the split. Reads that report `valid_to` call it; plain
    /// gets do not pay for it.
    public func validTo(of key: Key) throws -> Instant? {
        guard let current = try lookup(key, validAt: validTime) else { return nil }
        return try validTo(of: key, current: current)
    }

    /// ``validTo(of:)`` for a version already read at this snapshot's valid time (a get's or
    /// a scan row's value), without looking it up again.
    public func validTo(of key: Key, current: ValueView) throws -> Instant? {
        guard validTime < .endOfTime else { return nil }
        let prefix = EntryKey.keyPrefix(key)
        var probe = prefix
        EntryKey.appendU64(EntryKey.timeBits(validTime.advanced(by: 1)), to: &probe)
        EntryKey.appendU64(0, to: &probe)
        let c = try tx.cursor(db.facts)
        let first = try probe.withUnsafeBytes { try c.seek(atLeast: $0) }
        return try validTo(prefix: prefix, current: current, from: first, cursor: c)
    }

    /// ``validTo(of:current:)`` right after ``withValue(_:_:)`` read `current`: the
    /// snapshot's cursor still rests on that entry, so this walks on from it instead of
    /// opening a cursor and seeking (a point read's `valid_to` for the cost of a step or two).
    package func validToAfterLookup(of key: Key, current: ValueView) throws -> Instant? {
        guard validTime < .endOfTime else { return nil }
        let prefix = EntryKey.keyPrefix(key)
        var e = try cursor.next()
        // The key's entries after the one read that start at or before the valid time are
        // all later than this snapshot's transaction (the lookup took the last visible one).
        // Many of them (a read far in the past of a busy key): seek instead.
        var skipped = 0
        while let entry = e, entry.key.count == prefix.count + 16, EntryKey.hasPrefix(entry.key, prefix),
            EntryKey.times(entry.key).0 <= validTime
        {
            skipped += 1
            if skipped > 8 { return try validTo(of: key, current: current) }
            e = try cursor.next()
        }
        return try validTo(prefix: prefix, current: current, from: e, cursor: cursor)
    }

    /// The walk of ``validTo(of:current:)`` from `first`, the key's first entry after the
    /// valid time (or whatever follows the key's entries).
    private func validTo(
        prefix: [UInt8],
        current: ValueView,
        from first: Cursor.Entry?,
        cursor c: borrowing Cursor
    ) throws -> Instant? {
        let value = current.payload
        let tag = current.tag
        var e = first
        // For each later valid_from, the entry with the greatest tx ≤ this snapshot's.
        var group: Instant? = nil
        var chosen: Cursor.Entry? = nil
        func differs(_ entry: Cursor.Entry) -> Bool {
            guard let t = entry.value.first, t == tag.rawValue else { return true }
            return entry.value.count - 1 != value.count
                || !memcmpEqual(value, UnsafeRawBufferPointer(rebasing: entry.value[1...]), count: value.count)
        }
        while let entry = e, entry.key.count == prefix.count + 16, EntryKey.hasPrefix(entry.key, prefix) {
            let (vf, etx) = EntryKey.times(entry.key)
            if vf != group {
                if let g = group, let chosen, differs(chosen) { return g }
                group = vf
                chosen = nil
            }
            if etx <= txID { chosen = entry }
            e = try c.next()
        }
        if let g = group, let chosen, differs(chosen) { return g }
        return nil
    }

    /// ``get(_:)`` with the version's `validTo` filled in.
    public func getWithValidTo(_ key: Key) throws -> Fact? {
        guard let view = try lookup(key, validAt: validTime) else { return nil }
        return Fact(
            key: key,
            value: try view.value(),
            validFrom: view.validFrom,
            validTo: try validToAfterLookup(of: key, current: view),
            txID: view.txID,
            txTime: try transactionTime(view.txID)
        )
    }
}

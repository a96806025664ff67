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
        explicit: Bool,
        migration: Bool = false,
        code: (any CodeRunner)?
    ) throws {
        let live = try LiveExtensions.load(txn, tables.facts, at: txTime)
        var work = CodeWork(code)
        if !live.hooks.isEmpty {
            try runHooks(live.hooks, ops, txn, tables, txID: txID, txTime: txTime, &work)
        }
        var puts = 0
        var deletes = 0
        var erases = 0
        var written = 0
        var erased = 0
        var toIndex: [[IndexedEntry]] = Array(repeating: [], count: live.indexes.count)
        var redefined: Set<String> = []
        for op in ops {
            switch op {
            case .put(let key, let value, let from, let to):
                if value == tombstone { deletes += 1 } else { puts += 1 }
                let writes = try put(key, value, from: from ?? txTime, to: to, txn, tables.facts, txID: txID)
                written += writes.count
                for (i, index) in live.indexes.enumerated() where index.scope.contains(key) {
                    for (vf, tx, v) in writes {
                        toIndex[i].append(IndexedEntry(key: key, validFrom: vf, txID: tx, stored: v))
                    }
                }
                if key.partition == Key.systemPartition, key.bytes.starts(with: LiveExtensions.indexPrefix.bytes) {
                    redefined.insert(
                        String(decoding: key.bytes.dropFirst(LiveExtensions.indexPrefix.bytes.count), as: UTF8.self)
                    )
                }
            case .expect(let key, let expectation):
                let c = try txn.cursor(tables.facts)
                let e = try inEffect(c, prefix: EntryKey.keyPrefix(key), at: txTime)
                let live = e.flatMap { $0.value == tombstone ? nil : $0 }
                let ok: Bool
                switch expectation {
                case .absent: ok = live == nil
                case .present: ok = live != nil
                case .version(let tx): ok = live?.tx == tx
                }
                if !ok {
                    let what =
                        switch expectation {
                        case .absent: "to be absent, but it has a value"
                        case .present: "to have a value, but it is absent"
                        case .version(let tx):
                            "to be at the version of tx \(tx), but it is \(live.map { "at tx \($0.tx)" } ?? "absent")"
                        }
                    throw LLMDBError(.conflict, "the transaction expected a key \(what); nothing was written")
                }
            case .erase(let key):
                erases += 1
                erased += try erase(key, txn, tables.facts)
                if let table = tables.index {
                    for (i, index) in live.indexes.enumerated() where index.scope.contains(key) {
                        toIndex[i].removeAll { $0.key == key }
                        try IndexStore.remove(index.name, key: key, txn, table)
                        if index.fullText { try TextStore.remove(index.name, key: key, txn, table) }
                    }
                }
            }
        }
        for (i, index) in live.indexes.enumerated() where !toIndex[i].isEmpty && !redefined.contains(index.name) {
            var stats: [TxID: TextStore.Delta] = [:]
            try updateIndex(index, toIndex[i], txn, tables, txTime: txTime, &work, textStats: &stats)
            if let table = tables.index, !stats.isEmpty { try TextStore.addStats(index.name, stats, txn, table) }
        }
        if !redefined.isEmpty {
            try rebuildIndexes(redefined, txn, tables, txID: txID, txTime: txTime, &work)
        }
        let record = TransactionRecord(
            txID: txID,
            txTime: txTime,
            puts: puts,
            deletes: deletes,
            erases: erases,
            entriesWritten: written,
            entriesErased: erased,
            explicitTime: explicit,
            migration: migration
        )
        var idKey: [UInt8] = []
        EntryKey.appendU64(txID, to: &idKey)
        var timeKey: [UInt8] = []
        EntryKey.appendU64(EntryKey.timeBits(txTime), to: &timeKey)
        try put(txn, tables.txlog, idKey, record.encoded())
        try put(txn, tables.txtime, timeKey, idKey)
    }

    /// Runs each hook over the operations in its scope, before anything is written.
    static func runHooks(
        _ hooks: [ExtensionDefinition],
        _ ops: [WriteBatch.Op],
        _ txn: borrowing WriteTransaction,
        _ tables: Tables,
        txID: TxID,
        txTime: Instant,
        _ work: inout CodeWork
    ) throws {
        for hook in hooks {
            var seen: [HookOperation] = []
            for op in ops {
                switch op {
                case .put(let key, let value, let from, let to) where hook.scope.contains(key):
                    seen.append(
                        HookOperation(
                            kind: value == tombstone ? .delete : .put,
                            key: key,
                            validFrom: from ?? txTime,
                            validTo: to,
                            stored: value
                        )
                    )
                case .erase(let key) where hook.scope.contains(key):
                    seen.append(
                        HookOperation(
                            kind: .erase,
                            key: key,
                            validFrom: .beginningOfTime,
                            validTo: nil,
                            stored: tombstone
                        )
                    )
                default:
                    break
                }
            }
            if seen.isEmpty { continue }
            let session = try work.open(for: hook)
            let record = try work.record(for: hook, txn, tables.facts, at: txTime)
            try session.runHook(hook, moduleRecord: record, operations: seen, txID: txID, txTime: txTime)
        }
    }

    /// Computes and stores the index keys of entries written by this transaction.
    static func updateIndex(
        _ index: ExtensionDefinition,
        _ entries: [IndexedEntry],
        _ txn: borrowing WriteTransaction,
        _ tables: Tables,
        txTime: Instant,
        _ work: inout CodeWork,
        textStats: inout [TxID: TextStore.Delta]
    ) throws {
        guard let table = tables.index else {
            throw LLMDBError(.readOnly, "the index table is missing; open the database writable once to create it")
        }
        if index.fullText {
            let documents = entries.map { e in
                guard e.stored.first == ValueTag.json.rawValue,
                    let doc = try? JSON.parse(Array(e.stored.dropFirst()))
                else { return (terms: [[UInt8]](), counts: [Int](), length: 0) }
                return TextAnalyzer.document(doc, path: index.jsonPath)
            }
            // Each posting also carries its writer's (valid_from, tx), term count and length,
            // so a search whose as-of version is that writer needs no other read.
            try IndexStore.write(index, entries: entries, keys: documents.map(\.terms), txn, table) { e, k in
                TextStore.postingExtra(entries[e], count: documents[e].counts[k], length: documents[e].length)
            }
            try TextStore.write(index, entries: entries, documents: documents, txn, table, stats: &textStats)
            return
        }
        // Tombstones emit no keys but still replace an earlier record at the same entry key.
        let keys: [[[UInt8]]]
        if let path = index.jsonPath {
            keys = entries.map { e in
                guard e.stored.first == ValueTag.json.rawValue,
                    let doc = try? JSON.parse(Array(e.stored.dropFirst()))
                else { return [] }
                return JSONIndexKey.keys(doc, path: path)
            }
        } else {
            let session = try work.open(for: index)
            let record = try work.record(for: index, txn, tables.facts, at: txTime)
            keys = try session.indexKeys(index, moduleRecord: record, entries: entries)
        }
        try IndexStore.write(index, entries: entries, keys: keys, txn, table)
    }

    /// Indexes defined, changed or removed in this transaction: drop their data, and build
    /// the live ones from every stored entry in their scope (all valid and transaction
    /// times, so that they answer as-of queries about the past too).
    static func rebuildIndexes(
        _ names: Set<String>,
        _ txn: borrowing WriteTransaction,
        _ tables: Tables,
        txID: TxID,
        txTime: Instant,
        _ work: inout CodeWork
    ) throws {
        guard let table = tables.index else {
            throw LLMDBError(.readOnly, "the index table is missing; open the database writable once to create it")
        }
        let now = try LiveExtensions.load(txn, tables.facts, at: txTime)
        for name in names.sorted() {
            try IndexStore.remove(name, key: nil, txn, table)
            try TextStore.remove(name, key: nil, txn, table)
            guard let index = now.indexes.first(where: { $0.name == name }) else { continue }
            let start = EntryKey.prefix(Key(index.scope.prefix, partition: index.scope.partition))
            let c = try txn.cursor(tables.facts)
            var page: [IndexedEntry] = []
            // Full-text statistics go to each entry's own transaction, written once all are
            // known, so that as-of searches before the definition rank as they would have.
            var stats: [TxID: TextStore.Delta] = [:]
            func flush() throws {
                guard !page.isEmpty else { return }
                try updateIndex(index, page, txn, tables, txTime: txTime, &work, textStats: &stats)
                page.removeAll(keepingCapacity: true)
            }
            var e = try start.withUnsafeBytes { try c.seek(atLeast: $0) }
            while let entry = e, EntryKey.hasPrefix(entry.key, start) {
                if entry.value.first != ValueTag.tombstone.rawValue, let d = EntryKey.decode(entry.key) {
                    page.append(
                        IndexedEntry(key: d.key, validFrom: d.validFrom, txID: d.tx, stored: Array(entry.value))
                    )
                }
                e = try c.next()
                if page.count == 1024 { try flush() }
            }
            try flush()
            if !stats.isEmpty { try TextStore.addStats(name, stats, txn, table) }
        }
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

    /// Writes an open-ended (`to == nil`) or ranged put or delete. Returns the entries written.
    static func put(
        _ key: Key,
        _ value: [UInt8],
        from start: Instant,
        to end: Instant?,
        _ txn: borrowing WriteTransaction,
        _ facts: Table,
        txID: TxID
    ) throws -> [(Instant, TxID, [UInt8])] {
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
        return writes
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

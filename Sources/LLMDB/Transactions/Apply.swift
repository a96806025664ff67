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
        if !live.hooks.isEmpty {
            var work = CodeWork(code)
            try runHooks(live.hooks, ops, txn, tables, txID: txID, txTime: txTime, &work)
        }
        var puts = 0
        var deletes = 0
        var erases = 0
        var written = 0
        var erased = 0
        var indexes = Maintainers(
            live.indexes,
            tables.kinds,
            txn.lent,
            facts: tables.facts,
            txID: txID,
            txTime: txTime,
            async: tables.async
        )
        var redefined: Set<String> = []
        for op in ops {
            switch op {
            case .put(let key, let value, let from, let to):
                if value == tombstone { deletes += 1 } else { puts += 1 }
                let writes = try put(key, value, from: from ?? txTime, to: to, txn, tables.facts, txID: txID)
                written += writes.count
                if !indexes.isEmpty {
                    for i in live.indexes.indices where live.indexes[i].scope.contains(key) {
                        try indexes.require(i)
                        for (vf, tx, v) in writes {
                            indexes.pending[i].append(IndexedEntry(key: key, validFrom: vf, txID: tx, stored: v))
                        }
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
                for i in live.indexes.indices where live.indexes[i].scope.contains(key) {
                    try indexes.require(i)
                    indexes.pending[i].removeAll { $0.key == key }
                    try indexes.erase(i, key)
                    if indexes.asynchronous[i] == true, let async = tables.async {
                        try AsyncIndexes.erase(key, live.indexes[i].name, txn.lent, async, facts: tables.facts)
                    }
                }
            }
        }
        for i in live.indexes.indices where !redefined.contains(live.indexes[i].name) {
            try indexes.finish(i)
        }
        if !redefined.isEmpty {
            try rebuildIndexes(redefined, txn, tables, txID: txID, txTime: txTime)
        }
        if indexes.queued { tables.indexer.poke() }
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

    /// The live indexes of one transaction, each with its kind's maintainer (made on first
    /// use) and the entries it has yet to be given.
    struct Maintainers {
        let definitions: [ExtensionDefinition]
        let state: IndexKinds.State
        let txn: LentTransaction
        let facts: Table
        let txID: TxID
        let txTime: Instant
        let async: Table?
        var maintainers: [(any IndexMaintainer)?]
        /// Per index, once required: whether it is asynchronous (its entries are queued).
        var asynchronous: [Bool?]
        var pending: [[IndexedEntry]]
        /// Whether this transaction queued work for the background builder.
        var queued = false

        init(
            _ definitions: [ExtensionDefinition],
            _ kinds: IndexKinds,
            _ txn: LentTransaction,
            facts: Table,
            txID: TxID,
            txTime: Instant,
            async: Table?
        ) {
            self.definitions = definitions
            self.state = definitions.isEmpty ? IndexKinds.State() : kinds.current
            self.txn = txn
            self.facts = facts
            self.txID = txID
            self.txTime = txTime
            self.async = async
            if definitions.isEmpty {
                // The common case (no index): no work for the allocator's entry points.
                maintainers = []
                asynchronous = []
                pending = []
            } else {
                maintainers = Array(repeating: nil, count: definitions.count)
                asynchronous = Array(repeating: nil, count: definitions.count)
                pending = Array(repeating: [], count: definitions.count)
            }
        }

        var isEmpty: Bool { definitions.isEmpty }

        /// The kind of `definition`, or the error that refuses a write it covers.
        static func kind(
            _ definition: ExtensionDefinition,
            _ state: IndexKinds.State
        ) throws(LLMDBError) -> any IndexKind {
            guard let kind = state.kind(of: definition) else {
                let which =
                    definition.isLegacyIndex
                    ? "its kind (it was defined before kinds had names\(definition.module.isEmpty ? "" : "; it runs a WebAssembly module"))"
                    : "its kind '\(definition.indexKind)'"
                throw LLMDBError(
                    .codeUnavailable,
                    "the index '\(definition.name)' covers this write, but \(which) is not registered with this database: open it with Database.Options.indexKinds, or the code runner (the WebAssembly layer) that brings it; nothing was written"
                )
            }
            return kind
        }

        func rows(_ i: Int) throws(LLMDBError) -> IndexRows {
            let d = definitions[i]
            return try IndexRows(
                txn,
                state.tables,
                kindTables: try Self.kind(d, state).tables,
                facts: facts,
                definition: d,
                txTime: txTime
            )
        }

        /// Makes sure index `i` can be maintained (its kind is registered), before any of it runs.
        /// An asynchronous index gets a maintainer only to erase.
        mutating func require(_ i: Int) throws {
            if asynchronous[i] != nil { return }
            let kind = try Self.kind(definitions[i], state)
            let isAsync = kind.maintenance(for: definitions[i]) == .asynchronous
            if !isAsync { maintainers[i] = try kind.maintainer(for: definitions[i]) }
            asynchronous[i] = isAsync
        }

        /// Erase runs now, whichever the index's maintenance: erased data leaves derived data
        /// in the erasing transaction.
        mutating func erase(_ i: Int, _ key: Key) throws {
            if maintainers[i] == nil {
                maintainers[i] = try Self.kind(definitions[i], state).maintainer(for: definitions[i])
            }
            try maintainers[i]!.erase(key, try rows(i))
        }

        /// Gives index `i` its pending entries, then finishes it; for an asynchronous index,
        /// queues them for the background builder instead.
        mutating func finish(_ i: Int) throws {
            if asynchronous[i] == true {
                if !pending[i].isEmpty {
                    guard let async else {
                        throw LLMDBError(
                            .readOnly,
                            "the asynchronous index table is missing; open the database writable once to create it"
                        )
                    }
                    let name = definitions[i].name
                    let entries = AsyncIndexes.leavingToBuild(pending[i], try AsyncIndexes.record(txn, async, name))
                    pending[i] = []
                    if !entries.isEmpty {
                        var key = AsyncIndexRecord.queuePrefix(name)
                        EntryKey.appendU64(txID, to: &key)
                        let value = AsyncIndexRecord.queueValue(entries)
                        try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try txn.put(async, k, v) } }
                        queued = true
                    }
                }
                if let m = maintainers[i] { try m.finish(try rows(i)) }
                return
            }
            guard let m = maintainers[i] else { return }
            let r = try rows(i)
            if !pending[i].isEmpty {
                try m.add(pending[i], r)
                pending[i] = []
            }
            try m.finish(r)
        }
    }

    /// Indexes defined, changed or removed in this transaction: drop their data, check the
    /// live ones with their kind, and build them from every stored entry in their scope (all
    /// valid and transaction times, so that they answer as-of queries about the past too).
    static func rebuildIndexes(
        _ names: Set<String>,
        _ txn: borrowing WriteTransaction,
        _ tables: Tables,
        txID: TxID,
        txTime: Instant
    ) throws {
        let state = tables.kinds.current
        let now = try LiveExtensions.load(txn, tables.facts, at: txTime)
        let lent = txn.lent
        for name in names.sorted() {
            // Every row with the index's name, in every table of every kind: the kind it had
            // before may not be the one it has now, nor registered.
            let own = IndexRows.ownBytes(name)
            for table in state.tables.values { try IndexRows.removeAll(own, lent, table) }
            if let async = tables.async { try AsyncIndexes.forget(name, txn, async) }
            guard let index = now.indexes.first(where: { $0.name == name }) else { continue }
            let kind = try Maintainers.kind(index, state)
            guard !index.isLegacyIndex else {
                throw LLMDBError(.invalidArgument, "the index '\(name)': a new definition must name its kind")
            }
            try kind.validate(index)
            if kind.maintenance(for: index) == .asynchronous {
                // The background builder builds it, in batches, over the entries up to this
                // transaction; later ones are queued for it.
                guard let async = tables.async else {
                    throw LLMDBError(
                        .readOnly,
                        "the asynchronous index table is missing; open the database writable once to create it"
                    )
                }
                let record = AsyncIndexRecord(phase: .building, horizon: txID, watermark: 0)
                try put(txn, async, AsyncIndexRecord.stateKey(name), record.encoded())
                tables.indexer.poke()
                continue
            }
            let maintainer = try kind.maintainer(for: index)
            let rows = try IndexRows(
                lent,
                state.tables,
                kindTables: kind.tables,
                facts: tables.facts,
                definition: index,
                txTime: txTime
            )
            let start = EntryKey.prefix(Key(index.scope.prefix, partition: index.scope.partition))
            let c = try txn.cursor(tables.facts)
            var page: [IndexedEntry] = []
            var e = try start.withUnsafeBytes { try c.seek(atLeast: $0) }
            while let entry = e, EntryKey.hasPrefix(entry.key, start) {
                // Tombstones emit nothing that a build needs (their entries have no rows).
                if entry.value.first != ValueTag.tombstone.rawValue, let d = EntryKey.decode(entry.key) {
                    page.append(
                        IndexedEntry(key: d.key, validFrom: d.validFrom, txID: d.tx, stored: Array(entry.value))
                    )
                }
                e = try c.next()
                if page.count == 1024 {
                    try maintainer.add(page, rows)
                    page.removeAll(keepingCapacity: true)
                }
            }
            if !page.isEmpty { try maintainer.add(page, rows) }
            try maintainer.finish(rows)
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

import Dispatch
import Foundation
import LLMDBStorage
import Synchronization

// Asynchronous indexes: an index whose kind says so (``IndexKind/maintenance(for:)``) is not
// maintained in the transaction that writes the facts, but by a background builder that
// catches up afterwards, so that expensive derived data (embeddings) never slows a write.
//
// What the seam keeps, in the core's table `index_async` (one LMDB table, in the same file):
//
// - a state record per asynchronous index, `[0x01][escaped name][00 00]`: its phase
//   (building, live, failed), the build's horizon and cursor, the watermark, counters, the
//   last error;
// - a queue row per transaction that wrote entries the index covers,
//   `[0x02][escaped name][00 00][tx u64 BE]`: the entry keys written, in order.
//
// The queue row commits with the facts; the builder's batches commit the index's rows, the
// queue rows they consumed and the new state together, in one writer transaction. So a
// crash at any point loses nothing and repeats nothing: the builder resumes where the last
// committed batch left off. Erase is not queued: it runs in the erasing transaction, as for
// synchronous indexes, so erased data leaves derived data at once.
//
// See docs/architecture.md ("Asynchronous indexes") and docs/storage-format.md.

/// How an index is kept in step with the facts.
public enum IndexMaintenance: String, Sendable, Hashable {
    /// In the writing transaction: the index commits or rolls back with the facts, and every
    /// read sees it exactly in step (the default).
    case synchronous
    /// By the background builder, after the writing transaction commits, in batches. Reads
    /// see the index as of its watermark (``AsyncIndexStatus/indexedThrough``); erase still
    /// runs in the erasing transaction.
    case asynchronous
}

/// The state of an asynchronous index, for `stats`, `/metrics` and readers that need to
/// know how far the index is behind the facts.
public struct AsyncIndexStatus: Sendable, Hashable {
    public enum Phase: String, Sendable, Hashable {
        /// Being built over the entries stored before it was defined.
        case building
        /// Built; catching up with commits (or caught up).
        case live
        /// Stopped at an error of its kind (``error``); redefine the index to rebuild it.
        case failed
    }

    public let name: String
    public let kind: String
    public let phase: Phase
    /// Every transaction up to this one is in the index (nil while building).
    public let indexedThrough: TxID?
    /// Transactions committed whose entries the index has yet to take (counted up to
    /// ``pendingCountLimit``: a count past it reads as the limit).
    public let pendingTransactions: Int
    /// Entries the build gave the index so far.
    public let builtEntries: UInt64
    /// Entries of later commits the builder gave the index.
    public let caughtUpEntries: UInt64
    /// The transaction the build covers (entries with a tx up to it; later ones are queued).
    public let buildHorizon: TxID
    /// Whether this database has the index's kind registered (without it nothing advances).
    public let kindRegistered: Bool
    /// What stopped a failed index.
    public let error: String?

    /// Whether the index holds every committed transaction.
    public var caughtUp: Bool { phase == .live && pendingTransactions == 0 }

    /// How many queued transactions a status counts at most: reading it stays cheap however
    /// far behind the index is.
    public static let pendingCountLimit = 100_000
}

/// The persisted state of one asynchronous index.
struct AsyncIndexRecord: Equatable {
    enum Phase: UInt8 {
        case building = 1
        case live = 2
        case failed = 3
    }

    static let version: UInt8 = 1
    static let stateTag: UInt8 = 0x01
    static let queueTag: UInt8 = 0x02

    var phase: Phase
    /// The build covers entries with tx ≤ horizon (the defining transaction).
    var horizon: TxID
    /// Every transaction ≤ watermark is in the index (meaningful once live).
    var watermark: TxID
    var built: UInt64 = 0
    var caughtUp: UInt64 = 0
    /// Building: the last fact key the build went past (empty: from the scope's start).
    var cursor: [UInt8] = []
    var error = ""

    func encoded() -> [UInt8] {
        var out: [UInt8] = [Self.version, phase.rawValue]
        EntryKey.appendU64(horizon, to: &out)
        EntryKey.appendU64(watermark, to: &out)
        EntryKey.appendU64(built, to: &out)
        EntryKey.appendU64(caughtUp, to: &out)
        EntryKey.appendU32(UInt32(cursor.count), to: &out)
        out += cursor
        out += Array(error.utf8)
        return out
    }

    static func decode(_ b: UnsafeRawBufferPointer) throws(LLMDBError) -> AsyncIndexRecord {
        guard b.count >= 2 + 32 + 4, b[0] == version, let phase = Phase(rawValue: b[1]) else {
            throw LLMDBError(.corrupted, "an asynchronous index's state record is malformed")
        }
        let n = Int(UInt32(bigEndian: b.loadUnaligned(fromByteOffset: 34, as: UInt32.self)))
        guard b.count >= 38 + n else {
            throw LLMDBError(.corrupted, "an asynchronous index's state record is truncated")
        }
        var r = AsyncIndexRecord(
            phase: phase,
            horizon: EntryKey.readU64(b, at: 2),
            watermark: EntryKey.readU64(b, at: 10)
        )
        r.built = EntryKey.readU64(b, at: 18)
        r.caughtUp = EntryKey.readU64(b, at: 26)
        r.cursor = Array(b[38..<(38 + n)])
        r.error = String(decoding: b[(38 + n)...], as: UTF8.self)
        return r
    }

    static func stateKey(_ name: String) -> [UInt8] { [stateTag] + IndexRows.ownBytes(name) }
    static func queuePrefix(_ name: String) -> [UInt8] { [queueTag] + IndexRows.ownBytes(name) }

    /// A queue row's value: each entry key, its length (u32 BE) first.
    static func queueValue(_ entries: [IndexedEntry]) -> [UInt8] {
        var out: [UInt8] = []
        for e in entries {
            let k = EntryKey.encode(e.key, validFrom: e.validFrom, tx: e.txID)
            EntryKey.appendU32(UInt32(k.count), to: &out)
            out += k
        }
        return out
    }

    static func queueKeys(_ b: UnsafeRawBufferPointer) throws(LLMDBError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i < b.count {
            guard i + 4 <= b.count else {
                throw LLMDBError(.corrupted, "an asynchronous index's queue row is malformed")
            }
            let n = Int(UInt32(bigEndian: b.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            guard i + 4 + n <= b.count else {
                throw LLMDBError(.corrupted, "an asynchronous index's queue row is truncated")
            }
            out.append(Array(b[(i + 4)..<(i + 4 + n)]))
            i += 4 + n
        }
        return out
    }
}

/// The background builder of a writable database's asynchronous indexes: a thread that,
/// when poked (a commit queued work, an index was defined, a kind was registered, the
/// database opened), submits batches to the writer until every index it can maintain is
/// caught up. Each batch is one writer job, so foreground writes interleave with it.
final class AsyncIndexer: Sendable {
    /// A batch ends after this many entries, or this much time, whichever comes first: it
    /// holds the single writer meanwhile.
    static let batchEntries = 1024
    static let batchMicroseconds: Int64 = 50_000

    private struct State {
        var stopped = false
        var requested = false
        var started = false
        var paused = false
        /// Whether the file may hold asynchronous indexes: until it does, nothing is submitted
        /// (a database without them never sees the builder's jobs).
        var mayHaveWork = false
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    /// Batches committed and steps that failed, since open (for stats).
    let batches = Atomic<Int>(0)

    init() {}

    /// Work was queued (a commit, a definition): asks for a round of catching up (cheap:
    /// coalesced while one is pending).
    func poke() { request(work: true) }

    /// Asks for a round of catching up if the file may hold asynchronous indexes (a kind
    /// was registered, a reader waits).
    func nudge() { request(work: false) }

    private func request(work: Bool) {
        let signal = state.withLock { s -> Bool in
            if work { s.mayHaveWork = true }
            guard s.started, !s.stopped, !s.requested, s.mayHaveWork else { return false }
            s.requested = true
            return true
        }
        if signal { wake.signal() }
    }

    /// Holds the builder after its current batch (tests use it to see an index behind).
    func pause(_ paused: Bool) {
        state.withLock { $0.paused = paused }
        if !paused { nudge() }
    }

    /// Starts the builder; `hasWork` says whether the file holds asynchronous indexes (their
    /// work left by a crash or by a process without their kind resumes now).
    func start(writer: Writer, tables: Tables, hasWork: Bool) {
        state.withLock {
            $0.started = true
            $0.mayHaveWork = hasWork
        }
        let thread = Thread { [self] in self.run(writer: writer, tables: tables) }
        thread.name = "llmdb-indexer"
        thread.start()
        nudge()
    }

    func stop() {
        let wasRunning = state.withLock { s -> Bool in
            let r = s.started && !s.stopped
            s.stopped = true
            return r
        }
        guard wasRunning else { return }
        wake.signal()
        // The indexer may be waiting for a batch on the writer thread: never wait there.
        let name = Thread.current.name
        if name != "llmdb-writer" && name != "llmdb-indexer" { finished.wait() }
    }

    private func run(writer: Writer, tables: Tables) {
        while true {
            wake.wait()
            let stopped = state.withLock { s -> Bool in
                s.requested = false
                return s.stopped
            }
            if stopped { break }
            while !state.withLock({ $0.stopped || $0.paused }) {
                let more = Flag()
                let job = Writer.Job { txn in more.value = try AsyncIndexes.step(txn, tables) }
                writer.submit(job)
                job.done.wait()
                guard case .success = job.result else { break }
                batches.add(1, ordering: .relaxed)
                if !more.value { break }
            }
        }
        finished.signal()
    }
}

/// Set by a batch on the writer thread, read by the indexer after the batch's `done`.
private final class Flag: @unchecked Sendable {
    var value = false
}

/// The builder's work and the readers' view of asynchronous indexes.
enum AsyncIndexes {
    /// One batch for each asynchronous index with work to do: the next part of its build, or
    /// the next queued transactions. Returns whether work remains.
    /// The indexes share one batch's budget (``AsyncIndexer/batchEntries`` and
    /// ``AsyncIndexer/batchMicroseconds``): the writer is held for one batch, not one per index.
    static func step(_ txn: borrowing WriteTransaction, _ tables: Tables) throws -> Bool {
        guard let table = tables.async else { return false }
        let kinds = tables.kinds.current
        let now = try Apply.lastTransaction(txn, tables)
        let live = try LiveExtensions.load(txn, tables.facts, at: now.time)
        var budget = Budget()
        var more = false
        for def in live.indexes {
            guard let before = try record(txn.lent, table, def.name) else { continue }
            guard before.phase != .failed, let kind = kinds.kind(of: def) else { continue }
            if budget.spent {
                more = true
                continue
            }
            var record = before
            let key = AsyncIndexRecord.stateKey(def.name)
            do {
                let remains = try txn.nested { (child: inout WriteTransaction) throws -> Bool in
                    let r =
                        record.phase == .building
                        ? try build(def, kind, &record, child, tables, kinds, &budget)
                        : try catchUp(def, kind, &record, child, tables, kinds, table, &budget)
                    // An idle index writes nothing: a step with no work commits an empty transaction.
                    if record != before { try put(child, table, key, record.encoded()) }
                    return r
                }
                more = more || remains
            } catch let error as LMDBError {
                // The storage's, not the kind's (a full map, a full transaction, an I/O error):
                // the writer grows the map or splits the group and the batch runs again, or the
                // builder tries again on its next round. The index does not fail for it.
                throw error
            } catch {
                // The kind refused: the index stops here, saying why, until it is redefined.
                var failed = before
                failed.phase = .failed
                failed.error = String(describing: error).prefix(500).description
                try put(txn, table, key, failed.encoded())
            }
        }
        return more
    }

    /// What one batch may still do, shared by every index it steps.
    struct Budget {
        let started = monotonicMicroseconds()
        var entries = 0

        var spent: Bool {
            entries >= AsyncIndexer.batchEntries
                || monotonicMicroseconds() - started > AsyncIndexer.batchMicroseconds
        }
    }

    /// The state record of index `name`; nil when it is not asynchronous.
    static func record(_ txn: LentTransaction, _ table: Table, _ name: String) throws -> AsyncIndexRecord? {
        try AsyncIndexRecord.stateKey(name).withUnsafeBytes { k in
            try txn.get(table, k).map { (b) throws(LLMDBError) in try AsyncIndexRecord.decode(b) }
        }
    }

    /// The entries of a committing transaction that a building index's queue must take:
    /// the build itself gives it those it has yet to reach. A ranged write restores the
    /// value in effect at its end under that value's own (older) tx; when that tx is within
    /// the build's horizon and the entry lies ahead of the build's cursor, queueing it too
    /// would give it twice.
    static func leavingToBuild(_ entries: [IndexedEntry], _ record: AsyncIndexRecord?) -> [IndexedEntry] {
        guard let record, record.phase == .building else { return entries }
        return entries.filter { e in
            guard e.txID <= record.horizon else { return true }
            if record.cursor.isEmpty { return false }
            let k = EntryKey.encode(e.key, validFrom: e.validFrom, tx: e.txID)
            return k.lexicographicallyPrecedes(record.cursor) || k == record.cursor
        }
    }

    /// Erases what the seam keeps of `key` for index `name`: its entries in the queue, and
    /// the build's cursor when it points into the key's entries (the cursor moves back to
    /// the entry before them, which the build has given already). Erase leaves no byte of
    /// the key in the file.
    static func erase(_ key: Key, _ name: String, _ txn: LentTransaction, _ table: Table, facts: Table) throws {
        let keyPrefix = EntryKey.keyPrefix(key)
        let queue = AsyncIndexRecord.queuePrefix(name)
        let c = try txn.cursor(table)
        var rewrites: [([UInt8], [UInt8])] = []
        var e = try queue.withUnsafeBytes { try c.seek(atLeast: $0) }
        while let row = e, EntryKey.hasPrefix(row.key, queue) {
            let keys = try AsyncIndexRecord.queueKeys(row.value)
            let kept = keys.filter { !$0.starts(with: keyPrefix) }
            if kept.count != keys.count {
                var value: [UInt8] = []
                for k in kept {
                    EntryKey.appendU32(UInt32(k.count), to: &value)
                    value += k
                }
                // The transaction stays queued (empty): the watermark still passes it in order.
                rewrites.append((Array(row.key), value))
            }
            e = try c.next()
        }
        for (k, v) in rewrites {
            try k.withUnsafeBytes { k in try v.withUnsafeBytes { v in try txn.put(table, k, v) } }
        }
        guard var record = try record(txn, table, name), record.cursor.starts(with: keyPrefix) else { return }
        // The entries before the erased key's: the build went past the last of them.
        let f = try txn.cursor(facts)
        let found = try keyPrefix.withUnsafeBytes { try f.seek(atLeast: $0) }
        let previous = found == nil ? try f.last() : try f.previous()
        // None: nothing is stored before the key, and the build starts again at its scope's start.
        record.cursor = previous.map { Array($0.key) } ?? []
        let value = record.encoded()
        try AsyncIndexRecord.stateKey(name).withUnsafeBytes { k in
            try value.withUnsafeBytes { v in try txn.put(table, k, v) }
        }
    }

    static func put(_ txn: borrowing WriteTransaction, _ table: Table, _ key: [UInt8], _ value: [UInt8]) throws {
        try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try txn.put(table, k, v) } }
    }

    static func rows(
        _ def: ExtensionDefinition,
        _ kind: any IndexKind,
        _ txn: borrowing WriteTransaction,
        _ tables: Tables,
        _ kinds: IndexKinds.State,
        txTime: Instant
    ) throws -> IndexRows {
        try IndexRows(
            txn.lent,
            kinds.tables,
            kindTables: kind.tables,
            facts: tables.facts,
            definition: def,
            txTime: txTime
        )
    }

    /// The next part of the build: entries after the cursor, up to the horizon. Returns
    /// whether the build goes on.
    static func build(
        _ def: ExtensionDefinition,
        _ kind: any IndexKind,
        _ record: inout AsyncIndexRecord,
        _ txn: borrowing WriteTransaction,
        _ tables: Tables,
        _ kinds: IndexKinds.State,
        _ budget: inout Budget
    ) throws -> Bool {
        let maintainer = try kind.maintainer(for: def)
        let time = try transactionTime(txn, tables, record.horizon)
        let rows = try rows(def, kind, txn, tables, kinds, txTime: time)
        let start = EntryKey.prefix(Key(def.scope.prefix, partition: def.scope.partition))
        let c = try txn.cursor(tables.facts)
        var e: Cursor.Entry?
        if record.cursor.isEmpty {
            e = try start.withUnsafeBytes { try c.seek(atLeast: $0) }
        } else {
            e = try record.cursor.withUnsafeBytes { try c.seek(atLeast: $0) }
            if let cur = e, record.cursor.withUnsafeBytes({ EntryKey.same(cur.key, $0) }) { e = try c.next() }
        }
        // Entries go to the kind in chunks, so that the budget's clock is read between them
        // (an expensive kind, an embedder, takes milliseconds per chunk).
        var page: [IndexedEntry] = []
        var visited = 0
        var last: [UInt8]? = nil
        while let entry = e, EntryKey.hasPrefix(entry.key, start) {
            visited += 1
            let times = EntryKey.times(entry.key)
            // Later entries are in the queue; tombstones have no rows (as in a synchronous build).
            if times.tx <= record.horizon, entry.value.first != ValueTag.tombstone.rawValue,
                let d = EntryKey.decode(entry.key)
            {
                page.append(IndexedEntry(key: d.key, validFrom: d.validFrom, txID: d.tx, stored: Array(entry.value)))
            }
            if page.count == Self.buildChunk {
                try maintainer.add(page, rows)
                record.built += UInt64(page.count)
                budget.entries += page.count
                page.removeAll(keepingCapacity: true)
            }
            if visited >= 4 * AsyncIndexer.batchEntries || (visited % Self.buildChunk == 0 && budget.spent) {
                last = Array(entry.key)
                break
            }
            e = try c.next()
        }
        if !page.isEmpty {
            try maintainer.add(page, rows)
            record.built += UInt64(page.count)
            budget.entries += page.count
        }
        try maintainer.finish(rows)
        if let last {
            record.cursor = last
            return true
        }
        record.cursor = []
        record.phase = .live
        record.watermark = record.horizon
        return try hasQueue(tables.async!, def.name, txn)
    }

    /// The next queued transactions, in commit order, each given to the index as a
    /// synchronous one would have been: its entries (those not erased since), then finish.
    static func catchUp(
        _ def: ExtensionDefinition,
        _ kind: any IndexKind,
        _ record: inout AsyncIndexRecord,
        _ txn: borrowing WriteTransaction,
        _ tables: Tables,
        _ kinds: IndexKinds.State,
        _ table: Table,
        _ budget: inout Budget
    ) throws -> Bool {
        let prefix = AsyncIndexRecord.queuePrefix(def.name)
        let c = try txn.cursor(table)
        let facts = try txn.cursor(tables.facts)
        while !budget.spent, let row = try prefix.withUnsafeBytes({ try c.seek(atLeast: $0) }),
            EntryKey.hasPrefix(row.key, prefix)
        {
            guard row.key.count == prefix.count + 8 else {
                throw LLMDBError(.corrupted, "an asynchronous index's queue key is malformed")
            }
            let tx = EntryKey.readU64(row.key, at: prefix.count)
            let keys = try AsyncIndexRecord.queueKeys(row.value)
            try c.deleteCurrent()
            var entries: [IndexedEntry] = []
            var seen = Set<[UInt8]>()
            // An entry written twice in one transaction (same key, valid_from and tx) is given once.
            for k in keys where seen.insert(k).inserted {
                // An entry erased since it was queued is gone: it has no rows to get.
                guard let v = try k.withUnsafeBytes({ try facts.seek(atLeast: $0) }),
                    k.withUnsafeBytes({ EntryKey.same(v.key, $0) }),
                    let d = EntryKey.decode(v.key)
                else { continue }
                entries.append(IndexedEntry(key: d.key, validFrom: d.validFrom, txID: d.tx, stored: Array(v.value)))
            }
            // A maintainer per transaction, as the transaction itself would have made.
            let maintainer = try kind.maintainer(for: def)
            let rows = try rows(def, kind, txn, tables, kinds, txTime: try transactionTime(txn, tables, tx))
            if !entries.isEmpty { try maintainer.add(entries, rows) }
            try maintainer.finish(rows)
            record.caughtUp += UInt64(entries.count)
            record.watermark = tx
            budget.entries += max(entries.count, 1)
        }
        return try hasQueue(table, def.name, txn)
    }

    /// How many entries a build gives its kind at a time.
    static let buildChunk = 64

    static func hasQueue(_ table: Table, _ name: String, _ txn: borrowing WriteTransaction) throws -> Bool {
        let prefix = AsyncIndexRecord.queuePrefix(name)
        let c = try txn.cursor(table)
        guard let row = try prefix.withUnsafeBytes({ try c.seek(atLeast: $0) }) else { return false }
        return EntryKey.hasPrefix(row.key, prefix)
    }

    static func transactionTime(_ txn: borrowing WriteTransaction, _ tables: Tables, _ tx: TxID) throws -> Instant {
        var k: [UInt8] = []
        EntryKey.appendU64(tx, to: &k)
        guard let v = try k.withUnsafeBytes({ try txn.get(tables.txlog, $0) }), let t = TransactionRecord.time(v)
        else { return .beginningOfTime }
        return t
    }

    /// Removes what the seam keeps for index `name` (its state and queue).
    static func forget(_ name: String, _ txn: borrowing WriteTransaction, _ table: Table) throws {
        _ = try AsyncIndexRecord.stateKey(name).withUnsafeBytes { try txn.delete(table, $0) }
        let prefix = AsyncIndexRecord.queuePrefix(name)
        let c = try txn.cursor(table)
        while let row = try prefix.withUnsafeBytes({ try c.seek(atLeast: $0) }), EntryKey.hasPrefix(row.key, prefix) {
            try c.deleteCurrent()
        }
    }
}

extension Snapshot {
    /// The state of every asynchronous index, as this snapshot's latest state holds it.
    public func asyncIndexes() throws -> [AsyncIndexStatus] {
        guard let table = db.asyncTable else { return [] }
        let kinds = db.indexKinds.current
        var out: [AsyncIndexStatus] = []
        for f in try scan(prefix: LiveExtensions.indexPrefix) {
            guard let v = f.value else { continue }
            let name = String(decoding: f.key.bytes.dropFirst(LiveExtensions.indexPrefix.bytes.count), as: UTF8.self)
            guard let def = ExtensionDefinition.decode(kind: .index, name: name, value: v),
                let status = try asyncStatus(def, table, kinds)
            else { continue }
            out.append(status)
        }
        return out
    }

    /// The state of the asynchronous index `name`; nil when there is no such index or it is
    /// synchronous.
    public func asyncIndex(named name: String) throws -> AsyncIndexStatus? {
        guard let table = db.asyncTable, let v = try get(.index(name))?.value,
            let def = ExtensionDefinition.decode(kind: .index, name: name, value: v)
        else { return nil }
        return try asyncStatus(def, table, db.indexKinds.current)
    }

    func asyncStatus(
        _ def: ExtensionDefinition,
        _ table: Table,
        _ kinds: IndexKinds.State
    ) throws -> AsyncIndexStatus? {
        guard
            let record = try AsyncIndexRecord.stateKey(def.name).withUnsafeBytes({ k in
                try tx.get(table, k).map { (b) throws(LLMDBError) in try AsyncIndexRecord.decode(b) }
            })
        else { return nil }
        let prefix = AsyncIndexRecord.queuePrefix(def.name)
        let c = try tx.cursor(table)
        var pending = 0
        var first: TxID? = nil
        var e = try prefix.withUnsafeBytes { try c.seek(atLeast: $0) }
        while let row = e, EntryKey.hasPrefix(row.key, prefix), pending < AsyncIndexStatus.pendingCountLimit {
            if first == nil, row.key.count == prefix.count + 8 { first = EntryKey.readU64(row.key, at: prefix.count) }
            pending += 1
            e = try c.next()
        }
        let latest = try Snapshot.lastTransaction(tx, db).id
        let through: TxID? =
            switch record.phase {
            case .building: nil
            case .failed: record.watermark
            case .live: first.map { $0 - 1 } ?? latest
            }
        let kind = kinds.kind(of: def)
        return AsyncIndexStatus(
            name: def.name,
            kind: kind?.name ?? def.indexKind,
            phase: AsyncIndexStatus.Phase(rawValue: "\(record.phase)")!,
            indexedThrough: through,
            pendingTransactions: pending,
            builtEntries: record.built,
            caughtUpEntries: record.caughtUp,
            buildHorizon: record.horizon,
            kindRegistered: kind != nil,
            error: record.error.isEmpty ? nil : record.error
        )
    }
}

extension Database {
    /// Holds the background index builder after its current batch, or lets it go on: for
    /// tests that need an asynchronous index behind the facts.
    @_spi(Testing) public func pauseAsyncIndexing(_ paused: Bool) {
        indexer.pause(paused)
    }

    /// Runs one batch of the background builder now, held or not: for tests that need an
    /// index part-way through its build. Returns whether work remains.
    @_spi(Testing) public func runAsyncIndexBatch() throws -> Bool {
        let more = Flag()
        let tables = writerTables
        let job = Writer.Job { txn in more.value = try AsyncIndexes.step(txn, tables) }
        writer.submit(job)
        job.done.wait()
        _ = try job.result!.get()
        return more.value
    }

    /// The state of every asynchronous index (see ``IndexMaintenance/asynchronous``).
    public func asyncIndexes() throws -> [AsyncIndexStatus] {
        try read { try $0.asyncIndexes() }
    }

    /// Waits until every asynchronous index whose kind is registered holds every transaction
    /// committed before the call (or has failed), at most `timeout`. Returns whether it did
    /// (at once in a read-only database, where no builder runs).
    /// For tests, imports and readers that must see their own writes in such an index.
    @discardableResult
    public func waitForAsyncIndexes(timeout: Duration = .seconds(30)) throws -> Bool {
        let target = try read { s in try Snapshot.lastTransaction(s.tx, self).id }
        // Read-only, nothing builds: say how it stands now.
        let patience = options.readOnly ? .zero : timeout
        let deadline = ContinuousClock.now + patience
        while true {
            let done = try read { s in
                try s.asyncIndexes().allSatisfy {
                    !$0.kindRegistered || $0.phase == .failed || ($0.indexedThrough ?? 0) >= target
                }
            }
            if done { return true }
            if ContinuousClock.now >= deadline { return false }
            // A poke, not a nudge: the builder may not know yet that the file has such indexes.
            indexer.poke()
            Thread.sleep(forTimeInterval: 0.002)
        }
    }
}

import LLMDBStorage
import Synchronization

/// Sizes and counts of a database.
public struct DatabaseStats: Sendable, Hashable {
    public let path: String
    public let fileSize: Int
    public let mapSize: Int
    public let maxMapSize: Int
    public let pageSize: Int
    public let entries: Int
    public let transactions: Int
    public let lastTxID: TxID
    public let lastTxTime: Instant?
    public let readers: Int
    public let maxReaders: Int
    public let formatVersion: UInt32
    /// Group commits since this process opened the database, and the jobs they held.
    public let groupCommits: Int
    public let groupedWrites: Int
    /// The asynchronous indexes and how far behind the facts each is.
    public let asyncIndexes: [AsyncIndexStatus]
    /// Batches the background builder committed since this process opened the database.
    public let asyncIndexBatches: Int
}

/// What ``Database/verify()`` found.
public struct VerifyReport: Sendable {
    public var entries = 0
    public var keys = 0
    public var transactions = 0
    /// Indexes checked against the facts by their kind (``IndexKind/verify(_:_:)``).
    public var indexesChecked = 0
    /// Indexes whose kind is not registered with this database, so not checked.
    public var indexesUnchecked: [String] = []
    /// Asynchronous indexes not checked because they are behind the facts (building, with
    /// transactions queued, or failed: see ``Database/asyncIndexes()``).
    public var indexesBehind: [String] = []
    /// Each problem found, in words (no keys or values).
    public var problems: [String] = []
    public var ok: Bool { problems.isEmpty }
}

extension Database {
    /// Counts and sizes.
    public func stats() throws -> DatabaseStats {
        try read { s in
            let factStat = try s.tx.stat(facts)
            let logStat = try s.tx.stat(txlog)
            let last = try Snapshot.lastTransaction(s.tx, self)
            let info = env.info()
            var st = stat()
            let size = stat(path, &st) == 0 ? Int(st.st_size) : 0
            return DatabaseStats(
                path: path,
                fileSize: size,
                mapSize: info.mapSize,
                maxMapSize: env.options.maxMapSize,
                pageSize: env.pageSize,
                entries: factStat.entries,
                transactions: logStat.entries,
                lastTxID: last.id,
                lastTxTime: last.id == 0 ? nil : last.time,
                readers: info.readers,
                maxReaders: info.maxReaders,
                formatVersion: Database.formatVersion,
                groupCommits: writer.batches.load(ordering: .relaxed),
                groupedWrites: writer.batchedJobs.load(ordering: .relaxed),
                asyncIndexes: try s.asyncIndexes(),
                asyncIndexBatches: indexer.batches.load(ordering: .relaxed)
            )
        }
    }

    /// Checks the whole file: every fact key decodes, every value has a known tag and a
    /// well-formed payload, every fact's tx is in the log, the log's ids and times strictly
    /// increase, and the time index matches the log.
    public func verify() throws -> VerifyReport {
        try read { s in
            var report = VerifyReport()
            // The log.
            var times: [TxID: Instant] = [:]
            var c = try s.tx.cursor(txlog)
            var e = try c.first()
            var previous: (TxID, Instant)? = nil
            while let cur = e {
                report.transactions += 1
                guard cur.key.count == 8 else {
                    report.problems.append("a transaction log key is \(cur.key.count) bytes, not 8")
                    e = try c.next()
                    continue
                }
                let id = EntryKey.readU64(cur.key, at: 0)
                do {
                    let r = try TransactionRecord.decode(txID: id, cur.value)
                    if let (pid, pt) = previous {
                        if id != pid + 1 { report.problems.append("transaction ids jump from \(pid) to \(id)") }
                        if r.txTime <= pt {
                            report.problems.append("transaction \(id)'s time is not after transaction \(pid)'s")
                        }
                    }
                    previous = (id, r.txTime)
                    times[id] = r.txTime
                } catch {
                    report.problems.append("\(error)")
                }
                e = try c.next()
            }
            // The time index.
            c = try s.tx.cursor(txtime)
            e = try c.first()
            var indexed = 0
            while let cur = e {
                indexed += 1
                if cur.key.count != 8 || cur.value.count != 8 {
                    report.problems.append("a transaction time index entry is malformed")
                } else {
                    let t = EntryKey.instant(fromBits: EntryKey.readU64(cur.key, at: 0))
                    let id = EntryKey.readU64(cur.value, at: 0)
                    if times[id] != t {
                        report.problems.append("the time index disagrees with the log for transaction \(id)")
                    }
                }
                e = try c.next()
            }
            if indexed != times.count {
                report.problems.append("the time index has \(indexed) entries; the log has \(times.count)")
            }
            // The facts.
            c = try s.tx.cursor(facts)
            e = try c.first()
            var lastKeyPart: [UInt8] = []
            var badTags = 0
            var badPayloads = 0
            var badKeys = 0
            var orphans = 0
            var unordered = 0
            var previousKey: [UInt8] = []
            while let cur = e {
                report.entries += 1
                let key = Array(cur.key)
                if report.entries > 1 && !previousKey.lexicographicallyPrecedes(key) { unordered += 1 }
                previousKey = key
                if let d = EntryKey.decode(cur.key) {
                    let part = Array(cur.key[0..<EntryKey.keyPartLength(cur.key)])
                    if part != lastKeyPart {
                        report.keys += 1
                        lastKeyPart = part
                    }
                    if times[d.tx] == nil { orphans += 1 }
                } else {
                    badKeys += 1
                }
                do {
                    if let v = try Value.decode(stored: cur.value) { _ = try v.jsonTree() }
                } catch let error as LLMDBError where error.code == .unknownValueTag {
                    badTags += 1
                } catch {
                    badPayloads += 1
                }
                e = try c.next()
            }
            if badKeys > 0 { report.problems.append("\(badKeys) fact keys are malformed") }
            if unordered > 0 { report.problems.append("\(unordered) fact keys are out of order") }
            if badTags > 0 { report.problems.append("\(badTags) values have an unknown type tag") }
            if badPayloads > 0 { report.problems.append("\(badPayloads) values do not decode as their type says") }
            if orphans > 0 { report.problems.append("\(orphans) entries name a transaction that is not in the log") }
            // Derived data: each index, by its kind, against the facts.
            let kinds = indexKinds.current
            for f in try s.scan(prefix: LiveExtensions.indexPrefix) {
                guard let v = f.value else { continue }
                let name = String(
                    decoding: f.key.bytes.dropFirst(LiveExtensions.indexPrefix.bytes.count),
                    as: UTF8.self
                )
                guard let def = ExtensionDefinition.decode(kind: .index, name: name, value: v) else {
                    report.problems.append("the index definition '\(name)' is malformed")
                    continue
                }
                guard let kind = kinds.kind(of: def) else {
                    report.indexesUnchecked.append(def.name)
                    continue
                }
                // An asynchronous index behind the facts is checked once it has caught up.
                if let table = asyncTable, let status = try s.asyncStatus(def, table, kinds), !status.caughtUp {
                    report.indexesBehind.append(def.name)
                    continue
                }
                report.indexesChecked += 1
                report.problems += try kind.verify(def, s)
            }
            return report
        }
    }

    #if LLMDB_INTERNAL_CHECKS
    /// Stops the process if ``verify()`` finds a problem: entry keys strictly increasing and
    /// decodable (so (key, valid_from, tx) is unique), known value tags, a gap-free log with
    /// increasing times, an index that matches it. Built only with `-D LLMDB_INTERNAL_CHECKS`
    /// (`scripts/test.sh` runs the semantic suites that way); the writer calls it after every
    /// group commit.
    func _checkInvariants() {
        do {
            let report = try verify()
            precondition(report.ok, "LLMDB invariant broken: \(report.problems)")
        } catch {
            preconditionFailure("LLMDB invariant check failed: \(error)")
        }
    }
    #endif

    /// A hot, compacting copy of the database into a new file at `destination` (which must
    /// not exist). Writers go on meanwhile; the copy is the state of one snapshot.
    public func backup(to destination: String) throws {
        var st = stat()
        if stat(destination, &st) == 0 {
            throw LLMDBError(.invalidArgument, "\(destination) already exists; a backup never overwrites a file")
        }
        do {
            try env.copy(to: destination, compact: true)
        } catch {
            throw LLMDBError.storage(error, "backup to \(destination) failed")
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

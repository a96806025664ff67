import LLMDBStorage

/// The hooks and indexes in effect in the writer's transaction.
struct LiveExtensions {
    var hooks: [ExtensionDefinition] = []
    var indexes: [ExtensionDefinition] = []

    var isEmpty: Bool { hooks.isEmpty && indexes.isEmpty }

    static let hookPrefix = Key("_meta/hook/", partition: Key.systemPartition)
    static let indexPrefix = Key("_meta/index/", partition: Key.systemPartition)

    /// The definitions in effect at valid time `at`, as of the latest state in `txn`.
    static func load(_ txn: borrowing WriteTransaction, _ facts: Table, at: Instant) throws -> LiveExtensions {
        var live = LiveExtensions()
        let c = try txn.cursor(facts)
        for (kind, prefix) in [(ExtensionDefinition.Kind.hook, hookPrefix), (.index, indexPrefix)] {
            for (key, value) in try liveFacts(c, prefix: prefix, at: at) {
                let name = String(decoding: key.bytes.dropFirst(prefix.bytes.count), as: UTF8.self)
                guard let def = ExtensionDefinition.decode(kind: kind, name: name, value: value) else {
                    throw LLMDBError(.corrupted, "the \(kind.rawValue) definition '\(name)' is malformed")
                }
                if kind == .hook { live.hooks.append(def) } else { live.indexes.append(def) }
            }
        }
        return live
    }

    /// Every key under `prefix` with a value in effect at `at` (latest transaction state).
    /// Entries of a key are ordered by (valid_from, tx): the last one with valid_from ≤ at wins.
    static func liveFacts(_ c: borrowing Cursor, prefix: Key, at: Instant) throws -> [(Key, Value)] {
        let start = EntryKey.prefix(prefix)
        var out: [(Key, Value)] = []
        var e = try start.withUnsafeBytes { try c.seek(atLeast: $0) }
        while let first = e, EntryKey.hasPrefix(first.key, start) {
            let part = Array(first.key[0..<(first.key.count - 16)])
            var best: [UInt8]? = nil
            var cur: Cursor.Entry? = first
            while let x = cur, x.key.count == part.count + 16,
                part.withUnsafeBytes({ memcmpEqual($0, x.key, count: part.count) })
            {
                if EntryKey.times(x.key).validFrom <= at { best = Array(x.value) }
                cur = try c.next()
            }
            e = cur
            guard let best else { continue }
            let full = part + [UInt8](repeating: 0, count: 16)
            guard let d = full.withUnsafeBytes({ EntryKey.decode($0) }) else {
                throw LLMDBError(.corrupted, "a system key is malformed")
            }
            if let v = try best.withUnsafeBytes({ (b) throws(LLMDBError) in try Value.decode(stored: b) }) {
                out.append((d.key, v))
            }
        }
        return out
    }

    /// The stored record of module `sha256` in effect at `at`, or nil when absent or removed.
    static func moduleRecord(
        _ txn: borrowing WriteTransaction,
        _ facts: Table,
        _ sha256: String,
        at: Instant
    ) throws
        -> [UInt8]?
    {
        let c = try txn.cursor(facts)
        guard let e = try Apply.inEffect(c, prefix: EntryKey.keyPrefix(.code(sha256)), at: at),
            e.value.first != ValueTag.tombstone.rawValue
        else { return nil }
        return e.value
    }
}

/// The code work of one transaction: a session opened on first use, module records
/// fetched once per module.
struct CodeWork: ~Copyable {
    let runner: (any CodeRunner)?
    var session: (any CodeSession)? = nil
    var records: [String: [UInt8]] = [:]

    init(_ runner: (any CodeRunner)?) { self.runner = runner }

    mutating func open(for def: ExtensionDefinition) throws(LLMDBError) -> any CodeSession {
        if let session { return session }
        guard let runner else {
            throw LLMDBError(
                .codeUnavailable,
                "the \(def.kind.rawValue) '\(def.name)' covers this write, but the database was opened without the WebAssembly layer (Database.Options.codeRunner); nothing was written"
            )
        }
        let s = runner.session()
        session = s
        return s
    }

    mutating func record(
        for def: ExtensionDefinition,
        _ txn: borrowing WriteTransaction,
        _ facts: Table,
        at: Instant
    ) throws -> [UInt8] {
        if let r = records[def.module] { return r }
        guard let r = try LiveExtensions.moduleRecord(txn, facts, def.module, at: at) else {
            throw LLMDBError(
                .notFound,
                "the \(def.kind.rawValue) '\(def.name)' uses module '\(def.moduleName)' (sha256 \(def.module.prefix(12))…), which was removed; remove the \(def.kind.rawValue) or add the module again; nothing was written"
            )
        }
        records[def.module] = r
        return r
    }
}

/// Bitemporal postings for index kinds whose rows are index keys per stored entry (JSON-path,
/// full-text and WebAssembly indexes), in their kind's table (see docs/storage-format.md):
/// - posting `[0x01][escaped name][00 00][escaped index key][00 00][partition][escaped user key][00 00]`
///   → the smallest tx of an entry that emitted the index key (u64 BE), then the kind's bytes;
/// - entry record `[0x02][escaped name][00 00][the entry's facts key]` → the index keys the
///   entry emitted (`[u32 BE length][bytes]` each).
///
/// A lookup of index key I as of (V, T) (``Snapshot/lookup(index:key:limit:)``) takes the
/// postings of I with tx ≤ T as candidates, reads each candidate key as of (V, T), and keeps
/// it when the entry in effect emitted I. The answer is therefore exactly the keys whose
/// value as of (V, T) emits I: the index is bitemporal without a second copy of the time
/// semantics. Tags 0x01 and 0x02 are this layout's; a kind that uses it may add others.
package enum IndexStore {
    package static let postingTag: UInt8 = 0x01
    package static let entryTag: UInt8 = 0x02

    package static func escaped(_ bytes: some Sequence<UInt8>, into out: inout [UInt8]) {
        for b in bytes {
            out.append(b)
            if b == 0 { out.append(0xFF) }
        }
        out.append(0)
        out.append(0)
    }

    /// `[tag][escaped name][00 00]`.
    package static func namePrefix(_ tag: UInt8, _ name: String) -> [UInt8] {
        var out: [UInt8] = [tag]
        escaped(name.utf8, into: &out)
        return out
    }

    /// `[0x01][name][index key]`: the postings of one index key.
    package static func postingPrefix(_ name: String, _ indexKey: [UInt8]) -> [UInt8] {
        var out = namePrefix(postingTag, name)
        escaped(indexKey, into: &out)
        return out
    }

    static func encodeKeys(_ keys: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for k in keys {
            EntryKey.appendU32(UInt32(k.count), to: &out)
            out += k
        }
        return out
    }

    package static func decodeKeys(_ p: UnsafeRawBufferPointer) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i + 4 <= p.count {
            let n = Int(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            i += 4
            guard i + n <= p.count else { break }
            out.append(Array(p[i..<(i + n)]))
            i += n
        }
        return out
    }

    package static func contains(_ p: UnsafeRawBufferPointer, _ key: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        while i + 4 <= p.count {
            let n = Int(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            i += 4
            guard i + n <= p.count else { return false }
            if n == key.count && memcmpEqual(UnsafeRawBufferPointer(rebasing: p[i..<(i + n)]), key, count: n) {
                return true
            }
            i += n
        }
        return false
    }

    /// Records the index keys of written entries: for each entry, its record (replacing an
    /// earlier one at the same entry key) and a posting per key. Tombstones emit no keys but
    /// still replace an earlier record at the same entry key.
    /// `extra`, when given, returns bytes appended to the posting value of an entry's index
    /// key (by entry and key position): full-text indexes keep the writer's term count there.
    package static func write(
        entries: [IndexedEntry],
        keys: [[[UInt8]]],
        _ rows: borrowing IndexRows,
        extra: ((Int, Int) -> [UInt8])? = nil
    ) throws {
        let name = rows.definition.name
        guard keys.count == entries.count else {
            throw LLMDBError(
                .codeFailed,
                "index '\(name)': the code returned keys for \(keys.count) of \(entries.count) records"
            )
        }
        let entryPrefix = rows.prefix(entryTag)
        let postingNamePrefix = rows.prefix(postingTag)
        for (entryIndex, (entry, emitted)) in zip(entries, keys).enumerated() {
            let recordKey = entryPrefix + EntryKey.encode(entry.key, validFrom: entry.validFrom, tx: entry.txID)
            if recordKey.count <= Key.lmdbKeyLimit {
                try rows.delete(recordKey)
            }
            if emitted.isEmpty { continue }
            var longest = 0
            for k in emitted {
                var n = k.count
                for b in k where b == 0 { n += 1 }
                longest = max(longest, n)
            }
            let postingLength = entryPrefix.count + 2 + longest + EntryKey.keyPrefix(entry.key).count
            if recordKey.count > Key.lmdbKeyLimit || postingLength > Key.lmdbKeyLimit {
                throw LLMDBError(
                    .keyTooLong,
                    "index '\(name)' cannot store the key '\(entry.key)' (\(entry.key.bytes.count) bytes) with its index key (\(longest) bytes): together with the index name they exceed LMDB's \(Key.lmdbKeyLimit)-byte key limit; nothing was written"
                )
            }
            try rows.put(recordKey, encodeKeys(emitted))
            let keyPart = EntryKey.keyPrefix(entry.key)
            var done: Set<[UInt8]> = []
            for (keyIndex, k) in emitted.enumerated() where done.insert(k).inserted {
                var posting = postingNamePrefix
                escaped(k, into: &posting)
                posting += keyPart
                var tx = entry.txID
                if let old = try rows.get(posting), old.count >= 8 {
                    tx = min(tx, EntryKey.readU64(old, at: 0))
                }
                var v: [UInt8] = []
                EntryKey.appendU64(tx, to: &v)
                if let extra { v += extra(entryIndex, keyIndex) }
                try rows.put(posting, v)
            }
        }
    }

    /// Removes an index's entry records and postings of one key (erase).
    package static func remove(key: Key, _ rows: borrowing IndexRows) throws {
        let part = EntryKey.keyPrefix(key)
        let entryPrefix = rows.prefix(entryTag) + part
        var postings: [[UInt8]] = []
        let postingNamePrefix = rows.prefix(postingTag)
        try rows.withCursor { c in
            while let e = try c.seek(atLeast: entryPrefix), EntryKey.hasPrefix(e.key, entryPrefix) {
                for k in decodeKeys(e.value) {
                    var p = postingNamePrefix
                    escaped(k, into: &p)
                    postings.append(p + part)
                }
                try c.deleteCurrent()
            }
        }
        for p in postings { try rows.delete(p) }
    }

    /// The problems of an index of this layout against the facts as of `snapshot`: every
    /// stored entry in its scope must have the record `keys` gives it (none when it gives no
    /// keys), with a posting per key whose tx is at most the entry's.
    package static func verify(
        _ definition: ExtensionDefinition,
        _ snapshot: borrowing Snapshot,
        keys: ([IndexedEntry]) throws -> [[[UInt8]]]
    ) throws -> [String] {
        guard let table = snapshot.db.indexKinds.current.tables[IndexKinds.sharedTable] else { return [] }
        var problems: [String] = []
        let name = definition.name
        let entryPrefix = namePrefix(entryTag, name)
        let start = EntryKey.prefix(Key(definition.scope.prefix, partition: definition.scope.partition))
        let c = try snapshot.tx.cursor(snapshot.db.facts)
        var page: [IndexedEntry] = []
        func check() throws {
            guard !page.isEmpty else { return }
            let want = try keys(page)
            for (entry, emitted) in zip(page, want) {
                let recordKey = entryPrefix + EntryKey.encode(entry.key, validFrom: entry.validFrom, tx: entry.txID)
                let record = try recordKey.withUnsafeBytes { try snapshot.tx.get(table, $0) }.map { decodeKeys($0) }
                if (record ?? []) != (emitted.isEmpty ? [] : emitted) {
                    problems.append(
                        "index '\(name)': the entry of '\(entry.key)' at tx \(entry.txID) has \(record.map { "\($0.count)" } ?? "no") index keys recorded; its value gives \(emitted.count)"
                    )
                }
                for k in emitted {
                    let posting = postingPrefix(name, k) + EntryKey.keyPrefix(entry.key)
                    let v = try posting.withUnsafeBytes { try snapshot.tx.get(table, $0) }
                    if v == nil || v!.count < 8 || EntryKey.readU64(v!, at: 0) > entry.txID {
                        problems.append("index '\(name)': a posting of '\(entry.key)' (tx \(entry.txID)) is missing")
                    }
                }
                if problems.count >= 100 { break }
            }
            page.removeAll(keepingCapacity: true)
        }
        var e = try start.withUnsafeBytes { try c.seek(atLeast: $0) }
        while let entry = e, EntryKey.hasPrefix(entry.key, start), problems.count < 100 {
            if entry.value.first != ValueTag.tombstone.rawValue, let d = EntryKey.decode(entry.key) {
                page.append(IndexedEntry(key: d.key, validFrom: d.validFrom, txID: d.tx, stored: Array(entry.value)))
            }
            e = try c.next()
            if page.count == 1024 { try check() }
        }
        try check()
        return problems
    }
}

import LLMDBStorage

extension Snapshot {
    /// The facts whose value, as of this snapshot (valid time and transaction), emitted
    /// `indexKey` in the custom index `name`, in key order, at most `limit`.
    ///
    /// An index is built over every stored entry when it is defined, so lookups as of
    /// times before its definition answer too.
    ///
    /// - Throws: ``LLMDBError/Code/notFound`` when no index `name` is defined now.
    public func lookup(index name: String, key indexKey: [UInt8], limit: Int = .max) throws -> [Fact] {
        let latest = try Self.lastTransaction(tx, db).id
        guard try lookup(.index(name), validAt: .endOfTime.advanced(by: -1), tx: latest) != nil,
            let table = db.index
        else {
            throw LLMDBError(.notFound, "no index named '\(name)' (see `llmdb index list`)")
        }
        var out: [Fact] = []
        guard limit > 0, txID > 0 else { return out }
        let prefix = IndexStore.postingPrefix(name, indexKey)
        let entryPrefix = IndexStore.namePrefix(IndexStore.entryTag, name)
        let postings = try tx.cursor(table)
        var probe = [UInt8](repeating: 0, count: 512)
        var recordKey: [UInt8] = []
        var e = try prefix.withUnsafeBytes { try postings.seek(atLeast: $0) }
        while let posting = e, EntryKey.hasPrefix(posting.key, prefix) {
            // Bytes of a read transaction stay valid after the cursor moves on.
            e = try postings.next()
            guard posting.value.count >= 8, EntryKey.readU64(posting.value, at: 0) <= txID else { continue }
            let keyPart = UnsafeRawBufferPointer(rebasing: posting.key[prefix.count...])
            guard keyPart.count + 16 <= probe.count else { continue }
            let hit = try probe.withUnsafeMutableBytes { p -> Cursor.Entry? in
                p.copyMemory(from: keyPart)
                return try Self.asOf(
                    cursor,
                    keyPart: keyPart,
                    probe: UnsafeMutableRawBufferPointer(rebasing: p[0..<(keyPart.count + 16)]),
                    validTime: validTime,
                    tx: txID
                )
            }
            guard let hit, let tag = hit.value.first, tag != ValueTag.tombstone.rawValue else { continue }
            recordKey = entryPrefix
            recordKey.append(contentsOf: hit.key)
            guard let record = try recordKey.withUnsafeBytes({ try tx.get(table, $0) }),
                indexKey.withUnsafeBytes({ IndexStore.contains(record, $0) })
            else { continue }
            guard let d = EntryKey.decode(hit.key) else { throw LLMDBError(.corrupted, "a fact key is malformed") }
            out.append(
                Fact(
                    key: d.key,
                    value: try Value.decode(stored: hit.value),
                    validFrom: d.validFrom,
                    validTo: nil,
                    txID: d.tx,
                    txTime: try transactionTime(d.tx)
                )
            )
            if out.count >= limit { break }
        }
        return out
    }
}

extension Database {
    /// The facts whose value as of (`validAt`, `tx`) emitted `key` in the custom index
    /// `index` (see ``Snapshot/lookup(index:key:limit:)``).
    public func lookup(
        index: String,
        key: [UInt8],
        validAt: Instant? = nil,
        tx: TxSelector = .latest,
        limit: Int = .max
    ) throws -> [Fact] {
        try read(validAt: validAt, tx: tx) { try $0.lookup(index: index, key: key, limit: limit) }
    }
}

extension Snapshot {
    /// Calls `body` with every key starting with `prefix` that has any stored entry (at any
    /// valid or transaction time, retractions included), in key order, until it returns
    /// false. For reads over time windows, which must visit keys absent at one instant.
    public func forEachKey(prefix: Key, _ body: (Key) throws -> Bool) throws {
        let start = EntryKey.prefix(prefix)
        let c = try tx.cursor(db.facts)
        var e = try start.withUnsafeBytes { try c.seek(atLeast: $0) }
        while let entry = e, EntryKey.hasPrefix(entry.key, start) {
            guard let d = EntryKey.decode(entry.key) else { throw LLMDBError(.corrupted, "a fact key is malformed") }
            if try !body(d.key) { return }
            // Past every entry of this key.
            let skip = EntryKey.keyPrefix(d.key) + [UInt8](repeating: 0xFF, count: 17)
            e = try skip.withUnsafeBytes { try c.seek(atLeast: $0) }
        }
    }
}

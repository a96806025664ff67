package import LLMDBStorage

/// A value borrowed from the database file: valid only inside the closure that received
/// it. Decode what you need there, or copy it with ``value()``.
public struct ValueView {
    /// The stored bytes without the tag, borrowed from the memory map.
    public let payload: UnsafeRawBufferPointer
    public let tag: ValueTag
    public let validFrom: Instant
    public let txID: TxID

    /// Copies the value out of the map.
    public func value() throws(LLMDBError) -> Value {
        guard tag.isKnown else {
            throw LLMDBError(
                .unknownValueTag,
                "a stored value has the unknown type tag 0x\(String(tag.rawValue, radix: 16).leftPadded(2))"
            )
        }
        return Value(unchecked: tag, Array(payload))
    }
}

/// One row of a scan, borrowed from the map: valid only inside the scan's closure.
public struct ScanRow {
    /// The entry's encoded key (see docs/storage-format.md).
    public let encodedKey: UnsafeRawBufferPointer
    /// The value, borrowed.
    public let value: ValueView

    /// Decodes (and copies) the user key.
    public func key() throws(LLMDBError) -> Key {
        guard let d = EntryKey.decode(encodedKey) else { throw LLMDBError(.corrupted, "a fact key is malformed") }
        return d.key
    }

    /// The user key's bytes compared with `bytes`, without decoding (keys without 0x00 bytes
    /// are stored as they are after the 4-byte partition).
    public func keyEquals(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = encodedKey.count - 4 - 18
        return n == bytes.count
            && memcmpEqual(UnsafeRawBufferPointer(rebasing: encodedKey[4..<(4 + n)]), bytes, count: n)
    }
}

/// A consistent view of the database as of one valid time and one transaction: an LMDB
/// read transaction. Any number of snapshots run at once, concurrently with the writer.
///
/// Obtained inside ``Database/read(validAt:tx:_:)``; it and every byte it hands out are
/// valid only inside that closure.
public struct Snapshot: ~Copyable {
    package let tx: ReadTransaction
    package let cursor: Cursor
    package let db: Database
    /// The valid time reads see.
    public let validTime: Instant
    /// The last transaction reads see (0: before the first transaction, nothing is visible).
    public let txID: TxID

    init(_ tx: consuming ReadTransaction, db: Database, validAt: Instant?, asOf selector: TxSelector) throws {
        let cursor = try tx.cursor(db.facts)
        let last = try Self.lastTransaction(tx, db)
        self.txID =
            switch selector.kind {
            case .latest: last.id
            case .id(let n): min(n, last.id)
            case .time(let t): try Self.resolve(time: t, tx, db)
            }
        self.validTime = validAt ?? max(db.clock.now(), last.time)
        self.cursor = cursor
        self.tx = tx
        self.db = db
    }

    package static func lastTransaction(
        _ tx: borrowing ReadTransaction,
        _ db: Database
    ) throws -> (id: TxID, time: Instant) {
        let c = try tx.cursor(db.txlog)
        guard let e = try c.last(), e.key.count == 8 else { return (0, .beginningOfTime) }
        return (EntryKey.readU64(e.key, at: 0), TransactionRecord.time(e.value) ?? .beginningOfTime)
    }

    /// The last transaction with `tx_time ≤ t` (inclusive), or 0.
    static func resolve(time t: Instant, _ tx: borrowing ReadTransaction, _ db: Database) throws -> TxID {
        let c = try tx.cursor(db.txtime)
        if t == .endOfTime {
            guard let e = try c.last() else { return 0 }
            return EntryKey.readU64(e.value, at: 0)
        }
        var probe: [UInt8] = []
        EntryKey.appendU64(EntryKey.timeBits(t.advanced(by: 1)), to: &probe)
        let found = try probe.withUnsafeBytes { try c.seek(atLeast: $0) }
        guard let e = found == nil ? try c.last() : try c.previous() else { return 0 }
        return EntryKey.readU64(e.value, at: 0)
    }

    /// The transaction time of transaction `id`.
    public func transactionTime(_ id: TxID) throws -> Instant {
        var k: [UInt8] = []
        EntryKey.appendU64(id, to: &k)
        guard let v = try k.withUnsafeBytes({ try tx.get(db.txlog, $0) }), let t = TransactionRecord.time(v) else {
            throw LLMDBError(.corrupted, "transaction \(id) is missing from the transaction log")
        }
        return t
    }

    // MARK: Point reads

    /// Runs `body` with the value of `key` as of this snapshot, borrowed from the map (no
    /// copy). Returns nil, without calling `body`, when the key is absent or retracted.
    @inlinable
    public func withValue<R>(_ key: Key, _ body: (ValueView) throws -> R) throws -> R? {
        guard let view = try lookup(key, validAt: validTime) else { return nil }
        return try body(view)
    }

    /// As ``withValue(_:_:)``, at another valid time within the same snapshot.
    @inlinable
    public func withValue<R>(_ key: Key, validAt v: Instant, _ body: (ValueView) throws -> R) throws -> R? {
        guard let view = try lookup(key, validAt: v) else { return nil }
        return try body(view)
    }

    /// The as-of lookup of one key, not generic so that it is compiled once, specialized,
    /// with no allocation. The view borrows from the map: valid while the snapshot is.
    @usableFromInline
    package func lookup(_ key: Key, validAt v: Instant, tx asOfTx: TxID? = nil) throws -> ValueView? {
        var zeros = 0
        for b in key.bytes where b == 0 { zeros += 1 }
        let escapedCount = key.bytes.count + zeros
        if escapedCount == 0 || escapedCount > Key.maxEncodedLength { try key.validate() }
        let prefixCount = 4 + escapedCount + 2
        return try withUnsafeTemporaryAllocation(byteCount: prefixCount + 16, alignment: 8) {
            (buf) throws -> ValueView? in
            let p = key.partition
            buf.storeBytes(of: p.bigEndian, toByteOffset: 0, as: UInt32.self)
            if zeros == 0 {
                key.bytes.withUnsafeBytes { k in
                    UnsafeMutableRawBufferPointer(rebasing: buf[4..<(4 + k.count)]).copyMemory(from: k)
                }
            } else {
                var i = 4
                for b in key.bytes {
                    buf[i] = b
                    i += 1
                    if b == 0 {
                        buf[i] = 0xFF
                        i += 1
                    }
                }
            }
            buf[prefixCount - 2] = 0
            buf[prefixCount - 1] = 0
            let keyPart = UnsafeRawBufferPointer(rebasing: buf[0..<prefixCount])
            guard let e = try Self.asOf(cursor, keyPart: keyPart, probe: buf, validTime: v, tx: asOfTx ?? txID) else {
                return nil
            }
            guard let first = e.value.first else {
                throw LLMDBError(.corrupted, "a stored value is empty (no type tag)")
            }
            let tag = ValueTag(rawValue: first)
            if tag == .tombstone { return nil }
            let (vf, t) = EntryKey.times(e.key)
            return ValueView(payload: UnsafeRawBufferPointer(rebasing: e.value[1...]), tag: tag, validFrom: vf, txID: t)
        }
    }

    /// The as-of lookup (rule 1): among the key's entries with valid_from ≤ V and tx ≤ T,
    /// the greatest valid_from, then the greatest tx. `probe` holds the key part followed by
    /// 16 bytes of room; `keyPart` is its first part.
    @inline(__always)
    package static func asOf(
        _ c: borrowing Cursor,
        keyPart: UnsafeRawBufferPointer,
        probe: UnsafeMutableRawBufferPointer,
        validTime: Instant,
        tx: TxID
    ) throws -> Cursor.Entry? {
        if tx == 0 { return nil }
        let n = keyPart.count
        var target = validTime
        while true {
            // Seek to the first entry > (target, tx), then step back once.
            probe.storeBytes(of: EntryKey.timeBits(target).bigEndian, toByteOffset: n, as: UInt64.self)
            let (next, overflow) = tx.addingReportingOverflow(1)
            if overflow {
                probe.storeBytes(
                    of: EntryKey.timeBits(target.advanced(by: 1)).bigEndian,
                    toByteOffset: n,
                    as: UInt64.self
                )
                probe.storeBytes(of: UInt64(0), toByteOffset: n + 8, as: UInt64.self)
            } else {
                probe.storeBytes(of: next.bigEndian, toByteOffset: n + 8, as: UInt64.self)
            }
            let found = try c.seek(atLeast: UnsafeRawBufferPointer(probe))
            guard let e = found == nil ? try c.last() : try c.previous() else { return nil }
            guard e.key.count == n + 16, memcmpEqual(keyPart, e.key, count: n) else { return nil }
            let (vf, etx) = EntryKey.times(e.key)
            if etx <= tx { return e }
            // The last entry at vf is later than tx. Seek again at (vf, tx): that finds an
            // earlier entry at vf if there is one, else the greatest entry below vf. Each
            // round moves to a smaller valid_from, so the loop ends.
            precondition(vf < target, "as-of lookup did not progress")
            target = vf
        }
    }

    /// The fact of `key` as of this snapshot (a copy), or nil when absent or retracted.
    public func get(_ key: Key) throws -> Fact? {
        guard let (value, vf, t) = try withValue(key, { view in (try view.value(), view.validFrom, view.txID) }) else {
            return nil
        }
        return Fact(key: key, value: value, validFrom: vf, validTo: nil, txID: t, txTime: try transactionTime(t))
    }

    // MARK: Scans

    /// Calls `body` for each key that starts with `prefix` (in `prefix.partition`) and has a
    /// value as of this snapshot, in key order, until it returns false. The row is borrowed:
    /// its key is decoded only if asked for, its value is not copied.
    ///
    /// Each key's entries are adjacent and ordered by (valid_from, tx), so the scan walks
    /// them forward: the answer is the last entry with valid_from ≤ V and tx ≤ T. Keys with
    /// long histories switch to the seek-based lookup after a few steps, so the cost per key
    /// does not grow with history depth.
    ///
    /// With `after`, the scan starts after that key (to resume a scan in key order).
    public func scan(prefix: Key, after: Key? = nil, _ body: (ScanRow) throws -> Bool) throws {
        let start = EntryKey.prefix(prefix)
        let maxWalk = 8
        var probe = [UInt8](repeating: 0, count: start.count + 64)
        var seekTo = start
        if let after, after.partition == prefix.partition, after.bytes.starts(with: prefix.bytes) {
            // Past every entry of `after`: its key part, then more than 16 bytes of 0xFF.
            seekTo = EntryKey.keyPrefix(after) + [UInt8](repeating: 0xFF, count: 17)
        }
        var e = try seekTo.withUnsafeBytes { try cursor.seek(atLeast: $0) }
        while let first = e, EntryKey.hasPrefix(first.key, start) {
            // In a read transaction, bytes from the map stay valid until it ends, so the
            // group's key part can be borrowed across cursor moves.
            let keyPartCount = first.key.count - 16
            let keyPart = UnsafeRawBufferPointer(rebasing: first.key[0..<keyPartCount])
            var best: Cursor.Entry? = nil
            var cur = first
            var steps = 0
            var next: Cursor.Entry?? = nil  // set when the walk reached the next key
            while true {
                let (vf, t) = EntryKey.times(cur.key)
                if vf > validTime { break }
                if t <= txID { best = cur }
                steps += 1
                if steps == maxWalk {
                    // Deep history: seek straight to the answer instead.
                    if probe.count < keyPartCount + 16 { probe = [UInt8](repeating: 0, count: keyPartCount + 16) }
                    best = try probe.withUnsafeMutableBytes { p in
                        p.copyMemory(from: keyPart)
                        return try Self.asOf(
                            cursor,
                            keyPart: keyPart,
                            probe: UnsafeMutableRawBufferPointer(rebasing: p[0..<(keyPartCount + 16)]),
                            validTime: validTime,
                            tx: txID
                        )
                    }
                    break
                }
                let n = try cursor.next()
                guard let n, n.key.count == keyPartCount + 16, memcmpEqual(keyPart, n.key, count: keyPartCount) else {
                    next = .some(n)
                    break
                }
                cur = n
            }
            if let hit = best, let tag = hit.value.first, tag != ValueTag.tombstone.rawValue {
                let (vf, t) = EntryKey.times(hit.key)
                let view = ValueView(
                    payload: UnsafeRawBufferPointer(rebasing: hit.value[1...]),
                    tag: ValueTag(rawValue: tag),
                    validFrom: vf,
                    txID: t
                )
                if try !body(ScanRow(encodedKey: hit.key, value: view)) { return }
            }
            if let n = next {
                e = n
            } else {
                // Jump past the rest of this key: [key part without its last 0x00][0x01].
                if probe.count < keyPartCount { probe = [UInt8](repeating: 0, count: keyPartCount) }
                e = try probe.withUnsafeMutableBytes { p in
                    p.copyMemory(from: keyPart)
                    p[keyPartCount - 1] = 0x01
                    return try cursor.seek(atLeast: UnsafeRawBufferPointer(rebasing: p[0..<keyPartCount]))
                }
            }
        }
    }

    /// The facts of every key starting with `prefix`, as of this snapshot (copies).
    public func scan(prefix: Key, limit: Int = .max) throws -> [Fact] {
        var out: [Fact] = []
        guard limit > 0 else { return out }
        var times: [TxID: Instant] = [:]
        try scan(prefix: prefix) { row in
            let view = row.value
            let key = try row.key()
            let t: Instant
            if let known = times[view.txID] {
                t = known
            } else {
                t = try transactionTime(view.txID)
                times[view.txID] = t
            }
            out.append(
                Fact(
                    key: key,
                    value: try view.value(),
                    validFrom: view.validFrom,
                    validTo: nil,
                    txID: view.txID,
                    txTime: t
                )
            )
            return out.count < limit
        }
        return out
    }
}

extension Database {
    /// Runs `body` with a snapshot as of valid time `validAt` (default: now, i.e. the later
    /// of the clock and the last transaction time) and transaction `tx` (default: latest).
    public func read<R>(
        validAt: Instant? = nil,
        tx: TxSelector = .latest,
        _ body: (borrowing Snapshot) throws -> R
    ) throws -> R {
        do {
            return try env.read { rtx in
                let snapshot = try Snapshot(rtx, db: self, validAt: validAt, asOf: tx)
                return try body(snapshot)
            }
        } catch let e as LMDBError {
            throw LLMDBError.storage(e, "read failed")
        }
    }

    /// The fact of `key` as of (`validAt`, `tx`), or nil.
    public func get(_ key: Key, validAt: Instant? = nil, tx: TxSelector = .latest) throws -> Fact? {
        try read(validAt: validAt, tx: tx) { try $0.get(key) }
    }
}

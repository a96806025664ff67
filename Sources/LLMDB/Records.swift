/// What a commit returns: its transaction id and transaction time.
public struct Commit: Hashable, Sendable, CustomStringConvertible {
    public let txID: TxID
    public let txTime: Instant
    public var description: String { "tx \(txID) at \(txTime)" }
}

/// A transaction-time coordinate: the latest state, a transaction id, or a time
/// (resolved to the last transaction with `tx_time ≤ t`).
public struct TxSelector: Hashable, Sendable, CustomStringConvertible {
    enum Kind: Hashable, Sendable {
        case latest
        case id(TxID)
        case time(Instant)
    }
    let kind: Kind
    public static let latest = TxSelector(kind: .latest)
    public static func id(_ id: TxID) -> TxSelector { TxSelector(kind: .id(id)) }
    public static func time(_ t: Instant) -> TxSelector { TxSelector(kind: .time(t)) }
    public var description: String {
        switch kind {
        case .latest: "latest"
        case .id(let n): "tx \(n)"
        case .time(let t): "tx time \(t)"
        }
    }
}

/// One fact as a read returns it, or one entry of a history.
public struct Fact: Hashable, Sendable {
    public let key: Key
    /// The value; nil for a retraction (a tombstone) in a history.
    public let value: Value?
    public let validFrom: Instant
    /// The next entry's valid_from, or nil for an open end. Not computed by point reads.
    public let validTo: Instant?
    public let txID: TxID
    public let txTime: Instant

    public var isTombstone: Bool { value == nil }

    public init(key: Key, value: Value?, validFrom: Instant, validTo: Instant?, txID: TxID, txTime: Instant) {
        self.key = key
        self.value = value
        self.validFrom = validFrom
        self.validTo = validTo
        self.txID = txID
        self.txTime = txTime
    }
}

/// A maximal run of one value over valid time (a timeline element).
public struct TimelineRun: Hashable, Sendable {
    public let value: Value
    public let validFrom: Instant
    /// nil for an open end.
    public let validTo: Instant?
}

/// One transaction of the log.
public struct TransactionRecord: Hashable, Sendable {
    public let txID: TxID
    public let txTime: Instant
    public let puts: Int
    public let deletes: Int
    public let erases: Int
    /// Entries the transaction stored (range writes store several per operation).
    public let entriesWritten: Int
    /// Entries removed by erases (their content is gone; only the count stays).
    public let entriesErased: Int
    /// Whether the caller supplied the transaction time.
    public let explicitTime: Bool
    /// Whether this is a schema migration's rewrite (system corrections), not a user write.
    public var migration: Bool = false

    static let size = 1 + 8 + 4 * 5 + 1

    func encoded() -> [UInt8] {
        var out: [UInt8] = [1]
        EntryKey.appendU64(EntryKey.timeBits(txTime), to: &out)
        for n in [puts, deletes, erases, entriesWritten, entriesErased] {
            EntryKey.appendU32(UInt32(clamping: n), to: &out)
        }
        out.append((explicitTime ? 1 : 0) | (migration ? 2 : 0))
        return out
    }

    static func decode(txID: TxID, _ p: UnsafeRawBufferPointer) throws(LLMDBError) -> TransactionRecord {
        guard p.count == size, p[0] == 1 else {
            throw LLMDBError(.corrupted, "transaction log record \(txID) is malformed")
        }
        func u32(_ o: Int) -> Int { Int(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: o, as: UInt32.self))) }
        return TransactionRecord(
            txID: txID,
            txTime: EntryKey.instant(fromBits: EntryKey.readU64(p, at: 1)),
            puts: u32(9),
            deletes: u32(13),
            erases: u32(17),
            entriesWritten: u32(21),
            entriesErased: u32(25),
            explicitTime: p[29] & 1 != 0,
            migration: p[29] & 2 != 0
        )
    }

    /// Only the time, without decoding the rest.
    static func time(_ p: UnsafeRawBufferPointer) -> Instant? {
        guard p.count == size else { return nil }
        return EntryKey.instant(fromBits: EntryKey.readU64(p, at: 1))
    }
}

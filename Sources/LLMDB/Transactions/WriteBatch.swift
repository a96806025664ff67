/// The operations of one write transaction, collected by the closure given to
/// ``Database/write(txTime:_:)``. Each call validates its arguments at once and throws on
/// bad input; the operations are then applied in order, atomically, in one transaction
/// (each sees the earlier ones).
public struct WriteBatch: Sendable {
    enum Op: Sendable {
        case put(Key, [UInt8], from: Instant?, to: Instant?)
        case erase(Key)
        case expect(Key, Expectation)
    }

    /// What ``expect(_:_:)`` requires of a key's current state (its entry in effect at the
    /// transaction time, latest transaction).
    public enum Expectation: Hashable, Sendable {
        /// No value: never written, retracted, or not yet valid.
        case absent
        /// Some value.
        case present
        /// The value written by exactly this transaction (optimistic concurrency).
        case version(TxID)
    }
    var ops: [Op] = []
    /// Marks the transaction in the log as a schema migration's rewrite.
    package var isMigration = false

    public init() {}

    /// The number of operations so far.
    public var count: Int { ops.count }

    /// Puts `value` for `key` from `validFrom` (default: the transaction time). Without
    /// `validTo` it holds until the key's next entry in valid time; with `validTo` it holds
    /// over `[validFrom, validTo)` and the value in effect at `validTo` is restored there.
    public mutating func put(
        _ key: Key,
        _ value: Value,
        validFrom: Instant? = nil,
        validTo: Instant? = nil
    ) throws(LLMDBError) {
        try Self.validate(key, validFrom: validFrom, validTo: validTo)
        ops.append(.put(key, value.encoded, from: validFrom, to: validTo))
    }

    /// Retracts `key` from `validFrom` (default: the transaction time), open-ended or over
    /// `[validFrom, validTo)`. Writes a tombstone, also for a key that never existed.
    public mutating func delete(_ key: Key, validFrom: Instant? = nil, validTo: Instant? = nil) throws(LLMDBError) {
        try Self.validate(key, validFrom: validFrom, validTo: validTo)
        ops.append(.put(key, [ValueTag.tombstone.rawValue], from: validFrom, to: validTo))
    }

    /// Removes every entry of `key`, for all valid and transaction times. The log keeps
    /// only the fact that an erase happened and how many entries it removed.
    public mutating func erase(_ key: Key) throws(LLMDBError) {
        try key.validate()
        try Self.checkPartition(key)
        ops.append(.erase(key))
    }

    /// Makes the transaction fail with ``LLMDBError/Code/conflict`` (nothing written) unless
    /// `key` is in the expected state when this operation is applied: a compare-and-set.
    public mutating func expect(_ key: Key, _ expectation: Expectation) throws(LLMDBError) {
        try key.validate()
        ops.append(.expect(key, expectation))
    }

    /// The checks ``put(_:_:validFrom:validTo:)`` and ``delete(_:validFrom:validTo:)`` make
    /// before recording an operation: a valid key, and `validTo` after `validFrom`.
    public static func validate(_ key: Key, validFrom: Instant?, validTo: Instant?) throws(LLMDBError) {
        try key.validate()
        try checkPartition(key)
        try checkRange(validFrom, validTo)
    }

    static func checkPartition(_ key: Key) throws(LLMDBError) {
        if key.partition == Key.systemPartition {
            throw LLMDBError(
                .reservedPartition,
                "partition \(Key.systemPartition) is reserved for LLMDB's own records (code, hooks, indexes); write them with `llmdb code`, `llmdb hook` and `llmdb index`"
            )
        }
    }

    /// Puts a record of LLMDB's own partition (code, hook and index definitions): for the
    /// layers that manage them. Open-ended from `validFrom` (default: the transaction time).
    package mutating func putSystem(_ key: Key, _ value: Value, validFrom: Instant? = nil) throws(LLMDBError) {
        try key.validate()
        precondition(key.partition == Key.systemPartition)
        try Self.checkRange(validFrom, nil)
        ops.append(.put(key, value.encoded, from: validFrom, to: nil))
    }

    /// Retracts a record of LLMDB's own partition from `validFrom` (default: the transaction
    /// time).
    package mutating func deleteSystem(_ key: Key, validFrom: Instant? = nil) throws(LLMDBError) {
        try key.validate()
        precondition(key.partition == Key.systemPartition)
        try Self.checkRange(validFrom, nil)
        ops.append(.put(key, [ValueTag.tombstone.rawValue], from: validFrom, to: nil))
    }

    static func checkRange(_ from: Instant?, _ to: Instant?) throws(LLMDBError) {
        if let from, from == .endOfTime {
            throw LLMDBError(.invalidTimeRange, "valid_from cannot be the end of time")
        }
        if let from, let to, to <= from {
            throw LLMDBError(.invalidTimeRange, "valid_to (\(to)) must be after valid_from (\(from))")
        }
    }
}

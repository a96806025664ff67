/// A partition: a tenant or agent namespace, and the unit of future sharding.
public typealias PartitionID = UInt32

/// A transaction id: one per committed transaction, strictly increasing from 1.
public typealias TxID = UInt64

/// A user key in a partition. Any non-empty bytes, up to ``Key/maxEncodedLength``
/// once escaped (each `0x00` byte counts twice).
public struct Key: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var partition: PartitionID
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8], partition: PartitionID = 0) {
        self.bytes = bytes
        self.partition = partition
    }

    public init(_ string: String, partition: PartitionID = 0) {
        self.init(Array(string.utf8), partition: partition)
    }

    public init(stringLiteral value: String) { self.init(value) }

    /// LMDB's limit on a whole encoded key (its default `mdb_env_get_maxkeysize`).
    public static let lmdbKeyLimit = 511
    /// Bytes the encoding adds around the escaped user key: partition (4), terminator (2),
    /// valid_from (8) and tx_id (8).
    public static let encodingOverhead = 22
    /// The longest escaped user key: 489 bytes.
    public static let maxEncodedLength = lmdbKeyLimit - encodingOverhead

    public static func < (a: Key, b: Key) -> Bool {
        (a.partition, 0) < (b.partition, 0)
            || (a.partition == b.partition && a.bytes.lexicographicallyPrecedes(b.bytes))
    }

    /// The key as text when it is UTF-8, else as hex. For display only.
    public var description: String {
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        return "0x" + hexString(bytes)
    }

    /// Throws when the key is empty or too long to encode.
    public func validate() throws(LLMDBError) {
        if bytes.isEmpty { throw LLMDBError(.emptyKey, "the key is empty; a key needs at least one byte") }
        let escaped = bytes.count + bytes.lazy.filter { $0 == 0 }.count
        if escaped > Key.maxEncodedLength {
            throw LLMDBError(
                .keyTooLong,
                "the key is \(escaped) bytes (escaped); the limit is \(Key.maxEncodedLength) bytes (LMDB's \(Key.lmdbKeyLimit)-byte key limit less \(Key.encodingOverhead) bytes of partition, terminator and times)"
            )
        }
    }
}

/// Lowercase hex, two digits per byte.
package func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String($0, radix: 16).leftPadded(2) }.joined()
}

extension String {
    func leftPadded(_ width: Int, with c: Character = "0") -> String {
        count >= width ? self : String(repeating: c, count: width - count) + self
    }
}

extension String {
    /// Whether the UTF-8 bytes of this string start with those of `prefix`: the comparison
    /// that matches storage, where keys are bytes and a key prefix is a byte prefix.
    ///
    /// Use it, never `hasPrefix`, for keys, scopes and namespaces: `hasPrefix` compares by
    /// canonical equivalence, so "\u{212A}afka:" (KELVIN SIGN) has the prefix "Kafka:" and
    /// "cafe\u{301}:" (NFD) has the prefix "café:" (NFC), though their bytes differ, while
    /// "Kafka:\u{301}x" does not have the prefix "Kafka:" (the accent joins the colon).
    @inlinable
    public func hasUTF8Prefix(_ prefix: String) -> Bool {
        utf8.starts(with: prefix.utf8)
    }

    /// Byte equality of the UTF-8 forms (`==` on strings compares by canonical equivalence).
    @inlinable
    public func utf8Equals(_ other: String) -> Bool {
        utf8.elementsEqual(other.utf8)
    }
}

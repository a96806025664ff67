public import LLMDB
import LLMDBStorage

// Vector collections: a vector is a bitemporal fact (tag 0x20, its floats then optional JSON
// metadata) at `vec/{collection}/{key}` of a partition, so history, corrections, as-of reads,
// erase and scopes apply as to any fact. The collection itself is an index definition of kind
// `vector` over those keys (`_meta/index/vectors/{collection}`, settings `dimensions`,
// `metric`, `element`); its kind checks every entry written there, whichever door the write
// came through. Search is exact here: a scan of the versions visible at (valid time, tx),
// compared in place with the SIMD kernels. See docs/vectors.md.

/// A vector collection's fixed properties.
public struct VectorCollectionInfo: Sendable, Hashable {
    public let name: String
    public let dimensions: Int
    public let metric: VectorMetric
    public let partition: PartitionID
}

/// A stored vector as of some (valid time, tx).
public struct VectorRecord: Sendable, Hashable {
    public let key: String
    public let vector: [Float]
    public let metadata: JSONValue?
    public let validFrom: Instant
    public let txID: TxID
}

/// One answer of a search: the key, its distance (smaller is closer; see ``VectorMetric``),
/// its metadata, and the version it is.
public struct VectorHit: Sendable, Hashable {
    public let key: String
    public let distance: Float
    public let metadata: JSONValue?
    public let validFrom: Instant
    public let txID: TxID
}

/// One vector of a batch put.
public struct VectorItem: Sendable {
    public var key: String
    public var vector: [Float]
    public var metadata: JSONValue?
    public var validFrom: Instant?
    public var validTo: Instant?

    public init(
        _ key: String,
        _ vector: [Float],
        metadata: JSONValue? = nil,
        validFrom: Instant? = nil,
        validTo: Instant? = nil
    ) {
        self.key = key
        self.vector = vector
        self.metadata = metadata
        self.validFrom = validFrom
        self.validTo = validTo
    }
}

/// A condition on a vector's metadata: the value at a dotted path equals `value` (a missing
/// path matches nothing).
public struct VectorFilter: Sendable, Hashable {
    public let path: [String]
    public let value: JSONValue

    public init(_ path: String, equals value: JSONValue) {
        self.path = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        self.value = value
    }

    func matches(_ metadata: JSONValue?) -> Bool {
        guard let metadata else { return false }
        return metadata.values(atPath: path[...]).contains(value)
    }
}

/// The `vector` index kind: every entry written under a collection's keys must be a vector
/// of the collection's dimension, finite, and (under cosine) not zero; otherwise the
/// transaction fails with `invalid_value` and nothing is written. It keeps no rows yet (the
/// graph index of issue 15 will).
public struct VectorIndexKind: IndexKind {
    public init() {}
    public var name: String { "vector" }

    public func validate(_ definition: ExtensionDefinition) throws(LLMDBError) {
        _ = try VectorCollection.info(of: definition)
    }

    public func maintainer(for definition: ExtensionDefinition) throws -> any IndexMaintainer {
        Checker(try VectorCollection.info(of: definition))
    }

    /// Every stored version under the collection's keys, at every time, is a vector the
    /// collection accepts (writes are checked, so a problem here is damage, or an entry
    /// written by a build without this kind).
    public func verify(_ definition: ExtensionDefinition, _ snapshot: borrowing Snapshot) throws -> [String] {
        let info = try VectorCollection.info(of: definition)
        let start = EntryKey.prefix(Key(VectorCollection.keyPrefix(info.name), partition: info.partition))
        let c = try snapshot.tx.cursor(snapshot.db.facts)
        var problems: [String] = []
        var e = try start.withUnsafeBytes { try c.seek(atLeast: $0) }
        while let entry = e, EntryKey.hasPrefix(entry.key, start), problems.count < 100 {
            if let tag = entry.value.first, tag != ValueTag.tombstone.rawValue, let d = EntryKey.decode(entry.key) {
                do {
                    try VectorCollection.check(
                        UnsafeRawBufferPointer(rebasing: entry.value[1...]),
                        tag: tag,
                        info,
                        key: ""
                    )
                    let n = info.dimensions
                    let p = UnsafeRawBufferPointer(rebasing: entry.value[1...])
                    if p.count > 4 + 4 * n, VectorCollection.metadata(p, dimensions: n) == nil {
                        problems.append(
                            "vector collection '\(info.name)': the metadata of a version written by tx \(d.tx) is not JSON"
                        )
                    }
                } catch {
                    let what = error.message.replacing("; nothing was written", with: "")
                    problems.append("\(what) (a version written by tx \(d.tx))")
                }
            }
            e = try c.next()
        }
        return problems
    }

    final class Checker: IndexMaintainer {
        let info: VectorCollectionInfo
        init(_ info: VectorCollectionInfo) { self.info = info }

        func add(_ entries: [IndexedEntry], _ rows: borrowing IndexRows) throws {
            for e in entries where !e.isTombstone {
                let key = VectorCollection.userKey(e.key, info.name)
                try e.stored.withUnsafeBytes { b in
                    try VectorCollection.check(UnsafeRawBufferPointer(rebasing: b[1...]), tag: b[0], info, key: key)
                }
            }
        }

        func erase(_ key: Key, _ rows: borrowing IndexRows) throws {}
    }
}

/// A collection of vectors of one dimension and metric (open with
/// ``Database/vectorCollection(_:)``, create with ``Database/createVectorCollection(_:dimensions:metric:partition:)``).
public struct VectorCollection: Sendable {
    public let db: Database
    public let info: VectorCollectionInfo

    /// The most a search returns.
    public static let maxK = 1000
    static let kind = VectorIndexKind()

    public var name: String { info.name }

    static func definitionName(_ name: String) -> String { "vectors/\(name)" }

    static func keyPrefix(_ name: String) -> String { "vec/\(name)/" }

    static func userKey(_ key: Key, _ name: String) -> String {
        String(decoding: key.bytes.dropFirst(keyPrefix(name).utf8.count), as: UTF8.self)
    }

    func key(_ user: String) throws(LLMDBError) -> Key {
        guard !user.isEmpty, user.utf8.count <= 400 else {
            throw LLMDBError(.invalidArgument, "a vector key is 1 to 400 bytes, not \(user.utf8.count)")
        }
        return Key(Self.keyPrefix(name) + user, partition: info.partition)
    }

    static func checkName(_ name: String) throws(LLMDBError) {
        guard (1...64).contains(name.utf8.count),
            name.utf8.allSatisfy({
                $0 >= 0x61 && $0 <= 0x7A || $0 >= 0x41 && $0 <= 0x5A || $0 >= 0x30 && $0 <= 0x39 || $0 == 0x5F
                    || $0 == 0x2D || $0 == 0x2E
            })
        else {
            throw LLMDBError(
                .invalidArgument,
                "a vector collection's name is 1 to 64 letters, digits, '_', '-' and '.', not '\(name.prefix(80))'"
            )
        }
    }

    /// The collection a definition of kind `vector` describes.
    static func info(of d: ExtensionDefinition) throws(LLMDBError) -> VectorCollectionInfo {
        guard d.name.hasPrefix("vectors/") else {
            throw LLMDBError(.invalidArgument, "a vector index is named vectors/{collection}, not '\(d.name)'")
        }
        let name = String(d.name.dropFirst("vectors/".count))
        try checkName(name)
        guard case .int(let n)? = d[setting: "dimensions"], (1...65536).contains(n) else {
            throw LLMDBError(.invalidArgument, "vector collection '\(name)': dimensions must be 1 to 65536")
        }
        guard let m = d.string(setting: "metric"), let metric = VectorMetric(rawValue: m) else {
            throw LLMDBError(.invalidArgument, "vector collection '\(name)': metric must be cosine, dot or l2")
        }
        guard d.string(setting: "element") == "f32" else {
            throw LLMDBError(.invalidArgument, "vector collection '\(name)': element must be f32")
        }
        guard d.scope.prefix == Array(keyPrefix(name).utf8) else {
            throw LLMDBError(.invalidArgument, "vector collection '\(name)': its keys are \(keyPrefix(name))…")
        }
        return VectorCollectionInfo(name: name, dimensions: Int(n), metric: metric, partition: d.scope.partition)
    }

    static func definition(_ info: VectorCollectionInfo) -> ExtensionDefinition {
        .index(
            definitionName(info.name),
            kind: kind.name,
            scope: KeyScope(partition: info.partition, prefix: keyPrefix(info.name)),
            settings: [
                JSONMember("dimensions", .int(Int64(info.dimensions))),
                JSONMember("metric", .string(info.metric.rawValue)),
                JSONMember("element", .string("f32")),
            ]
        )
    }

    /// Checks a stored vector payload (after its tag) against the collection.
    static func check(
        _ payload: UnsafeRawBufferPointer,
        tag: UInt8,
        _ info: VectorCollectionInfo,
        key: String
    ) throws(LLMDBError) {
        // No key in the words of verify (its report names no keys).
        let what =
            key.isEmpty
            ? "vector collection '\(info.name)'" : "vector collection '\(info.name)', key '\(key.prefix(80))'"
        guard tag == ValueTag.vector.rawValue else {
            throw LLMDBError(.invalidValue, "\(what): the value is \(ValueTag(rawValue: tag).name), not a vector")
        }
        guard let n = dimensions(payload), payload.count >= 4 + 4 * n else {
            throw LLMDBError(.invalidValue, "\(what): the vector is malformed")
        }
        guard n == info.dimensions else {
            throw LLMDBError(
                .invalidValue,
                "\(what): the vector has \(n) dimensions, the collection's have \(info.dimensions); nothing was written"
            )
        }
        let floats = UnsafeRawBufferPointer(rebasing: payload[4..<(4 + 4 * n)])
        var norm: Float = 0
        for i in 0..<n {
            let x = floats.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
            guard x.isFinite else {
                throw LLMDBError(.invalidValue, "\(what): component \(i) is \(x); components must be finite")
            }
            norm += x * x
        }
        if info.metric == .cosine && norm == 0 {
            throw LLMDBError(.invalidValue, "\(what): a zero vector has no direction, so no cosine distance")
        }
    }

    static func dimensions(_ payload: UnsafeRawBufferPointer) -> Int? {
        guard payload.count >= 4 else { return nil }
        return Int(payload[0]) << 24 | Int(payload[1]) << 16 | Int(payload[2]) << 8 | Int(payload[3])
    }

    /// The metadata after the floats, if any.
    static func metadata(_ payload: UnsafeRawBufferPointer, dimensions n: Int) -> JSONValue? {
        guard payload.count > 4 + 4 * n else { return nil }
        return try? JSONValue(parsing: Array(payload[(4 + 4 * n)...]))
    }

    func value(_ vector: [Float], _ metadata: JSONValue?) throws(LLMDBError) -> Value {
        guard vector.count == info.dimensions else {
            throw LLMDBError(
                .invalidValue,
                "vector collection '\(name)': the vector has \(vector.count) dimensions, the collection's have \(info.dimensions); nothing was written"
            )
        }
        return try .vector(vector, metadata: metadata)
    }

    // MARK: Writes

    /// Stores `vector` (with optional metadata, a JSON object) as the value of `key` from
    /// `validFrom` (default: the transaction time) until `validTo` (default: open).
    @discardableResult
    public func put(
        _ key: String,
        _ vector: [Float],
        metadata: JSONValue? = nil,
        validFrom: Instant? = nil,
        validTo: Instant? = nil
    ) throws -> Commit {
        try put([VectorItem(key, vector, metadata: metadata, validFrom: validFrom, validTo: validTo)])
    }

    /// Stores every item in one transaction: all or none.
    @discardableResult
    public func put(_ items: [VectorItem]) throws -> Commit {
        guard !items.isEmpty else { throw LLMDBError(.invalidArgument, "a batch put needs at least one vector") }
        var batch = WriteBatch()
        for item in items {
            try batch.put(
                try key(item.key),
                try value(item.vector, item.metadata),
                validFrom: item.validFrom,
                validTo: item.validTo
            )
        }
        return try db.commit(batch)
    }

    /// Ends `key`'s vector from `validFrom` (default: the transaction time).
    @discardableResult
    public func delete(_ key: String, validFrom: Instant? = nil, validTo: Instant? = nil) throws -> Commit {
        let k = try self.key(key)
        return try db.write { try $0.delete(k, validFrom: validFrom, validTo: validTo) }
    }

    /// Erases every version of `key`'s vector (DESIGN rule 7).
    @discardableResult
    public func erase(_ key: String) throws -> Commit {
        try db.erase(try self.key(key))
    }

    // MARK: Reads

    /// `key`'s vector as of (`validAt`, `tx`), or nil.
    public func get(_ key: String, validAt: Instant? = nil, tx: TxSelector = .latest) throws -> VectorRecord? {
        let k = try self.key(key)
        return try db.read(validAt: validAt, tx: tx) { s in
            try s.withValue(k) { v -> VectorRecord? in
                guard v.tag == .vector, let n = Self.dimensions(v.payload), v.payload.count >= 4 + 4 * n else {
                    return nil
                }
                let floats = (0..<n).map { v.payload.loadUnaligned(fromByteOffset: 4 + 4 * $0, as: Float.self) }
                return VectorRecord(
                    key: key,
                    vector: floats,
                    metadata: Self.metadata(v.payload, dimensions: n),
                    validFrom: v.validFrom,
                    txID: v.txID
                )
            } ?? nil
        }
    }

    /// The `k` vectors nearest to `query` among those visible at (`validAt`, `tx`) whose
    /// metadata matches every filter, nearest first (ties by key). Exact: every visible
    /// version in the collection is compared, in place, with the SIMD kernels.
    public func search(
        _ query: [Float],
        k: Int,
        filters: [VectorFilter] = [],
        validAt: Instant? = nil,
        tx: TxSelector = .latest
    ) throws -> [VectorHit] {
        guard (1...Self.maxK).contains(k) else {
            throw LLMDBError(.invalidArgument, "k must be 1 to \(Self.maxK), not \(k)")
        }
        guard query.count == info.dimensions else {
            throw LLMDBError(
                .invalidArgument,
                "vector collection '\(name)': the query has \(query.count) dimensions, the collection's have \(info.dimensions)"
            )
        }
        guard query.allSatisfy(\.isFinite) else {
            throw LLMDBError(.invalidArgument, "the query's components must be finite numbers")
        }
        let metric = info.metric
        let n = info.dimensions
        let prefixCount = Self.keyPrefix(name).utf8.count
        if metric == .cosine && !query.contains(where: { $0 != 0 }) {
            throw LLMDBError(.invalidArgument, "a zero query vector has no direction, so no cosine distance")
        }
        var top = TopK(k)
        try query.withUnsafeBytes { q in
            let queryNorm = VectorKernels.squaredNorm(q).squareRoot()
            try db.read(validAt: validAt, tx: tx) { s in
                try s.scan(prefix: Key(Self.keyPrefix(name), partition: info.partition)) { row in
                    let p = row.value.payload
                    guard row.value.tag == .vector, p.count >= 4 + 4 * n, Self.dimensions(p) == n else { return true }
                    let floats = UnsafeRawBufferPointer(rebasing: p[4..<(4 + 4 * n)])
                    let d: Float
                    switch metric {
                    case .cosine:
                        let dot = VectorKernels.dot(q, floats)
                        d = VectorKernels.cosineDistance(
                            dot: dot,
                            normA: queryNorm,
                            normB: VectorKernels.squaredNorm(floats).squareRoot()
                        )
                    case .dot, .l2: d = VectorKernels.distance(metric, q, floats)
                    }
                    guard top.admits(d) else { return true }
                    let metadata = Self.metadata(p, dimensions: n)
                    guard filters.allSatisfy({ $0.matches(metadata) }) else { return true }
                    let key = String(decoding: try row.key().bytes.dropFirst(prefixCount), as: UTF8.self)
                    top.insert(
                        VectorHit(
                            key: key,
                            distance: d,
                            metadata: metadata,
                            validFrom: row.value.validFrom,
                            txID: row.value.txID
                        )
                    )
                    return true
                }
            }
        }
        return top.hits
    }
}

/// How many vectors a collection holds, as of some (valid time, tx).
public struct VectorCollectionStats: Sendable, Hashable {
    public let info: VectorCollectionInfo
    /// Keys with a vector visible at the (valid time, tx) asked for.
    public let vectors: Int
    /// Stored versions of every key (vectors and ends of vectors), at every time.
    public let versions: Int
    /// Bytes of the stored versions' values (floats and metadata).
    public let bytes: Int
}

extension VectorCollection {
    /// How many vectors the collection holds as of (`validAt`, `tx`), and its stored versions.
    public func stats(validAt: Instant? = nil, tx: TxSelector = .latest) throws -> VectorCollectionStats {
        let prefix = Key(Self.keyPrefix(name), partition: info.partition)
        var visible = 0
        try db.read(validAt: validAt, tx: tx) { s in
            try s.scan(prefix: prefix) { row in
                if row.value.tag == .vector { visible += 1 }
                return true
            }
        }
        var versions = 0
        var bytes = 0
        try db.read { s in
            let start = EntryKey.prefix(prefix)
            let c = try s.tx.cursor(s.db.facts)
            var e = try start.withUnsafeBytes { try c.seek(atLeast: $0) }
            while let entry = e, EntryKey.hasPrefix(entry.key, start) {
                versions += 1
                bytes += entry.value.count
                e = try c.next()
            }
        }
        return VectorCollectionStats(info: info, vectors: visible, versions: versions, bytes: bytes)
    }
}

/// The best `k` hits so far, nearest first (ties: smaller key first).
struct TopK {
    let k: Int
    var hits: [VectorHit] = []

    init(_ k: Int) {
        self.k = k
        hits.reserveCapacity(k + 1)
    }

    /// Whether a hit at distance `d` may enter (a tie with the worst may, by key).
    func admits(_ d: Float) -> Bool { hits.count < k || d <= hits[hits.count - 1].distance }

    static func before(_ a: VectorHit, _ b: VectorHit) -> Bool {
        a.distance < b.distance || a.distance == b.distance && a.key < b.key
    }

    mutating func insert(_ h: VectorHit) {
        var i = hits.count
        while i > 0 && Self.before(h, hits[i - 1]) { i -= 1 }
        guard i < k else { return }
        hits.insert(h, at: i)
        if hits.count > k { hits.removeLast() }
    }
}

extension Database {
    /// Creates the vector collection `name` (or returns it when it exists with the same
    /// dimension and metric; another dimension or metric is `conflict`).
    public func createVectorCollection(
        _ name: String,
        dimensions: Int,
        metric: VectorMetric = .cosine,
        partition: PartitionID = 0
    ) throws -> VectorCollection {
        try VectorCollection.checkName(name)
        guard (1...65536).contains(dimensions) else {
            throw LLMDBError(.invalidArgument, "a vector collection's dimensions are 1 to 65536, not \(dimensions)")
        }
        try registerIfAbsent(VectorCollection.kind)
        let info = VectorCollectionInfo(name: name, dimensions: dimensions, metric: metric, partition: partition)
        if let existing = try? vectorCollection(name) {
            guard existing.info == info else {
                throw LLMDBError(
                    .conflict,
                    "the vector collection '\(name)' exists with \(existing.info.dimensions) dimensions, metric \(existing.info.metric.rawValue), partition \(existing.info.partition)"
                )
            }
            return existing
        }
        try defineIndex(VectorCollection.definition(info))
        return VectorCollection(db: self, info: info)
    }

    /// The vector collection `name`; `not_found` when there is none.
    public func vectorCollection(_ name: String) throws -> VectorCollection {
        try VectorCollection.checkName(name)
        try registerIfAbsent(VectorCollection.kind)
        guard let v = try read({ try $0.get(.index(VectorCollection.definitionName(name))) })?.value,
            let d = ExtensionDefinition.decode(kind: .index, name: VectorCollection.definitionName(name), value: v),
            d.indexKind == VectorCollection.kind.name
        else {
            throw LLMDBError(.notFound, "no vector collection named '\(name)'")
        }
        return VectorCollection(db: self, info: try VectorCollection.info(of: d))
    }

    /// Drops the vector collection `name` in one transaction: every vector it holds now ends
    /// (their history stays readable as facts, as of earlier transactions) and its definition
    /// goes. `not_found` when there is none.
    @discardableResult
    public func dropVectorCollection(_ name: String) throws -> Commit {
        let c = try vectorCollection(name)
        let prefix = Key(VectorCollection.keyPrefix(name), partition: c.info.partition)
        let live = try read { s in try s.scan(prefix: prefix).map(\.key) }
        return try write { b in
            for k in live { try b.delete(k) }
            try b.deleteSystem(.index(VectorCollection.definitionName(name)))
        }
    }

    /// Every vector collection.
    public func vectorCollections() throws -> [VectorCollectionInfo] {
        try read { s in
            try s.scan(prefix: Key("_meta/index/vectors/", partition: Key.systemPartition)).compactMap { f in
                guard let v = f.value else { return nil }
                let name = String(decoding: f.key.bytes.dropFirst("_meta/index/".count), as: UTF8.self)
                guard let d = ExtensionDefinition.decode(kind: .index, name: name, value: v),
                    d.indexKind == VectorCollection.kind.name
                else { return nil }
                return try? VectorCollection.info(of: d)
            }
        }
    }
}

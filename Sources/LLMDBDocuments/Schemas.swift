public import LLMDB

/// One stored version of a collection's schema.
public struct SchemaVersion: Sendable, Hashable {
    public let collection: String
    public let version: Int
    public let schema: Schema
    public let txID: TxID
    public let setAt: Instant
}

extension Collection {
    var schemaPrefix: Key { Key("_meta/schema/\(name)/", partition: Key.systemPartition) }

    /// The schema versions live as of (`validAt`, `tx`), oldest first. Schemas are facts at
    /// `_meta/schema/{collection}/{version}` in LLMDB's partition: readable like any data.
    public func schemas(validAt: Instant? = nil, tx: TxSelector = .latest) throws -> [SchemaVersion] {
        let facts = try db.read(validAt: validAt, tx: tx) { try $0.scan(prefix: schemaPrefix) }
        var out: [SchemaVersion] = []
        for f in facts {
            guard let v = f.value,
                let n = Int(String(decoding: f.key.bytes.dropFirst(schemaPrefix.bytes.count), as: UTF8.self))
            else { continue }
            out.append(
                SchemaVersion(
                    collection: name,
                    version: n,
                    schema: try Schema(try JSONValue(parsing: v.payload)),
                    txID: f.txID,
                    setAt: f.txTime
                )
            )
        }
        return out.sorted { $0.version < $1.version }
    }

    /// The current schema (the highest live version), or nil for a schemaless collection.
    func currentSchema() throws -> (Int, Schema)? {
        guard let last = try schemas().last else { return nil }
        return (last.version, last.schema)
    }

    /// One schema version (default: the current one).
    public func schema(version: Int? = nil, tx: TxSelector = .latest) throws -> SchemaVersion {
        let all = try schemas(tx: tx)
        if let version {
            guard let s = all.first(where: { $0.version == version }) else {
                throw LLMDBError(
                    .notFound,
                    "'\(name)' has no schema version \(version) (versions: \(all.map { String($0.version) }.joined(separator: ", ")))"
                )
            }
            return s
        }
        guard let s = all.last else { throw LLMDBError(.notFound, "'\(name)' has no schema: it is schemaless") }
        return s
    }

    /// Sets a new schema version (the current one plus 1): from now on writes are validated
    /// against it. Documents stored under earlier versions keep their version.
    ///
    /// - Throws: ``LLMDBError/Code/invalidSchema`` listing every problem when `json` is not
    ///   in the supported subset; nothing is written.
    @discardableResult
    public func setSchema(_ json: JSONValue) throws -> SchemaVersion {
        let schema = try Schema(json)
        let next = (try schemas().last?.version ?? 0) + 1
        let key = Key("_meta/schema/\(name)/\(next)", partition: Key.systemPartition)
        let commit = try db.write { b in
            try b.expect(key, .absent)
            try b.putSystem(key, try Value.json(json.text))
        }
        return SchemaVersion(collection: name, version: next, schema: schema, txID: commit.txID, setAt: commit.txTime)
    }

    /// Makes the collection schemaless again (every version retracted; history keeps them).
    @discardableResult
    public func dropSchema() throws -> Commit {
        let all = try schemas()
        guard !all.isEmpty else { throw LLMDBError(.notFound, "'\(name)' has no schema") }
        return try db.write { b in
            for s in all {
                try b.deleteSystem(Key("_meta/schema/\(name)/\(s.version)", partition: Key.systemPartition))
            }
        }
    }
}

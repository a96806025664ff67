public import LLMDB
import LLMDBText

/// A document found by a full-text search, with its BM25 score.
public struct TextMatch: Sendable {
    public let document: Document
    public let score: Double
}

extension Collection {
    /// The name of the collection's full-text index: `doc.{collection}.$text`.
    public var textIndexName: String { indexPrefix + "$text" }

    /// Declares the collection's full-text (BM25) index over the strings of its documents
    /// (all of them, or those under the dotted `path`), built at once from every stored
    /// version and maintained in each write's transaction, so searches answer as of any time.
    @discardableResult
    public func createTextIndex(path: String? = nil) throws -> ExtensionDefinition {
        if let path { try Filter.checkPath(path, "text index path") }
        let def = FullTextIndex.definition(
            textIndexName,
            scope: KeyScope(partition: partition, prefix: Array((name + "/").utf8)),
            path: path
        )
        guard def.name.utf8.count <= 120 else {
            throw LLMDBError(.invalidArgument, "the index name '\(def.name)' is too long (at most 120 bytes)")
        }
        try db.write { try $0.putSystem(def.key, def.encoded()) }
        return def
    }

    /// Removes the full-text index and its data.
    @discardableResult
    public func dropTextIndex() throws -> Commit {
        guard try indexes().contains(where: { FullTextIndex.matches($0) }) else {
            throw LLMDBError(.notFound, "'\(name)' has no text index")
        }
        return try db.write { try $0.deleteSystem(.index(textIndexName)) }
    }

    /// The documents that best match the words of `query` as of (`validAt`, `tx`), ranked
    /// by BM25 (see docs/agent-memory.md for the ranking).
    public func search(
        _ query: String,
        limit: Int = 10,
        validAt: Instant? = nil,
        tx: TxSelector = .latest
    ) throws -> [TextMatch] {
        guard limit > 0 else { throw LLMDBError(.invalidQuery, "the limit must be positive") }
        guard try indexes().contains(where: { FullTextIndex.matches($0) }) else {
            throw LLMDBError(.notFound, "'\(name)' has no text index; create one first (PUT …/text-index)")
        }
        let prefix = name + "/"
        return try db.search(text: textIndexName, query: query, validAt: validAt, tx: tx, TextSearch(limit: limit)).map
        { hit in
            let id = String(decoding: hit.fact.key.bytes.dropFirst(prefix.utf8.count), as: UTF8.self)
            let body = try hit.fact.value.map { try self.body(of: $0) } ?? .null
            let doc = Document(
                id: id,
                body: body,
                validFrom: hit.fact.validFrom,
                txID: hit.fact.txID,
                schemaVersion: nil,
                storedVersion: nil
            )
            return TextMatch(document: doc, score: hit.score)
        }
    }
}

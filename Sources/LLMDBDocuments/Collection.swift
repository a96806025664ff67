public import LLMDB

/// A document as read: its id, its body (a JSON object), and when it holds.
public struct Document: Sendable, Hashable {
    public let id: String
    public let body: JSONValue
    public let validFrom: Instant
    public let txID: TxID
    /// The schema version the body is shown at (nil: schemaless): the requested version,
    /// or the current one; older stored documents are projected to it by the migrations.
    public let schemaVersion: Int?
    /// The schema version the stored document was written under (nil: schemaless).
    public let storedVersion: Int?

    public init(id: String, body: JSONValue, validFrom: Instant, txID: TxID, schemaVersion: Int?, storedVersion: Int?) {
        self.id = id
        self.body = body
        self.validFrom = validFrom
        self.txID = txID
        self.schemaVersion = schemaVersion
        self.storedVersion = storedVersion
    }
}

/// One page of a `find`.
public struct FindResult: Sendable {
    public let documents: [Document]
    /// Pass to the next `find` to continue after the last document; nil at the end.
    public let cursor: String?
    /// How the documents were found (see ``Collection/explain(_:)``).
    public let plan: String
}

/// A sort key: a dotted path and a direction.
public struct SortKey: Sendable, Hashable {
    public let path: String
    public let descending: Bool
    public init(_ path: String, descending: Bool = false) {
        self.path = path
        self.descending = descending
    }

    /// Parses `path`, `-path` (descending) or `path:desc`.
    public static func parse(_ text: String) throws(LLMDBError) -> SortKey {
        var t = Substring(text)
        var desc = false
        if t.hasPrefix("-") {
            desc = true
            t = t.dropFirst()
        } else if t.hasSuffix(":desc") {
            desc = true
            t = t.dropLast(5)
        } else if t.hasSuffix(":asc") {
            t = t.dropLast(4)
        }
        try Filter.checkPath(String(t), "sort")
        return SortKey(String(t), descending: desc)
    }
}

/// A collection of JSON documents with ids, stored as bitemporal facts: the document
/// `id` of collection `c` is the fact `c/id` (in the collection's partition), so every
/// document keeps its full history and every read can be as of any valid and transaction
/// time. Obtain one with ``LLMDB/Database/collection(_:partition:)``.
public struct Collection: Sendable {
    public let db: Database
    public let name: String
    public let partition: PartitionID

    /// The member that records the schema version in a stored document.
    static let versionMember = "_v"

    init(db: Database, name: String, partition: PartitionID) throws(LLMDBError) {
        try db.registerDocumentIndexKinds()
        let ok =
            !name.isEmpty && name.count <= 64
            && name.unicodeScalars.allSatisfy { c in
                (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
                    || c == "."
            }
        guard ok else {
            throw LLMDBError(
                .invalidArgument,
                "the collection name '\(name)' is invalid: use 1 to 64 letters, digits, '-', '_' or '.'"
            )
        }
        guard partition != Key.systemPartition else {
            throw LLMDBError(.reservedPartition, "partition \(Key.systemPartition) is reserved for LLMDB's own records")
        }
        self.db = db
        self.name = name
        self.partition = partition
    }

    var prefix: Key { Key(name + "/", partition: partition) }

    func key(_ id: String) throws(LLMDBError) -> Key {
        guard !id.isEmpty else { throw LLMDBError(.invalidArgument, "a document id cannot be empty") }
        let k = Key(name + "/" + id, partition: partition)
        try k.validate()
        return k
    }

    static func id(of key: Key, collection: String) -> String {
        String(decoding: key.bytes.dropFirst(collection.utf8.count + 1), as: UTF8.self)
    }

    // MARK: Writes

    /// Checks a body and returns its stored form (the schema version added when the
    /// collection has a schema).
    /// Checks a body and returns the value to store for it: validated against the current
    /// schema (every violation listed) and tagged with its version. For writers that build
    /// their own transactions (the query executor).
    public func storedValue(_ body: JSONValue) throws -> Value { try stored(body) }

    /// The fact key of document `id`.
    public func factKey(_ id: String) throws(LLMDBError) -> Key { try key(id) }

    func stored(_ body: JSONValue) throws -> Value {
        guard case .object(let members) = body else {
            throw LLMDBError(.invalidValue, "a document must be a JSON object")
        }
        if members.contains(where: { $0.key == Self.versionMember }) {
            throw LLMDBError(
                .invalidValue,
                "the member '\(Self.versionMember)' is reserved (it records the schema version)"
            )
        }
        guard let (version, schema) = try currentSchema() else { return try Value.json(body.text) }
        let problems = schema.violations(of: body)
        if !problems.isEmpty {
            throw LLMDBError(
                .schemaViolation,
                "the document violates schema version \(version) of '\(name)' (\(problems.count) problem\(problems.count == 1 ? "" : "s")): "
                    + problems.joined(separator: "; ") + "; nothing was written"
            )
        }
        return try Value.json(JSONValue.object([JSONMember(Self.versionMember, .int(Int64(version)))] + members).text)
    }

    /// Inserts a new document; fails with ``LLMDBError/Code/conflict`` if `id` exists now.
    /// Without an id, one is generated (time-ordered). Returns the id and the commit.
    @discardableResult
    public func insert(
        _ body: JSONValue,
        id: String? = nil,
        validFrom: Instant? = nil
    ) throws -> (id: String, commit: Commit) {
        let id = id ?? Self.newID()
        let k = try key(id)
        let v = try stored(body)
        let commit = try db.write { b in
            try b.expect(k, .absent)
            try b.put(k, v, validFrom: validFrom)
        }
        return (id, commit)
    }

    /// Replaces a document that exists now (``LLMDBError/Code/conflict`` otherwise).
    @discardableResult
    public func replace(_ id: String, with body: JSONValue, validFrom: Instant? = nil) throws -> Commit {
        let k = try key(id)
        let v = try stored(body)
        return try db.write { b in
            try b.expect(k, .present)
            try b.put(k, v, validFrom: validFrom)
        }
    }

    /// Applies a JSON merge patch (RFC 7386) to a document that exists now. Concurrent
    /// patches do not lose updates: the write expects the version it read, and retries.
    @discardableResult
    public func patch(_ id: String, with patch: JSONValue) throws -> Commit {
        let k = try key(id)
        for _ in 0..<16 {
            guard let current = try get(id) else {
                throw LLMDBError(.notFound, "no document with that id in '\(name)'")
            }
            let merged = MergePatch.apply(patch, to: current.body)
            let v = try stored(merged)
            do {
                return try db.write { b in
                    try b.expect(k, .version(current.txID))
                    try b.put(k, v)
                }
            } catch let e as LLMDBError where e.code == .conflict {
                continue
            }
        }
        throw LLMDBError(.conflict, "the document kept changing while it was patched (16 attempts); try again")
    }

    /// Deletes a document that exists now (a retraction: history keeps it).
    @discardableResult
    public func delete(_ id: String, validFrom: Instant? = nil) throws -> Commit {
        let k = try key(id)
        return try db.write { b in
            try b.expect(k, .present)
            try b.delete(k, validFrom: validFrom)
        }
    }

    /// A new time-ordered document id (what `insert` uses without an id).
    public static func generateID() -> String { newID() }

    static func newID() -> String {
        let t = UInt64(bitPattern: WallClock().now().microseconds)
        var r = SystemRandomNumberGenerator()
        let tail = UInt32.random(in: 0...UInt32.max, using: &r)
        func hex(_ v: UInt64, _ n: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return hex(t, 14) + hex(UInt64(tail), 8)
    }

    // MARK: Reads

    func document(_ key: Key, _ view: ValueView) throws -> Document {
        try document(key, JSONValue(parsing: Array(view.payload)), validFrom: view.validFrom, txID: view.txID)
    }

    func document(_ key: Key, _ value: Value, validFrom: Instant, txID: TxID) throws -> Document {
        try document(key, JSONValue(parsing: value.payload), validFrom: validFrom, txID: txID)
    }

    func document(_ key: Key, _ body: JSONValue, validFrom: Instant, txID: TxID) throws -> Document {
        var version: Int? = nil
        var clean = body
        if case .object(let members) = body, let first = members.first, first.key == Self.versionMember,
            case .int(let v) = first.value
        {
            version = Int(v)
            clean = .object(Array(members.dropFirst()))
        }
        return Document(
            id: Self.id(of: key, collection: name),
            body: clean,
            validFrom: validFrom,
            txID: txID,
            schemaVersion: version,
            storedVersion: version
        )
    }

    /// How reads show documents: at `requested` (or the current version), through `chain`.
    struct View {
        let chain: MigrationChain
        let target: Int

        func show(_ d: Document) throws(LLMDBError) -> Document {
            let stored = d.storedVersion ?? 0
            guard stored != target, !chain.byTarget.isEmpty else { return d }
            let (body, reached) = try chain.projectTracking(d.body, id: d.id, from: stored, to: target)
            return Document(
                id: d.id,
                body: body,
                validFrom: d.validFrom,
                txID: d.txID,
                schemaVersion: reached,
                storedVersion: d.storedVersion
            )
        }
    }

    func view(_ requested: Int?, tx: TxSelector) throws -> View {
        let chain = try chain(tx: tx)
        if let requested, requested < 0 || requested > chain.current {
            throw LLMDBError(.notFound, "'\(name)' has no schema version \(requested) (current: \(chain.current))")
        }
        return View(chain: chain, target: requested ?? chain.current)
    }

    /// The document as of (`validAt`, `tx`), or nil.
    public func get(
        _ id: String,
        validAt: Instant? = nil,
        tx: TxSelector = .latest,
        schemaVersion: Int? = nil
    ) throws
        -> Document?
    {
        let k = try key(id)
        let shown = try view(schemaVersion, tx: tx)
        guard
            let d = try db.read(validAt: validAt, tx: tx, { s in try s.withValue(k) { view in try document(k, view) } })
        else { return nil }
        return try shown.show(d)
    }

    /// Every version of a document, by valid time (with `withCorrections`, every entry).
    public func history(_ id: String, tx: TxSelector = .latest, withCorrections: Bool = false) throws -> [Fact] {
        try db.history(of: key(id), asOf: tx, withCorrections: withCorrections)
    }

    /// The documents matching `filter` as of (`validAt`, `tx`): projected to `fields`
    /// (dotted paths; all when empty), sorted by `sort` then id, at most `limit`, after
    /// `cursor` (from the previous page).
    public func find(
        _ filter: Filter = .all,
        fields: [String] = [],
        sort: [SortKey] = [],
        limit: Int = .max,
        cursor: String? = nil,
        validAt: Instant? = nil,
        tx: TxSelector = .latest,
        schemaVersion: Int? = nil
    ) throws -> FindResult {
        guard limit > 0 else { throw LLMDBError(.invalidQuery, "the limit must be positive") }
        let shown = try view(schemaVersion, tx: tx)
        for f in fields { try Filter.checkPath(f, "fields") }
        let after = try cursor.map { (c) throws(LLMDBError) in try FindCursor.decode(c, sortCount: sort.count) }
        let plan = try self.plan(filter, shown)
        var matched: [Document] = []
        let streaming = sort.isEmpty
        try db.read(validAt: validAt, tx: tx) { s in
            func consider(_ stored: Document) throws -> Bool {
                let d = try shown.show(stored)
                guard filter.matches(d.body) else { return true }
                if streaming, let after, !after.id.utf8.lexicographicallyPrecedes(d.id.utf8) { return true }
                matched.append(d)
                return !(streaming && matched.count > limit)
            }
            switch plan {
            case .scan:
                try s.scan(prefix: prefix) { row in
                    try consider(try document(try row.key(), row.value))
                }
            case .index(let index, _, let values):
                // The lookup already read each candidate as of this snapshot: use its value.
                var candidates: [Key: Fact] = [:]
                for v in values {
                    guard let k = JSONIndexKey.key(v) else { continue }
                    for f in try s.lookup(index: index.name, key: k) { candidates[f.key] = f }
                }
                for key in candidates.keys.sorted() {
                    let f = candidates[key]!
                    guard let value = f.value else { continue }
                    if try !consider(try document(key, value, validFrom: f.validFrom, txID: f.txID)) { break }
                }
            }
        }
        if !sort.isEmpty {
            matched.sort { a, b in
                FindCursor.precedes(FindCursor.sortValues(a, sort), a.id, FindCursor.sortValues(b, sort), b.id, sort)
            }
            if let after {
                matched.removeAll { d in
                    !FindCursor.precedes(after.values, after.id, FindCursor.sortValues(d, sort), d.id, sort)
                }
            }
        }
        var page = Array(matched.prefix(limit))
        let next: String? =
            matched.count > limit ? page.last.map { FindCursor.encode(FindCursor.sortValues($0, sort), $0.id) } : nil
        if !fields.isEmpty {
            page = page.map { d in
                var out: JSONValue = .object([])
                for f in fields {
                    if let v = JSONPath.value(d.body, f) {
                        JSONPath.set(&out, FieldPath(f), v)
                    }
                }
                return Document(
                    id: d.id,
                    body: out,
                    validFrom: d.validFrom,
                    txID: d.txID,
                    schemaVersion: d.schemaVersion,
                    storedVersion: d.storedVersion
                )
            }
        }
        return FindResult(documents: page, cursor: next, plan: plan.description(collection: name))
    }

    /// How many documents match `filter` as of (`validAt`, `tx`).
    public func count(
        _ filter: Filter = .all,
        validAt: Instant? = nil,
        tx: TxSelector = .latest,
        schemaVersion: Int? = nil
    ) throws -> Int {
        var n = 0
        try eachDocument(validAt: validAt, tx: tx, schemaVersion: schemaVersion) { d in
            if filter.matches(d.body) { n += 1 }
            return true
        }
        return n
    }

    // MARK: Indexes

    enum Plan {
        case scan
        case index(ExtensionDefinition, path: String, values: [JSONValue])

        func description(collection: String) -> String {
            switch self {
            case .scan: "full scan of collection '\(collection)'"
            case .index(let def, let path, let values):
                "index '\(def.name)' on \(path) (\(values.count == 1 ? "equality" : "in: \(values.count) values")), then the filter on each candidate"
            }
        }
    }

    func plan(_ filter: Filter, _ shown: View) throws -> Plan {
        // Indexes hold the stored documents' values: while older versions are stored (a
        // rewrite not done) or another version is read, only a scan sees the projected ones.
        if !shown.chain.byTarget.isEmpty {
            if shown.target != shown.chain.current { return .scan }
            if let p = try migrationStatus(), p.state != .done { return .scan }
        }
        for def in try indexes() {
            guard let path = JSONPathIndex.path(def) else { continue }
            if let values = filter.requiredValues(for: path), values.allSatisfy({ JSONIndexKey.key($0) != nil }) {
                return .index(def, path: path, values: values)
            }
        }
        return .scan
    }

    /// The ids of the documents that an index lookup gives for `filter` as of (`validAt`,
    /// `tx`), in id order: candidates for the caller to read and filter, not matches. Nil when
    /// no index answers `filter`, or when it gives more than `limit` (a scan is then the
    /// better plan, and the lookup holds at most `limit + 1` facts, never all of them).
    public func indexCandidates(
        _ filter: Filter,
        validAt: Instant? = nil,
        tx: TxSelector = .latest,
        limit: Int
    ) throws -> [String]? {
        guard case .index(let def, _, let values) = try plan(filter, try view(nil, tx: tx)) else { return nil }
        let (bound, overflow) = limit.addingReportingOverflow(1)
        return try db.read(validAt: validAt, tx: tx) { s -> [String]? in
            var keys = Set<Key>()
            for v in values {
                guard let k = JSONIndexKey.key(v) else { continue }
                for f in try s.lookup(index: def.name, key: k, limit: overflow ? .max : bound) {
                    keys.insert(f.key)
                    if keys.count > limit { return nil }
                }
            }
            return keys.sorted().map { Self.id(of: $0, collection: name) }
        }
    }

    /// How ``find(_:fields:sort:limit:cursor:validAt:tx:)`` would run `filter`: which index, if
    /// any, and which key range.
    public func explain(_ filter: Filter) throws -> String {
        try plan(filter, try view(nil, tx: .latest)).description(collection: name)
    }

    var indexPrefix: String { "doc." + name + "." }

    /// The indexes of this collection (JSON-path, and its full-text index).
    public func indexes() throws -> [ExtensionDefinition] {
        try db.read { s in try s.scan(prefix: Key("_meta/index/" + indexPrefix, partition: Key.systemPartition)) }
            .compactMap { f in
                guard let v = f.value else { return nil }
                let name = String(decoding: f.key.bytes.dropFirst("_meta/index/".utf8.count), as: UTF8.self)
                return ExtensionDefinition.decode(kind: .index, name: name, value: v).map(db.resolvingKind)
            }
            .filter { $0.scope.partition == partition }
    }

    /// Declares an index on a JSON path, built at once from every stored version of every
    /// document and maintained in the same transaction as each write. Its name is
    /// `doc.{collection}.{path}`. `find` uses it for equality and `$in` on that path.
    @discardableResult
    public func createIndex(on path: String) throws -> ExtensionDefinition {
        try Filter.checkPath(path, "index path")
        let def = JSONPathIndex.definition(
            indexPrefix + path,
            scope: KeyScope(partition: partition, prefix: Array((name + "/").utf8)),
            path: path
        )
        guard def.name.utf8.count <= 120 else {
            throw LLMDBError(.invalidArgument, "the index name '\(def.name)' is too long (at most 120 bytes)")
        }
        try db.write { try $0.putSystem(def.key, def.encoded()) }
        return def
    }

    /// Removes the index on `path` and its data.
    @discardableResult
    public func dropIndex(on path: String) throws -> Commit {
        guard try indexes().contains(where: { JSONPathIndex.path($0) == path }) else {
            throw LLMDBError(.notFound, "no index on '\(path)' in '\(name)'")
        }
        return try db.write { try $0.deleteSystem(.index(indexPrefix + path)) }
    }
}

extension Database {
    /// The collection `name` in `partition`.
    public func collection(_ name: String, partition: PartitionID = 0) throws(LLMDBError) -> Collection {
        try Collection(db: self, name: name, partition: partition)
    }
}

/// JSON merge patch (RFC 7386): objects merge member by member, `null` removes a member,
/// anything else replaces.
public enum MergePatch {
    public static func apply(_ patch: JSONValue, to target: JSONValue) -> JSONValue {
        guard case .object(let patchMembers) = patch else { return patch }
        var members: [JSONMember] = []
        if case .object(let m) = target { members = m }
        for p in patchMembers {
            let i = members.lastIndex { $0.key == p.key }
            if case .null = p.value {
                if let i { members.remove(at: i) }
            } else if let i {
                members[i].value = apply(p.value, to: members[i].value)
            } else {
                members.append(JSONMember(p.key, apply(p.value, to: .object([]))))
            }
        }
        return .object(members)
    }
}

/// Cursors of `find`: the sort values and id of the last document of a page, as base64 JSON.
enum FindCursor {
    static func sortValues(_ d: Document, _ sort: [SortKey]) -> [JSONValue?] {
        sort.map { JSONPath.value(d.body, $0.path) }
    }

    static func precedes(_ a: [JSONValue?], _ aid: String, _ b: [JSONValue?], _ bid: String, _ sort: [SortKey]) -> Bool
    {
        for (i, k) in sort.enumerated() {
            let c = JSONOrder.sortCompare(a[i], b[i])
            if c != 0 { return k.descending ? c > 0 : c < 0 }
        }
        return aid.utf8.lexicographicallyPrecedes(bid.utf8)  // key order
    }

    static func encode(_ values: [JSONValue?], _ id: String) -> String {
        let list: [JSONValue] = values.map { v in v.map { .array([$0]) } ?? .array([]) } + [.string(id)]
        return Base64.encode(JSON.serialize(.array(list)))
    }

    static func decode(_ text: String, sortCount: Int) throws(LLMDBError) -> (values: [JSONValue?], id: String) {
        guard let bytes = Base64.decode(text), case .array(let list)? = try? JSON.parse(bytes),
            list.count == sortCount + 1,
            case .string(let id) = list.last!
        else {
            throw LLMDBError(
                .invalidQuery,
                "the cursor is not one this find returned (it must come with the same sort)"
            )
        }
        var values: [JSONValue?] = []
        for item in list.dropLast() {
            guard case .array(let wrapped) = item, wrapped.count <= 1 else {
                throw LLMDBError(.invalidQuery, "the cursor is malformed")
            }
            values.append(wrapped.first)
        }
        return (values, id)
    }
}

extension Collection {
    /// Calls `body` with every document as of (`validAt`, `tx`), in id order, shown at
    /// `schemaVersion` (default: current), until it returns false: a streaming `find`
    /// without a filter, for query executors.
    public func eachDocument(
        validAt: Instant? = nil,
        tx: TxSelector = .latest,
        schemaVersion: Int? = nil,
        _ body: (Document) throws -> Bool
    ) throws {
        let shown = try view(schemaVersion, tx: tx)
        try db.read(validAt: validAt, tx: tx) { s in
            try s.scan(prefix: prefix) { row in
                try body(try shown.show(try document(try row.key(), row.value)))
            }
        }
    }

    /// Whether the collection has, or ever had, a document or a schema.
    public func exists() throws -> Bool {
        var any = false
        try db.read { s in
            try s.forEachKey(prefix: prefix) { _ in
                any = true
                return false
            }
        }
        return try any || !schemas().isEmpty
    }

    /// Parses a stored value as a document body (the schema version member removed), for
    /// readers of raw history entries.
    public func body(of value: Value) throws -> JSONValue {
        var body = try JSONValue(parsing: value.payload)
        if case .object(let members) = body, members.first?.key == Self.versionMember {
            body = .object(Array(members.dropFirst()))
        }
        return body
    }
}

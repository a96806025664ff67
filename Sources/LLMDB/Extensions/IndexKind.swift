public import LLMDBStorage
import Synchronization

// The seam through which derived data (indexes) is kept in step with the facts: a façade
// implements an ``IndexKind`` in its own target and registers it; the writer hands each
// live index of that kind the entries every transaction writes, inside the same LMDB write
// transaction, so that the index commits or rolls back with the facts. The core knows no
// kind by name: it stores definitions, finds the kind a definition names, and calls it.
//
// See docs/architecture.md ("Derived data") and docs/storage-format.md.

/// A kind of index: the rules that turn stored entries into an index's rows. Implemented by
/// a façade (JSON-path indexes in LLMDBDocuments, full-text in LLMDBText, WebAssembly
/// indexes in LLMDBWasm) and registered with ``Database/Options/indexKinds`` or
/// ``Database/register(_:)``.
///
/// A database opened without the kind of an index it holds refuses every write that the
/// index covers (``LLMDBError/Code/codeUnavailable``, naming the kind); reads stay available.
public protocol IndexKind: Sendable {
    /// The name stored in definitions (`"kind"` of `_meta/index/{name}`): 1 to 32 lower-case
    /// ASCII letters, digits and `_`.
    var name: String { get }
    /// The LMDB tables that hold this kind's rows (opened, and created on a writable open,
    /// when the kind is registered); the first is the default of ``IndexRows``. Default:
    /// `["index"]`, the table the core's first indexes shared.
    var tables: [String] { get }
    /// Checks a definition of this kind (its scope and settings), in the transaction that
    /// writes it: a definition this throws for is not stored. Throw
    /// ``LLMDBError/Code/invalidArgument`` with a message that names what is wrong.
    func validate(_ definition: ExtensionDefinition) throws(LLMDBError)
    /// Starts the work of one index in one write transaction: a commit's entries, or a build
    /// over every stored entry when the index is defined.
    func maintainer(for definition: ExtensionDefinition) throws -> any IndexMaintainer
    /// The index's problems against the facts as of `snapshot` (for `llmdb verify`): each a
    /// line that says what is wrong. Default: none checked.
    func verify(_ definition: ExtensionDefinition, _ snapshot: borrowing Snapshot) throws -> [String]
    /// Whether a definition stored before definitions named their kind
    /// (``ExtensionDefinition/isLegacyIndex``) is one of this kind's, by its settings.
    /// Default: false (a kind newer than named kinds has no such definitions).
    func claims(_ legacy: ExtensionDefinition) -> Bool
    /// Whether `definition`'s index is maintained in the writing transaction or by the
    /// background builder (see ``IndexMaintenance``). Asked when the index is defined and
    /// by every transaction it covers: the answer must not change for a definition.
    /// Default: ``IndexMaintenance/synchronous``.
    func maintenance(for definition: ExtensionDefinition) -> IndexMaintenance
}

extension IndexKind {
    public var tables: [String] { [IndexKinds.sharedTable] }
    public func claims(_ legacy: ExtensionDefinition) -> Bool { false }
    public func maintenance(for definition: ExtensionDefinition) -> IndexMaintenance { .synchronous }
    public func verify(_ definition: ExtensionDefinition, _ snapshot: borrowing Snapshot) throws -> [String] { [] }
}

/// The work of one index in one write transaction. Created by ``IndexKind/maintainer(for:)``
/// for each transaction that touches the index, used by the writer's thread only, and
/// discarded after ``finish(_:)``. Rows are written through the ``IndexRows`` the writer
/// lends to each call; whatever a call throws rolls back the whole transaction.
///
/// For an asynchronous index (``IndexMaintenance/asynchronous``) the background builder
/// makes the calls instead, in writer transactions of its own: ``add(_:_:)`` gets each
/// committed transaction's entries (those not erased since), in commit order, each followed
/// by ``finish(_:)``; the build gives batches, each followed by ``finish(_:)``, over entries
/// up to the defining transaction. ``erase(_:_:)`` still runs in the erasing transaction.
/// What a builder's call throws stops the index (``AsyncIndexStatus/Phase/failed``) and
/// writes nothing of that batch.
public protocol IndexMaintainer: AnyObject {
    /// Entries the transaction stored in the index's scope, in the order written: every
    /// entry a put or a delete wrote (deletes as tombstones, ``ValueTag/tombstone``), with the
    /// valid_from and tx it is stored at. An entry may replace one stored at the same
    /// (key, valid_from, tx) earlier: its rows replace that entry's rows. During a build, the
    /// entries are every stored one in the scope but tombstones, in batches, in key order: a
    /// kind must give a tombstone no rows of its own, so that a build and maintenance agree.
    func add(_ entries: [IndexedEntry], _ rows: borrowing IndexRows) throws
    /// Every entry of `key` was erased (rule 7): remove what the index holds of it. Called
    /// when the erase runs, so before ``add(_:_:)`` of the entries the transaction wrote later.
    func erase(_ key: Key, _ rows: borrowing IndexRows) throws
    /// After the transaction's (or the build's) last call: summaries the index keeps per
    /// transaction go here. Default: nothing.
    func finish(_ rows: borrowing IndexRows) throws
}

extension IndexMaintainer {
    public func finish(_ rows: borrowing IndexRows) throws {}
}

/// One index's rows, lent by the writer for one call: an index reads and writes only its
/// own rows, inside the transaction that writes the facts.
///
/// Every row key of an index starts with a tag byte the kind chooses, then the index's
/// name (bytes 0x00 escaped as 0x00 0xFF) and 0x00 0x00: ``prefix(_:)``. A key without the
/// index's name is refused, so that no index can touch another's rows; dropping an index
/// removes every row with its name from its kind's tables.
public struct IndexRows: ~Copyable {
    let txn: LentTransaction
    let main: Table
    let named: [String: Table]
    let facts: Table
    /// `[escaped name][00 00]`: bytes 1… of every row key of this index.
    let own: [UInt8]
    /// The index these rows belong to.
    public let definition: ExtensionDefinition
    /// The valid time of the transaction (the default valid_from of its writes).
    public let txTime: Instant

    init(
        _ txn: LentTransaction,
        _ tables: IndexKinds.Tables,
        kindTables: [String],
        facts: Table,
        definition: ExtensionDefinition,
        txTime: Instant
    ) throws(LLMDBError) {
        var named: [String: Table] = [:]
        for t in kindTables {
            guard let table = tables[t] else {
                throw LLMDBError(
                    .readOnly,
                    "the table '\(t)' of index '\(definition.name)' is missing; open the database writable once to create it"
                )
            }
            named[t] = table
        }
        guard let first = kindTables.first, let main = named[first] else {
            throw LLMDBError(.invalidArgument, "the index kind '\(definition.indexKind)' names no table")
        }
        self.txn = txn
        self.main = main
        self.named = named
        self.facts = facts
        self.own = IndexRows.ownBytes(definition.name)
        self.definition = definition
        self.txTime = txTime
    }

    static func ownBytes(_ name: String) -> [UInt8] {
        var out: [UInt8] = []
        IndexStore.escaped(name.utf8, into: &out)
        return out
    }

    /// `[tag][escaped name][00 00]`: the start of this index's rows with `tag`.
    public func prefix(_ tag: UInt8) -> [UInt8] {
        var out: [UInt8] = [tag]
        out.reserveCapacity(own.count + 1)
        out.append(contentsOf: own)
        return out
    }

    /// Whether `key` is a row key of this index (any tag).
    public func owns(_ key: UnsafeRawBufferPointer) -> Bool {
        key.count > own.count
            && own.withUnsafeBytes { memcmpEqual($0, UnsafeRawBufferPointer(rebasing: key[1...]), count: own.count) }
    }

    func table(_ name: String?) throws(LLMDBError) -> Table {
        guard let name else { return main }
        guard let t = named[name] else {
            throw LLMDBError(
                .invalidArgument,
                "the index kind '\(definition.indexKind)' does not own a table named '\(name)'"
            )
        }
        return t
    }

    func check(_ key: UnsafeRawBufferPointer) throws(LLMDBError) {
        guard owns(key) else {
            throw LLMDBError(
                .invalidArgument,
                "index '\(definition.name)' wrote a row key outside its own rows (see IndexRows.prefix); nothing was written"
            )
        }
    }

    /// The row under `key` (in `table`, default the kind's first), borrowed until the next write.
    public func get(_ key: [UInt8], in table: String? = nil) throws -> BorrowedBytes? {
        let t = try self.table(table)
        return try key.withUnsafeBytes { k in
            try check(k)
            return try txn.get(t, k)
        }
    }

    /// Stores a row.
    public func put(_ key: [UInt8], _ value: [UInt8], in table: String? = nil) throws {
        let t = try self.table(table)
        try key.withUnsafeBytes { k in
            try check(k)
            try value.withUnsafeBytes { v in try txn.put(t, k, v) }
        }
    }

    /// Removes a row; false when there was none.
    @discardableResult
    public func delete(_ key: [UInt8], in table: String? = nil) throws -> Bool {
        let t = try self.table(table)
        return try key.withUnsafeBytes { k in
            try check(k)
            return try txn.delete(t, k)
        }
    }

    /// Runs `body` with a cursor over this index's rows in `table` (default the kind's first),
    /// lent for the call: it sees no other index's rows (a move that would land on one
    /// answers nil).
    public func withCursor<R>(in table: String? = nil, _ body: (borrowing IndexCursor) throws -> R) throws -> R {
        let c = IndexCursor(try txn.cursor(try self.table(table)), own: own)
        return try body(c)
    }

    /// Removes every row of this index, in each of its kind's tables.
    public func removeAll() throws {
        for t in named.values { try Self.removeAll(own, txn, t) }
    }

    static func removeAll(_ own: [UInt8], _ txn: LentTransaction, _ table: Table) throws {
        let c = try txn.cursor(table)
        for tag in 0...255 {
            let start = [UInt8(tag)] + own
            while let e = try start.withUnsafeBytes({ try c.seek(atLeast: $0) }), EntryKey.hasPrefix(e.key, start) {
                try c.deleteCurrent()
            }
        }
    }

    /// The stored bytes (tag, then payload) of `key`'s value in effect at valid time `at`,
    /// as of this transaction (its earlier writes included); nil when absent or deleted.
    public func fact(_ key: Key, at: Instant) throws -> [UInt8]? {
        let c = try txn.cursor(facts)
        guard let e = try Apply.inEffect(c, prefix: EntryKey.keyPrefix(key), at: at),
            e.value.first != ValueTag.tombstone.rawValue
        else { return nil }
        return e.value
    }
}

/// A cursor over one index's rows, lent by ``IndexRows/withCursor(in:_:)`` for one call:
/// entries are borrowed until the cursor moves or the transaction writes; never keep them.
public struct IndexCursor: ~Copyable {
    let cursor: Cursor
    let own: [UInt8]

    init(_ cursor: consuming Cursor, own: [UInt8]) {
        self.cursor = cursor
        self.own = own
    }

    func mine(_ e: Cursor.Entry?) -> Cursor.Entry? {
        guard let e, e.key.count > own.count,
            own.withUnsafeBytes({ memcmpEqual($0, UnsafeRawBufferPointer(rebasing: e.key[1...]), count: own.count) })
        else { return nil }
        return e
    }

    /// The first row whose key is ≥ `key`, if it is this index's.
    public func seek(atLeast key: [UInt8]) throws -> Cursor.Entry? {
        mine(try key.withUnsafeBytes { try cursor.seek(atLeast: $0) })
    }

    public func next() throws -> Cursor.Entry? { mine(try cursor.next()) }
    public func previous() throws -> Cursor.Entry? { mine(try cursor.previous()) }

    /// The last row before `key` (the greatest key < `key`), if it is this index's: for
    /// "the latest record at or before" lookups.
    public func last(before key: [UInt8]) throws -> Cursor.Entry? {
        let after = try key.withUnsafeBytes { try cursor.seek(atLeast: $0) }
        return mine(after == nil ? try cursor.last() : try cursor.previous())
    }

    /// Deletes the row under the cursor, which must be this index's.
    public func deleteCurrent() throws {
        guard mine(try cursor.current()) != nil else {
            throw LLMDBError(.invalidArgument, "an index may only delete its own rows")
        }
        try cursor.deleteCurrent()
    }
}

/// The index kinds of a database and the tables they own: registered at open
/// (``Database/Options/indexKinds``, and those of the code runner) or later
/// (``Database/register(_:)``). Read by the writer once per transaction.
final class IndexKinds: Sendable {
    /// The table the first index kinds share (created on a writable open).
    static let sharedTable = "index"

    typealias Tables = [String: Table]

    struct State: Sendable {
        var kinds: [String: any IndexKind] = [:]
        var tables: Tables = [:]

        /// The kind of `definition`: the one it names, or for a definition from before kinds
        /// had names, the registered kind that claims it (by name order).
        func kind(of definition: ExtensionDefinition) -> (any IndexKind)? {
            if !definition.isLegacyIndex { return kinds[definition.indexKind] }
            for name in kinds.keys.sorted() where kinds[name]!.claims(definition) { return kinds[name] }
            return nil
        }
    }

    let state: Mutex<State>

    init(tables: Tables) { state = Mutex(State(tables: tables)) }

    var current: State { state.withLock { $0 } }

    static func checkName(_ name: String) throws(LLMDBError) {
        guard (1...32).contains(name.utf8.count),
            name.utf8.allSatisfy({ $0 >= 0x61 && $0 <= 0x7A || $0 >= 0x30 && $0 <= 0x39 || $0 == 0x5F })
        else {
            throw LLMDBError(
                .invalidArgument,
                "an index kind's name is 1 to 32 lower-case letters, digits and '_', not '\(name.prefix(40))'"
            )
        }
    }
}

extension IndexKinds {
    /// Adds `kind`, opening its tables (and creating them unless `readOnly`): at open only,
    /// before the writer starts.
    func add(_ kind: any IndexKind, env: Environment, readOnly: Bool) throws(LLMDBError) {
        try Self.check(kind)
        var opened: Tables = [:]
        let open = current.tables
        for t in kind.tables where open[t] == nil {
            guard !Database.tableNames.contains(t), t != Database.asyncTableName, t.utf8.count <= 64, !t.isEmpty else {
                throw LLMDBError(.invalidArgument, "the index kind '\(kind.name)' cannot own a table named '\(t)'")
            }
            do {
                if let table = try env.openTables([t], create: !readOnly)[t] { opened[t] = table }
            } catch {
                throw LLMDBError.storage(error, "cannot open the table '\(t)' of index kind '\(kind.name)'")
            }
        }
        state.withLock {
            $0.kinds[kind.name] = kind
            $0.tables.merge(opened) { a, _ in a }
        }
    }

    static func check(_ kind: any IndexKind) throws(LLMDBError) {
        try checkName(kind.name)
        guard !kind.tables.isEmpty else {
            throw LLMDBError(.invalidArgument, "the index kind '\(kind.name)' names no table")
        }
    }
}

extension Database {
    /// Registers an index kind: from now on, writes that its indexes cover maintain them.
    /// Registering a kind of the same name again replaces it. Façades call this when first
    /// used, so that their indexes work however the database was opened.
    ///
    /// A kind with tables of its own (not yet open) must be given at open instead
    /// (``Options/indexKinds``): tables are opened before the writer starts.
    public func register(_ kind: any IndexKind) throws(LLMDBError) {
        try IndexKinds.check(kind)
        let open = indexKinds.current.tables
        // A read-only database created before indexes existed has no table to open.
        let missing = kind.tables.filter { open[$0] == nil && !(options.readOnly && $0 == Self.indexTableName) }
        guard missing.isEmpty else {
            throw LLMDBError(
                .invalidArgument,
                "the index kind '\(kind.name)' has tables of its own (\(missing.joined(separator: ", "))): give it when the database opens (Database.Options.indexKinds)"
            )
        }
        indexKinds.state.withLock { $0.kinds[kind.name] = kind }
        // Asynchronous indexes of this kind may have work waiting.
        indexer.nudge()
    }

    /// Registers `kind` unless a kind of its name is registered already (façades call this on
    /// first use: a kind given at open wins).
    package func registerIfAbsent(_ kind: any IndexKind) throws(LLMDBError) {
        guard indexKinds.state.withLock({ $0.kinds[kind.name] == nil }) else { return }
        try register(kind)
    }

    /// `definition` with its kind named when it is from before kinds had names and a
    /// registered kind claims it (``IndexKind/claims(_:)``); else as it is.
    public func resolvingKind(_ definition: ExtensionDefinition) -> ExtensionDefinition {
        guard definition.isLegacyIndex, let kind = indexKinds.current.kind(of: definition) else { return definition }
        return definition.withIndexKind(kind.name)
    }

    /// The names of the index kinds registered.
    public var registeredIndexKinds: [String] { indexKinds.current.kinds.keys.sorted() }
}

extension Database {
    /// Defines (or replaces) an index of a registered kind: stores `definition` at
    /// `_meta/index/{name}`, and in the same transaction the kind checks it and builds it over
    /// every stored entry in its scope. Façades define their indexes through their own APIs
    /// (`Collection.createIndex`, `Database.addIndex`); this is the door for other kinds.
    @discardableResult
    public func defineIndex(_ definition: ExtensionDefinition) throws -> Commit {
        guard definition.kind == .index, !definition.indexKind.isEmpty else {
            throw LLMDBError(.invalidArgument, "an index definition must name its kind")
        }
        guard !definition.name.isEmpty, definition.name.utf8.count <= 120 else {
            throw LLMDBError(.invalidArgument, "an index name is 1 to 120 bytes, not \(definition.name.utf8.count)")
        }
        guard definition.scope.partition != Key.systemPartition else {
            throw LLMDBError(.reservedPartition, "an index cannot cover LLMDB's own partition \(Key.systemPartition)")
        }
        guard indexKinds.current.kinds[definition.indexKind] != nil else {
            throw LLMDBError(
                .codeUnavailable,
                "the index kind '\(definition.indexKind)' is not registered with this database (Database.register)"
            )
        }
        return try write { try $0.putSystem(definition.key, definition.encoded()) }
    }

    /// Removes the index `name` (of any kind) and all its rows.
    @discardableResult
    public func dropIndex(named name: String) throws -> Commit {
        guard try read({ try $0.get(.index(name)) }) != nil else {
            throw LLMDBError(.notFound, "no index named '\(name)'")
        }
        return try write { try $0.deleteSystem(.index(name)) }
    }
}

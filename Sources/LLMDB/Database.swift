import Foundation
@_spi(Testing) public import LLMDBStorage
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An LLMDB database: one LMDB file of bitemporal facts.
///
/// Open with ``open(path:options:)``; write with ``write(txTime:_:)``; read with
/// ``read(validAt:tx:_:)``. Safe to share between threads and tasks.
public final class Database: Sendable {
    /// How to open a database.
    public struct Options: Sendable {
        /// When a commit is durable: `full` (default), `meta` or `none`.
        public var sync: SyncPolicy = .full
        /// Open for reading only: every write fails with ``LLMDBError/Code/readOnly``.
        public var readOnly = false
        /// Create the file when it does not exist (default true).
        public var create = true
        /// Where transaction times come from (default: the wall clock).
        public var clock: any TransactionClock = WallClock()
        /// The initial map size in bytes.
        public var mapSize = 64 << 20
        /// The largest the map may grow to; beyond it writes fail with ``LLMDBError/Code/mapFull``.
        public var maxMapSize = 1 << 40
        /// Runs the code of transaction hooks and custom indexes (the WebAssembly layer's
        /// `WasmRuntime`). Without one, writes that a hook or an index covers fail with
        /// ``LLMDBError/Code/codeUnavailable``.
        public var codeRunner: (any CodeRunner)? = nil
        /// The index kinds this database maintains, besides the code runner's
        /// (``CodeRunner/indexKinds``); façades register theirs on first use too
        /// (``Database/register(_:)``). A write that an index of a kind not registered covers
        /// fails with ``LLMDBError/Code/codeUnavailable``.
        public var indexKinds: [any IndexKind] = []
        public init() {}
    }

    /// The format version this build writes and reads. Never reuse a number.
    public static let formatVersion: UInt32 = 1
    static let formatMagic: [UInt8] = Array("LLMDB".utf8) + [0]
    static let formatKey: [UInt8] = Array("_meta/format".utf8)
    static let tableNames = ["facts", "txlog", "txtime", "meta"]
    /// Index data of the first index kinds (added after format 1's first release: created on
    /// a writable open).
    static let indexTableName = IndexKinds.sharedTable
    /// The state and queues of asynchronous indexes (created on a writable open).
    static let asyncTableName = "index_async"

    public let path: String
    public let options: Options
    let env: Environment
    package let facts: Table
    let txlog: Table
    let txtime: Table
    let meta: Table
    /// The shared index table; nil only in a read-only database created before indexes existed.
    package let index: Table?
    /// The asynchronous indexes' state and queues; nil only in a read-only database created
    /// before they existed.
    package let asyncTable: Table?
    /// The background builder of asynchronous indexes (started on a writable open).
    let indexer = AsyncIndexer()
    /// The index kinds registered, and the tables they own.
    let indexKinds: IndexKinds
    let clock: any TransactionClock
    let writer: Writer

    /// Opens the database at `path` (a single file, plus LMDB's `PATH-lock` beside it),
    /// creating it unless it exists or `options.create` is false.
    ///
    /// A file that is not an LLMDB database, or is of another format version, is refused
    /// and left untouched.
    public static func open(path: String, options: Options = Options()) throws(LLMDBError) -> Database {
        try Database(path: path, options: options)
    }

    init(path: String, options: Options) throws(LLMDBError) {
        Self.compactionGate.lock()
        defer { Self.compactionGate.unlock() }
        self.path = path
        self.options = options
        self.clock = options.clock
        let exists = try Self.precheck(path: path, options: options)
        var envOptions = Environment.Options()
        envOptions.mapSize = options.mapSize
        envOptions.maxMapSize = max(options.maxMapSize, options.mapSize)
        envOptions.readOnly = options.readOnly
        envOptions.sync = options.sync.storage
        let env: Environment
        do {
            env = try Environment(path: path, options: envOptions)
        } catch {
            if error.code == .invalid || error.code == .versionMismatch {
                throw LLMDBError(.notADatabase, "\(path) is not an LLMDB database (not an LMDB file)", cause: error)
            }
            throw LLMDBError.storage(error, "cannot open \(path)")
        }
        self.env = env
        var tables: [String: Table]
        do {
            tables = try env.openTables(Self.tableNames, create: false)
            if !exists && !options.readOnly {
                tables = try env.openTables(Self.tableNames, create: true)
            }
        } catch {
            throw LLMDBError.storage(error, "cannot open the tables of \(path)")
        }
        guard let meta = tables["meta"] else {
            throw LLMDBError(.notADatabase, "\(path) is an LMDB file but not an LLMDB database (no meta table)")
        }
        try Self.checkFormat(env: env, meta: meta, path: path, fresh: !exists)
        guard let facts = tables["facts"], let txlog = tables["txlog"], let txtime = tables["txtime"] else {
            throw LLMDBError(.corrupted, "\(path) lacks one of the tables facts, txlog, txtime")
        }
        self.facts = facts
        self.txlog = txlog
        self.txtime = txtime
        self.meta = meta
        do {
            self.index = try env.openTables([Self.indexTableName], create: !options.readOnly)[Self.indexTableName]
        } catch {
            throw LLMDBError.storage(error, "cannot open the index table of \(path)")
        }
        do {
            self.asyncTable = try env.openTables([Self.asyncTableName], create: !options.readOnly)[Self.asyncTableName]
        } catch {
            throw LLMDBError.storage(error, "cannot open the asynchronous index table of \(path)")
        }
        let kinds = IndexKinds(tables: index.map { [Self.indexTableName: $0] } ?? [:])
        // The code runner's kinds win over given ones of the same name (they run its code);
        // tables are opened now, before the writer starts.
        for kind in options.indexKinds + (options.codeRunner?.indexKinds ?? []) {
            try kinds.add(kind, env: env, readOnly: options.readOnly)
        }
        self.indexKinds = kinds
        self.writer = Writer()
        self.fileID = Self.fileID(path)
        if let fileID { Self.openFiles.withLock { $0[fileID, default: 0] += 1 } }
        if !options.readOnly {
            writer.start(self)
            let hasAsync = asyncTable.map { t in (try? env.read { try $0.stat(t).entries > 0 }) ?? true } ?? false
            indexer.start(writer: writer, tables: writerTables, hasWork: hasAsync)
        }
    }

    /// The tables and helpers the writer's transactions use.
    var writerTables: Tables {
        Tables(facts: facts, txlog: txlog, txtime: txtime, kinds: indexKinds, async: asyncTable, indexer: indexer)
    }

    deinit {
        indexer.stop()
        writer.stop()
        if let fileID {
            Self.openFiles.withLock {
                $0[fileID, default: 1] -= 1
                if $0[fileID] == 0 { $0[fileID] = nil }
            }
        }
    }

    /// The data files this process has open, by (device, inode), with a count: compaction
    /// must not replace a file under an open environment of its own process (fcntl locks do
    /// not guard against that).
    static let openFiles = Mutex<[FileID: Int]>([:])
    /// Held by compaction for its whole run and by every open: an open waits for a
    /// compaction of this process to finish.
    static let compactionGate = NSLock()
    struct FileID: Hashable, Sendable {
        let device: UInt64
        let inode: UInt64
    }
    private let fileID: FileID?

    static func fileID(_ path: String) -> FileID? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// Refuses files that LMDB would misread or overwrite. Returns whether the file exists.
    static func precheck(path: String, options: Options) throws(LLMDBError) -> Bool {
        var st = stat()
        if stat(path, &st) != 0 {
            if options.readOnly || !options.create {
                throw LLMDBError(.invalidArgument, "no database at \(path)")
            }
            return false
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw LLMDBError(.notADatabase, "\(path) is a directory; an LLMDB database is a single file")
        }
        if st.st_size == 0 {
            throw LLMDBError(.notADatabase, "\(path) is an empty file, not an LLMDB database")
        }
        // LMDB's meta page: a 16-byte page header, then the magic 0xBEEFC0DE (native order).
        let fd = Glibc.open(path, O_RDONLY)
        if fd < 0 { throw LLMDBError(.readOnly, "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { _ = Glibc.close(fd) }
        var head = [UInt8](repeating: 0, count: 24)
        let n = head.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 24) }
        let magic: UInt32 = n == 24 ? head.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 16, as: UInt32.self) } : 0
        if magic != 0xBEEF_C0DE {
            throw LLMDBError(.notADatabase, "\(path) is not an LLMDB database (not an LMDB file)")
        }
        return true
    }

    static func checkFormat(env: Environment, meta: Table, path: String, fresh: Bool) throws(LLMDBError) {
        var record: [UInt8]? = nil
        do {
            record = try env.read { tx in try tx.get(meta, formatKey.withUnsafeBytes { $0 }).map { Array($0) } }
        } catch {
            throw LLMDBError(.storage, "cannot read the format record of \(path): \(error)")
        }
        // A crash between creating the tables and writing the format record leaves a file
        // with empty LLMDB tables and no record: finish its creation.
        var unfinished = false
        if record == nil && !fresh && !env.options.readOnly {
            unfinished =
                (try? env.read { tx -> Bool in
                    let names = try env.openTables(Database.tableNames, create: false)
                    guard names.count == Database.tableNames.count else { return false }
                    return try names.values.allSatisfy { try tx.stat($0).entries == 0 }
                }) ?? false
        }
        if record == nil && (fresh || unfinished) {
            var value = formatMagic
            EntryKey.appendU32(formatVersion, to: &value)
            do {
                let tx = try env.beginWrite()
                try formatKey.withUnsafeBytes { k in
                    try value.withUnsafeBytes { v in try tx.put(meta, k, v) }
                }
                try tx.commit()
            } catch {
                throw LLMDBError.wrap(error, "cannot initialize \(path)")
            }
            return
        }
        guard let record, record.count == formatMagic.count + 4, Array(record.prefix(formatMagic.count)) == formatMagic
        else {
            throw LLMDBError(.notADatabase, "\(path) is an LMDB file but not an LLMDB database (no format record)")
        }
        let version = record.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard version == formatVersion else {
            throw LLMDBError(
                .formatVersion,
                "\(path) has LLMDB format version \(version); this build reads version \(formatVersion)"
            )
        }
    }

    /// The storage layer's fault seam, for tests.
    @_spi(Testing) public var faults: Faults { env.faults }

    /// Waits for queued writes, then stops the writer. Further writes fail with
    /// ``LLMDBError/Code/closed``. The file is closed when the last reference goes.
    public func close() {
        indexer.stop()
        writer.stop()
    }

    // MARK: Writes

    /// Runs `body` to collect operations, then commits them as one transaction and returns
    /// its tx id and time. Concurrent callers are committed together (group commit), each
    /// with its own tx id and its own success or failure.
    ///
    /// - Parameter txTime: an explicit transaction time (imports, replays); it must be
    ///   later than the last transaction's time.
    /// - Throws: whatever `body` throws (nothing is written), or an ``LLMDBError``.
    @discardableResult
    public func write(txTime: Instant? = nil, _ body: (inout WriteBatch) throws -> Void) throws -> Commit {
        var batch = WriteBatch()
        try body(&batch)
        return try commit(batch, txTime: txTime)
    }

    /// The async form of ``write(txTime:_:)``: suspends instead of blocking a thread.
    @discardableResult
    public func write(txTime: Instant? = nil, _ body: (inout WriteBatch) throws -> Void) async throws -> Commit {
        var batch = WriteBatch()
        try body(&batch)
        return try await commitAsync(batch, txTime: txTime)
    }

    /// Commits a prepared batch (see ``write(txTime:_:)``).
    @discardableResult
    public func commit(_ batch: WriteBatch, txTime: Instant? = nil) throws(LLMDBError) -> Commit {
        if options.readOnly { throw LLMDBError(.readOnly, "the database is opened read-only; writes are refused") }
        let job = Writer.Job(ops: batch.ops, txTime: txTime)
        job.migration = batch.isMigration
        return try writer.submitAndWait(job)
    }

    /// Commits a prepared batch without blocking a thread.
    @discardableResult
    public func commitAsync(_ batch: WriteBatch, txTime: Instant? = nil) async throws(LLMDBError) -> Commit {
        if options.readOnly { throw LLMDBError(.readOnly, "the database is opened read-only; writes are refused") }
        let job = Writer.Job(ops: batch.ops, txTime: txTime)
        job.migration = batch.isMigration
        let result: Result<Commit, LLMDBError> = await withCheckedContinuation { cont in
            job.onDone = { cont.resume(returning: $0) }
            writer.submit(job)
        }
        return try result.get()
    }

    /// Erases every entry of `key` in its own transaction (see ``WriteBatch/erase(_:)``).
    @discardableResult
    public func erase(_ key: Key) throws -> Commit {
        try write { try $0.erase(key) }
    }
}

/// When a commit counts as durable: the database's sync policy.
public struct SyncPolicy: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init?(rawValue: String) {
        guard SyncMode(rawValue: rawValue) != nil else { return nil }
        self.rawValue = rawValue
    }
    /// A commit returns after it is on disk (the default).
    public static let full = SyncPolicy(rawValue: "full")!
    /// Data is synced, the meta page is not: power loss may roll back the last commit.
    public static let meta = SyncPolicy(rawValue: "meta")!
    /// No sync: for bulk loads and tests. A process crash loses nothing; power loss may.
    public static let none = SyncPolicy(rawValue: "none")!
    public var description: String { rawValue }
    var storage: SyncMode { SyncMode(rawValue: rawValue)! }
}

import CLMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a commit reaches the disk.
public struct SyncMode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init?(rawValue: String) {
        switch rawValue {
        case "full", "meta", "none": self.rawValue = rawValue
        default: return nil
        }
    }
    /// A commit returns after its data and meta page are on disk (the default).
    public static let full = SyncMode(rawValue: "full")!
    /// Data pages are synced, the meta page is not (`MDB_NOMETASYNC`): the last commit may roll back on power loss.
    public static let meta = SyncMode(rawValue: "meta")!
    /// No sync at all (`MDB_NOSYNC`): for bulk loads and tests. A process crash loses nothing; power loss may.
    public static let none = SyncMode(rawValue: "none")!
    public var description: String { rawValue }

    var flags: UInt32 {
        switch rawValue {
        case "meta": UInt32(MDB_NOMETASYNC)
        case "none": UInt32(MDB_NOSYNC)
        default: 0
        }
    }
}

/// A named LMDB database inside an environment.
public struct Table: Hashable, Sendable {
    package let dbi: UInt32
    public let name: String
}

/// One LMDB environment: a single data file (`MDB_NOSUBDIR`) and its `-lock` file.
///
/// Read transactions may run on any thread (`MDB_NOTLS`), concurrently with the writer.
/// Write transactions must be begun, used and ended on one thread.
///
/// Map growth: when a write fails with `MDB_MAP_FULL`, the writer aborts, calls ``grow()``
/// and retries. Growing needs all read transactions of this process to be finished, so
/// read scopes hold a shared lock that ``grow()`` takes exclusively; readers never wait
/// for the writer otherwise.
@safe public final class Environment: @unchecked Sendable {
    // @unchecked Sendable: `env` is an LMDB handle whose functions are thread-safe for the
    // uses made here (read transactions under MDB_NOTLS, one writer thread); the mutable
    // map size is only changed under `resizeLock` held exclusively.

    public struct Options: Sendable {
        /// The initial map size in bytes (rounded up to the page size by LMDB).
        public var mapSize: Int = 64 << 20
        /// The largest the map may grow to; past it writes fail with `MDB_MAP_FULL`.
        public var maxMapSize: Int = 1 << 40
        public var maxTables: UInt32 = 32
        public var maxReaders: UInt32 = 512
        public var readOnly: Bool = false
        public var sync: SyncMode = .full
        /// Open without LMDB's lock file (`MDB_NOLOCK`): only for a caller that already holds
        /// the lock file's lock exclusively (offline compaction), together with `readOnly`.
        public var noLock: Bool = false
        public init() {}
    }

    package let env: OpaquePointer
    public let path: String
    public let options: Options
    private let resizeLock: UnsafeMutablePointer<pthread_rwlock_t>
    /// Injected failures, for tests.
    @_spi(Testing) public let faults = Faults()

    /// Opens (or creates, unless read-only) the environment at `path`.
    public init(path: String, options: Options) throws(LMDBError) {
        var created: OpaquePointer?
        try check(unsafe mdb_env_create(&created), "mdb_env_create")
        guard let env = unsafe created else { throw LMDBError(code: .invalidArgument, operation: "mdb_env_create") }
        do {
            unsafe try check(mdb_env_set_maxdbs(env, MDB_dbi(options.maxTables)), "mdb_env_set_maxdbs")
            unsafe try check(mdb_env_set_maxreaders(env, options.maxReaders), "mdb_env_set_maxreaders")
            unsafe try check(mdb_env_set_mapsize(env, options.mapSize), "mdb_env_set_mapsize")
            var flags = UInt32(MDB_NOSUBDIR | MDB_NOTLS) | options.sync.flags
            if options.readOnly { flags |= UInt32(MDB_RDONLY) }
            if options.noLock { flags |= UInt32(MDB_NOLOCK) }
            try check(unsafe mdb_env_open(env, path, flags, 0o644), "mdb_env_open")
        } catch {
            unsafe mdb_env_close(env)
            throw error
        }
        unsafe self.env = unsafe env
        self.path = path
        self.options = options
        unsafe self.resizeLock = .allocate(capacity: 1)
        unsafe pthread_rwlock_init(resizeLock, nil)
        // Reader slots of processes that died (e.g. killed mid-read) would otherwise stay
        // taken until the table fills up.
        if !options.noLock { _ = clearStaleReaders() }
    }

    deinit {
        unsafe mdb_env_close(env)
        unsafe pthread_rwlock_destroy(resizeLock)
        unsafe resizeLock.deallocate()
    }

    /// The current map size in bytes.
    public var mapSize: Int {
        var info = unsafe MDB_envinfo()
        unsafe mdb_env_info(env, &info)
        return unsafe info.me_mapsize
    }

    /// LMDB's page size.
    public var pageSize: Int {
        var stat = MDB_stat()
        unsafe mdb_env_stat(env, &stat)
        return Int(stat.ms_psize)
    }

    /// Environment-wide information: map size, last page used, last transaction, readers.
    public func info() -> (mapSize: Int, lastPage: Int, lastTxnID: Int, maxReaders: Int, readers: Int) {
        var info = unsafe MDB_envinfo()
        unsafe mdb_env_info(env, &info)
        return unsafe (
            info.me_mapsize, info.me_last_pgno, info.me_last_txnid, Int(info.me_maxreaders), Int(info.me_numreaders)
        )
    }

    /// Doubles the map size, up to `maxMapSize`. Returns false when the map is already at its
    /// limit, or when this process's read transactions did not all end within 5 seconds (so
    /// that a read scope waiting on a write cannot hang the writer). Call it with no write
    /// transaction open.
    public func grow() throws(LMDBError) -> Bool {
        // Wait for this process's read transactions to end, but not forever: a read scope
        // that waits for a write (or an endless stream of readers) must not hang the writer.
        var waited = 0
        while unsafe pthread_rwlock_trywrlock(resizeLock) != 0 {
            if waited >= 5_000_000 { return false }
            usleep(200)
            waited += 200
        }
        defer { unsafe pthread_rwlock_unlock(resizeLock) }
        let current = mapSize
        guard current < options.maxMapSize else { return false }
        let next = min(max(current * 2, current + (1 << 20)), options.maxMapSize)
        unsafe try check(mdb_env_set_mapsize(env, next), "mdb_env_set_mapsize")
        return true
    }

    /// Adopts a map size that another process set (`MDB_MAP_RESIZED`).
    func adoptMapSize() throws(LMDBError) {
        unsafe pthread_rwlock_wrlock(resizeLock)
        defer { unsafe pthread_rwlock_unlock(resizeLock) }
        unsafe try check(mdb_env_set_mapsize(env, 0), "mdb_env_set_mapsize")
    }

    /// Runs `body` in a read transaction (a snapshot). Any number may run at once, on any
    /// threads; the transaction and the bytes it hands out are valid only inside `body`,
    /// which must not let the transaction outlive it (it is handed over so that callers can
    /// wrap it in their own non-copyable scope type).
    public func read<R>(_ body: (consuming ReadTransaction) throws -> R) throws -> R {
        unsafe pthread_rwlock_rdlock(resizeLock)
        defer { unsafe pthread_rwlock_unlock(resizeLock) }
        var txn: OpaquePointer?
        var rc = unsafe mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
        if rc == MDB_MAP_RESIZED {
            // Another process grew the map: adopt its size. Adoption needs the lock
            // exclusively, so release the shared hold around it.
            unsafe pthread_rwlock_unlock(resizeLock)
            defer { unsafe pthread_rwlock_rdlock(resizeLock) }
            try adoptMapSize()
        }
        if rc == MDB_MAP_RESIZED {
            rc = unsafe mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
        }
        if rc == MDB_READERS_FULL && clearStaleReaders() > 0 {
            // Slots left by processes that died mid-read: cleared, try once more.
            rc = unsafe mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
        }
        try check(rc, "mdb_txn_begin")
        let tx = unsafe ReadTransaction(txn: txn!)
        return try body(tx)
    }

    /// Begins the write transaction. Call it from the writer thread only; one at a time.
    public func beginWrite() throws(LMDBError) -> WriteTransaction {
        guard !options.readOnly else { throw LMDBError(code: .permissionDenied, operation: "mdb_txn_begin") }
        var txn: OpaquePointer?
        var rc = unsafe mdb_txn_begin(env, nil, 0, &txn)
        if rc == MDB_MAP_RESIZED {
            try adoptMapSize()
            rc = unsafe mdb_txn_begin(env, nil, 0, &txn)
        }
        try check(rc, "mdb_txn_begin")
        return unsafe WriteTransaction(txn: txn!, faults: faults)
    }

    /// Opens named tables, creating them when `create` is true (needs a writable environment).
    public func openTables(_ names: [String], create: Bool) throws(LMDBError) -> [String: Table] {
        var txn: OpaquePointer?
        let flags: UInt32 = create ? 0 : UInt32(MDB_RDONLY)
        try check(unsafe mdb_txn_begin(env, nil, flags, &txn), "mdb_txn_begin")
        var tables: [String: Table] = [:]
        for name in names {
            var dbi: MDB_dbi = 0
            let rc = unsafe mdb_dbi_open(txn, name, create ? UInt32(MDB_CREATE) : 0, &dbi)
            if rc == MDB_NOTFOUND && !create { continue }
            if rc != 0 {
                unsafe mdb_txn_abort(txn)
                throw LMDBError(code: .init(rawValue: rc), operation: "mdb_dbi_open")
            }
            tables[name] = Table(dbi: dbi, name: name)
        }
        // Handles stay valid after the commit, also when opened in a read transaction (lmdb.h, mdb_dbi_open).
        try check(unsafe mdb_txn_commit(txn), "mdb_txn_commit")
        return tables
    }

    /// A hot copy of the environment into a new file at `path`; with `compact`, free pages
    /// are left out and the copy is renumbered. Runs in a read transaction: writers go on.
    public func copy(to path: String, compact: Bool) throws(LMDBError) {
        // mdb_env_copy2 reads through its own read transaction: keep the map from being
        // resized under it, as read scopes do.
        unsafe pthread_rwlock_rdlock(resizeLock)
        defer { unsafe pthread_rwlock_unlock(resizeLock) }
        try check(unsafe mdb_env_copy2(env, path, compact ? UInt32(MDB_CP_COMPACT) : 0), "mdb_env_copy2")
    }

    /// Clears reader slots left by dead processes; returns how many were cleared.
    public func clearStaleReaders() -> Int {
        var dead: Int32 = 0
        unsafe mdb_reader_check(env, &dead)
        return Int(dead)
    }
}

/// Page statistics of one table.
public struct TableStat: Sendable, Hashable {
    public var entries: Int
    public var depth: Int
    public var branchPages: Int
    public var leafPages: Int
    public var overflowPages: Int
}

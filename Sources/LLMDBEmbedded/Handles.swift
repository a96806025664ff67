import CLLMDBABI
import Glibc
import LLMDB
import LLMDBService
import Synchronization

// The C boundary's plumbing: handles checked on every call, status codes, the thread-local
// last error, and buffers handed to the caller.

// MARK: - Errors and status codes

/// An error at the C boundary: the status to return and the message for llmdb_last_error.
struct ABIError: Error {
    let status: Int32
    let message: String
    init(_ status: Int32, _ message: String) {
        self.status = status
        self.message = message
    }

    static func null(_ name: String) -> ABIError { ABIError(LLMDB_E_NULL_ARGUMENT, "'\(name)' is NULL") }
    static func handle(_ kind: String) -> ABIError {
        ABIError(
            LLMDB_E_INVALID_HANDLE,
            "the \(kind) handle is NULL, closed, finished, or not one this library returned"
        )
    }
    static func bad(_ message: String) -> ABIError { ABIError(LLMDB_E_INVALID_ARGUMENT, message) }

    /// A call that was running when another thread closed its database (llmdb_close): it
    /// gets the status of a call made after the close (include/llmdb.h, "Closing").
    static let closedWhileRunning = ABIError(
        LLMDB_E_INVALID_HANDLE,
        "the database was closed (llmdb_close on another thread) while this call ran; its handle, and the transactions and iterators on it, are invalid"
    )
}

/// Status codes by the snake_case names of LLMDBError codes and of the service's API errors.
let statusByName: [String: Int32] = [
    "empty_key": LLMDB_E_EMPTY_KEY,
    "key_too_long": LLMDB_E_KEY_TOO_LONG,
    "null_value": LLMDB_E_NULL_VALUE,
    "invalid_json": LLMDB_E_INVALID_JSON,
    "invalid_value": LLMDB_E_INVALID_VALUE,
    "invalid_time_range": LLMDB_E_INVALID_TIME_RANGE,
    "tx_time_not_increasing": LLMDB_E_TX_TIME_NOT_INCREASING,
    "unknown_value_tag": LLMDB_E_UNKNOWN_VALUE_TAG,
    "not_a_database": LLMDB_E_NOT_A_DATABASE,
    "format_version": LLMDB_E_FORMAT_VERSION,
    "read_only": LLMDB_E_READ_ONLY,
    "map_full": LLMDB_E_MAP_FULL,
    "disk_full": LLMDB_E_DISK_FULL,
    "corrupted": LLMDB_E_CORRUPTED,
    "invalid_argument": LLMDB_E_INVALID_ARGUMENT,
    "storage": LLMDB_E_STORAGE,
    "closed": LLMDB_E_CLOSED,
    "reserved_partition": LLMDB_E_RESERVED_PARTITION,
    "not_found": LLMDB_E_NO_SUCH,
    "invalid_module": LLMDB_E_INVALID_MODULE,
    "hook_rejected": LLMDB_E_HOOK_REJECTED,
    "code_failed": LLMDB_E_CODE_FAILED,
    "code_limit": LLMDB_E_CODE_LIMIT,
    "code_unavailable": LLMDB_E_CODE_UNAVAILABLE,
    "conflict": LLMDB_E_CONFLICT,
    "schema_violation": LLMDB_E_SCHEMA_VIOLATION,
    "invalid_schema": LLMDB_E_INVALID_SCHEMA,
    "invalid_query": LLMDB_E_INVALID_QUERY,
    "forbidden": LLMDB_E_FORBIDDEN,
    "unauthorized": LLMDB_E_FORBIDDEN,
    "busy": LLMDB_E_BUSY,
    "unavailable": LLMDB_E_BUSY,
]

/// The names of the boundary's own statuses; the database's come from ``statusByName``.
let boundaryNames: [Int32: String] = [
    LLMDB_OK: "ok",
    LLMDB_NOT_FOUND: "not_found",
    LLMDB_DONE: "done",
    LLMDB_E_INVALID_HANDLE: "invalid_handle",
    LLMDB_E_NULL_ARGUMENT: "null_argument",
    LLMDB_E_INVALID_UTF8: "invalid_utf8",
    LLMDB_E_BUFFER_TOO_SMALL: "buffer_too_small",
    LLMDB_E_INTERNAL: "internal",
    LLMDB_E_FORBIDDEN: "forbidden",
    LLMDB_E_BUSY: "busy",
    LLMDB_E_NO_SUCH: "no_such",
]

/// NUL-terminated status names, allocated once and never freed (llmdb_status_name's
/// answers are static).
nonisolated(unsafe) let statusNames: [Int32: UnsafePointer<CChar>] = {
    var out: [Int32: UnsafePointer<CChar>] = [:]
    for (name, status) in statusByName where boundaryNames[status] == nil { out[status] = UnsafePointer(strdup(name)!) }
    for (status, name) in boundaryNames { out[status] = UnsafePointer(strdup(name)!) }
    return out
}()
nonisolated(unsafe) let unknownName: UnsafePointer<CChar> = UnsafePointer(strdup("unknown")!)
nonisolated(unsafe) let emptyString: UnsafePointer<CChar> = UnsafePointer(strdup("")!)

// MARK: - The thread-local last error

/// Each thread's last error message, a malloc'd C string freed when replaced or when the
/// thread exits.
let lastErrorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

func setLastError(_ message: String) {
    // One line, whatever the message quotes (paths, names, a module's own text).
    let line = message.contains(where: \.isNewline) ? String(message.map { $0.isNewline ? " " : $0 }) : message
    let old = pthread_getspecific(lastErrorKey)
    pthread_setspecific(lastErrorKey, strdup(line))
    free(old)
}

/// Records `error` as this thread's last error and returns its status.
///
/// `closed` (the database stopped taking writes) becomes LLMDB_E_INVALID_HANDLE: a database
/// of this library closes only when llmdb_close closes its last handle, so a call that sees
/// it raced with that close and gets what any call after the close gets.
func fail(_ error: any Error) -> Int32 {
    switch error {
    case let e as ABIError:
        setLastError(e.message)
        return e.status
    case let e as LLMDBError where e.code == .closed:
        return fail(ABIError.closedWhileRunning)
    case let e as APIError where e.code == LLMDBError.Code.closed.name:
        return fail(ABIError.closedWhileRunning)
    case let e as LLMDBError:
        setLastError(e.message)
        return statusByName[e.code.name] ?? LLMDB_E_INTERNAL
    case let e as APIError:
        setLastError(e.message)
        return statusByName[e.code] ?? LLMDB_E_INTERNAL
    default:
        setLastError("\(error)")
        return LLMDB_E_INTERNAL
    }
}

/// Runs the body of an exported function: its errors become a status and a message.
@inline(__always)
func guarded(_ body: () throws -> Int32) -> Int32 {
    do { return try body() } catch { return fail(error) }
}

// MARK: - Handles

/// One database file open in this process, shared by every handle opened on it: LMDB must
/// not open one file twice in a process (closing either would drop the other's locks).
final class SharedDatabase: @unchecked Sendable {
    // @unchecked Sendable: `database` and `operations` are set by init and cleared only by
    // deinit, when no other thread can hold the object.
    private var database: Database?
    private var operations: Service?
    var db: Database { database! }
    var service: Service { operations! }
    let file: FileKey
    /// The fork generation it was opened in (see ``forkGeneration``).
    let generation = forkGeneration.load(ordering: .relaxed)
    /// Handles open on it; the database closes with the last.
    let handles = Mutex(0)
    init(_ db: Database, file: FileKey) {
        self.database = db
        self.file = file
        var limits = RequestLimits()
        limits.maxQueryRows = 1_000_000
        limits.queryTimeoutMs = 30_000
        self.operations = Service(db: db, limits: limits)
    }

    deinit {
        // Drop the last references to the database here, so that its LMDB environment is
        // closed before the file is free to be opened again (OpenFiles.open waits for it).
        operations = nil
        database = nil
        OpenFiles.closed(file, ObjectIdentifier(self))
    }
}

/// A file by (device, inode), whatever path names it.
struct FileKey: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64
    init?(_ path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }
}

enum OpenFiles {
    enum Entry {
        case open(SharedDatabase)
        /// The last handle was closed; the environment closes when the last call still
        /// running on it returns (SharedDatabase.deinit).
        case closing(ObjectIdentifier)
    }
    // Entry holds a class reference: the table is only touched with its lock held.
    nonisolated(unsafe) static var table: [FileKey: Entry] = [:]
    static let lock = Mutex(())
    /// Databases a fork child inherited from its parent: kept, never closed (LMDB forbids
    /// touching a parent's environment), so that their deinit never runs in the child.
    nonisolated(unsafe) static var inherited: [SharedDatabase] = []

    private enum Found {
        case shared(SharedDatabase)
        case wait
        case none
    }

    /// The file's database, opened now or shared with the handles already open on it. A
    /// file whose last handle was just closed is opened again once its environment is.
    static func open(path: String, options: Database.Options) throws -> SharedDatabase {
        let deadline = monotonicNow() + 30_000_000
        while true {
            let found = try lock.withLock { _ throws -> Found in
                guard let key = FileKey(path), let entry = table[key] else { return .none }
                switch entry {
                case .closing:
                    return .wait
                case .open(let shared) where shared.generation != forkGeneration.load(ordering: .relaxed):
                    inherited.append(shared)
                    table[key] = nil
                    return .none
                case .open(let shared):
                    let o = shared.db.options
                    if !o.readOnly && !options.readOnly && o.sync != options.sync {
                        throw ABIError.bad(
                            "\(path) is already open in this process with sync '\(o.sync)'; open it again with the same sync, or close it first"
                        )
                    }
                    if o.readOnly && !options.readOnly {
                        throw ABIError.bad(
                            "\(path) is already open read-only in this process; close it before opening it for writing"
                        )
                    }
                    shared.handles.withLock { $0 += 1 }
                    return .shared(shared)
                }
            }
            switch found {
            case .shared(let s): return s
            case .wait:
                guard monotonicNow() < deadline else {
                    throw ABIError(
                        LLMDB_E_BUSY,
                        "\(path) is still closing in this process: a call on its closed handle has not returned after 30 s"
                    )
                }
                usleep(1000)
                continue
            case .none: break
            }
            let opened: SharedDatabase? = try lock.withLock { _ throws -> SharedDatabase? in
                // Another thread may have opened it meanwhile: then share that one.
                if let key = FileKey(path), table[key] != nil { return nil }
                let db = try Database.open(path: path, options: options)
                guard let key = FileKey(path) else {
                    db.close()
                    throw ABIError(LLMDB_E_STORAGE, "\(path) vanished while it was being opened")
                }
                let shared = SharedDatabase(db, file: key)
                shared.handles.withLock { $0 = 1 }
                table[key] = .open(shared)
                return shared
            }
            if let opened { return opened }
        }
    }

    /// Releases one handle's share; the last one closes the database (its environment closes
    /// when the last reference goes, and only then may the file be opened again).
    static func release(_ shared: SharedDatabase) {
        let last = lock.withLock { _ -> Bool in
            let n = shared.handles.withLock { n -> Int in
                n -= 1
                return n
            }
            if n == 0 { table[shared.file] = .closing(ObjectIdentifier(shared)) }
            return n == 0
        }
        if last { shared.db.close() }
    }

    /// Called by SharedDatabase.deinit once its environment is closed.
    static func closed(_ file: FileKey, _ id: ObjectIdentifier) {
        lock.withLock { _ in
            if case .closing(let x)? = table[file], x == id { table[file] = nil }
        }
    }

    private static func monotonicNow() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}

/// Counts fork()s in this process's ancestry: a child's handles, copied from its parent,
/// must not touch the parent's LMDB environment (LMDB forbids it; a write would wait for a
/// writer thread that fork did not copy).
let forkGeneration = Atomic<Int>(0)
let forkHandler: Void = {
    _ = pthread_atfork(nil, nil) { forkGeneration.add(1, ordering: .relaxed) }
}()

/// An open database handle.
final class DatabaseHandle: Sendable {
    let shared: SharedDatabase
    let readOnly: Bool
    let closed = Atomic<Bool>(false)
    let generation = forkGeneration.load(ordering: .relaxed)
    let pid = getpid()
    var db: Database { shared.db }
    var service: Service { shared.service }
    init(_ shared: SharedDatabase, readOnly: Bool) {
        self.shared = shared
        self.readOnly = readOnly
    }

    func checkOpen() throws(ABIError) {
        if closed.load(ordering: .acquiring) {
            throw ABIError(LLMDB_E_INVALID_HANDLE, "the database of this handle was closed")
        }
        if forkGeneration.load(ordering: .relaxed) != generation {
            throw ABIError(
                LLMDB_E_INVALID_HANDLE,
                "this database handle was opened by process \(pid), before a fork; open the database again in this process"
            )
        }
    }

    /// Who the service sees: everything, or the read role for a read-only handle.
    var principal: Principal { readOnly ? Principal(id: "local", name: "read-only handle", role: .read) : .local }

    /// Runs a service operation; a write refused to a read-only handle is `read_only`.
    func run(_ body: (Principal) throws -> JSONValue) throws -> JSONValue {
        do { return try body(principal) } catch let e as APIError where readOnly && e.code == "forbidden" {
            throw ABIError(LLMDB_E_READ_ONLY, "the database handle was opened read-only; this operation writes")
        }
    }

    /// Whether the handle was opened before a fork (in the parent of this process).
    var inherited: Bool { forkGeneration.load(ordering: .relaxed) != generation }

    func checkWritable() throws(ABIError) {
        try checkOpen()
        if readOnly { throw ABIError(LLMDB_E_READ_ONLY, "the database handle was opened read-only") }
    }
}

/// A write transaction being collected.
final class TransactionHandle: Sendable {
    let owner: DatabaseHandle
    let txTime: Instant?
    let batch = Mutex(WriteBatch())
    init(owner: DatabaseHandle, txTime: Instant?) {
        self.owner = owner
        self.txTime = txTime
    }
}

/// A prefix scan, read in pages; see Iterator.swift.
final class IteratorHandle: @unchecked Sendable {
    // @unchecked Sendable: the header says one iterator is used by one thread at a time;
    // `lock` makes a violation safe (serialized) rather than a crash.
    let lock = Mutex(())
    let owner: DatabaseHandle
    var page: ScanPage
    init(owner: DatabaseHandle, page: ScanPage) {
        self.owner = owner
        self.page = page
    }
}

/// Every live handle by its number. Handles are numbers, not addresses, so a NULL, closed
/// or made-up handle is found missing instead of dereferenced; numbers are never reused.
enum Handles {
    enum Entry: Sendable {
        case database(DatabaseHandle)
        case transaction(TransactionHandle)
        case iterator(IteratorHandle)

        enum Kind { case database, transaction, iterator }
        var kind: Kind {
            switch self {
            case .database: .database
            case .transaction: .transaction
            case .iterator: .iterator
            }
        }
    }
    private static let table = Mutex<(next: UInt, entries: [UInt: Entry])>((0x1000, [:]))

    static func add(_ e: Entry) -> OpaquePointer {
        table.withLock { t in insert(e, &t) }
    }

    /// Adds a transaction or an iterator of `owner`, unless `owner` was closed meanwhile
    /// (then nil). Checked under the table's lock, which llmdb_close takes after marking
    /// the handle closed to remove its dependents: a dependent is either added before that
    /// removal (and removed by it) or refused here, never left behind.
    static func add(_ e: Entry, of owner: DatabaseHandle) -> OpaquePointer? {
        table.withLock { t in owner.closed.load(ordering: .acquiring) ? nil : insert(e, &t) }
    }

    private static func insert(_ e: Entry, _ t: inout (next: UInt, entries: [UInt: Entry])) -> OpaquePointer {
        let id = t.next
        t.next += 16
        t.entries[id] = e
        return OpaquePointer(bitPattern: id)!
    }

    /// Removes the handle if it is of `kind`; a handle of another kind is left alone (and
    /// reported invalid by the caller).
    static func remove(_ p: OpaquePointer?, _ kind: Entry.Kind) -> Entry? {
        guard let p else { return nil }
        return table.withLock { t in
            let id = UInt(bitPattern: p)
            guard let e = t.entries[id], e.kind == kind else { return nil }
            t.entries[id] = nil
            return e
        }
    }

    /// Removes a closed database's transactions and iterators, returning the iterators (to
    /// free their pages).
    static func removeDependents(of db: DatabaseHandle) -> [IteratorHandle] {
        table.withLock { t in
            var iterators: [IteratorHandle] = []
            for (id, e) in t.entries {
                switch e {
                case .transaction(let x) where x.owner === db: t.entries[id] = nil
                case .iterator(let x) where x.owner === db:
                    t.entries[id] = nil
                    iterators.append(x)
                default: break
                }
            }
            return iterators
        }
    }

    static func get(_ p: OpaquePointer?) -> Entry? {
        guard let p else { return nil }
        return table.withLock { $0.entries[UInt(bitPattern: p)] }
    }

    static func database(_ p: OpaquePointer?) throws(ABIError) -> DatabaseHandle {
        guard case .database(let h)? = get(p) else { throw ABIError.handle("database") }
        return h
    }

    static func transaction(_ p: OpaquePointer?) throws(ABIError) -> TransactionHandle {
        guard case .transaction(let h)? = get(p) else { throw ABIError.handle("transaction") }
        return h
    }

    static func iterator(_ p: OpaquePointer?) throws(ABIError) -> IteratorHandle {
        guard case .iterator(let h)? = get(p) else { throw ABIError.handle("iterator") }
        return h
    }
}

// MARK: - Arguments

let timeUnset = Int64.min + 1
let txLatest = UInt64.max

/// A NUL-terminated UTF-8 argument.
func text(_ p: UnsafePointer<CChar>?, _ name: String) throws(ABIError) -> String {
    guard let p else { throw ABIError.null(name) }
    guard let s = String(validatingCString: p) else {
        throw ABIError(LLMDB_E_INVALID_UTF8, "'\(name)' is not valid UTF-8")
    }
    return s
}

/// Bytes given as a pointer and a length (NULL only with length 0).
func bytes(_ p: UnsafeRawPointer?, _ count: Int, _ name: String) throws(ABIError) -> [UInt8] {
    if count == 0 { return [] }
    guard let p else { throw ABIError.null(name) }
    return Array(UnsafeRawBufferPointer(start: p, count: count))
}

func key(_ partition: UInt32, _ p: UnsafeRawPointer?, _ count: Int) throws(ABIError) -> Key {
    Key(try bytes(p, count, "key"), partition: partition)
}

func instant(_ t: Int64) -> Instant? { t == timeUnset ? nil : Instant(microseconds: t) }

/// The transaction a read is as of: `tx` (UInt64.max: the latest) or the last one at or
/// before `txTime`.
func selector(_ tx: UInt64, _ txTime: Int64) throws(ABIError) -> TxSelector {
    if txTime != timeUnset {
        guard tx == txLatest else { throw ABIError.bad("give 'tx' or 'tx_time', not both") }
        return .time(Instant(microseconds: txTime))
    }
    return tx == txLatest ? .latest : .id(tx)
}

/// A JSON object of arguments.
func jsonArguments(_ p: UnsafePointer<CChar>?) throws -> Args {
    let s = try text(p, "args_json")
    let tree: JSONValue
    do throws(LLMDBError) { tree = try JSONValue(parsing: s) } catch {
        throw ABIError(LLMDB_E_INVALID_JSON, "'args_json' is not valid JSON: \(error.message)")
    }
    return try Args(tree)
}

// MARK: - Buffers returned to the caller

/// A malloc'd copy of `json` as NUL-terminated text, for the caller to llmdb_free.
func emit(
    _ json: JSONValue,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ len: UnsafeMutablePointer<Int>?
) -> Int32 {
    let text = json.text
    let n = text.utf8.count
    let buffer = malloc(n + 1)!.assumingMemoryBound(to: CChar.self)
    text.withCString { _ = memcpy(buffer, $0, n + 1) }
    out?.pointee = buffer
    len?.pointee = n
    return LLMDB_OK
}

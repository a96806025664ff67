import CLMDB

/// Bytes borrowed from the map, valid until the transaction ends or (in a write
/// transaction) until the next update. Never store them.
public typealias BorrowedBytes = UnsafeRawBufferPointer

@inline(__always)
func withVal<R, E: Error>(_ bytes: UnsafeRawBufferPointer, _ body: (inout MDB_val) throws(E) -> R) throws(E) -> R {
    var val = unsafe MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
    return try unsafe body(&val)
}

@inline(__always)
func borrowed(_ val: MDB_val) -> BorrowedBytes {
    unsafe UnsafeRawBufferPointer(start: val.mv_data, count: val.mv_size)
}

/// A read-only snapshot. Created by ``Environment/read(_:)`` and ended when its scope ends.
@safe public struct ReadTransaction: ~Copyable {
    package let txn: OpaquePointer

    init(txn: OpaquePointer) { unsafe self.txn = unsafe txn }

    deinit { unsafe mdb_txn_abort(txn) }

    /// The value stored under `key`, borrowed for the life of the transaction; nil when absent.
    public func get(_ table: Table, _ key: UnsafeRawBufferPointer) throws(LMDBError) -> BorrowedBytes? {
        unsafe try getValue(txn, table, key)
    }

    /// Opens a cursor over `table`; it lives no longer than this transaction.
    public func cursor(_ table: Table) throws(LMDBError) -> Cursor {
        unsafe try Cursor(txn: txn, table: table)
    }

    /// Entry counts and page usage of `table`.
    public func stat(_ table: Table) throws(LMDBError) -> TableStat {
        unsafe try tableStat(txn, table)
    }

}

/// The write transaction (or a nested one). Begin, use and end it on one thread.
@safe public struct WriteTransaction: ~Copyable {
    package var txn: OpaquePointer?
    let faults: Faults

    init(txn: OpaquePointer, faults: Faults) {
        unsafe self.txn = unsafe txn
        self.faults = faults
    }

    deinit {
        if let t = unsafe txn { unsafe mdb_txn_abort(t) }
    }

    /// The value stored under `key`; valid until the next update in this transaction.
    public func get(_ table: Table, _ key: UnsafeRawBufferPointer) throws(LMDBError) -> BorrowedBytes? {
        unsafe try getValue(txn!, table, key)
    }

    /// Stores `value` under `key`, replacing what was there.
    public func put(_ table: Table, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(LMDBError) {
        unsafe try putValue(txn!, faults, table, key, value)
    }

    /// Removes `key`; returns false when it was not there.
    @discardableResult
    public func delete(_ table: Table, _ key: UnsafeRawBufferPointer) throws(LMDBError) -> Bool {
        unsafe try deleteValue(txn!, table, key)
    }

    /// This transaction lent to code that may read and write in it but neither commit nor
    /// abort it (the writer lends it to index kinds, through `IndexRows`).
    public var lent: LentTransaction { unsafe LentTransaction(txn: txn!, faults: faults) }

    /// Opens a cursor over `table`; it lives no longer than this transaction.
    public func cursor(_ table: Table) throws(LMDBError) -> Cursor {
        unsafe try Cursor(txn: txn!, table: table)
    }

    /// Entry counts and page usage of `table`.
    public func stat(_ table: Table) throws(LMDBError) -> TableStat {
        unsafe try tableStat(txn!, table)
    }

    /// Runs `body` in a nested transaction: its writes land in this one if `body` returns,
    /// and vanish if it throws. This transaction must not be used while `body` runs.
    public func nested<R>(_ body: (inout WriteTransaction) throws -> R) throws -> R {
        var child: OpaquePointer?
        try check(unsafe mdb_txn_begin(mdb_txn_env(txn), txn, 0, &child), "mdb_txn_begin")
        var tx = unsafe WriteTransaction(txn: child!, faults: faults)
        let result: R
        do {
            result = try body(&tx)
        } catch {
            tx.abort()
            throw error
        }
        try tx.commit()
        return result
    }

    /// Commits. On failure the transaction is aborted and nothing is written.
    public consuming func commit() throws(LMDBError) {
        let t = unsafe txn!
        unsafe txn = nil
        if let error = faults.take(.commit) {
            unsafe mdb_txn_abort(t)
            throw error
        }
        unsafe try check(mdb_txn_commit(t), "mdb_txn_commit")
    }

    /// Abandons every change of this transaction.
    public consuming func abort() {
        if let t = unsafe txn { unsafe mdb_txn_abort(t) }
        unsafe txn = nil
    }
}

/// A write transaction lent by its owner (``WriteTransaction/lent``): reads and writes,
/// no commit or abort. Valid only while the owner's transaction is; never keep one.
@safe public struct LentTransaction {
    let txn: OpaquePointer
    let faults: Faults

    init(txn: OpaquePointer, faults: Faults) {
        unsafe self.txn = unsafe txn
        self.faults = faults
    }

    /// The value stored under `key`; valid until the next update in this transaction.
    public func get(_ table: Table, _ key: UnsafeRawBufferPointer) throws(LMDBError) -> BorrowedBytes? {
        unsafe try getValue(txn, table, key)
    }

    /// Stores `value` under `key`, replacing what was there.
    public func put(_ table: Table, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(LMDBError) {
        unsafe try putValue(txn, faults, table, key, value)
    }

    /// Removes `key`; returns false when it was not there.
    @discardableResult
    public func delete(_ table: Table, _ key: UnsafeRawBufferPointer) throws(LMDBError) -> Bool {
        unsafe try deleteValue(txn, table, key)
    }

    /// Opens a cursor over `table`; it lives no longer than the transaction.
    public func cursor(_ table: Table) throws(LMDBError) -> Cursor {
        unsafe try Cursor(txn: txn, table: table)
    }
}

private func putValue(
    _ txn: OpaquePointer,
    _ faults: Faults,
    _ table: Table,
    _ key: UnsafeRawBufferPointer,
    _ value: UnsafeRawBufferPointer
) throws(LMDBError) {
    try faults.check(.put)
    unsafe try withVal(key) { (k: inout MDB_val) throws(LMDBError) in
        unsafe try withVal(value) { (v: inout MDB_val) throws(LMDBError) in
            try check(unsafe mdb_put(txn, table.dbi, &k, &v, 0), "mdb_put")
        }
    }
}

private func deleteValue(_ txn: OpaquePointer, _ table: Table, _ key: UnsafeRawBufferPointer) throws(LMDBError) -> Bool
{
    unsafe try withVal(key) { (k: inout MDB_val) throws(LMDBError) -> Bool in
        let rc = unsafe mdb_del(txn, table.dbi, &k, nil)
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "mdb_del")
        return true
    }
}

private func getValue(
    _ txn: OpaquePointer,
    _ table: Table,
    _ key: UnsafeRawBufferPointer
) throws(LMDBError) -> BorrowedBytes? {
    unsafe try withVal(key) { (k: inout MDB_val) throws(LMDBError) -> BorrowedBytes? in
        var v = unsafe MDB_val()
        let rc = unsafe mdb_get(txn, table.dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_get")
        return unsafe borrowed(v)
    }
}

private func tableStat(_ txn: OpaquePointer, _ table: Table) throws(LMDBError) -> TableStat {
    var s = MDB_stat()
    try check(unsafe mdb_stat(txn, table.dbi, &s), "mdb_stat")
    return TableStat(
        entries: s.ms_entries,
        depth: Int(s.ms_depth),
        branchPages: s.ms_branch_pages,
        leafPages: s.ms_leaf_pages,
        overflowPages: s.ms_overflow_pages
    )
}

/// A position in a table. Returned bytes are borrowed: valid until the cursor moves,
/// the transaction writes, or the transaction ends.
@safe public struct Cursor: ~Copyable {
    let cursor: OpaquePointer

    init(txn: OpaquePointer, table: Table) throws(LMDBError) {
        var c: OpaquePointer?
        try check(unsafe mdb_cursor_open(txn, table.dbi, &c), "mdb_cursor_open")
        unsafe cursor = unsafe c!
    }

    deinit { unsafe mdb_cursor_close(cursor) }

    /// One entry under the cursor.
    public typealias Entry = (key: BorrowedBytes, value: BorrowedBytes)

    /// Moves by `op`; with `key`, seeks (`MDB_SET_RANGE`, `MDB_SET_KEY`) from it.
    @inline(__always)
    private func move(_ op: MDB_cursor_op, from key: UnsafeRawBufferPointer? = nil) throws(LMDBError) -> Entry? {
        var k =
            unsafe key.map {
                unsafe MDB_val(mv_size: $0.count, mv_data: UnsafeMutableRawPointer(mutating: $0.baseAddress))
            } ?? MDB_val()
        var v = unsafe MDB_val()
        let rc = unsafe mdb_cursor_get(cursor, &k, &v, op)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_cursor_get")
        return unsafe (borrowed(k), borrowed(v))
    }

    /// Moves to the first entry whose key is ≥ `key`.
    public func seek(atLeast key: UnsafeRawBufferPointer) throws(LMDBError) -> Entry? {
        unsafe try move(MDB_SET_RANGE, from: key)
    }

    /// Moves to the entry with exactly `key`.
    public func seek(exactly key: UnsafeRawBufferPointer) throws(LMDBError) -> Entry? {
        unsafe try move(MDB_SET_KEY, from: key)
    }

    public func first() throws(LMDBError) -> Entry? { unsafe try move(MDB_FIRST) }
    public func last() throws(LMDBError) -> Entry? { unsafe try move(MDB_LAST) }
    public func next() throws(LMDBError) -> Entry? { unsafe try move(MDB_NEXT) }
    public func previous() throws(LMDBError) -> Entry? { unsafe try move(MDB_PREV) }
    public func current() throws(LMDBError) -> Entry? { unsafe try move(MDB_GET_CURRENT) }

    /// Deletes the entry under the cursor (write transactions only).
    public func deleteCurrent() throws(LMDBError) {
        unsafe try check(mdb_cursor_del(cursor, 0), "mdb_cursor_del")
    }
}

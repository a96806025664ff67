public import CLLMDBABI
import Glibc
import LLMDB
import LLMDBDocuments
import LLMDBMemory
import LLMDBQuery
import LLMDBService
import LLMDBWasm
import Synchronization

// The functions of include/llmdb.h. Each checks its handles and pointers, runs the
// operation, and turns every error into a status and a thread-local message.

// MARK: - Errors, versions, buffers

@_cdecl("llmdb_last_error")
public func abiLastError() -> UnsafePointer<CChar> {
    guard let p = pthread_getspecific(lastErrorKey) else { return emptyString }
    return UnsafePointer(p.assumingMemoryBound(to: CChar.self))
}

@_cdecl("llmdb_status_name")
public func abiStatusName(_ status: Int32) -> UnsafePointer<CChar> {
    statusNames[status] ?? unknownName
}

@_cdecl("llmdb_abi_version")
public func abiVersion() -> Int32 { LLMDB_ABI_VERSION }

@_cdecl("llmdb_free")
public func abiFree(_ buffer: UnsafeMutableRawPointer?) { free(buffer) }

// MARK: - Opening

@_cdecl("llmdb_options_init")
public func abiOptionsInit(_ options: UnsafeMutablePointer<llmdb_options>?) {
    guard let options else { return }
    options.pointee = llmdb_options(
        size: UInt32(MemoryLayout<llmdb_options>.size),
        read_only: 0,
        create: 1,
        sync: LLMDB_SYNC_FULL,
        map_size: 64 << 20,
        max_map_size: 1 << 40
    )
}

@_cdecl("llmdb_open")
public func abiOpen(
    _ path: UnsafePointer<CChar>?,
    _ options: UnsafePointer<llmdb_options>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded {
        guard let out else { throw ABIError.null("out") }
        let path = try text(path, "path")
        var o = Database.Options()
        if let options {
            // The size first: a smaller struct of another ABI version must not be read whole.
            let size = UnsafeRawPointer(options).load(as: UInt32.self)
            guard size == UInt32(MemoryLayout<llmdb_options>.size) else {
                throw ABIError.bad("llmdb_options.size is \(size); fill the options with llmdb_options_init")
            }
            let given = options.pointee
            o.readOnly = given.read_only != 0
            o.create = given.create != 0
            switch given.sync {
            case LLMDB_SYNC_FULL: o.sync = .full
            case LLMDB_SYNC_META: o.sync = .meta
            case LLMDB_SYNC_NONE: o.sync = .none
            default: throw ABIError.bad("llmdb_options.sync is \(given.sync); use LLMDB_SYNC_FULL, _META or _NONE")
            }
            guard given.map_size > 0, given.map_size <= given.max_map_size, given.max_map_size <= 1 << 50 else {
                throw ABIError.bad("llmdb_options: map_size must be positive and at most max_map_size (at most 1 PiB)")
            }
            o.mapSize = Int(given.map_size)
            o.maxMapSize = Int(given.max_map_size)
        }
        o.codeRunner = WasmRuntime.shared
        o.indexKinds = Database.Options.allIndexKinds
        _ = forkHandler
        let shared = try OpenFiles.open(path: path, options: o)
        out.pointee = Handles.add(.database(DatabaseHandle(shared, readOnly: o.readOnly)))
        return LLMDB_OK
    }
}

@_cdecl("llmdb_close")
public func abiClose(_ handle: OpaquePointer?) -> Int32 {
    guarded {
        guard case .database(let h)? = Handles.remove(handle, .database)
        else { throw ABIError.handle("database") }
        h.closed.store(true, ordering: .releasing)
        let iterators = Handles.removeDependents(of: h)
        // A handle inherited through fork is only forgotten: its environment is the
        // parent's, which the child must not touch (OpenFiles keeps it, never closed).
        if h.inherited { return LLMDB_OK }
        for it in iterators { it.lock.withLock { _ in it.page.release() } }
        OpenFiles.release(h.shared)
        return LLMDB_OK
    }
}

// MARK: - Write transactions

@_cdecl("llmdb_txn_begin")
public func abiTxnBegin(
    _ handle: OpaquePointer?,
    _ txTime: Int64,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
)
    -> Int32
{
    guarded {
        let h = try Handles.database(handle)
        guard let out else { throw ABIError.null("out") }
        try h.checkWritable()
        guard let t = Handles.add(.transaction(TransactionHandle(owner: h, txTime: instant(txTime))), of: h) else {
            throw ABIError.closedWhileRunning
        }
        out.pointee = t
        return LLMDB_OK
    }
}

/// Adds one operation to an open transaction.
private func addOperation(_ handle: OpaquePointer?, _ body: (inout WriteBatch) throws -> Void) -> Int32 {
    guarded {
        let t = try Handles.transaction(handle)
        try t.owner.checkOpen()
        try t.batch.withLock { try body(&$0) }
        return LLMDB_OK
    }
}

private func value(_ p: UnsafeRawPointer?, _ count: Int, _ type: Int32) throws -> Value {
    let b = try bytes(p, count, "value")
    switch type {
    case LLMDB_VALUE_RAW: return .raw(b)
    case LLMDB_VALUE_JSON: return try .json(bytes: b)
    case LLMDB_VALUE_MSGPACK: return try .messagePack(b)
    default:
        throw ABIError.bad(
            "value_type \(type) is not one a put takes: LLMDB_VALUE_RAW (0), LLMDB_VALUE_JSON (1) or LLMDB_VALUE_MSGPACK (2)"
        )
    }
}

private func validTo(_ t: Int64) -> Instant? { t == timeUnset || t == Int64.max ? nil : Instant(microseconds: t) }

@_cdecl("llmdb_txn_put")
public func abiTxnPut(
    _ handle: OpaquePointer?,
    _ partition: UInt32,
    _ keyBytes: UnsafeRawPointer?,
    _ keyCount: Int,
    _ valueBytes: UnsafeRawPointer?,
    _ valueCount: Int,
    _ valueType: Int32,
    _ validFrom: Int64,
    _ validToTime: Int64
) -> Int32 {
    addOperation(handle) { batch in
        let k = try key(partition, keyBytes, keyCount)
        let v = try value(valueBytes, valueCount, valueType)
        try batch.put(k, v, validFrom: instant(validFrom), validTo: validTo(validToTime))
    }
}

@_cdecl("llmdb_txn_delete")
public func abiTxnDelete(
    _ handle: OpaquePointer?,
    _ partition: UInt32,
    _ keyBytes: UnsafeRawPointer?,
    _ keyCount: Int,
    _ validFrom: Int64,
    _ validToTime: Int64
) -> Int32 {
    addOperation(handle) { batch in
        try batch.delete(
            try key(partition, keyBytes, keyCount),
            validFrom: instant(validFrom),
            validTo: validTo(validToTime)
        )
    }
}

@_cdecl("llmdb_txn_erase")
public func abiTxnErase(
    _ handle: OpaquePointer?,
    _ partition: UInt32,
    _ keyBytes: UnsafeRawPointer?,
    _ keyCount: Int
)
    -> Int32
{
    addOperation(handle) { batch in try batch.erase(try key(partition, keyBytes, keyCount)) }
}

@_cdecl("llmdb_txn_expect")
public func abiTxnExpect(
    _ handle: OpaquePointer?,
    _ partition: UInt32,
    _ keyBytes: UnsafeRawPointer?,
    _ keyCount: Int,
    _ expectation: Int32,
    _ tx: UInt64
) -> Int32 {
    addOperation(handle) { batch in
        let e: WriteBatch.Expectation
        switch expectation {
        case LLMDB_EXPECT_ABSENT: e = .absent
        case LLMDB_EXPECT_PRESENT: e = .present
        case LLMDB_EXPECT_VERSION: e = .version(tx)
        default:
            throw ABIError.bad(
                "expectation \(expectation) is not LLMDB_EXPECT_ABSENT (0), LLMDB_EXPECT_PRESENT (1) or LLMDB_EXPECT_VERSION (2)"
            )
        }
        try batch.expect(try key(partition, keyBytes, keyCount), e)
    }
}

@_cdecl("llmdb_txn_commit")
public func abiTxnCommit(
    _ handle: OpaquePointer?,
    _ txOut: UnsafeMutablePointer<UInt64>?,
    _ timeOut: UnsafeMutablePointer<Int64>?
) -> Int32 {
    guarded {
        guard case .transaction(let t)? = Handles.remove(handle, .transaction) else {
            throw ABIError.handle("transaction")
        }
        try t.owner.checkOpen()
        let batch = t.batch.withLock { $0 }
        let commit = try t.owner.db.commit(batch, txTime: t.txTime)
        txOut?.pointee = commit.txID
        timeOut?.pointee = commit.txTime.microseconds
        return LLMDB_OK
    }
}

@_cdecl("llmdb_txn_abort")
public func abiTxnAbort(_ handle: OpaquePointer?) -> Int32 {
    guarded {
        guard Handles.remove(handle, .transaction) != nil else { throw ABIError.handle("transaction") }
        return LLMDB_OK
    }
}

// MARK: - Reads

/// Reads the value of a key as of a point and hands `body` the snapshot, the key and the
/// borrowed value (it copies what it keeps); LLMDB_NOT_FOUND without calling it. `missing`
/// names a required output the caller was given as NULL (checked after the handle).
private func pointRead(
    _ handle: OpaquePointer?,
    _ partition: UInt32,
    _ keyBytes: UnsafeRawPointer?,
    _ keyCount: Int,
    _ validAt: Int64,
    _ tx: UInt64,
    _ txTime: Int64,
    missing: String?,
    _ body: (borrowing Snapshot, Key, ValueView) throws -> Int32
) -> Int32 {
    guarded {
        let h = try Handles.database(handle)
        if let missing { throw ABIError.null(missing) }
        try h.checkOpen()
        let k = try key(partition, keyBytes, keyCount)
        let sel = try selector(tx, txTime)
        let status = try h.db.read(validAt: instant(validAt), tx: sel) { s -> Int32? in
            try s.withValue(k) { view in try body(s, k, view) }
        }
        return status ?? LLMDB_NOT_FOUND
    }
}

/// A point read's fact, its value not yet placed: `valid_to` walks on from the lookup.
private func fact(_ s: borrowing Snapshot, _ k: Key, _ view: ValueView) throws -> llmdb_fact {
    llmdb_fact(
        value: nil,
        value_len: view.payload.count,
        value_type: Int32(view.tag.rawValue),
        valid_from: view.validFrom.microseconds,
        valid_to: (try s.validToAfterLookup(of: k, current: view) ?? .endOfTime).microseconds,
        tx: view.txID,
        tx_time: try s.transactionTime(view.txID).microseconds
    )
}

@_cdecl("llmdb_get")
public func abiGet(
    _ handle: OpaquePointer?,
    _ partition: UInt32,
    _ keyBytes: UnsafeRawPointer?,
    _ keyCount: Int,
    _ validAt: Int64,
    _ tx: UInt64,
    _ txTime: Int64,
    _ out: UnsafeMutablePointer<llmdb_fact>?
) -> Int32 {
    pointRead(handle, partition, keyBytes, keyCount, validAt, tx, txTime, missing: out == nil ? "out" : nil) {
        s,
        k,
        view in
        var f = try fact(s, k, view)
        let n = view.payload.count
        let buffer = malloc(max(n, 1))!
        if n > 0 { buffer.copyMemory(from: view.payload.baseAddress!, byteCount: n) }
        f.value = UnsafePointer(buffer.assumingMemoryBound(to: UInt8.self))
        out!.pointee = f
        return LLMDB_OK
    }
}

@_cdecl("llmdb_get_into")
public func abiGetInto(
    _ handle: OpaquePointer?,
    _ partition: UInt32,
    _ keyBytes: UnsafeRawPointer?,
    _ keyCount: Int,
    _ validAt: Int64,
    _ tx: UInt64,
    _ txTime: Int64,
    _ buffer: UnsafeMutableRawPointer?,
    _ capacity: Int,
    _ out: UnsafeMutablePointer<llmdb_fact>?
) -> Int32 {
    pointRead(handle, partition, keyBytes, keyCount, validAt, tx, txTime, missing: out == nil ? "out" : nil) {
        s,
        k,
        view in
        var f = try fact(s, k, view)
        let n = view.payload.count
        guard n <= capacity else {
            out!.pointee = f
            setLastError("the value is \(n) bytes; the buffer holds \(capacity)")
            return LLMDB_E_BUFFER_TOO_SMALL
        }
        if n > 0 {
            guard let buffer else { throw ABIError.null("buffer") }
            buffer.copyMemory(from: view.payload.baseAddress!, byteCount: n)
        }
        f.value = buffer.map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) }
        out!.pointee = f
        return LLMDB_OK
    }
}

@_cdecl("llmdb_get_value")
public func abiGetValue(
    _ handle: OpaquePointer?,
    _ partition: UInt32,
    _ keyBytes: UnsafeRawPointer?,
    _ keyCount: Int,
    _ validAt: Int64,
    _ tx: UInt64,
    _ txTime: Int64,
    _ buffer: UnsafeMutableRawPointer?,
    _ capacity: Int,
    _ valueLen: UnsafeMutablePointer<Int>?,
    _ valueType: UnsafeMutablePointer<Int32>?
) -> Int32 {
    let missing = valueLen == nil ? "value_len" : valueType == nil ? "value_type" : nil
    return pointRead(handle, partition, keyBytes, keyCount, validAt, tx, txTime, missing: missing) { _, _, view in
        let n = view.payload.count
        guard n <= capacity else {
            valueLen!.pointee = n
            valueType!.pointee = Int32(view.tag.rawValue)
            setLastError("the value is \(n) bytes; the buffer holds \(capacity)")
            return LLMDB_E_BUFFER_TOO_SMALL
        }
        if n > 0 {
            guard let buffer else { throw ABIError.null("buffer") }
            buffer.copyMemory(from: view.payload.baseAddress!, byteCount: n)
        }
        valueLen!.pointee = n
        valueType!.pointee = Int32(view.tag.rawValue)
        return LLMDB_OK
    }
}

/// Checks a database handle and an output pointer, then runs `body` for the JSON to return.
private func jsonCall(
    _ handle: OpaquePointer?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ len: UnsafeMutablePointer<Int>?,
    _ body: (DatabaseHandle) throws -> JSONValue
) -> Int32 {
    guarded {
        let h = try Handles.database(handle)
        guard out != nil else { throw ABIError.null("json_out") }
        try h.checkOpen()
        return emit(try body(h), out, len)
    }
}

private func txOnly(_ tx: UInt64) -> TxSelector { tx == txLatest ? .latest : .id(tx) }

@_cdecl("llmdb_history")
public func abiHistory(
    _ handle: OpaquePointer?,
    _ partition: UInt32,
    _ keyBytes: UnsafeRawPointer?,
    _ keyCount: Int,
    _ tx: UInt64,
    _ withCorrections: Int32,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ len: UnsafeMutablePointer<Int>?
) -> Int32 {
    jsonCall(handle, out, len) { h in
        let k = try key(partition, keyBytes, keyCount)
        try k.validate()
        let facts = try h.db.history(of: k, asOf: txOnly(tx), withCorrections: withCorrections != 0)
        return .array(facts.map(Render.fact))
    }
}

@_cdecl("llmdb_timeline")
public func abiTimeline(
    _ handle: OpaquePointer?,
    _ partition: UInt32,
    _ keyBytes: UnsafeRawPointer?,
    _ keyCount: Int,
    _ tx: UInt64,
    _ from: Int64,
    _ to: Int64,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ len: UnsafeMutablePointer<Int>?
) -> Int32 {
    jsonCall(handle, out, len) { h in
        let k = try key(partition, keyBytes, keyCount)
        try k.validate()
        var window = TimeWindow.all
        if from != timeUnset || to != timeUnset {
            let a = instant(from) ?? .beginningOfTime
            let b = instant(to) ?? .endOfTime
            guard a < b else {
                throw LLMDBError(.invalidTimeRange, "the window's end (\(b)) must be after its start (\(a))")
            }
            window = .from(a, to: b)
        }
        return .array(try h.db.timeline(of: k, window: window, asOf: txOnly(tx)).map(Render.run))
    }
}

@_cdecl("llmdb_versions")
public func abiVersions(
    _ handle: OpaquePointer?,
    _ partition: UInt32,
    _ prefixBytes: UnsafeRawPointer?,
    _ prefixCount: Int,
    _ tx: UInt64,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ len: UnsafeMutablePointer<Int>?
) -> Int32 {
    jsonCall(handle, out, len) { h in
        let prefix = Key(try bytes(prefixBytes, prefixCount, "prefix"), partition: partition)
        return try h.db.read(tx: txOnly(tx)) { s in
            var keys: [Key] = []
            try s.forEachKey(prefix: prefix) { k in
                keys.append(k)
                return true
            }
            var out: [JSONValue] = []
            for k in keys { out += try s.history(of: k, withCorrections: true).map(Render.fact) }
            return .array(out)
        }
    }
}

@_cdecl("llmdb_tx_at")
public func abiTxAt(_ handle: OpaquePointer?, _ txTime: Int64, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    guarded {
        let h = try Handles.database(handle)
        guard let out else { throw ABIError.null("tx_out") }
        try h.checkOpen()
        out.pointee = try h.db.read(tx: .time(Instant(microseconds: txTime))) { $0.txID }
        return LLMDB_OK
    }
}

// MARK: - Prefix scans

@_cdecl("llmdb_scan")
public func abiScan(
    _ handle: OpaquePointer?,
    _ partition: UInt32,
    _ prefixBytes: UnsafeRawPointer?,
    _ prefixCount: Int,
    _ validAt: Int64,
    _ tx: UInt64,
    _ txTime: Int64,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guarded {
        let h = try Handles.database(handle)
        guard let out else { throw ABIError.null("out") }
        try h.checkOpen()
        let prefix = Key(try bytes(prefixBytes, prefixCount, "prefix"), partition: partition)
        let page = try ScanPage(db: h.db, prefix: prefix, validAt: instant(validAt), tx: try selector(tx, txTime))
        let it = IteratorHandle(owner: h, page: page)
        guard let p = Handles.add(.iterator(it), of: h) else {
            it.page.release()
            throw ABIError.closedWhileRunning
        }
        out.pointee = p
        return LLMDB_OK
    }
}

@_cdecl("llmdb_iter_next")
public func abiIterNext(
    _ handle: OpaquePointer?,
    _ keyOut: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
    _ keyLen: UnsafeMutablePointer<Int>?,
    _ row: UnsafeMutablePointer<llmdb_fact>?
) -> Int32 {
    guarded {
        let it = try Handles.iterator(handle)
        guard let keyOut else { throw ABIError.null("key") }
        guard let keyLen else { throw ABIError.null("key_len") }
        guard let row else { throw ABIError.null("row") }
        try it.owner.checkOpen()
        return try it.lock.withLock { _ in
            guard let r = try it.page.advance(it.owner.db), let base = it.page.buffer else { return LLMDB_DONE }
            keyOut.pointee = UnsafePointer(base.advanced(by: r.keyOffset).assumingMemoryBound(to: UInt8.self))
            keyLen.pointee = r.keyCount
            row.pointee = llmdb_fact(
                value: UnsafePointer(base.advanced(by: r.valueOffset).assumingMemoryBound(to: UInt8.self)),
                value_len: r.valueCount,
                value_type: Int32(r.tag),
                valid_from: r.validFrom,
                valid_to: r.validTo,
                tx: r.tx,
                tx_time: r.txTime
            )
            return LLMDB_OK
        }
    }
}

@_cdecl("llmdb_iter_close")
public func abiIterClose(_ handle: OpaquePointer?) -> Int32 {
    guarded {
        guard case .iterator(let it)? = Handles.remove(handle, .iterator)
        else { throw ABIError.handle("iterator") }
        it.lock.withLock { _ in it.page.release() }
        return LLMDB_OK
    }
}

// MARK: - LQL

@_cdecl("llmdb_query")
public func abiQuery(
    _ handle: OpaquePointer?,
    _ lql: UnsafePointer<CChar>?,
    _ paramsJSON: UnsafePointer<CChar>?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ len: UnsafeMutablePointer<Int>?
) -> Int32 {
    jsonCall(handle, out, len) { h in
        var args = [JSONMember("lql", .string(try text(lql, "lql")))]
        if let paramsJSON {
            let p = try text(paramsJSON, "params_json")
            do throws(LLMDBError) { args.append(JSONMember("parameters", try JSONValue(parsing: p))) } catch {
                throw ABIError(LLMDB_E_INVALID_JSON, "'params_json' is not valid JSON: \(error.message)")
            }
        }
        let a = try Args(.object(args))
        return try h.run { p in try h.service.query(a, p) }
    }
}

// MARK: - Operations on JSON

/// The REST routes by operationId.
let operations: [String: Route] = Dictionary(Route.all.map { ($0.operationID, $0) }, uniquingKeysWith: { a, _ in a })

private func operation(
    _ name: String,
    _ handle: OpaquePointer?,
    _ args: UnsafePointer<CChar>?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ len: UnsafeMutablePointer<Int>?
) -> Int32 {
    jsonCall(handle, out, len) { h in
        guard let route = operations[name] else {
            throw ABIError(
                LLMDB_E_NO_SUCH,
                "there is no operation '\(name)'; the operations are the operationIds of /openapi.json: \(operations.keys.sorted().joined(separator: ", "))"
            )
        }
        let a = try jsonArguments(args)
        return try h.run { p in try route.run(h.service, a, p) }
    }
}

@_cdecl("llmdb_call")
public func abiCall(
    _ handle: OpaquePointer?,
    _ op: UnsafePointer<CChar>?,
    _ args: UnsafePointer<CChar>?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ len: UnsafeMutablePointer<Int>?
) -> Int32 {
    guarded {
        let name = try text(op, "operation")
        return operation(name, handle, args, out, len)
    }
}

@_cdecl("llmdb_remember")
public func abiRemember(
    _ h: OpaquePointer?,
    _ a: UnsafePointer<CChar>?,
    _ o: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ l: UnsafeMutablePointer<Int>?
) -> Int32 { operation("remember", h, a, o, l) }

@_cdecl("llmdb_recall")
public func abiRecall(
    _ h: OpaquePointer?,
    _ a: UnsafePointer<CChar>?,
    _ o: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ l: UnsafeMutablePointer<Int>?
) -> Int32 { operation("recall", h, a, o, l) }

@_cdecl("llmdb_correct")
public func abiCorrect(
    _ h: OpaquePointer?,
    _ a: UnsafePointer<CChar>?,
    _ o: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ l: UnsafeMutablePointer<Int>?
) -> Int32 { operation("correct", h, a, o, l) }

@_cdecl("llmdb_forget")
public func abiForget(
    _ h: OpaquePointer?,
    _ a: UnsafePointer<CChar>?,
    _ o: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ l: UnsafeMutablePointer<Int>?
) -> Int32 { operation("forget", h, a, o, l) }

@_cdecl("llmdb_memory_history")
public func abiMemoryHistory(
    _ h: OpaquePointer?,
    _ a: UnsafePointer<CChar>?,
    _ o: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ l: UnsafeMutablePointer<Int>?
) -> Int32 { operation("memoryHistory", h, a, o, l) }

@_cdecl("llmdb_memory_evolution")
public func abiMemoryEvolution(
    _ h: OpaquePointer?,
    _ a: UnsafePointer<CChar>?,
    _ o: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ l: UnsafeMutablePointer<Int>?
) -> Int32 { operation("knowledgeEvolution", h, a, o, l) }

@_cdecl("llmdb_memory_as_of")
public func abiMemoryAsOf(
    _ h: OpaquePointer?,
    _ a: UnsafePointer<CChar>?,
    _ o: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ l: UnsafeMutablePointer<Int>?
) -> Int32 { operation("asOf", h, a, o, l) }

@_cdecl("llmdb_memory_rollback")
public func abiMemoryRollback(
    _ h: OpaquePointer?,
    _ a: UnsafePointer<CChar>?,
    _ o: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ l: UnsafeMutablePointer<Int>?
) -> Int32 { operation("rollback", h, a, o, l) }

@_cdecl("llmdb_memory_namespaces")
public func abiMemoryNamespaces(
    _ h: OpaquePointer?,
    _ a: UnsafePointer<CChar>?,
    _ o: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ l: UnsafeMutablePointer<Int>?
) -> Int32 { operation("listNamespaces", h, a, o, l) }

// MARK: - The code registry

@_cdecl("llmdb_code_add")
public func abiCodeAdd(
    _ handle: OpaquePointer?,
    _ name: UnsafePointer<CChar>?,
    _ module: UnsafeRawPointer?,
    _ moduleCount: Int,
    _ kind: UnsafePointer<CChar>?,
    _ function: UnsafePointer<CChar>?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ len: UnsafeMutablePointer<Int>?
) -> Int32 {
    jsonCall(handle, out, len) { h in
        try h.checkWritable()
        let n = try text(name, "name")
        guard moduleCount > 0 else { throw ABIError.bad("'module' is empty") }
        let source = try bytes(module, moduleCount, "module")
        var k: WasmFunctionKind? = nil
        if let kind {
            let s = try text(kind, "kind")
            guard let parsed = WasmFunctionKind(rawValue: s) else {
                throw ABIError.bad(
                    "'kind' must be one of \(WasmFunctionKind.allCases.map(\.rawValue).joined(separator: ", ")), not '\(s)'"
                )
            }
            k = parsed
        }
        let f = try function.map { p throws(ABIError) in try text(p, "function") }
        return Service.code(try h.db.addCode(source, name: n, kind: k, function: f))
    }
}

@_cdecl("llmdb_code_list")
public func abiCodeList(
    _ handle: OpaquePointer?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ len: UnsafeMutablePointer<Int>?
) -> Int32 {
    jsonCall(handle, out, len) { h in
        .object([JSONMember("modules", .array(try h.db.listCode().map(Service.code)))])
    }
}

@_cdecl("llmdb_code_remove")
public func abiCodeRemove(
    _ handle: OpaquePointer?,
    _ name: UnsafePointer<CChar>?,
    _ force: Int32,
    _ txOut: UnsafeMutablePointer<UInt64>?
) -> Int32 {
    guarded {
        let h = try Handles.database(handle)
        try h.checkWritable()
        let commit = try h.db.removeCode(try text(name, "name"), force: force != 0)
        txOut?.pointee = commit.txID
        return LLMDB_OK
    }
}

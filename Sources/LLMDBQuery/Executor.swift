public import LLMDB
import LLMDBDocuments
import LLMDBWasm

#if canImport(Glibc)
import Glibc
#endif

/// The rows of a query: column names, and one JSON object per row.
public struct QueryResult: Sendable {
    public let columns: [String]
    public let rows: [JSONValue]
    /// For `EXPLAIN`: the plan, one step per line.
    public let plan: [String]
    /// Rows read from storage (before filtering).
    public let scanned: Int
}

/// Limits that stop a runaway query with a clear error (docs/lql.md, "Limits").
public struct QueryLimits: Sendable {
    /// The most rows a query may read from storage.
    public var maxScannedRows = 10_000_000
    /// The most rows a query may return.
    public var maxResultRows = 1_000_000
    /// Wall-clock time, in microseconds, checked inside every loop of the executor (scans,
    /// join probes, grouping, sorting).
    public var timeoutMicroseconds: Int64 = 30_000_000
    /// The memory a query may hold at once, in bytes, as estimated from the rows it keeps:
    /// the right side of a join, groups, rows waiting to be sorted, and the result.
    public var maxMemoryBytes = 256 << 20
    /// The most candidates an index lookup may give before the query scans instead (a
    /// lookup that gives more is no better than the scan, which streams).
    public var maxIndexCandidates = 50_000
    public init() {}
}

/// LQL: run a query against a database (docs/lql.md).
public enum LQL {
    /// Parses, plans and runs `text`. Parameters: `$1` is `parameters["1"]`, `:city` is
    /// `parameters["city"]`.
    public static func run(
        _ text: String,
        on db: Database,
        parameters: [String: JSONValue] = [:],
        limits: QueryLimits = QueryLimits()
    ) throws -> QueryResult {
        let statement: Statement
        do { statement = try Parser.parse(text) } catch { throw error.asLLMDBError }
        var ex = Executor(db: db, parameters: parameters, limits: limits)
        defer { ex.budget.finish() }
        do { return try ex.run(statement) } catch let e as QueryError { throw e.asLLMDBError }
    }
}

/// What a query may still spend, shared by the copies of its ``Executor``: time, checked
/// (every few hundred calls, so the clock costs nothing) inside every loop, and memory,
/// charged for the rows the executor holds and refused past the limit.
final class QueryBudget {
    let limits: QueryLimits
    let started = monotonicMicroseconds()
    private(set) var bytes = 0
    private(set) var peak = 0
    private var calls = 0

    init(_ limits: QueryLimits) { self.limits = limits }

    /// Throws once the query has run longer than its time limit.
    @inline(__always)
    func check() throws {
        calls &+= 1
        if calls & 255 == 0 { try checkClock() }
    }

    func checkClock() throws {
        if monotonicMicroseconds() - started > limits.timeoutMicroseconds {
            throw QueryError("the query ran longer than \(limits.timeoutMicroseconds / 1000) ms (the limit)")
        }
    }

    /// Takes `n` bytes of the query's memory; throws past the limit.
    func charge(_ n: Int) throws {
        bytes += n
        if bytes > peak { peak = bytes }
        if bytes > limits.maxMemoryBytes {
            throw QueryError(
                "the query needs more than \(limits.maxMemoryBytes >> 20) MiB of memory (the limit) for the rows it holds (a join's right side, groups, rows to sort, the result): narrow it with WHERE, join on an equality, or add LIMIT"
            )
        }
    }

    func release(_ n: Int) { bytes -= n }

    /// After the query: a query that held much memory gives it back to the system (the C
    /// allocator keeps freed memory in per-thread arenas otherwise, and the server has many
    /// threads).
    func finish() {
        if peak >= 16 << 20 { returnFreedMemoryToSystem() }
    }

    /// An estimate of the memory a value holds: its payload and the containers' overhead.
    static func size(_ v: JSONValue) -> Int {
        switch v {
        case .null, .bool, .int, .uint, .double: return 16
        case .string(let s): return 32 + s.utf8.count
        case .binary(let b): return 32 + b.count
        case .array(let a): return a.reduce(32) { $0 + size($1) }
        case .object(let m): return m.reduce(32) { $0 + 16 + $1.key.utf8.count + size($1.value) }
        }
    }

    static func size(_ r: Row) -> Int {
        64 + size(r.body) + (r.id?.utf8.count ?? 0) + (r.key?.bytes.count ?? 0)
    }
}

extension LQL {
    /// Whether `text` would write (INSERT, UPDATE, DELETE, ERASE, or a transaction of them,
    /// however it is wrapped in SETTING DEFAULT or EXPLAIN): for read-only callers.
    public static func isWrite(_ text: String) throws -> Bool {
        let statement: Statement
        do { statement = try Parser.parse(text) } catch { throw error.asLLMDBError }
        return statement.writes
    }
}

extension Statement {
    var writes: Bool {
        switch self {
        case .select, .history: false
        case .insert, .update, .delete, .erase, .transaction: true
        case .explain(let inner): inner.writes
        }
    }
}

/// One row from storage.
struct Row {
    var id: String?  // collections
    var key: Key?  // kv
    var body: JSONValue  // the document, or the fact's value
    var validFrom: Instant
    var validTo: Instant?
    var txID: TxID
    var txTime: Instant?
}

struct Executor {
    let db: Database
    let parameters: [String: JSONValue]
    let limits: QueryLimits
    var scanned = 0
    /// The results of `EMBEDDED WASM module()` aggregates, by module.
    var wasmResults: [String: JSONValue] = [:]
    let budget: QueryBudget

    init(db: Database, parameters: [String: JSONValue], limits: QueryLimits) {
        self.db = db
        self.parameters = parameters
        self.limits = limits
        self.budget = QueryBudget(limits)
    }

    static let aggregates: Set<String> = ["COUNT", "SUM", "AVG", "MIN", "MAX"]
    static let functions: Set<String> = ["LOWER", "UPPER", "LENGTH", "COALESCE", "ABS", "ROUND"]
    static let systemColumns: Set<String> = [
        "_id", "_key", "_partition", "_valid_from", "_valid_to", "_tx_id", "_tx_time",
    ]

    mutating func run(_ s: Statement) throws -> QueryResult {
        switch s {
        case .explain(let inner):
            let plan = try explain(inner)
            return QueryResult(
                columns: ["plan"],
                rows: plan.map { .object([JSONMember("plan", .string($0))]) },
                plan: plan,
                scanned: 0
            )
        case .history(let keyExpr, let partExpr, let system):
            return try history(keyExpr, partExpr, system)
        case .select(let sel):
            return try select(sel)
        case .insert, .update, .delete, .erase:
            return try write([s])
        case .transaction(let list):
            return try write(list)
        }
    }

    // MARK: Constants (times, limits, parameters)

    func constant(_ e: Expr) throws -> JSONValue {
        try Eval(ex: self, row: nil).value(e)
    }

    func time(_ e: Expr, _ what: String) throws -> Instant {
        let v = try constant(e)
        switch v {
        case .string(let s):
            guard let t = Instant(parsing: s) else {
                throw QueryError("\(what): '\(s)' is not a time (ISO-8601 in UTC, or microseconds since the epoch)")
            }
            return t
        case .int(let n): return Instant(microseconds: n)
        default: throw QueryError("\(what) must be a time (a string or microseconds), not \(Eval.typeName(v))")
        }
    }

    func count(_ e: Expr?, _ what: String) throws -> Int? {
        guard let e else { return nil }
        guard case .int(let n) = try constant(e), n >= 0 else {
            throw QueryError("\(what) must be a non-negative integer")
        }
        return Int(clamping: n)
    }

    /// The read coordinates of a table reference: a point (valid time, transaction), or
    /// windows that make each version a row.
    struct Coordinates {
        var validAt: Instant?
        var tx: TxSelector = .latest
        var validWindow: TimeWindow?
        var systemWindow: TimeWindow?
        var isPoint: Bool { validWindow == nil && systemWindow == nil }
    }

    func coordinates(_ ref: TableRef) throws -> Coordinates {
        var c = Coordinates()
        switch ref.validTime {
        case nil: break
        case .asOf(let e)?: c.validAt = try time(e, "FOR VALID_TIME AS OF")
        case .fromTo(let a, let b)?: c.validWindow = .from(try time(a, "FOR VALID_TIME FROM"), to: try time(b, "TO"))
        case .between(let a, let b)?:
            c.validWindow = .between(try time(a, "FOR VALID_TIME BETWEEN"), and: try time(b, "AND"))
        case .all?: c.validWindow = .all
        case .transaction?: throw QueryError("AS OF TRANSACTION applies to system time, not valid time")
        }
        switch ref.systemTime {
        case nil: break
        case .asOf(let e)?: c.tx = .time(try time(e, "FOR SYSTEM_TIME AS OF"))
        case .transaction(let e)?:
            guard case .int(let n) = try constant(e), n >= 0 else {
                throw QueryError("AS OF TRANSACTION takes a transaction id")
            }
            c.tx = .id(TxID(n))
        case .fromTo(let a, let b)?: c.systemWindow = .from(try time(a, "FOR SYSTEM_TIME FROM"), to: try time(b, "TO"))
        case .between(let a, let b)?:
            c.systemWindow = .between(try time(a, "FOR SYSTEM_TIME BETWEEN"), and: try time(b, "AND"))
        case .all?: c.systemWindow = .all
        }
        if let w = c.validWindow, w.upper < w.lower { throw QueryError("the valid-time window ends before it starts") }
        if let w = c.systemWindow, w.upper < w.lower {
            throw QueryError("the system-time window ends before it starts")
        }
        return c
    }

    // MARK: Sources

    mutating func tick() throws {
        scanned += 1
        if scanned > limits.maxScannedRows {
            throw QueryError(
                "the query read more than \(limits.maxScannedRows) rows (the limit; narrow it with WHERE or LIMIT, or raise the limit)"
            )
        }
        try budget.check()
    }

    /// The key prefix a source scans: `kv('p')` → p; a collection → `name/`.
    func sourcePrefix(_ source: TableSource, _ pos: SourcePosition) throws -> Key {
        switch source {
        case .collection(let name):
            guard try db.collection(name).exists() else { throw QueryError("unknown collection '\(name)'", at: pos) }
            return Key(name + "/")
        case .kv(let p):
            guard let p else { return Key([UInt8](), partition: 0) }
            guard case .string(let s) = try constant(p) else {
                throw QueryError("kv('…') takes a key prefix string", at: pos)
            }
            return Key(s)
        case .wasm:
            throw QueryError("EMBEDDED WASM cannot be nested", at: pos)
        }
    }

    /// Calls `body` with each row of the table reference until it returns false.
    mutating func forEachRow(
        _ ref: TableRef,
        _ c: Coordinates,
        candidates: [String]?,
        _ body: (Row) throws -> Bool
    ) throws {
        switch ref.source {
        case .collection(let name):
            let coll = try db.collection(name)
            guard try coll.exists() else {
                throw QueryError(
                    "unknown collection '\(name)' (no document or schema was ever stored in it)",
                    at: ref.position
                )
            }
            if c.isPoint {
                if let candidates {
                    for id in candidates {
                        try tick()
                        guard let d = try coll.get(id, validAt: c.validAt, tx: c.tx) else { continue }
                        if try !body(Row(id: d.id, body: d.body, validFrom: d.validFrom, txID: d.txID)) { return }
                    }
                    return
                }
                var failure: (any Error)? = nil
                var me = self
                try coll.eachDocument(validAt: c.validAt, tx: c.tx) { d in
                    do { try me.tick() } catch {
                        failure = error
                        return false
                    }
                    return try body(Row(id: d.id, body: d.body, validFrom: d.validFrom, txID: d.txID))
                }
                scanned = me.scanned
                if let failure { throw failure }
            } else {
                try versions(prefix: Key(name + "/"), c) { key, f in
                    guard let v = f.value else { return true }
                    let id = String(decoding: key.bytes.dropFirst(name.utf8.count + 1), as: UTF8.self)
                    return try body(
                        Row(
                            id: id,
                            body: try coll.body(of: v),
                            validFrom: f.validFrom,
                            validTo: f.validTo,
                            txID: f.txID,
                            txTime: f.txTime
                        )
                    )
                }
            }
        case .wasm(let module, let over):
            guard c.isPoint else {
                throw QueryError(
                    "EMBEDDED WASM reads one point in time: use AS OF clauses, not windows",
                    at: ref.position
                )
            }
            let prefix = try sourcePrefix(over, ref.position)
            var failure: (any Error)? = nil
            var me = self
            try db.scan(prefix: prefix, map: module, validAt: c.validAt, tx: c.tx) { (m: MappedRow) -> Bool in
                do { try me.tick() } catch {
                    failure = error
                    return false
                }
                // A retraction is no row. Any other value was checked against its tag when
                // the module's output was read; one that still cannot be read fails the
                // query with the module named, never drops the row.
                guard let v = m.value() else { return true }
                let value: JSONValue
                do throws(LLMDBError) { value = try v.jsonTree() } catch {
                    throw LLMDBError(
                        .codeFailed,
                        "module '\(module)' output a record whose value cannot be read: \(error.message)"
                    )
                }
                return try body(Row(key: m.keyValue(), body: value, validFrom: m.validFrom, txID: m.txID))
            }
            scanned = me.scanned
            if let failure { throw failure }
        case .kv:
            let prefix = try sourcePrefix(ref.source, ref.position)
            if c.isPoint {
                // Streams borrowed rows: LIMIT stops the scan; the transaction time is read only
                // if `_tx_time` is asked for.
                var failure: (any Error)? = nil
                var me = self
                try db.read(validAt: c.validAt, tx: c.tx) { s in
                    try s.scan(prefix: prefix) { row in
                        do { try me.tick() } catch {
                            failure = error
                            return false
                        }
                        let value = try row.value.value()
                        return try body(
                            Row(
                                key: try row.key(),
                                body: try value.jsonTree(),
                                validFrom: row.value.validFrom,
                                txID: row.value.txID
                            )
                        )
                    }
                }
                scanned = me.scanned
                if let failure { throw failure }
            } else {
                try versions(prefix: prefix, c) { key, f in
                    guard let v = f.value else { return true }
                    return try body(
                        Row(
                            key: key,
                            body: try v.jsonTree(),
                            validFrom: f.validFrom,
                            validTo: f.validTo,
                            txID: f.txID,
                            txTime: f.txTime
                        )
                    )
                }
            }
        }
    }

    /// Every version of every key under `prefix` whose valid period and system period match
    /// the windows (SQL:2011 semantics; see docs/lql.md).
    mutating func versions(prefix: Key, _ c: Coordinates, _ body: (Key, Fact) throws -> Bool) throws {
        var keys: [Key] = []
        let budget = self.budget
        var held = 0
        defer { budget.release(held) }
        try db.read { s in
            try s.forEachKey(prefix: prefix) { k in
                try budget.check()
                try budget.charge(48 + k.bytes.count)
                held += 48 + k.bytes.count
                keys.append(k)
                return true
            }
        }
        let now = try db.read { s in s.validTime }  // the database's now (clock, or the last transaction)
        let validWindow = c.validWindow ?? .asOf(c.validAt ?? now)
        for key in keys {
            let entries = try db.history(
                of: key,
                asOf: c.systemWindow == nil ? c.tx : .latest,
                withCorrections: c.systemWindow != nil
            )
            // One key's entries are held while its versions are read.
            let bytes = entries.reduce(0) { $0 + 96 + $1.key.bytes.count + ($1.value?.payload.count ?? 0) }
            try budget.charge(bytes)
            defer { budget.release(bytes) }
            for (i, f) in entries.enumerated() {
                try tick()
                if let sw = c.systemWindow {
                    // The entry's system period ends when a later entry at the same valid time corrects it.
                    let correctedAt = entries[(i + 1)...].first { $0.validFrom == f.validFrom }?.txTime ?? .endOfTime
                    guard sw.matches(start: f.txTime, end: correctedAt) else { continue }
                    let validTo = entries[(i + 1)...].first { $0.validFrom > f.validFrom }?.validFrom ?? .endOfTime
                    guard validWindow.matches(start: f.validFrom, end: validTo) else { continue }
                    let g = Fact(
                        key: f.key,
                        value: f.value,
                        validFrom: f.validFrom,
                        validTo: validTo == .endOfTime ? nil : validTo,
                        txID: f.txID,
                        txTime: f.txTime
                    )
                    if try !body(key, g) { return }
                } else {
                    guard validWindow.matches(start: f.validFrom, end: f.validTo ?? .endOfTime) else { continue }
                    if try !body(key, f) { return }
                }
            }
        }
    }

    // MARK: SELECT

    static func tableName(_ ref: TableRef) -> String {
        if let a = ref.alias { return a }
        switch ref.source {
        case .collection(let n): return n
        case .kv: return "kv"
        case .wasm(let m, _): return m
        }
    }

    /// A row as one side of a join: its document (or key and value) and its system columns.
    static func side(_ r: Row) -> JSONValue {
        var m: [JSONMember] = []
        if let id = r.id { m.append(JSONMember("_id", .string(id))) }
        if let k = r.key {
            m.append(JSONMember("key", .string(k.description)))
            m.append(JSONMember("value", r.body))
        } else if case .object(let members) = r.body {
            m += members
        }
        m.append(JSONMember("_valid_from", .string(r.validFrom.iso8601)))
        if let t = r.validTo { m.append(JSONMember("_valid_to", .string(t.iso8601))) }
        m.append(JSONMember("_tx_id", .int(Int64(r.txID))))
        return .object(m)
    }

    /// The rows of the FROM clause: the table's, or for a join the pairs whose ON holds, each
    /// as one object `{left alias: …, right alias: …}` (columns are then `alias.path`). An
    /// equality between one column of each side is a hash join (the right side read once);
    /// any other condition a nested loop.
    mutating func sourceRows(
        _ sel: Select,
        _ c: Coordinates,
        candidates: [String]?,
        _ body: (Row) throws -> Bool
    ) throws {
        guard let join = sel.join else {
            try forEachRow(sel.from, c, candidates: candidates, body)
            return
        }
        let left = Self.tableName(sel.from)
        let right = Self.tableName(join.table)
        guard left != right else {
            throw QueryError(
                "both sides of the join are named '\(left)': give them different aliases",
                at: join.table.position
            )
        }
        // The right side is held in memory (charged to the budget) and read once.
        var rightRows: [Row] = []
        var held = 0
        let budget = self.budget
        defer { budget.release(held) }
        try forEachRow(join.table, try coordinates(join.table), candidates: nil) { r in
            let n = QueryBudget.size(r)
            try budget.charge(n)
            held += n
            rightRows.append(r)
            return true
        }
        func combine(_ l: Row, _ r: Row) -> Row {
            Row(
                body: .object([JSONMember(left, Self.side(l)), JSONMember(right, Self.side(r))]),
                validFrom: l.validFrom,
                txID: l.txID
            )
        }
        // Hash join when ON is left.path = right.path (either order).
        var hashed: [String: [Row]]? = nil
        var leftPath: [String] = []
        if case .binary("=", .column(let a, _), .column(let b, _)) = join.on, a.count > 1, b.count > 1 {
            var lp: [String] = []
            var rp: [String] = []
            if a[0] == left && b[0] == right {
                lp = a
                rp = b
            } else if b[0] == left && a[0] == right {
                lp = b
                rp = a
            }
            if !lp.isEmpty {
                leftPath = lp
                var table: [String: [Row]] = [:]
                for r in rightRows {
                    try budget.check()
                    let v = Eval(ex: self, row: combine(r, r)).column([right] + Array(rp.dropFirst()))
                    if v.isNull { continue }
                    let k = Self.hashKey(v)
                    try budget.charge(48 + k.utf8.count)
                    held += 48 + k.utf8.count
                    table[k, default: []].append(r)
                }
                hashed = table
            }
        }
        let me = self
        try forEachRow(sel.from, c, candidates: nil) { l in
            if let hashed {
                let v = Eval(ex: me, row: combine(l, l)).column([left] + Array(leftPath.dropFirst()))
                if v.isNull { return true }
                for r in hashed[Self.hashKey(v)] ?? [] {
                    try budget.check()
                    let row = combine(l, r)
                    // Re-check with SQL equality (the hash key is only a bucket).
                    guard try Eval(ex: me, row: row).truth(join.on) == true else { continue }
                    if try !body(row) { return false }
                }
                return true
            }
            for r in rightRows {
                try budget.check()
                let row = combine(l, r)
                guard try Eval(ex: me, row: row).truth(join.on) == true else { continue }
                if try !body(row) { return false }
            }
            return true
        }
    }

    /// A bucket key for a join value: numbers by value (36 = 36.0), others by their JSON text.
    static func hashKey(_ v: JSONValue) -> String {
        if let d = Eval.number(v) { return "n" + String(d) }
        return v.text
    }

    /// Equality conditions on document paths in the top-level AND of WHERE: the index candidates.
    static func equalities(_ e: Expr?) -> [(String, Expr)] {
        guard let e else { return [] }
        switch e {
        case .binary("AND", let a, let b): return equalities(a) + equalities(b)
        case .binary("=", .column(let path, _), let v) where !path[0].hasPrefix("_") && isConstant(v):
            return [(path.joined(separator: "."), v)]
        case .binary("=", let v, .column(let path, _)) where !path[0].hasPrefix("_") && isConstant(v):
            return [(path.joined(separator: "."), v)]
        default: return []
        }
    }

    /// `_id = constant` in the top-level AND of WHERE.
    static func idEquality(_ e: Expr?, _ alias: String?) -> Expr? {
        guard let e else { return nil }
        func isID(_ p: [String]) -> Bool { p == ["_id"] || (alias != nil && p == [alias!, "_id"]) }
        switch e {
        case .binary("AND", let a, let b): return idEquality(a, alias) ?? idEquality(b, alias)
        case .binary("=", .column(let p, _), let v) where isID(p) && isConstant(v): return v
        case .binary("=", let v, .column(let p, _)) where isID(p) && isConstant(v): return v
        default: return nil
        }
    }

    static func isConstant(_ e: Expr) -> Bool {
        switch e {
        case .literal, .parameter: true
        default: false
        }
    }

    /// The index `find` would use for WHERE, and the candidate ids it gives.
    func indexCandidates(
        _ sel: Select,
        _ c: Coordinates,
        alias: String?,
        fetch: Bool = true
    ) throws -> (plan: String, ids: [String])? {
        guard case .collection(let name) = sel.from.source, c.isPoint, sel.join == nil else { return nil }
        let coll = try db.collection(name)
        // `_id = 'x'`: one point read (an as-of seek on the key `collection/x`).
        if let id = try Self.idEquality(sel.filter, alias).map({ try constant($0) }) {
            guard case .string(let s) = id else { return ("point read of '\(name)/…' (no match: _id is a string)", []) }
            return ("point read of the key '\(name)/\(s)' (an as-of seek)", [s])
        }
        for (path, valueExpr) in Self.equalities(sel.filter) {
            let p = Self.strip(path, alias)
            let filter = Filter.compare(path: FieldPath(p), op: .eq, value: try constant(valueExpr))
            let plan = try coll.explain(filter)
            guard plan.hasPrefix("index") else { continue }
            guard fetch else { return (plan, []) }
            // An index that gives more candidates than this is no better than the scan, which
            // streams: the query scans instead, and the lookup stops there.
            let cap = min(limits.maxIndexCandidates, limits.maxScannedRows)
            guard let ids = try coll.indexCandidates(filter, validAt: c.validAt, tx: c.tx, limit: cap) else {
                return nil
            }
            try budget.charge(ids.reduce(0) { $0 + 32 + $1.utf8.count })
            return (plan, ids)
        }
        return nil
    }

    static func strip(_ path: String, _ alias: String?) -> String {
        guard let alias, path.hasPrefix(alias + ".") else { return path }
        return String(path.dropFirst(alias.count + 1))
    }

    static func containsWasmAggregate(_ e: Expr) -> Bool {
        switch e {
        case .wasmAggregate: return true
        case .call(_, let args, _): return args.contains(where: containsWasmAggregate)
        case .unary(_, let a): return containsWasmAggregate(a)
        case .binary(_, let a, let b): return containsWasmAggregate(a) || containsWasmAggregate(b)
        default: return false
        }
    }

    /// Runs each `EMBEDDED WASM module()` aggregate of the select list over its source.
    mutating func computeWasmAggregates(_ sel: Select, _ c: Coordinates) throws {
        func modules(_ e: Expr) -> [String] {
            switch e {
            case .wasmAggregate(let m, _): return [m]
            case .call(_, let args, _): return args.flatMap(modules)
            case .unary(_, let a): return modules(a)
            case .binary(_, let a, let b): return modules(a) + modules(b)
            default: return []
            }
        }
        let names = Set(sel.items.flatMap { modules($0.expr) })
        guard !names.isEmpty else { return }
        guard c.isPoint else { throw QueryError("EMBEDDED WASM aggregates read one point in time, not windows") }
        let prefix = try sourcePrefix(sel.from.source, sel.from.position)
        for name in names {
            let r = try db.reduce(prefix: prefix, module: name, validAt: c.validAt, tx: c.tx)
            scanned += r.records
            if let out = r.result {
                wasmResults[name] = (try? JSONValue(parsing: out)) ?? .string(String(decoding: out, as: UTF8.self))
            } else {
                wasmResults[name] = .string(r.accumulatorHex)
            }
        }
    }

    static func containsAggregate(_ e: Expr) -> Bool {
        switch e {
        case .wasmAggregate: return true
        case .call(let f, let args, _): return aggregates.contains(f) || args.contains(where: containsAggregate)
        case .unary(_, let a): return containsAggregate(a)
        case .binary(_, let a, let b): return containsAggregate(a) || containsAggregate(b)
        case .inList(let a, let l, _): return containsAggregate(a) || l.contains(where: containsAggregate)
        case .like(let a, let b, _): return containsAggregate(a) || containsAggregate(b)
        case .isNull(let a, _): return containsAggregate(a)
        default: return false
        }
    }

    func check(_ sel: Select) throws {
        func walk(_ e: Expr, inAggregate: Bool) throws {
            switch e {
            case .call(let f, let args, let pos):
                if Self.aggregates.contains(f) {
                    if inAggregate { throw QueryError("\(f) cannot be nested inside another aggregate", at: pos) }
                    if f != "COUNT" && args.count != 1 { throw QueryError("\(f) takes one argument", at: pos) }
                    for a in args { try walk(a, inAggregate: true) }
                } else if Self.functions.contains(f) {
                    for a in args { try walk(a, inAggregate: inAggregate) }
                } else {
                    throw QueryError(
                        "unknown function \(f) (functions: \(Self.functions.sorted().joined(separator: ", ")); aggregates: \(Self.aggregates.sorted().joined(separator: ", ")))",
                        at: pos
                    )
                }
            case .parameter(let p, let pos):
                if parameters[p] == nil {
                    throw QueryError("the parameter \(Int(p) != nil ? "$" : ":")\(p) has no value", at: pos)
                }
            case .unary(_, let a), .isNull(let a, _): try walk(a, inAggregate: inAggregate)
            case .binary(_, let a, let b), .like(let a, let b, _):
                try walk(a, inAggregate: inAggregate)
                try walk(b, inAggregate: inAggregate)
            case .inList(let a, let l, _):
                try walk(a, inAggregate: inAggregate)
                for x in l { try walk(x, inAggregate: inAggregate) }
            default: break
            }
        }
        for item in sel.items { try walk(item.expr, inAggregate: false) }
        if sel.items.contains(where: { Self.containsWasmAggregate($0.expr) }) {
            if sel.filter != nil || !sel.groupBy.isEmpty {
                throw QueryError(
                    "EMBEDDED WASM aggregates fold the whole source: they take no WHERE or GROUP BY",
                    at: sel.from.position
                )
            }
            if case .wasm = sel.from.source {
                throw QueryError(
                    "an EMBEDDED WASM aggregate reads a kv or collection source, not a map",
                    at: sel.from.position
                )
            }
        }
        if let f = sel.filter {
            if Self.containsAggregate(f) { throw QueryError("aggregates are not allowed in WHERE (use HAVING)") }
            try walk(f, inAggregate: false)
        }
        for g in sel.groupBy { try walk(g, inAggregate: false) }
        if let h = sel.having { try walk(h, inAggregate: false) }
        for (o, _) in sel.orderBy { try walk(o, inAggregate: false) }
        for e in [sel.limit, sel.offset].compactMap({ $0 }) { try walk(e, inAggregate: false) }
        try checkFields(sel)
    }

    /// With a schema that lists properties, a column outside them is an error.
    func checkFields(_ sel: Select) throws {
        guard sel.join == nil, case .collection(let name) = sel.from.source,
            let schema = try? db.collection(name).schema()
        else {
            return
        }
        guard case .object(let props)? = schema.schema.json["properties"] else { return }
        let known = Set(props.map(\.key))
        let aliases = Set(sel.items.compactMap(\.alias))
        func walk(_ e: Expr) throws {
            switch e {
            case .column(let path, let pos):
                var p = path
                if let a = sel.from.alias, p.count > 1, p[0] == a { p.removeFirst() }
                if Self.systemColumns.contains(p[0]) || known.contains(p[0]) || aliases.contains(p[0]) { return }
                throw QueryError(
                    "unknown field '\(path.joined(separator: "."))' in '\(name)' (its schema has: \(known.sorted().joined(separator: ", ")))",
                    at: pos
                )
            case .unary(_, let a), .isNull(let a, _): try walk(a)
            case .binary(_, let a, let b), .like(let a, let b, _):
                try walk(a)
                try walk(b)
            case .inList(let a, let l, _):
                try walk(a)
                for x in l { try walk(x) }
            case .call(_, let args, _): for a in args { try walk(a) }
            default: break
            }
        }
        for item in sel.items { try walk(item.expr) }
        if let f = sel.filter { try walk(f) }
        for g in sel.groupBy { try walk(g) }
    }

    static func columnName(_ item: SelectItem) -> String {
        if let a = item.alias { return a }
        return Self.text(item.expr)
    }

    static func text(_ e: Expr) -> String {
        switch e {
        case .column(let p, _): p.joined(separator: ".")
        case .call(let f, let args, _): "\(f)(\(args.isEmpty ? "*" : args.map(text).joined(separator: ", ")))"
        case .wasmAggregate(let m, _): "EMBEDDED WASM \(m)()"
        case .literal(let v): v.text
        case .parameter(let p, _): Int(p) != nil ? "$\(p)" : ":\(p)"
        case .unary(let op, let a): "\(op == "NOT" ? "NOT " : op)\(text(a))"
        case .binary(let op, let a, let b): "\(text(a)) \(op) \(text(b))"
        default: "expr"
        }
    }

    mutating func select(_ sel: Select) throws -> QueryResult {
        try check(sel)
        let c = try coordinates(sel.from)
        try computeWasmAggregates(sel, c)
        let limit = try count(sel.limit, "LIMIT")
        let offset = try count(sel.offset, "OFFSET") ?? 0
        let grouped =
            !sel.groupBy.isEmpty || sel.items.contains { Self.containsAggregate($0.expr) }
            || (sel.having.map(Self.containsAggregate) ?? false)
        let candidates = try indexCandidates(sel, c, alias: sel.from.alias)?.ids
        let alias = sel.join == nil ? sel.from.alias : nil
        var out: [JSONValue] = []
        var columns: [String] =
            sel.items.contains { if case .star = $0.expr { true } else { false } } ? [] : sel.items.map(Self.columnName)
        let streaming = !grouped && sel.orderBy.isEmpty
        var skipped = 0
        let me = self
        let maxResult = limits.maxResultRows
        let budget = self.budget
        // Every row kept (groups, rows to sort, the result) is charged to the query's budget.
        var held = 0
        defer { budget.release(held) }
        func hold(_ n: Int) throws {
            try budget.charge(n)
            held += n
        }
        // Grouping keeps one state per group (its first row and the aggregates' running
        // values), never the group's rows.
        let calls = grouped ? Self.aggregateCalls(sel) : []
        var groupIndex: [[JSONValue]: Int] = [:]
        var groups: [(first: Row?, accumulators: [Accumulator])] = []
        // Sorting keeps the projected rows with their keys; with LIMIT, only the best
        // OFFSET + LIMIT of them.
        let keep = limit.map { offset.addingReportingOverflow($0).overflow ? Int.max : offset + $0 }
        var sorting: [Sortable] = []
        let descending = sel.orderBy.map(\.1)
        try sourceRows(sel, c, candidates: candidates) { row in
            if let f = sel.filter, try Eval(ex: me, row: row, alias: alias).truth(f) != true { return true }
            if grouped {
                let ev = Eval(ex: me, row: row, alias: alias)
                let k = try sel.groupBy.map { try ev.value($0) }
                let g: Int
                if let known = groupIndex[k] {
                    g = known
                } else {
                    try hold(
                        96 + 2 * k.reduce(0) { $0 + QueryBudget.size($1) } + QueryBudget.size(row) + 96 * calls.count
                    )
                    g = groups.count
                    groupIndex[k] = g
                    groups.append((row, calls.map(Accumulator.init)))
                }
                for j in groups[g].accumulators.indices { try groups[g].accumulators[j].add(ev) }
                return true
            }
            if streaming {
                if skipped < offset {
                    skipped += 1
                    return true
                }
                let obj = try Self.project(sel, row, me, alias, &columns)
                try hold(QueryBudget.size(obj))
                out.append(obj)
                if out.count > maxResult {
                    throw QueryError("the query returns more than \(maxResult) rows (the limit)")
                }
                return limit.map { out.count < $0 } ?? true
            }
            let obj = try Self.project(sel, row, me, alias, &columns)
            let keys = try sel.orderBy.map { (e, _) in try Self.orderValue(e, obj, Eval(ex: me, row: row, alias: alias))
            }
            let n = 32 + QueryBudget.size(obj) + keys.reduce(0) { $0 + QueryBudget.size($1) }
            try hold(n)
            sorting.append(Sortable(row: obj, keys: keys, bytes: n))
            if let keep, sorting.count >= max(keep.multipliedReportingOverflow(by: 2).overflow ? .max : 2 * keep, 1024)
            {
                held -= try me.sort(&sorting, descending, keeping: keep)
            }
            return true
        }
        if grouped {
            if groups.isEmpty && sel.groupBy.isEmpty { groups = [(nil, calls.map(Accumulator.init))] }
            for (first, accumulators) in groups {
                try budget.check()
                var values: [Expr: JSONValue] = [:]
                for (call, a) in zip(calls, accumulators) { values[call] = try a.result() }
                let ev = Eval(ex: me, row: first, alias: alias, aggregates: values)
                if let h = sel.having, try ev.truth(h) != true { continue }
                var members: [JSONMember] = []
                for item in sel.items {
                    guard case .star = item.expr else {
                        members.append(JSONMember(Self.columnName(item), try ev.value(item.expr)))
                        continue
                    }
                    throw QueryError("SELECT * cannot be grouped; name the columns")
                }
                let obj = JSONValue.object(members)
                if sel.orderBy.isEmpty {
                    try hold(QueryBudget.size(obj))
                    out.append(obj)
                    continue
                }
                let keys = try sel.orderBy.map { (e, _) in try Self.orderValue(e, obj, ev) }
                let n = 32 + QueryBudget.size(obj) + keys.reduce(0) { $0 + QueryBudget.size($1) }
                try hold(n)
                sorting.append(Sortable(row: obj, keys: keys, bytes: n))
            }
            if sel.orderBy.isEmpty { out = Array(out.dropFirst(offset).prefix(limit ?? .max)) }
        }
        if !sel.orderBy.isEmpty {
            held -= try sort(&sorting, descending, keeping: keep ?? .max)
            out = sorting.dropFirst(offset).map(\.row)
        }
        if out.count > limits.maxResultRows {
            throw QueryError("the query returns more than \(limits.maxResultRows) rows (the limit)")
        }
        return QueryResult(columns: columns, rows: out, plan: [], scanned: scanned)
    }

    /// A row waiting for ORDER BY: its projection, its sort keys and the bytes charged for it.
    struct Sortable {
        var row: JSONValue
        var keys: [JSONValue]
        var bytes: Int
    }

    /// Sorts `rows` (stably, checking the deadline as it compares) and keeps the first
    /// `keeping`; returns the bytes released with the rest.
    func sort(_ rows: inout [Sortable], _ descending: [Bool], keeping: Int) throws -> Int {
        let budget = self.budget
        try rows.sort { a, b in
            try budget.check()
            return Self.less(a.keys, b.keys, descending)
        }
        guard rows.count > keeping else { return 0 }
        let freed = rows[keeping...].reduce(0) { $0 + $1.bytes }
        rows.removeSubrange(keeping...)
        budget.release(freed)
        return freed
    }

    /// The distinct aggregate calls of the select list, HAVING and ORDER BY, in order.
    static func aggregateCalls(_ sel: Select) -> [Expr] {
        var out: [Expr] = []
        var seen: Set<Expr> = []
        func walk(_ e: Expr) {
            switch e {
            case .call(let f, let args, _):
                if aggregates.contains(f) {
                    if seen.insert(e).inserted { out.append(e) }
                } else {
                    args.forEach(walk)
                }
            case .unary(_, let a), .isNull(let a, _): walk(a)
            case .binary(_, let a, let b), .like(let a, let b, _):
                walk(a)
                walk(b)
            case .inList(let a, let l, _):
                walk(a)
                l.forEach(walk)
            default: break
            }
        }
        for item in sel.items { walk(item.expr) }
        if let h = sel.having { walk(h) }
        for (e, _) in sel.orderBy { walk(e) }
        return out
    }

    /// ORDER BY may name an output column (an alias) or any expression over the row.
    static func orderValue(_ e: Expr, _ obj: JSONValue, _ ev: Eval) throws -> JSONValue {
        if case .column(let p, _) = e, p.count == 1, let v = obj[p[0]] { return v }
        return try ev.value(e)
    }

    static func less(_ a: [JSONValue], _ b: [JSONValue], _ desc: [Bool]) -> Bool {
        for i in 0..<a.count {
            let c = Eval.order(a[i], b[i])
            if c != 0 { return desc[i] ? c > 0 : c < 0 }
        }
        return false
    }

    static func project(
        _ sel: Select,
        _ row: Row,
        _ ex: Executor,
        _ alias: String?,
        _ columns: inout [String]
    ) throws -> JSONValue {
        let ev = Eval(ex: ex, row: row, alias: alias)
        var members: [JSONMember] = []
        for item in sel.items {
            if case .star = item.expr {
                if let id = row.id { members.append(JSONMember("_id", .string(id))) }
                if let key = row.key {
                    members.append(JSONMember("key", .string(key.description)))
                    members.append(JSONMember("value", row.body))
                } else if case .object(let m) = row.body {
                    members += m
                }
                for m in members where !columns.contains(m.key) { columns.append(m.key) }
                continue
            }
            members.append(JSONMember(columnName(item), try ev.value(item.expr)))
        }
        return .object(members)
    }

    // MARK: HISTORY OF, EXPLAIN

    mutating func history(_ keyExpr: Expr, _ partExpr: Expr?, _ system: TemporalClause?) throws -> QueryResult {
        guard case .string(let k) = try constant(keyExpr), !k.isEmpty else {
            throw QueryError("HISTORY OF takes a key string")
        }
        var partition: PartitionID = 0
        if let partExpr {
            guard case .int(let n) = try constant(partExpr), n >= 0, n < Int64(Key.systemPartition) else {
                throw QueryError("IN PARTITION takes a partition number")
            }
            partition = PartitionID(n)
        }
        var tx = TxSelector.latest
        switch system {
        case .asOf(let e)?: tx = .time(try time(e, "FOR SYSTEM_TIME AS OF"))
        case .transaction(let e)?:
            guard case .int(let n) = try constant(e), n >= 0 else {
                throw QueryError("AS OF TRANSACTION takes a transaction id")
            }
            tx = .id(TxID(n))
        default: break
        }
        let facts = try db.history(of: Key(k, partition: partition), asOf: tx)
        let rows: [JSONValue] = try facts.map { f in
            .object([
                JSONMember("valid_from", .string(f.validFrom.iso8601)),
                JSONMember("valid_to", f.validTo.map { .string($0.iso8601) } ?? .null),
                JSONMember("tx_id", .int(Int64(f.txID))), JSONMember("tx_time", .string(f.txTime.iso8601)),
                JSONMember("value", try f.value.map { try $0.jsonTree() } ?? .null),
                JSONMember("deleted", .bool(f.value == nil)),
            ])
        }
        return QueryResult(
            columns: ["valid_from", "valid_to", "tx_id", "tx_time", "value", "deleted"],
            rows: rows,
            plan: [],
            scanned: facts.count
        )
    }

    func describe(_ w: TemporalClause?, system: Bool) throws -> String {
        switch w {
        case nil: return system ? "latest transaction" : "now"
        case .asOf(let e)?: return "AS OF \(try time(e, "AS OF").iso8601)"
        case .transaction(let e)?: return "AS OF TRANSACTION \(try constant(e).text)"
        case .fromTo(let a, let b)?:
            return "FROM \(try time(a, "FROM").iso8601) TO \(try time(b, "TO").iso8601) (each version a row)"
        case .between(let a, let b)?:
            return "BETWEEN \(try time(a, "BETWEEN").iso8601) AND \(try time(b, "AND").iso8601) (each version a row)"
        case .all?: return "ALL (each version a row)"
        }
    }

    func explain(_ s: Statement) throws -> [String] {
        switch s {
        case .explain(let inner): return try explain(inner)
        case .insert, .update, .delete, .erase, .transaction:
            return [
                "a write: the matching documents are read as of now (or, with FOR PORTION OF, every version overlapping it), then written in one transaction"
            ]
        case .history(let k, _, let system):
            return [
                "history of the key \(try constant(k).text): one cursor range over its entries",
                "system time: \(try describe(system, system: true))",
            ]
        case .select(let sel):
            try check(sel)
            let c = try coordinates(sel.from)
            var out: [String] = []
            switch sel.from.source {
            case .collection(let name):
                if let idx = try indexCandidates(sel, c, alias: sel.from.alias, fetch: false) {
                    out.append("source: collection '\(name)' via \(idx.plan)")
                } else {
                    out.append(
                        "source: collection '\(name)': key range ['\(name)/', '\(name)0') (full scan of the collection)"
                    )
                }
            case .wasm(let module, let over):
                let p = try sourcePrefix(over, sel.from.position)
                out.append(
                    "source: the map_pages module '\(module)' over the key range of '\(p)' (partition \(p.partition)): one instance, a page of up to 4096 records per call"
                )
            case .kv:
                let p = try sourcePrefix(sel.from.source, sel.from.position)
                out.append("source: facts of partition \(p.partition) with the key prefix '\(p)': one cursor range")
            }
            if let join = sel.join {
                var hash = false
                if case .binary("=", .column, .column) = join.on { hash = true }
                out.append(
                    "join: inner with \(Self.tableName(join.table)) on \(Self.text(join.on)): \(hash ? "a hash join (the right side read once)" : "a nested loop over the right side (read once)")"
                )
            }
            out.append("valid time: \(try describe(sel.from.validTime, system: false))")
            out.append("system time: \(try describe(sel.from.systemTime, system: true))")
            if let f = sel.filter { out.append("filter: \(Self.text(f))") }
            if !sel.groupBy.isEmpty || sel.items.contains(where: { Self.containsAggregate($0.expr) }) {
                out.append(
                    "aggregate: group by \(sel.groupBy.isEmpty ? "(all rows)" : sel.groupBy.map(Self.text).joined(separator: ", "))"
                )
            }
            if !sel.orderBy.isEmpty {
                out.append(
                    "sort: \(sel.orderBy.map { Self.text($0.0) + ($0.1 ? " DESC" : "") }.joined(separator: ", "))"
                )
            }
            if let l = sel.limit {
                out.append(
                    "limit: \(Self.text(l))\(sel.orderBy.isEmpty && sel.groupBy.isEmpty ? " (stops the scan early)" : "")"
                )
            }
            return out
        }
    }
}

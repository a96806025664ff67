public import LLMDB
import LLMDBDocuments
public import LLMDBMemory
import LLMDBQuery
package import LLMDBWasm

/// Limits on what one request may ask for, and on how much of the server one client may hold
/// (`llmdb serve` settings; docs/server.md).
public struct RequestLimits: Sendable {
    /// Largest request body, bytes.
    public var maxBodyBytes = 4 << 20
    /// Grace time of a request body, milliseconds: a body of n bytes must have arrived
    /// `bodyTimeoutMs` + n / `minBodyBytesPerSecond` after its request's head, else `408`.
    public var bodyTimeoutMs = 10_000
    /// The least average rate of a body after its grace time, bytes per second.
    public var minBodyBytesPerSecond = 4096
    /// Most rows an LQL query may return.
    public var maxQueryRows = 10_000
    /// Wall-clock time an LQL query may take, milliseconds.
    public var queryTimeoutMs = 5_000
    /// Memory an LQL query may hold at once (its estimate of the rows it keeps), MiB.
    public var queryMaxMemoryMB = 256
    /// Requests (REST routes and MCP tool calls) running at once; more get 503 with `busy`.
    public var maxConcurrentRequests = 256
    /// Requests one API key may run at once; nil: a quarter of `maxConcurrentRequests`.
    public var maxConcurrentPerKey: Int? = nil
    /// MCP sessions open at once.
    public var maxMCPSessions = 1000
    /// MCP sessions one API key may have open; nil: a tenth of `maxMCPSessions`.
    public var maxMCPSessionsPerKey: Int? = nil
    /// Bytes of events an MCP session keeps for resumption (`Last-Event-ID`); 0 keeps none.
    public var mcpSessionHistoryBytes = 256 << 10
    /// An MCP session without a request for this long is closed, seconds.
    public var mcpSessionIdleSeconds = 1800
    public init() {}

    /// The bound per key in effect: `maxConcurrentPerKey`, or a quarter of the total (at least 1).
    public var concurrentPerKey: Int { maxConcurrentPerKey ?? max(1, maxConcurrentRequests / 4) }
    /// The MCP sessions per key in effect: `maxMCPSessionsPerKey`, or a tenth of the total (at least 1).
    public var mcpSessionsPerKey: Int { maxMCPSessionsPerKey ?? max(1, maxMCPSessions / 10) }

    /// The values each numeric setting may take, by its config key (docs/server.md). The
    /// upper bounds keep every use of a setting in range (a duration in nanoseconds, a size
    /// in bytes, one thread per concurrency slot).
    public static let ranges: [(key: String, range: ClosedRange<Int>)] = [
        ("max_body_bytes", 1...(1 << 30)),
        ("body_timeout_ms", 1...86_400_000),
        ("min_body_rate", 1...(1 << 30)),
        ("query_max_rows", 1...1_000_000_000),
        ("query_timeout_ms", 1...86_400_000),
        ("query_max_memory_mb", 1...(1 << 30)),
        ("max_concurrent", 1...4096),
        ("max_concurrent_per_key", 1...4096),
        ("mcp_max_sessions", 1...100_000),
        ("mcp_max_sessions_per_key", 1...100_000),
        ("mcp_session_history_bytes", 0...(1 << 30)),
    ]

    /// The range of the setting `key`.
    public static func range(_ key: String) -> ClosedRange<Int> { ranges.first { $0.key == key }!.range }

    /// Refuses a limit out of its range (``ranges``), naming the setting and the range.
    public func check() throws(APIError) {
        let values: [(String, Int?)] = [
            ("max_body_bytes", maxBodyBytes), ("body_timeout_ms", bodyTimeoutMs),
            ("min_body_rate", minBodyBytesPerSecond), ("query_max_rows", maxQueryRows),
            ("query_timeout_ms", queryTimeoutMs), ("query_max_memory_mb", queryMaxMemoryMB),
            ("max_concurrent", maxConcurrentRequests), ("max_concurrent_per_key", maxConcurrentPerKey),
            ("mcp_max_sessions", maxMCPSessions), ("mcp_max_sessions_per_key", maxMCPSessionsPerKey),
            ("mcp_session_history_bytes", mcpSessionHistoryBytes),
        ]
        for (key, value) in values {
            guard let value else { continue }
            let r = Self.range(key)
            guard r.contains(value) else {
                throw APIError.bad("\(key) must be an integer from \(r.lowerBound) to \(r.upperBound), not '\(value)'")
            }
        }
    }
}

/// Every operation of the server, on JSON in and JSON out, used by the REST routes and the
/// MCP tools alike (so both check the same scopes and give the same errors).
public final class Service: Sendable {
    public let db: Database
    public let memory: AgentMemory
    public let limits: RequestLimits

    public init(db: Database, limits: RequestLimits = RequestLimits()) {
        self.db = db
        self.memory = AgentMemory(db: db)
        self.limits = limits
    }

    // MARK: Facts

    func key(_ a: Args, _ p: Principal, _ role: Principal.Role) throws -> Key {
        let k = try a.required("key")
        let partition = try a.partition()
        try p.check(role, key: k, partition: partition)
        return Key(k, partition: partition)
    }

    public func getFact(_ a: Args, _ p: Principal) throws -> JSONValue {
        let k = try key(a, p, .read)
        guard
            let f = try db.read(
                validAt: try a.instant("valid_at"),
                tx: try a.txSelector(),
                { try $0.getWithValidTo(k) }
            )
        else {
            throw APIError(404, "not_found", "no value for '\(String(decoding: k.bytes, as: UTF8.self))' at that time")
        }
        return Render.fact(f)
    }

    static func value(_ a: Args) throws -> Value {
        if let raw = try a.string("raw") {
            if a.has("value") { throw APIError.bad("give 'value' (JSON) or 'raw' (text), not both") }
            return .raw(raw)
        }
        let v = try a.value("value")
        return try Value.json(v.text)
    }

    public func putFact(_ a: Args, _ p: Principal) throws -> JSONValue {
        let k = try key(a, p, .write)
        let v = try Self.value(a)
        let from = try a.instant("valid_from")
        let to = try a.instant("valid_to")
        return Render.commit(try db.write { try $0.put(k, v, validFrom: from, validTo: to) })
    }

    public func deleteFact(_ a: Args, _ p: Principal) throws -> JSONValue {
        let k = try key(a, p, .write)
        let from = try a.instant("valid_from")
        let to = try a.instant("valid_to")
        return Render.commit(try db.write { try $0.delete(k, validFrom: from, validTo: to) })
    }

    public func eraseFact(_ a: Args, _ p: Principal) throws -> JSONValue {
        let k = try key(a, p, .write)
        return Render.commit(try db.erase(k))
    }

    public func history(_ a: Args, _ p: Principal) throws -> JSONValue {
        let k = try key(a, p, .read)
        let facts = try db.history(of: k, asOf: try a.txSelector(), withCorrections: try a.bool("corrections") ?? false)
        return try a.page(facts.map(Render.fact), name: "versions")
    }

    public func timeline(_ a: Args, _ p: Principal) throws -> JSONValue {
        let k = try key(a, p, .read)
        let runs = try db.timeline(of: k, asOf: try a.txSelector()).map(Render.run)
        return try a.page(runs, name: "runs")
    }

    public func scan(_ a: Args, _ p: Principal) throws -> JSONValue {
        let prefix = try a.string("prefix") ?? ""
        let partition = try a.partition()
        if prefix.isEmpty { try p.requireUnrestrictedKeys("a scan without a prefix") }
        try p.check(.read, key: prefix, partition: partition)
        let limit = try a.limit(default: 100, max: 1000)
        let after = try a.string("cursor").map { Key($0, partition: partition) }
        return try db.read(validAt: try a.instant("valid_at"), tx: try a.txSelector()) { s in
            var out: [JSONValue] = []
            var last: Key? = nil
            var next: JSONValue = .null
            try s.scan(prefix: Key(prefix, partition: partition), after: after) { row in
                if out.count == limit, let last {
                    next = .string(String(decoding: last.bytes, as: UTF8.self))
                    return false
                }
                let key = try row.key()
                last = key
                out.append(
                    Render.fact(
                        Fact(
                            key: key,
                            value: try row.value.value(),
                            validFrom: row.value.validFrom,
                            validTo: try s.validTo(of: key, current: row.value),
                            txID: row.value.txID,
                            txTime: try s.transactionTime(row.value.txID)
                        )
                    )
                )
                return true
            }
            return .object([
                JSONMember("facts", .array(out)), JSONMember("next_cursor", next),
                JSONMember("tx", .int(Int64(s.txID))),
            ])
        }
    }

    public func apply(_ a: Args, _ p: Principal) throws -> JSONValue {
        guard case .array(let ops)? = a["operations"], !ops.isEmpty else {
            throw APIError.bad("'operations' must be a non-empty array")
        }
        guard ops.count <= 10_000 else { throw APIError.bad("at most 10000 operations per transaction") }
        var batch = WriteBatch()
        for (i, op) in ops.enumerated() {
            do {
                let o = try Args(op)
                try o.only(["op", "key", "partition", "value", "raw", "valid_from", "valid_to"])
                let k = try key(o, p, .write)
                switch try o.required("op") {
                case "put":
                    try batch.put(
                        k,
                        try Self.value(o),
                        validFrom: try o.instant("valid_from"),
                        validTo: try o.instant("valid_to")
                    )
                case "delete":
                    try batch.delete(k, validFrom: try o.instant("valid_from"), validTo: try o.instant("valid_to"))
                case "erase":
                    try batch.erase(k)
                case let other:
                    throw APIError.bad("'op' must be put, delete or erase, not '\(other.prefix(20))'")
                }
            } catch {
                let e = APIError(any: error)
                throw APIError(e.status, e.code, "operation \(i): \(e.message); nothing was written")
            }
        }
        return Render.commit(try db.commit(batch))
    }

    /// The transaction log. Its entries do not say which partitions they touched, so a key
    /// limited to partitions (or prefixes) may not read it: it covers everyone's writes.
    public func transactions(_ a: Args, _ p: Principal) throws -> JSONValue {
        try p.require(.read)
        try p.requireUnscoped("the transaction log (it lists the writes of every partition)")
        let all = try db.transactions().reversed().map { t in
            JSONValue.object([
                JSONMember("tx", .int(Int64(t.txID))), JSONMember("tx_time", t.txTime.json),
                JSONMember("puts", .int(Int64(t.puts))), JSONMember("deletes", .int(Int64(t.deletes))),
                JSONMember("erases", .int(Int64(t.erases))), JSONMember("migration", .bool(t.migration)),
            ])
        }
        return try a.page(all, name: "transactions")
    }

    // MARK: Documents

    func collection(_ a: Args, _ p: Principal, _ role: Principal.Role, id: String? = nil) throws -> Collection {
        let name = try a.required("collection")
        let partition = try a.partition()
        try p.check(role, key: name + "/" + (id ?? ""), partition: partition)
        return try db.collection(name, partition: partition)
    }

    static func document(_ d: Document) -> JSONValue {
        .object([
            JSONMember("id", .string(d.id)),
            JSONMember("document", d.body),
            JSONMember("valid_from", d.validFrom.json),
            JSONMember("tx", .int(Int64(d.txID))),
            JSONMember("schema_version", d.schemaVersion.map { .int(Int64($0)) } ?? .null),
        ])
    }

    public func insertDocument(_ a: Args, _ p: Principal) throws -> JSONValue {
        let id = try a.string("id")
        let c = try collection(a, p, .write, id: id ?? "")
        let (newID, commit) = try c.insert(try a.value("document"), id: id, validFrom: try a.instant("valid_from"))
        guard case .object(var m) = Render.commit(commit) else { return .null }
        m.insert(JSONMember("id", .string(newID)), at: 0)
        return .object(m)
    }

    public func getDocument(_ a: Args, _ p: Principal) throws -> JSONValue {
        let id = try a.required("id")
        let c = try collection(a, p, .read, id: id)
        let version = try a.int("schema_version").map { Int($0) }
        guard let d = try c.get(id, validAt: try a.instant("valid_at"), tx: try a.txSelector(), schemaVersion: version)
        else {
            throw APIError(404, "not_found", "no document '\(id)' in '\(c.name)' at that time")
        }
        return Self.document(d)
    }

    public func replaceDocument(_ a: Args, _ p: Principal) throws -> JSONValue {
        let id = try a.required("id")
        let c = try collection(a, p, .write, id: id)
        return Render.commit(try c.replace(id, with: try a.value("document"), validFrom: try a.instant("valid_from")))
    }

    public func patchDocument(_ a: Args, _ p: Principal) throws -> JSONValue {
        let id = try a.required("id")
        let c = try collection(a, p, .write, id: id)
        return Render.commit(try c.patch(id, with: try a.value("patch")))
    }

    public func deleteDocument(_ a: Args, _ p: Principal) throws -> JSONValue {
        let id = try a.required("id")
        let c = try collection(a, p, .write, id: id)
        return Render.commit(try c.delete(id, validFrom: try a.instant("valid_from")))
    }

    public func documentHistory(_ a: Args, _ p: Principal) throws -> JSONValue {
        let id = try a.required("id")
        let c = try collection(a, p, .read, id: id)
        let facts = try c.history(id, tx: try a.txSelector(), withCorrections: try a.bool("corrections") ?? false)
        return try a.page(facts.map(Render.fact), name: "versions")
    }

    public func findDocuments(_ a: Args, _ p: Principal) throws -> JSONValue {
        let c = try collection(a, p, .read)
        let filter = try a["filter"].map { f throws in try Filter.parse(f.text) } ?? .all
        let sort = try (a.strings("sort") ?? []).map { SortKey($0) }
        let r = try c.find(
            filter,
            fields: try a.strings("fields") ?? [],
            sort: sort,
            limit: try a.limit(default: 100, max: 1000),
            cursor: try a.string("cursor"),
            validAt: try a.instant("valid_at"),
            tx: try a.txSelector(),
            schemaVersion: try a.int("schema_version").map { Int($0) }
        )
        return .object([
            JSONMember("documents", .array(r.documents.map(Self.document))),
            JSONMember("next_cursor", r.cursor.map { .string($0) } ?? .null),
            JSONMember("plan", .string(r.plan)),
        ])
    }

    /// A collection's text index is defined once per collection name (the definition of one
    /// partition's index replaces another's), so creating it needs an unscoped key.
    public func createTextIndex(_ a: Args, _ p: Principal) throws -> JSONValue {
        try p.require(.admin)
        try p.requireUnscoped("creating a text index (one definition per collection name)")
        let c = try collection(a, p, .admin)
        let def = try c.createTextIndex(path: try a.string("path"))
        return .object([
            JSONMember("index", .string(def.name)), JSONMember("path", def[setting: "json_path"] ?? .null),
        ])
    }

    public func searchDocuments(_ a: Args, _ p: Principal) throws -> JSONValue {
        let c = try collection(a, p, .read)
        let matches = try c.search(
            try a.required("query"),
            limit: try a.limit(default: 10, max: 100),
            validAt: try a.instant("valid_at"),
            tx: try a.txSelector()
        )
        return .object([
            JSONMember(
                "documents",
                .array(
                    matches.map { m in
                        guard case .object(var o) = Self.document(m.document) else { return .null }
                        o.append(JSONMember("score", .double(m.score)))
                        return .object(o)
                    }
                )
            )
        ])
    }

    // MARK: Schemas and migrations

    static func schema(_ s: SchemaVersion) -> JSONValue {
        .object([
            JSONMember("collection", .string(s.collection)),
            JSONMember("version", .int(Int64(s.version))),
            JSONMember("schema", s.schema.json),
            JSONMember("tx", .int(Int64(s.txID))),
            JSONMember("set_at", s.setAt.json),
        ])
    }

    public func listSchemas(_ a: Args, _ p: Principal) throws -> JSONValue {
        let c = try collection(a, p, .read)
        let all = try c.schemas(tx: try a.txSelector()).map(Self.schema)
        return try a.page(all, name: "schemas")
    }

    public func describeSchema(_ a: Args, _ p: Principal) throws -> JSONValue {
        let c = try collection(a, p, .read)
        return Self.schema(try c.schema(version: try a.int("version").map { Int($0) }, tx: try a.txSelector()))
    }

    public func setSchema(_ a: Args, _ p: Principal) throws -> JSONValue {
        try p.require(.admin)
        try p.requireUnscoped("setting a schema (one per collection name, for every partition)")
        let c = try collection(a, p, .admin)
        return Self.schema(try c.setSchema(try a.value("schema")))
    }

    static func report(_ r: DryRunReport) -> JSONValue {
        .object([
            JSONMember("from", .int(Int64(r.from))),
            JSONMember("to", .int(Int64(r.to))),
            JSONMember("examined", .int(Int64(r.examined))),
            JSONMember("changed", .int(Int64(r.changed))),
            JSONMember(
                "failures",
                .array(
                    r.failures.prefix(100).map {
                        .object([JSONMember("id", .string($0.id)), JSONMember("reason", .string($0.reason))])
                    }
                )
            ),
            JSONMember(
                "samples",
                .array(
                    r.samples.prefix(10).map {
                        .object([
                            JSONMember("id", .string($0.id)), JSONMember("before", $0.before),
                            JSONMember("after", $0.after),
                        ])
                    }
                )
            ),
        ])
    }

    public func dryRunMigration(_ a: Args, _ p: Principal) throws -> JSONValue {
        let c = try collection(a, p, .read)
        let sample = try a.int("sample").map { Int($0) }
        if let sample, sample < 1 { throw APIError.bad("'sample' must be positive") }
        return Self.report(try c.dryRun(try a.value("migration"), sample: sample))
    }

    public func applyMigration(_ a: Args, _ p: Principal) throws -> JSONValue {
        try p.require(.admin)
        try p.requireUnscoped("applying a migration (it sets the collection's schema for every partition)")
        let c = try collection(a, p, .admin)
        let (m, r) = try c.applyMigration(try a.value("migration"), skipFailures: try a.bool("skip_failures") ?? false)
        guard case .object(var o) = Self.report(r) else { return .null }
        o.append(JSONMember("skipped", .array(m.skipped.map { .string($0) })))
        return .object(o)
    }

    /// The progress record is one per collection name (`_meta/migration-progress/{name}`),
    /// counting the documents of every partition, so a scoped key may not read it.
    public func migrationStatus(_ a: Args, _ p: Principal) throws -> JSONValue {
        try p.require(.read)
        try p.requireUnscoped(
            "the migration status (one record per collection name, counting the documents of every partition)"
        )
        let c = try collection(a, p, .read)
        guard let s = try c.migrationStatus() else { return .object([JSONMember("state", .string("none"))]) }
        return .object([
            JSONMember("to", .int(Int64(s.to))),
            JSONMember("state", .string(s.state.rawValue)),
            JSONMember("rewritten", .int(Int64(s.rewritten))),
            JSONMember("total", .int(Int64(s.total))),
        ])
    }

    // MARK: Code registry

    package static func code(_ c: CodeInfo) -> JSONValue {
        .object([
            JSONMember("name", .string(c.meta.name)),
            JSONMember("sha256", .string(c.meta.sha256)),
            JSONMember("kind", .string(c.meta.kind.rawValue)),
            JSONMember("function", .string(c.meta.function)),
            JSONMember("size", .int(Int64(c.meta.size))),
            JSONMember("tx", .int(Int64(c.txID))),
            JSONMember("registered_at", c.registeredAt.json),
        ])
    }

    /// The code registry is one for the whole database (modules run for every partition):
    /// reading it needs a key without a partition or prefix restriction, as changing it does.
    public func listCode(_ a: Args, _ p: Principal) throws -> JSONValue {
        try p.require(.read)
        try p.requireUnscoped("the code registry (it serves every partition)")
        let all = try db.listCode(tx: try a.txSelector()).map(Self.code)
        return try a.page(all, name: "modules")
    }

    public func getCode(_ a: Args, _ p: Principal) throws -> JSONValue {
        try p.require(.read)
        try p.requireUnscoped("the code registry (it serves every partition)")
        return Self.code(try db.code(try a.required("name"), tx: try a.txSelector()))
    }

    public func addCode(_ a: Args, _ p: Principal) throws -> JSONValue {
        try p.require(.admin)
        try p.requireUnscoped("registering code (one registry serves every partition)")
        let bytes: [UInt8]
        if let wat = try a.string("wat") {
            bytes = Array(wat.utf8)
        } else if let b = try a.string("wasm_base64") {
            guard let d = Base64.decode(b) else { throw APIError.bad("'wasm_base64' is not base64") }
            bytes = d
        } else {
            throw APIError.bad("give the module as 'wat' (text) or 'wasm_base64'")
        }
        var kind: WasmFunctionKind? = nil
        if let k = try a.string("kind") {
            guard let parsed = WasmFunctionKind(rawValue: k) else {
                throw APIError.bad(
                    "'kind' must be one of \(WasmFunctionKind.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            kind = parsed
        }
        return Self.code(
            try db.addCode(bytes, name: try a.required("name"), kind: kind, function: try a.string("function"))
        )
    }

    public func removeCode(_ a: Args, _ p: Principal) throws -> JSONValue {
        try p.require(.admin)
        try p.requireUnscoped("removing code (one registry serves every partition)")
        return Render.commit(try db.removeCode(try a.required("name"), force: try a.bool("force") ?? false))
    }

    // MARK: LQL

    /// Runs LQL. Read-only unless the key has the write role; a key limited to partitions or
    /// prefixes may not run LQL (a query names whole tables, which neither can bound).
    public func query(_ a: Args, _ p: Principal) throws -> JSONValue {
        let text = try a.required("lql")
        try p.require(.read)
        try p.requireUnscoped("LQL (a query names whole tables)")
        if p.role < .write, try LQL.isWrite(text) {
            throw APIError(
                403,
                "forbidden",
                "the key '\(p.name)' is read-only; INSERT, UPDATE, DELETE, ERASE and BEGIN need the write role"
            )
        }
        var params: [String: JSONValue] = [:]
        if let v = a["parameters"] {
            switch v {
            case .object(let m): for x in m { params[x.key] = x.value }
            case .array(let xs): for (i, x) in xs.enumerated() { params[String(i + 1)] = x }
            default: throw APIError.bad("'parameters' must be an object (named) or an array ($1, $2, …)")
            }
        }
        var l = QueryLimits()
        l.maxResultRows = limits.maxQueryRows
        l.timeoutMicroseconds = Int64(limits.queryTimeoutMs) * 1000
        l.maxMemoryBytes = limits.queryMaxMemoryMB << 20
        let r = try LQL.run(text, on: db, parameters: params, limits: l)
        return .object([
            JSONMember("columns", .array(r.columns.map { .string($0) })),
            JSONMember("rows", .array(r.rows)),
            JSONMember("plan", .array(r.plan.map { .string($0) })),
        ])
    }

    // MARK: Memory

    func memoryKey(
        _ a: Args,
        _ p: Principal,
        _ role: Principal.Role,
        field: String = "key"
    ) throws -> (String, PartitionID) {
        let k = try a.required(field)
        let partition = try a.partition()
        try p.check(role, key: k, partition: partition)
        return (k, partition)
    }

    /// The namespace to read under: the one asked for (checked), else the key's only prefix.
    func namespace(_ a: Args, _ p: Principal, field: String = "namespace") throws -> String? {
        let partition = try a.partition()
        if let ns = try a.string(field) {
            try p.check(.read, key: ns, partition: partition)
            return ns
        }
        try p.check(partition: partition)
        guard let prefixes = p.prefixes else { return nil }
        guard prefixes.count == 1 else {
            throw APIError(403, "forbidden", "the key '\(p.name)' is limited to several namespaces; give '\(field)'")
        }
        return prefixes[0]
    }

    static func memoryInput(_ j: JSONValue) throws -> MemoryInput {
        let m = try Args(j)
        try m.only(["key", "content", "confidence", "source", "dependencies", "expires_at", "valid_from"])
        var input = MemoryInput(key: try m.required("key"), content: try m.value("content"))
        input.confidence = try m.double("confidence")
        input.source = try m.string("source")
        input.dependencies = try m.strings("dependencies") ?? []
        input.expiresAt = try m.instant("expires_at")
        input.validFrom = try m.instant("valid_from")
        return input
    }

    public func remember(_ a: Args, _ p: Principal) throws -> JSONValue {
        let partition = try a.partition()
        var inputs: [MemoryInput] = []
        if case .array(let items)? = a["memories"] {
            guard !a.has("key") else { throw APIError.bad("give one memory (key, content, …) or 'memories', not both") }
            guard !items.isEmpty, items.count <= 10_000 else {
                throw APIError.bad("'memories' must hold 1 to 10000 memories")
            }
            for (i, item) in items.enumerated() {
                do { inputs.append(try Self.memoryInput(item)) } catch {
                    let e = APIError(any: error)
                    throw APIError(e.status, e.code, "memory \(i): \(e.message)")
                }
            }
        } else if a.has("memories") {
            throw APIError.bad("'memories' must be an array")
        } else {
            var single: [JSONMember] = []
            if case .object(let m) = a.json { single = m.filter { $0.key != "partition" && $0.key != "memories" } }
            inputs.append(try Self.memoryInput(.object(single)))
        }
        for m in inputs { try p.check(.write, key: m.key, partition: partition) }
        let commit = try memory.remember(inputs, partition: partition)
        guard case .object(var o) = Render.commit(commit) else { return .null }
        o.append(JSONMember("keys", .array(inputs.map { .string($0.key) })))
        return .object(o)
    }

    public func recall(_ a: Args, _ p: Principal) throws -> JSONValue {
        var q = RecallQuery(text: try a.required("query"))
        q.partition = try a.partition()
        q.namespace = try namespace(a, p)
        try p.require(.read)
        q.limit = try a.limit(default: 10, max: 100)
        q.maxBytes = try a.int("max_bytes").map { Int(clamping: $0) }
        q.maxTokens = try a.int("max_tokens").map { Int(clamping: $0) }
        q.validAt = try a.instant("valid_at")
        q.tx = try a.txSelector()
        q.includeExpired = try a.bool("include_expired") ?? false
        q.minConfidence = try a.double("min_confidence")
        q.source = try a.string("source")
        q.recencyWeight = try a.double("recency_weight") ?? 0
        q.recencyHalfLifeSeconds = try a.double("recency_half_life") ?? q.recencyHalfLifeSeconds
        q.confidenceWeight = try a.double("confidence_weight") ?? 0
        return try memory.recall(q).json
    }

    public func correct(_ a: Args, _ p: Principal) throws -> JSONValue {
        let (k, partition) = try memoryKey(a, p, .write)
        let (commit, m) = try memory.correct(
            key: k,
            partition: partition,
            content: a["content"],
            confidence: try a.double("confidence"),
            source: try a.string("source"),
            dependencies: try a.strings("dependencies"),
            expiresAt: try a.instant("expires_at"),
            reason: try a.required("reason"),
            validAt: try a.instant("valid_at")
        )
        return .object([JSONMember("tx", .int(Int64(commit.txID))), JSONMember("memory", m.json)])
    }

    public func forget(_ a: Args, _ p: Principal) throws -> JSONValue {
        let (k, partition) = try memoryKey(a, p, .write)
        let erase = try a.bool("erase") ?? false
        return Render.commit(
            try memory.forget(key: k, partition: partition, validFrom: try a.instant("valid_from"), erase: erase)
        )
    }

    public func memoryHistory(_ a: Args, _ p: Principal) throws -> JSONValue {
        let (k, partition) = try memoryKey(a, p, .read)
        let all = try memory.history(key: k, partition: partition, tx: try a.txSelector()).map(\.json)
        return try a.page(all, name: "versions")
    }

    public func evolution(_ a: Args, _ p: Principal) throws -> JSONValue {
        let (prefix, partition) = try memoryKey(a, p, .read, field: "prefix")
        let all = try memory.evolution(prefix: prefix, partition: partition, tx: try a.txSelector(), limit: 10_000).map(
            \.json
        )
        return try a.page(all, name: "versions")
    }

    public func asOf(_ a: Args, _ p: Principal) throws -> JSONValue {
        guard a.has("tx") || a.has("tx_time") else { throw APIError.bad("'tx' (or 'tx_time') is required") }
        if let t = try a.int("tx") {
            let latest = try db.read { $0.txID }
            guard t <= latest else { throw APIError.bad("there is no transaction \(t): the latest is \(latest)") }
        }
        let prefix = try namespace(a, p, field: "prefix") ?? "agent:"
        try p.require(.read)
        let r = try memory.asOf(
            tx: try a.txSelector(),
            prefix: prefix,
            partition: try a.partition(),
            validAt: try a.instant("valid_at"),
            after: try a.string("cursor"),
            limit: try a.limit(default: 100, max: 1000)
        )
        return .object([
            JSONMember("memories", .array(r.memories.map(\.json))),
            JSONMember("tx", .int(Int64(r.txID))),
            JSONMember("next_cursor", r.more ? .string(r.memories.last?.key ?? "") : .null),
        ])
    }

    public func rollback(_ a: Args, _ p: Principal) throws -> JSONValue {
        let (prefix, partition) = try memoryKey(a, p, .write, field: "prefix")
        guard let tx = try a.int("tx"), tx >= 0 else {
            throw APIError.bad("'tx' (the transaction to roll back to) is required")
        }
        let decision = try a.string("decision")
        if let decision { try p.check(.write, key: "agent:decision:\(decision):superseded", partition: partition) }
        let r = try memory.rollback(
            prefix: prefix,
            toTx: TxID(tx),
            partition: partition,
            decision: decision,
            reason: try a.required("reason")
        )
        return .object([
            JSONMember("tx", .int(Int64(r.commit.txID))),
            JSONMember("restored", .array(r.restored.map { .string($0) })),
            JSONMember("removed", .array(r.removed.map { .string($0) })),
            JSONMember("state", .array(r.state.map(\.json))),
        ])
    }

    public func namespaces(_ a: Args, _ p: Principal) throws -> JSONValue {
        let partition = try a.partition()
        try p.check(partition: partition)
        try p.require(.read)
        let all = try memory.namespaces(partition: partition).filter { ns in
            p.prefixes.map { ps in
                ps.contains { ns.namespace.hasUTF8Prefix($0) || $0.hasUTF8Prefix(ns.namespace + ":") }
            }
                ?? true
        }
        return .object([
            JSONMember(
                "namespaces",
                .array(
                    all.map {
                        .object([
                            JSONMember("namespace", .string($0.namespace)), JSONMember("count", .int(Int64($0.count))),
                        ])
                    }
                )
            )
        ])
    }

    // MARK: Status

    public func health() throws -> JSONValue {
        let tx = try db.read { $0.txID }
        return .object([JSONMember("status", .string("ok")), JSONMember("tx", .int(Int64(tx)))])
    }
}

public import LLMDB
import LLMDBWasm

/// What a request may do: its role, and which partitions and key prefixes (namespaces)
/// it may touch. Roles are ordered: read < write < admin.
public struct Principal: Sendable {
    public enum Role: String, Sendable, Comparable, CaseIterable {
        case read
        case write
        case admin
        public static func < (a: Role, b: Role) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }
    /// The API key's id ("local" without a key).
    public let id: String
    public let name: String
    public let role: Role
    /// nil: every partition.
    public let partitions: Set<PartitionID>?
    /// nil: every key; otherwise keys (memory keys, fact keys, `collection/id`) must start
    /// with one of these.
    public let prefixes: [String]?

    public init(id: String, name: String, role: Role, partitions: Set<PartitionID>? = nil, prefixes: [String]? = nil) {
        self.id = id
        self.name = name
        self.role = role
        self.partitions = partitions
        self.prefixes = prefixes
    }

    /// Local use without keys: everything.
    public static let local = Principal(id: "local", name: "local", role: .admin)

    public var unrestricted: Bool { partitions == nil && prefixes == nil }

    public func require(_ needed: Role) throws(APIError) {
        guard role >= needed else {
            throw APIError(
                403,
                "forbidden",
                "the key '\(name)' has the \(role.rawValue) role; this needs \(needed.rawValue)"
            )
        }
    }

    public func check(partition: PartitionID) throws(APIError) {
        if let partitions, !partitions.contains(partition) {
            throw APIError(403, "forbidden", "the key '\(name)' may not use partition \(partition)")
        }
    }

    /// Checks a key, or a prefix that all keys read or written will start with.
    public func check(_ needed: Role, key: String, partition: PartitionID) throws(APIError) {
        try require(needed)
        try check(partition: partition)
        // Bytes, as storage compares them: never String.hasPrefix (canonical equivalence).
        if let prefixes, !prefixes.contains(where: { key.hasUTF8Prefix($0) }) {
            throw APIError(
                403,
                "forbidden",
                "the key '\(name)' may only use keys starting with \(prefixes.map { "'\($0)'" }.joined(separator: " or ")), not '\(key.prefix(80))'"
            )
        }
    }

    /// For operations over everything (scans without a prefix, LQL over whole tables, code
    /// and schemas): only keys without a namespace restriction.
    public func requireUnrestrictedKeys(_ what: String) throws(APIError) {
        if prefixes != nil {
            throw APIError(
                403,
                "forbidden",
                "the key '\(name)' is limited to \(prefixes!.map { "'\($0)'" }.joined(separator: ", ")); \(what) needs a key without a prefix restriction"
            )
        }
    }

    /// For what covers the whole database (the transaction log, `/metrics`, the code
    /// registry): only keys with neither a partition nor a prefix restriction.
    public func requireUnscoped(_ what: String) throws(APIError) {
        var limits: [String] = []
        if let partitions {
            limits.append("partitions " + partitions.sorted().map(String.init).joined(separator: ", "))
        }
        if let prefixes { limits.append(prefixes.map { "'\($0)'" }.joined(separator: ", ")) }
        guard limits.isEmpty else {
            throw APIError(
                403,
                "forbidden",
                "the key '\(name)' is limited to \(limits.joined(separator: " and ")); \(what) needs a key without a partition or prefix restriction"
            )
        }
    }

    var json: JSONValue {
        .object([
            JSONMember("name", .string(name)),
            JSONMember("role", .string(role.rawValue)),
            JSONMember("partitions", partitions.map { .array($0.sorted().map { .int(Int64($0)) }) } ?? .null),
            JSONMember("prefixes", prefixes.map { .array($0.map { .string($0) }) } ?? .null),
        ])
    }
}

/// API keys, stored in the system partition at `_meta/apikey/{id}` as bitemporal facts:
/// the SHA-256 of the secret (never the secret), the name, role and scope. Revoking
/// retracts the fact, so the history shows when a key existed. A key is presented as
/// `llmdb_{id}_{secret}` in `Authorization: Bearer …` or `X-API-Key`.
public enum APIKeys {
    public struct Info: Sendable {
        public let id: String
        public let principal: Principal
        public let created: Instant
        public var json: JSONValue {
            guard case .object(var m) = principal.json else { return principal.json }
            m.insert(JSONMember("id", .string(id)), at: 0)
            m.append(JSONMember("created", created.json))
            return .object(m)
        }
    }

    static func key(_ id: String) -> Key { Key("_meta/apikey/" + id, partition: Key.systemPartition) }

    static func randomHex(_ bytes: Int) -> String {
        var g = SystemRandomNumberGenerator()
        return hexString((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &g) })
    }

    /// Creates a key and returns its token (shown once) and info.
    public static func create(
        _ db: Database,
        name: String,
        role: Principal.Role,
        partitions: Set<PartitionID>?,
        prefixes: [String]?
    ) throws -> (token: String, info: Info) {
        guard !name.isEmpty, name.utf8.count <= 64 else {
            throw LLMDBError(.invalidArgument, "a key name is 1–64 bytes")
        }
        if let prefixes, prefixes.isEmpty || prefixes.contains(where: \.isEmpty) {
            throw LLMDBError(.invalidArgument, "a prefix restriction needs at least one non-empty prefix")
        }
        if let partitions, partitions.isEmpty || partitions.contains(Key.systemPartition) {
            throw LLMDBError(.invalidArgument, "a partition restriction needs at least one user partition")
        }
        let id = randomHex(6)
        let secret = randomHex(24)
        let record = JSONValue.object([
            JSONMember("name", .string(name)),
            JSONMember("role", .string(role.rawValue)),
            JSONMember("sha256", .string(SHA256.hex(Array(secret.utf8)))),
            JSONMember("partitions", partitions.map { .array($0.sorted().map { .int(Int64($0)) }) } ?? .null),
            JSONMember("prefixes", prefixes.map { .array($0.map { .string($0) }) } ?? .null),
        ])
        let commit = try db.write { try $0.putSystem(key(id), try Value.json(record.text)) }
        let p = Principal(id: id, name: name, role: role, partitions: partitions, prefixes: prefixes)
        return ("llmdb_\(id)_\(secret)", Info(id: id, principal: p, created: commit.txTime))
    }

    /// Every read of the keys sees their latest state: at the end of valid time, latest
    /// transaction. `any`, `verify`, `list` and `revoke` all read this way, so a key whose
    /// valid time starts a moment ahead of this process's clock (another writer's) is both
    /// required and accepted, and a revocation is in effect for all of them at once.
    static func latest<R>(_ db: Database, _ body: (borrowing Snapshot) throws -> R) throws -> R {
        try db.read(validAt: .endOfTime, body)
    }

    public static func list(_ db: Database) throws -> [Info] {
        try latest(db) { s in
            var out: [Info] = []
            try s.scan(prefix: Key("_meta/apikey/", partition: Key.systemPartition)) { row in
                let k = try row.key()
                let id = String(decoding: k.bytes.dropFirst("_meta/apikey/".utf8.count), as: UTF8.self)
                if let (p, _) = decode(try row.value.value(), id: id) {
                    out.append(Info(id: id, principal: p, created: try s.transactionTime(row.value.txID)))
                }
                return true
            }
            return out
        }
    }

    public static func revoke(_ db: Database, id: String) throws -> Commit {
        guard let fact = try latest(db, { try $0.get(key(id)) }) else {
            throw LLMDBError(.notFound, "no live API key '\(id)'")
        }
        // From now, or from where the key's latest state starts if that is later: a
        // retraction from now would not reach a state that starts after it.
        let now = try db.read { $0.validTime }
        let from = fact.validFrom > now ? fact.validFrom : nil
        return try db.write { try $0.deleteSystem(key(id), validFrom: from) }
    }

    /// Whether any live key exists: one cursor seek to `_meta/apikey/` (stepping over revoked
    /// keys), decoding nothing. Read as ``verify(_:token:)`` reads (``latest(_:_:)``), so that
    /// whenever a key is required, that key is accepted.
    public static func any(_ db: Database) throws -> Bool {
        try latest(db) { s in
            var found = false
            try s.scan(prefix: Key("_meta/apikey/", partition: Key.systemPartition)) { _ in
                found = true
                return false
            }
            return found
        }
    }

    static func decode(_ v: Value, id: String) -> (Principal, String)? {
        guard v.tag == .json, let t = try? JSONValue(parsing: v.payload),
            case .string(let name)? = t["name"], case .string(let r)? = t["role"],
            let role = Principal.Role(rawValue: r), case .string(let hash)? = t["sha256"]
        else { return nil }
        var partitions: Set<PartitionID>? = nil
        if case .array(let a)? = t["partitions"] {
            partitions = Set(a.compactMap { if case .int(let n) = $0 { PartitionID(exactly: n) } else { nil } })
        }
        var prefixes: [String]? = nil
        if case .array(let a)? = t["prefixes"] {
            prefixes = a.compactMap { if case .string(let s) = $0 { s } else { nil } }
        }
        return (Principal(id: id, name: name, role: role, partitions: partitions, prefixes: prefixes), hash)
    }

    /// The principal of a presented token; nil when malformed, unknown, revoked or wrong.
    public static func verify(_ db: Database, token: String) throws -> Principal? {
        let parts = token.split(separator: "_", maxSplits: 2)
        guard parts.count == 3, parts[0] == "llmdb", parts[1].utf8.count == 12, parts[2].utf8.count == 48 else {
            return nil
        }
        guard let fact = try latest(db, { try $0.get(key(String(parts[1]))) }), let v = fact.value,
            let (p, hash) = decode(v, id: String(parts[1]))
        else {
            return nil
        }
        let presented = SHA256.hex(Array(parts[2].utf8))
        // Constant-time comparison of the hashes.
        guard presented.utf8.count == hash.utf8.count else { return nil }
        var diff: UInt8 = 0
        for (a, b) in zip(presented.utf8, hash.utf8) { diff |= a ^ b }
        return diff == 0 ? p : nil
    }
}

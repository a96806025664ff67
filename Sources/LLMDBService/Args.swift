public import LLMDB

/// An API error: a stable code, an HTTP status, a message for people and optional details.
public struct APIError: Error, Sendable {
    public let status: Int
    public let code: String
    public let message: String
    public let details: JSONValue?

    public init(_ status: Int, _ code: String, _ message: String, details: JSONValue? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }

    /// `{"error": {"code", "message", "details"}}`.
    public var body: JSONValue {
        var m = [JSONMember("code", .string(code)), JSONMember("message", .string(message))]
        if let details { m.append(JSONMember("details", details)) }
        return .object([JSONMember("error", .object(m))])
    }

    package static func bad(_ message: String) -> APIError { APIError(400, "invalid_argument", message) }

    /// The status of each core error code.
    public init(_ e: LLMDBError) {
        let status: Int =
            switch e.code {
            case .notFound: 404
            case .conflict: 409
            case .schemaViolation, .hookRejected: 422
            case .readOnly, .closed, .codeUnavailable: 503
            case .mapFull, .diskFull: 507
            case .corrupted, .storage, .formatVersion, .notADatabase: 500
            case .codeLimit: 422
            default: 400
            }
        self.init(status, e.code.name, e.message)
    }

    public init(any error: any Error) {
        if let e = error as? APIError {
            self = e
        } else if let e = error as? LLMDBError {
            self.init(e)
        } else {
            self.init(500, "internal", "\(error)")
        }
    }
}

/// Typed access to a JSON request body or tool arguments, with errors that name the field.
public struct Args: Sendable {
    public let json: JSONValue
    let members: [String: JSONValue]

    public init(_ json: JSONValue) throws(APIError) {
        guard case .object(let m) = json else { throw APIError.bad("the request body must be a JSON object") }
        if let (path, name) = json.duplicateMember() {
            throw APIError.bad(
                "the member '\(name.prefix(80))' appears twice in \(path == "$" ? "the request" : "the object at \(path.prefix(120))"); every member name of a JSON object must be unique"
            )
        }
        self.json = json
        var d: [String: JSONValue] = [:]
        for x in m { d[x.key] = x.value }
        members = d
    }

    /// Rejects members not in `allowed` (typos must not be silently ignored).
    public func only(_ allowed: Set<String>) throws(APIError) {
        let unknown = members.keys.filter { !allowed.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw APIError.bad(
                "unknown field\(unknown.count == 1 ? "" : "s") \(unknown.map { "'\($0)'" }.joined(separator: ", ")); allowed: \(allowed.sorted().joined(separator: ", "))"
            )
        }
    }

    public subscript(_ name: String) -> JSONValue? {
        if case .null? = members[name] { return nil }
        return members[name]
    }

    public func has(_ name: String) -> Bool { self[name] != nil }

    public func string(_ name: String) throws(APIError) -> String? {
        switch self[name] {
        case nil: return nil
        case .string(let s)?: return s
        default: throw APIError.bad("'\(name)' must be a string")
        }
    }

    public func required(_ name: String) throws(APIError) -> String {
        guard let s = try string(name) else { throw APIError.bad("'\(name)' is required") }
        guard !s.isEmpty else { throw APIError.bad("'\(name)' must not be empty") }
        return s
    }

    public func value(_ name: String) throws(APIError) -> JSONValue {
        guard let v = self[name] else { throw APIError.bad("'\(name)' is required") }
        return v
    }

    public func int(_ name: String) throws(APIError) -> Int64? {
        switch self[name] {
        case nil: return nil
        case .int(let n)?: return n
        case .double(let d)? where d == d.rounded() && abs(d) < 9e15: return Int64(d)
        case .string(let s)?:
            guard let n = Int64(s) else { throw APIError.bad("'\(name)' must be an integer, not '\(s.prefix(40))'") }
            return n
        default: throw APIError.bad("'\(name)' must be an integer")
        }
    }

    public func double(_ name: String) throws(APIError) -> Double? {
        switch self[name] {
        case nil: return nil
        case .int(let n)?: return Double(n)
        case .double(let d)?: return d
        case .string(let s)?:
            guard let d = Double(s), d.isFinite else {
                throw APIError.bad("'\(name)' must be a number, not '\(s.prefix(40))'")
            }
            return d
        default: throw APIError.bad("'\(name)' must be a number")
        }
    }

    public func bool(_ name: String) throws(APIError) -> Bool? {
        switch self[name] {
        case nil: return nil
        case .bool(let b)?: return b
        case .string("true")?: return true
        case .string("false")?: return false
        default: throw APIError.bad("'\(name)' must be true or false")
        }
    }

    public func strings(_ name: String) throws(APIError) -> [String]? {
        switch self[name] {
        case nil: return nil
        case .array(let a)?:
            var out: [String] = []
            for e in a {
                guard case .string(let s) = e else { throw APIError.bad("'\(name)' must be an array of strings") }
                out.append(s)
            }
            return out
        default: throw APIError.bad("'\(name)' must be an array of strings")
        }
    }

    /// An instant: ISO 8601 text or integer microseconds since the epoch.
    public func instant(_ name: String) throws(APIError) -> Instant? {
        switch self[name] {
        case nil: return nil
        case .int(let n)?: return Instant(microseconds: n)
        case .string(let s)?:
            if let t = Instant(parsing: s) { return t }
            if let n = Int64(s) { return Instant(microseconds: n) }
            throw APIError.bad(
                "'\(name)' must be an ISO 8601 time (2026-01-31T12:00:00Z) or microseconds, not '\(s.prefix(40))'"
            )
        default: throw APIError.bad("'\(name)' must be an ISO 8601 time or microseconds")
        }
    }

    public func partition() throws(APIError) -> PartitionID {
        guard let p = try int("partition") else { return 0 }
        guard p >= 0, p < Int64(Key.systemPartition) else {
            throw APIError.bad("'partition' must be from 0 to \(Key.systemPartition - 1)")
        }
        return PartitionID(p)
    }

    /// `tx` (an id) or `tx_time` (an instant): which transaction to read as of.
    public func txSelector() throws(APIError) -> TxSelector {
        if has("tx") && has("tx_time") { throw APIError.bad("give 'tx' or 'tx_time', not both") }
        if let t = try int("tx") {
            guard t >= 0 else { throw APIError.bad("'tx' must not be negative") }
            return .id(TxID(t))
        }
        if let t = try instant("tx_time") { return .time(t) }
        return .latest
    }

    /// A page of `items` as `{name: [...], next_cursor}`, by this request's `limit` (default
    /// 100, at most 1000) and `cursor`.
    func page(_ items: [JSONValue], name: String) throws(APIError) -> JSONValue {
        try Render.page(items, name: name, limit: try limit(default: 100, max: 1000), cursor: try string("cursor"))
    }

    public func limit(default d: Int, max m: Int) throws(APIError) -> Int {
        guard let n = try int("limit") else { return d }
        guard n >= 1, n <= m else { throw APIError.bad("'limit' must be from 1 to \(m), not \(n)") }
        return Int(n)
    }
}

extension Instant {
    package var json: JSONValue { .string(iso8601) }
}

/// JSON forms of core records.
package enum Render {
    package static func value(_ v: Value?) -> JSONValue {
        guard let v else { return .null }
        if v.tag == .json, let tree = try? JSONValue(parsing: v.payload) { return tree }
        return .object([
            JSONMember("tag", .string(v.tag.name)),
            JSONMember("base64", .string(Base64.encode(v.payload))),
        ])
    }

    package static func fact(_ f: Fact) -> JSONValue {
        .object([
            JSONMember("key", .string(String(decoding: f.key.bytes, as: UTF8.self))),
            JSONMember("partition", .int(Int64(f.key.partition))),
            JSONMember("value", value(f.value)),
            // A raw value renders as {"tag","base64"}, which a JSON value could also be.
            JSONMember("value_type", f.value.map { .int(Int64($0.tag.rawValue)) } ?? .null),
            JSONMember("retracted", .bool(f.value == nil)),
            JSONMember("valid_from", f.validFrom.json),
            JSONMember("valid_to", f.validTo.map(\.json) ?? .null),
            JSONMember("tx", .int(Int64(f.txID))),
            JSONMember("tx_time", f.txTime.json),
        ])
    }

    /// One run of a timeline.
    package static func run(_ r: TimelineRun) -> JSONValue {
        .object([
            JSONMember("value", value(r.value)),
            JSONMember("value_type", .int(Int64(r.value.tag.rawValue))),
            JSONMember("valid_from", r.validFrom.json),
            JSONMember("valid_to", r.validTo.map(\.json) ?? .null),
        ])
    }

    package static func commit(_ c: Commit) -> JSONValue {
        .object([JSONMember("tx", .int(Int64(c.txID))), JSONMember("tx_time", c.txTime.json)])
    }

    /// A page of `items` after the opaque `cursor` (an offset), with the next cursor.
    package static func page(
        _ items: [JSONValue],
        name: String,
        limit: Int,
        cursor: String?
    ) throws(APIError) -> JSONValue {
        var start = 0
        if let cursor {
            guard cursor.hasPrefix("o"), let n = Int(cursor.dropFirst()), n >= 0 else {
                throw APIError.bad("'cursor' is not a cursor this list returned")
            }
            start = min(n, items.count)
        }
        let end = min(items.count, start + limit)
        return .object([
            JSONMember(name, .array(Array(items[start..<end]))),
            JSONMember("next_cursor", end < items.count ? .string("o\(end)") : .null),
        ])
    }
}

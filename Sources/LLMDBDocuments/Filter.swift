public import LLMDB

/// A `find` filter, written as JSON in the style agents know from document stores:
///
/// - `{"path": value}` — equality (`$eq`);
/// - `{"path": {"$ne"|"$gt"|"$gte"|"$lt"|"$lte": value}}` — comparison;
/// - `{"path": {"$in"|"$nin": [values]}}`, `{"path": {"$exists": true|false}}`,
///   `{"path": {"$contains": value}}` (the array at path contains value);
/// - `{"$and": [filters]}`, `{"$or": [filters]}`, `{"$not": filter}`;
/// - several members in one object are and-ed.
///
/// Paths are dotted member names (`address.city`); arrays on the way are traversed, and a
/// comparison holds when it holds for any value found (so `{"tags": "x"}` matches a
/// document whose `tags` array contains `"x"`). Numbers compare numerically, strings by
/// Unicode order, and values of different types are never equal nor ordered.
public indirect enum Filter: Sendable, Hashable {
    case all
    case and([Filter])
    case or([Filter])
    case not(Filter)
    case compare(path: FieldPath, op: Comparison, value: JSONValue)
    case oneOf(path: FieldPath, values: [JSONValue], negated: Bool)
    case exists(path: FieldPath, Bool)
    case contains(path: FieldPath, value: JSONValue)

    public enum Comparison: String, Sendable, Hashable {
        case eq = "$eq"
        case ne = "$ne"
        case gt = "$gt"
        case gte = "$gte"
        case lt = "$lt"
        case lte = "$lte"
    }

    /// Parses a filter from JSON text (`{}` matches everything).
    public static func parse(_ text: String) throws(LLMDBError) -> Filter {
        let tree: JSONValue
        do { tree = try JSONValue(parsing: text) } catch {
            throw LLMDBError(
                .invalidQuery,
                "the filter is not valid JSON: \(error.message.replacing("invalid JSON: ", with: ""))"
            )
        }
        return try parse(tree, at: "filter")
    }

    /// The deepest nesting of `$and`, `$or` and `$not` a filter may have: deeper filters are
    /// refused, so that matching (which recurses) fits in any thread's stack.
    public static let maxDepth = 64

    static func parse(_ tree: JSONValue, at where_: String, depth: Int = 1) throws(LLMDBError) -> Filter {
        guard depth <= maxDepth else {
            throw LLMDBError(
                .invalidQuery,
                "the filter is nested too deeply: more than \(maxDepth) levels of $and, $or and $not"
            )
        }
        guard case .object(let members) = tree else {
            throw LLMDBError(.invalidQuery, "\(where_) must be a JSON object, like {\"status\": \"active\"}")
        }
        var parts: [Filter] = []
        for m in members {
            switch m.key {
            case "$and", "$or":
                guard case .array(let items) = m.value, !items.isEmpty else {
                    throw LLMDBError(.invalidQuery, "\(where_): \(m.key) takes a non-empty array of filters")
                }
                var subs: [Filter] = []
                for (i, item) in items.enumerated() {
                    subs.append(try parse(item, at: "\(where_).\(m.key)[\(i)]", depth: depth + 1))
                }
                parts.append(m.key == "$and" ? .and(subs) : .or(subs))
            case "$not":
                parts.append(.not(try parse(m.value, at: "\(where_).$not", depth: depth + 1)))
            case let key where key.hasPrefix("$"):
                throw LLMDBError(
                    .invalidQuery,
                    "\(where_): unknown operator \(key) (use $and, $or, $not, or a field path)"
                )
            default:
                try checkPath(m.key, where_)
                parts.append(contentsOf: try parseCondition(path: FieldPath(m.key), m.value, where_))
            }
        }
        if parts.isEmpty { return .all }
        return parts.count == 1 ? parts[0] : .and(parts)
    }

    static func checkPath(_ path: String, _ where_: String) throws(LLMDBError) {
        if path.isEmpty || path.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) {
            throw LLMDBError(
                .invalidQuery,
                "\(where_): '\(path)' is not a field path (dotted member names, none empty)"
            )
        }
    }

    static func parseCondition(path: FieldPath, _ v: JSONValue, _ where_: String) throws(LLMDBError) -> [Filter] {
        guard case .object(let members) = v, let first = members.first, first.key.hasPrefix("$") else {
            return [.compare(path: path, op: .eq, value: v)]
        }
        var out: [Filter] = []
        for m in members {
            if let op = Comparison(rawValue: m.key) {
                out.append(.compare(path: path, op: op, value: m.value))
                continue
            }
            switch m.key {
            case "$in", "$nin":
                guard case .array(let values) = m.value else {
                    throw LLMDBError(.invalidQuery, "\(where_).\(path): \(m.key) takes an array of values")
                }
                out.append(.oneOf(path: path, values: values, negated: m.key == "$nin"))
            case "$exists":
                guard case .bool(let b) = m.value else {
                    throw LLMDBError(.invalidQuery, "\(where_).\(path): $exists takes true or false")
                }
                out.append(.exists(path: path, b))
            case "$contains":
                out.append(.contains(path: path, value: m.value))
            default:
                throw LLMDBError(
                    .invalidQuery,
                    "\(where_).\(path): unknown operator \(m.key) (use $eq $ne $gt $gte $lt $lte $in $nin $exists $contains)"
                )
            }
        }
        return out
    }

    /// Whether `doc` satisfies the filter.
    public func matches(_ doc: JSONValue) -> Bool {
        switch self {
        case .all: return true
        case .and(let fs): return fs.allSatisfy { $0.matches(doc) }
        case .or(let fs): return fs.contains { $0.matches(doc) }
        case .not(let f): return !f.matches(doc)
        case .compare(let path, let op, let value):
            let found = Self.values(doc, path)
            if op == .ne { return !found.contains { JSONOrder.equal($0, value) } }
            return found.contains { v in
                switch op {
                case .eq: return JSONOrder.equal(v, value)
                case .gt: return JSONOrder.compare(v, value).map { $0 > 0 } ?? false
                case .gte: return JSONOrder.compare(v, value).map { $0 >= 0 } ?? false
                case .lt: return JSONOrder.compare(v, value).map { $0 < 0 } ?? false
                case .lte: return JSONOrder.compare(v, value).map { $0 <= 0 } ?? false
                case .ne: return false
                }
            }
        case .oneOf(let path, let values, let negated):
            let found = Self.values(doc, path)
            let hit = found.contains { v in values.contains { JSONOrder.equal(v, $0) } }
            return negated ? !hit : hit
        case .exists(let path, let want):
            return JSONPath.value(doc, path) != nil ? want : !want
        case .contains(let path, let value):
            guard case .array(let items)? = JSONPath.value(doc, path) else { return false }
            return items.contains { JSONOrder.equal($0, value) }
        }
    }

    static func values(_ doc: JSONValue, _ path: FieldPath) -> [JSONValue] {
        var out = doc.values(atPath: path.segments[...])
        // The array itself also counts (so {"tags": ["a","b"]} matches an equal array).
        if let whole = JSONPath.value(doc, path), case .array = whole { out.append(whole) }
        return out
    }

    /// An equality or `$in` condition on `path` that must hold for a match (used to pick an
    /// index): the values that the path must equal one of.
    func requiredValues(for path: String) -> [JSONValue]? {
        switch self {
        case .compare(let p, .eq, let v) where p.text == path: return [v]
        case .oneOf(let p, let vs, false) where p.text == path: return vs
        case .and(let fs):
            for f in fs { if let vs = f.requiredValues(for: path) { return vs } }
            return nil
        default: return nil
        }
    }
}

/// A dotted path into a JSON document (`address.city`), split once when it is made.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let text: String
    let segments: [String]

    public init(_ text: String) {
        self.text = text
        segments = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    }

    public init(stringLiteral value: String) { self.init(value) }

    public var description: String { text }
}

extension JSONValue {
    /// Sets the value at a dotted path, creating objects on the way (replacing a non-object).
    public mutating func set(_ path: FieldPath, to value: JSONValue) { JSONPath.set(&self, path, value) }
}

/// Paths into JSON documents.
enum JSONPath {
    /// The value at a path, without traversing arrays; nil when absent.
    static func value(_ doc: JSONValue, _ path: FieldPath) -> JSONValue? {
        var cur = doc
        for seg in path.segments {
            guard let next = cur[seg] else { return nil }
            cur = next
        }
        return cur
    }

    static func value(_ doc: JSONValue, _ path: String) -> JSONValue? { value(doc, FieldPath(path)) }

    /// Sets the value at a path, creating objects on the way.
    static func set(_ doc: inout JSONValue, _ path: FieldPath, _ value: JSONValue) {
        set(&doc, path.segments[...], value)
    }

    static func set(_ doc: inout JSONValue, _ path: ArraySlice<String>, _ value: JSONValue) {
        guard let key = path.first else {
            doc = value
            return
        }
        guard case .object(var members) = doc else {
            var child: JSONValue = .object([])
            set(&child, path.dropFirst(), value)
            doc = .object([JSONMember(key, child)])
            return
        }
        doc = .null  // release the old storage so that `members` is unique and edits in place
        if let i = members.lastIndex(where: { $0.key == key }) {
            set(&members[i].value, path.dropFirst(), value)
        } else {
            var child: JSONValue = .object([])
            set(&child, path.dropFirst(), value)
            members.append(JSONMember(key, child))
        }
        doc = .object(members)
    }

    /// Removes the value at a path; returns it.
    @discardableResult
    static func remove(_ doc: inout JSONValue, _ path: FieldPath) -> JSONValue? {
        remove(&doc, path.segments[...])
    }

    @discardableResult
    static func remove(_ doc: inout JSONValue, _ path: ArraySlice<String>) -> JSONValue? {
        guard case .object(var members) = doc, let key = path.first else { return nil }
        guard let i = members.lastIndex(where: { $0.key == key }) else { return nil }
        doc = .null
        let v: JSONValue?
        if path.count == 1 {
            v = members.remove(at: i).value
        } else {
            v = remove(&members[i].value, path.dropFirst())
        }
        doc = .object(members)
        return v
    }
}

/// Equality and order of JSON values for filters and sorting.
enum JSONOrder {
    static func rank(_ v: JSONValue?) -> Int {
        switch v {
        case nil: 0
        case .null?: 1
        case .bool?: 2
        case .int?, .uint?, .double?: 3
        case .string?: 4
        case .binary?: 5
        case .array?: 6
        case .object?: 7
        }
    }

    static func number(_ v: JSONValue) -> Double? {
        switch v {
        case .int(let n): Double(n)
        case .uint(let n): Double(n)
        case .double(let d): d
        default: nil
        }
    }

    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if case .int(let x) = a, case .int(let y) = b { return x == y }
        if let x = number(a), let y = number(b) { return x == y }
        return a == b
    }

    /// -1, 0 or 1 for values of the same type (numbers across int and double); nil otherwise.
    static func compare(_ a: JSONValue, _ b: JSONValue) -> Int? {
        if case .int(let x) = a, case .int(let y) = b { return x < y ? -1 : (x == y ? 0 : 1) }
        if let x = number(a), let y = number(b) { return x < y ? -1 : (x == y ? 0 : 1) }
        if case .string(let x) = a, case .string(let y) = b { return x < y ? -1 : (x == y ? 0 : 1) }
        if case .bool(let x) = a, case .bool(let y) = b { return x == y ? 0 : (!x ? -1 : 1) }
        return nil
    }

    /// A total order for sorting: missing < null < booleans < numbers < strings < arrays
    /// < objects; within a type as ``compare(_:_:)`` (arrays and objects by their text).
    static func sortCompare(_ a: JSONValue?, _ b: JSONValue?) -> Int {
        let ra = rank(a)
        let rb = rank(b)
        if ra != rb { return ra < rb ? -1 : 1 }
        guard let a, let b else { return 0 }
        if let c = compare(a, b) { return c }
        let ta = a.text
        let tb = b.text
        return ta < tb ? -1 : (ta == tb ? 0 : 1)
    }
}

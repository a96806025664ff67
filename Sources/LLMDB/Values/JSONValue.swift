// JSONValue: the document tree shared by the JSON and MessagePack codecs.

/// A JSON (or MessagePack) document tree. Objects keep member order (and duplicate keys).
///
/// Integers that fit in `Int64` are always `.int`; `.uint` is only produced by the
/// decoders for integers greater than `Int64.max`. `.binary` only comes from
/// MessagePack (bin/ext); JSON serializes it as `{"$binary":"<base64>"}`.
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)  // only for integers > Int64.max
    case double(Double)
    case string(String)
    case binary([UInt8])  // MessagePack bin/ext only; serialized to JSON as {"$binary":"<base64>"}
    case array([JSONValue])
    case object([JSONMember])
}

/// One `key: value` member of a JSON object.
public struct JSONMember: Hashable, Sendable {
    public var key: String
    public var value: JSONValue

    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// Why bytes could not be decoded: what was wrong and at which byte offset.
package struct CodecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was wrong, e.g. "expected ',' or '}' after object member".
    package var message: String
    /// Byte offset into the input where the problem was detected.
    package var offset: Int

    package init(_ message: String, at offset: Int) {
        self.message = message
        self.offset = offset
    }

    package var description: String { "\(message) at byte \(offset)" }
}

extension JSONValue {
    /// True for `.null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// For objects, the value of the member named `key` (the last one if the key is
    /// duplicated, as in JavaScript's `JSON.parse`); `nil` if absent or not an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        for member in members.reversed() where member.key == key {
            return member.value
        }
        return nil
    }
}

extension JSONValue: CustomStringConvertible {
    /// Compact JSON text.
    public var description: String {
        String(decoding: JSON.serialize(self), as: UTF8.self)
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// Dictionary literals keep their written order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(elements.map { JSONMember($0.0, $0.1) })
    }
}

extension JSONValue {
    /// Parses one JSON text.
    public init(parsing text: String) throws(LLMDBError) {
        do { self = try JSON.parse(Array(text.utf8)) } catch {
            throw LLMDBError(.invalidJSON, "invalid JSON: \(error)")
        }
    }

    /// Parses one JSON text from bytes.
    public init(parsing bytes: [UInt8]) throws(LLMDBError) {
        do { self = try JSON.parse(bytes) } catch {
            throw LLMDBError(.invalidJSON, "invalid JSON: \(error)")
        }
    }

    /// Compact JSON text.
    public var text: String { String(decoding: JSON.serialize(self), as: UTF8.self) }

    /// Pretty-printed JSON text.
    public var prettyText: String { String(decoding: JSON.serializePretty(self), as: UTF8.self) }
}

extension JSONValue {
    /// The first object member whose name (compared as bytes) appears twice in its object,
    /// depth first, with the path to that object (`$`, `$.a`, `$.a[2]`); nil if every
    /// object's names are unique. Request bodies are refused when they have one (RFC 7493,
    /// I-JSON): "the last one wins" would silently drop what the caller sent.
    ///
    /// With `canonical`, names are compared as Swift strings (canonical equivalence: `café`
    /// in NFC equals its NFD form), for input that goes into a `[String: …]` dictionary,
    /// which would keep only one of two such members.
    package func duplicateMember(canonical: Bool = false) -> (path: String, name: String)? {
        switch self {
        case .object(let members):
            if members.count > 1 {
                if members.count <= 16 {
                    for i in 1..<members.count {
                        let name = members[i].key
                        for k in 0..<i where canonical ? members[k].key == name : members[k].key.utf8Equals(name) {
                            return ("$", name)
                        }
                    }
                } else if canonical {
                    var seen = Set<String>()
                    for m in members where !seen.insert(m.key).inserted { return ("$", m.key) }
                } else {
                    var seen = Set<[UInt8]>()
                    for m in members where !seen.insert(Array(m.key.utf8)).inserted { return ("$", m.key) }
                }
            }
            for m in members {
                if let (p, n) = m.value.duplicateMember(canonical: canonical) {
                    return ("$." + m.key + p.dropFirst(), n)
                }
            }
            return nil
        case .array(let elements):
            for (i, e) in elements.enumerated() {
                if let (p, n) = e.duplicateMember(canonical: canonical) { return ("$[\(i)]" + p.dropFirst(), n) }
            }
            return nil
        default:
            return nil
        }
    }
}

extension JSONValue {
    /// The values at `path` (member names) in this value: arrays on the way are traversed
    /// (each element followed), and an array at the end gives its elements.
    public func values(atPath path: ArraySlice<String>) -> [JSONValue] {
        var out: [JSONValue] = []
        Self.collect(self, path, &out)
        return out
    }

    static func collect(_ doc: JSONValue, _ path: ArraySlice<String>, _ out: inout [JSONValue]) {
        guard let first = path.first else {
            if case .array(let items) = doc { out.append(contentsOf: items) } else { out.append(doc) }
            return
        }
        switch doc {
        case .object:
            if let member = doc[first] { collect(member, path.dropFirst(), &out) }
        case .array(let items):
            for item in items { collect(item, path, &out) }
        default:
            break
        }
    }
}

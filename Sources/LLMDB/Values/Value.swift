/// The type tag: the first byte of every stored value. These raw values are the file
/// format: never change them.
public struct ValueTag: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Raw bytes.
    public static let raw = ValueTag(rawValue: 0x00)
    /// One JSON text (UTF-8), never `null`.
    public static let json = ValueTag(rawValue: 0x01)
    /// One MessagePack object.
    public static let messagePack = ValueTag(rawValue: 0x02)
    /// A Protobuf message: `[u16 BE name length][type name][message bytes]`.
    public static let protobuf = ValueTag(rawValue: 0x03)
    /// An edge: `[u16 BE][from][u16 BE][to][u16 BE][label][properties JSON or empty]`.
    public static let edge = ValueTag(rawValue: 0x10)
    /// A vector: `[u32 BE dimensions][f32 little-endian × dimensions]`.
    public static let vector = ValueTag(rawValue: 0x20)
    /// A retraction (a delete); no payload.
    public static let tombstone = ValueTag(rawValue: 0xFF)

    /// Whether this version of LLMDB knows the tag.
    public var isKnown: Bool {
        switch self {
        case .raw, .json, .messagePack, .protobuf, .edge, .vector, .tombstone: true
        default: false
        }
    }

    /// The tag's name as the CLI and JSON output use it.
    public var name: String {
        switch self {
        case .raw: "raw"
        case .json: "json"
        case .messagePack: "msgpack"
        case .protobuf: "protobuf"
        case .edge: "edge"
        case .vector: "vector"
        case .tombstone: "tombstone"
        default: "unknown(0x\(String(rawValue, radix: 16).leftPadded(2)))"
        }
    }

    public var description: String { name }
}

/// A typed value: a tag and its payload. Build one with the static constructors, which
/// validate the payload; a value never holds JSON `null`.
public struct Value: Hashable, Sendable {
    public let tag: ValueTag
    public let payload: [UInt8]

    package init(unchecked tag: ValueTag, _ payload: [UInt8]) {
        self.tag = tag
        self.payload = payload
    }

    /// The stored form: the tag byte, then the payload.
    public var encoded: [UInt8] { [tag.rawValue] + payload }

    /// Raw bytes.
    public static func raw(_ bytes: [UInt8]) -> Value { Value(unchecked: .raw, bytes) }

    /// Raw bytes from a string's UTF-8.
    public static func raw(_ string: String) -> Value { Value(unchecked: .raw, Array(string.utf8)) }

    /// A JSON text. Throws ``LLMDBError/Code/invalidJSON`` (with the byte offset) or
    /// ``LLMDBError/Code/nullValue``.
    public static func json(_ text: String) throws(LLMDBError) -> Value { try json(bytes: Array(text.utf8)) }

    /// A JSON text given as UTF-8 bytes.
    public static func json(bytes: [UInt8]) throws(LLMDBError) -> Value {
        let isNull: Bool
        do {
            isNull = try bytes.withUnsafeBytes { (p) throws(CodecError) -> Bool in try JSON.validate(p) }
        } catch {
            throw LLMDBError(.invalidJSON, "the value is not valid JSON: \(error)")
        }
        if isNull { throw nullError }
        return Value(unchecked: .json, bytes)
    }

    static let nullError = LLMDBError(.nullValue, "JSON null is not a value; delete the key to say it is absent")

    /// A MessagePack object given as its bytes (validated).
    public static func messagePack(_ bytes: [UInt8]) throws(LLMDBError) -> Value {
        let tree: JSONValue
        do { tree = try MessagePack.decode(bytes) } catch {
            throw LLMDBError(.invalidValue, "the value is not valid MessagePack: \(error)")
        }
        if tree.isNull { throw nullError }
        return Value(unchecked: .messagePack, bytes)
    }

    /// A MessagePack value converted from a JSON text.
    public static func messagePack(json text: String) throws(LLMDBError) -> Value {
        let tree: JSONValue
        do { tree = try JSON.parse(Array(text.utf8)) } catch {
            throw LLMDBError(.invalidJSON, "the value is not valid JSON: \(error)")
        }
        if tree.isNull { throw nullError }
        return Value(unchecked: .messagePack, MessagePack.encode(tree))
    }

    /// A Protobuf message: its fully qualified type name and its serialized bytes.
    public static func protobuf(typeName: String, bytes: [UInt8]) throws(LLMDBError) -> Value {
        let name = Array(typeName.utf8)
        guard !name.isEmpty, name.count <= 0xFFFF else {
            throw LLMDBError(.invalidValue, "a Protobuf type name must be 1 to 65535 bytes, not \(name.count)")
        }
        var out: [UInt8] = []
        appendU16(name.count, &out)
        out += name
        out += bytes
        return Value(unchecked: .protobuf, out)
    }

    /// An edge record from one key to another, with a label and optional JSON properties.
    public static func edge(
        from: [UInt8],
        to: [UInt8],
        label: String,
        properties: String? = nil
    ) throws(LLMDBError) -> Value {
        let l = Array(label.utf8)
        guard from.count <= 0xFFFF, to.count <= 0xFFFF, l.count <= 0xFFFF else {
            throw LLMDBError(.invalidValue, "edge endpoints and label must each be at most 65535 bytes")
        }
        var out: [UInt8] = []
        appendU16(from.count, &out)
        out += from
        appendU16(to.count, &out)
        out += to
        appendU16(l.count, &out)
        out += l
        if let properties {
            let v = try json(properties)
            out += v.payload
        }
        return Value(unchecked: .edge, out)
    }

    /// A vector of 32-bit floats (stored little-endian), with optional JSON metadata (an
    /// object, stored after the floats, as an edge's properties are).
    public static func vector(_ components: [Float], metadata: JSONValue? = nil) throws(LLMDBError) -> Value {
        if let metadata {
            guard case .object = metadata else {
                throw LLMDBError(.invalidValue, "a vector's metadata must be a JSON object")
            }
        }
        guard !components.isEmpty, components.count <= 65536 else {
            throw LLMDBError(.invalidValue, "a vector needs 1 to 65536 components, not \(components.count)")
        }
        guard components.allSatisfy(\.isFinite) else {
            throw LLMDBError(.invalidValue, "a vector's components must be finite numbers")
        }
        var out: [UInt8] = []
        out.reserveCapacity(4 + 4 * components.count)
        let n = UInt32(components.count)
        out += [
            UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8),
            UInt8(truncatingIfNeeded: n),
        ]
        for c in components {
            let b = c.bitPattern.littleEndian
            out += [
                UInt8(truncatingIfNeeded: b), UInt8(truncatingIfNeeded: b >> 8), UInt8(truncatingIfNeeded: b >> 16),
                UInt8(truncatingIfNeeded: b >> 24),
            ]
        }
        if let metadata { out += JSON.serialize(metadata) }
        return Value(unchecked: .vector, out)
    }

    /// Decodes a stored value (tag byte + payload), checking the tag and the payload's shape.
    /// Returns nil for a tombstone.
    public static func decode(stored bytes: UnsafeRawBufferPointer) throws(LLMDBError) -> Value? {
        guard let first = bytes.first else {
            throw LLMDBError(.corrupted, "a stored value is empty (no type tag)")
        }
        let tag = ValueTag(rawValue: first)
        guard tag.isKnown else {
            throw LLMDBError(
                .unknownValueTag,
                "a stored value has the unknown type tag 0x\(String(first, radix: 16).leftPadded(2)); this LLMDB knows 0x00 0x01 0x02 0x03 0x10 0x20 0xff"
            )
        }
        if tag == .tombstone { return nil }
        return Value(unchecked: tag, Array(bytes[1...]))
    }

    /// The value as a JSON tree, for display: JSON as itself; raw bytes as a string when
    /// they are UTF-8, else `{"$base64": …}`; MessagePack decoded; Protobuf as
    /// `{"type_name", "bytes_base64"}`; an edge as `{"from","to","label","properties"}`;
    /// a vector as an array of numbers (`{"vector", "metadata"}` when it has metadata).
    package func jsonTree() throws(LLMDBError) -> JSONValue {
        func bad(_ what: String) -> LLMDBError {
            LLMDBError(.invalidValue, "a stored \(tag.name) value is malformed: \(what)")
        }
        switch tag {
        case .json:
            do { return try JSON.parse(payload) } catch { throw bad("\(error)") }
        case .raw:
            if let s = String(validating: payload, as: UTF8.self) { return .string(s) }
            return .object([JSONMember("$base64", .string(Base64.encode(payload)))])
        case .messagePack:
            do { return try MessagePack.decode(payload) } catch { throw bad("\(error)") }
        case .protobuf:
            guard payload.count >= 2 else { throw bad("truncated") }
            let n = Int(payload[0]) << 8 | Int(payload[1])
            guard payload.count >= 2 + n, let name = String(validating: payload[2..<(2 + n)], as: UTF8.self) else {
                throw bad("truncated")
            }
            return .object([
                JSONMember("type_name", .string(name)),
                JSONMember("bytes_base64", .string(Base64.encode(payload[(2 + n)...]))),
            ])
        case .edge:
            var i = 0
            func field() throws(LLMDBError) -> ArraySlice<UInt8> {
                guard i + 2 <= payload.count else { throw bad("truncated") }
                let n = Int(payload[i]) << 8 | Int(payload[i + 1])
                guard i + 2 + n <= payload.count else { throw bad("truncated") }
                defer { i += 2 + n }
                return payload[(i + 2)..<(i + 2 + n)]
            }
            func text(_ s: ArraySlice<UInt8>) -> JSONValue {
                if let t = String(validating: s, as: UTF8.self) { return .string(t) }
                return .object([JSONMember("$base64", .string(Base64.encode(s)))])
            }
            let from = try field()
            let to = try field()
            let label = try field()
            var members = [
                JSONMember("from", text(from)), JSONMember("to", text(to)), JSONMember("label", text(label)),
            ]
            if i < payload.count {
                do { members.append(JSONMember("properties", try JSON.parse(Array(payload[i...])))) } catch {
                    throw bad("\(error)")
                }
            }
            return .object(members)
        case .vector:
            guard payload.count >= 4 else { throw bad("truncated") }
            let n = Int(payload[0]) << 24 | Int(payload[1]) << 16 | Int(payload[2]) << 8 | Int(payload[3])
            guard payload.count >= 4 + 4 * n else { throw bad("length does not match dimensions") }
            var out: [JSONValue] = []
            out.reserveCapacity(n)
            for k in 0..<n {
                let o = 4 + 4 * k
                let bits =
                    UInt32(payload[o]) | UInt32(payload[o + 1]) << 8 | UInt32(payload[o + 2]) << 16 | UInt32(
                        payload[o + 3]
                    ) << 24
                out.append(.double(Double(Float(bitPattern: bits))))
            }
            guard payload.count > 4 + 4 * n else { return .array(out) }
            let metadata: JSONValue
            do { metadata = try JSON.parse(Array(payload[(4 + 4 * n)...])) } catch { throw bad("metadata: \(error)") }
            guard case .object = metadata else { throw bad("its metadata is not a JSON object") }
            return .object([JSONMember("vector", .array(out)), JSONMember("metadata", metadata)])
        default:
            throw LLMDBError(.unknownValueTag, "unknown value tag 0x\(String(tag.rawValue, radix: 16))")
        }
    }

    /// The value rendered as compact JSON text (see ``jsonTree()``).
    public func jsonText() throws(LLMDBError) -> String {
        String(decoding: JSON.serialize(try jsonTree()), as: UTF8.self)
    }
}

private func appendU16(_ n: Int, _ out: inout [UInt8]) {
    out.append(UInt8(truncatingIfNeeded: n >> 8))
    out.append(UInt8(truncatingIfNeeded: n))
}

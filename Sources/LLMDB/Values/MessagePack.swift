// MessagePack: encoder, decoder and validator for JSONValue trees (no Foundation).

/// MessagePack (https://github.com/msgpack/msgpack/blob/master/spec.md) for `JSONValue`.
///
/// Encoding always uses the smallest format: non-negative integers use positive fixint
/// or uint8/16/32/64, negative ones negative fixint or int8/16/32/64; doubles are
/// float64; strings fixstr/str8/16/32; `.binary` bin8/16/32; arrays and objects
/// fixarray/array16/32 and fixmap/map16/32.
///
/// Decoding: integers that fit in `Int64` become `.int`, larger ones `.uint`; float32
/// becomes `.double`; bin and ext (any type code, including timestamps) become `.binary`
/// of the payload; map keys that are not strings become their compact JSON text (and,
/// to keep that linear in the input size, may not themselves contain non-string keys).
/// Every length is checked against the remaining bytes before anything is allocated.
package enum MessagePack {
    /// Maximum nesting depth of arrays and maps; deeper input is an error.
    package static let maxDepth = 512

    /// Encodes a tree using the smallest encodings.
    package static func encode(_ value: JSONValue) -> [UInt8] {
        var buffer: [UInt8] = []
        encode(value, into: &buffer)
        return buffer
    }

    /// Appends the encoding of `value` to `buffer`.
    package static func encode(_ value: JSONValue, into buffer: inout [UInt8]) {
        switch value {
        case .null:
            buffer.append(0xC0)
        case .bool(let b):
            buffer.append(b ? 0xC3 : 0xC2)
        case .int(let n):
            if n >= 0 {
                encodeUnsigned(UInt64(n), into: &buffer)
            } else if n >= -32 {
                buffer.append(UInt8(truncatingIfNeeded: n))
            } else if n >= Int64(Int8.min) {
                buffer.append(0xD0)
                buffer.append(UInt8(truncatingIfNeeded: n))
            } else if n >= Int64(Int16.min) {
                buffer.append(0xD1)
                appendBigEndian(UInt16(truncatingIfNeeded: n), to: &buffer)
            } else if n >= Int64(Int32.min) {
                buffer.append(0xD2)
                appendBigEndian(UInt32(truncatingIfNeeded: n), to: &buffer)
            } else {
                buffer.append(0xD3)
                appendBigEndian(UInt64(bitPattern: n), to: &buffer)
            }
        case .uint(let n):
            encodeUnsigned(n, into: &buffer)
        case .double(let d):
            buffer.append(0xCB)
            appendBigEndian(d.bitPattern, to: &buffer)
        case .string(let s):
            let utf8 = s.utf8
            let count = utf8.count
            if count < 32 {
                buffer.append(0xA0 | UInt8(count))
            } else {
                appendLength(count, 0xD9, 0xDA, 0xDB, to: &buffer)
            }
            buffer.append(contentsOf: utf8)
        case .binary(let bytes):
            appendLength(bytes.count, 0xC4, 0xC5, 0xC6, to: &buffer)
            buffer.append(contentsOf: bytes)
        case .array(let elements):
            if elements.count < 16 {
                buffer.append(0x90 | UInt8(elements.count))
            } else {
                appendLength(elements.count, nil, 0xDC, 0xDD, to: &buffer)
            }
            for element in elements { encode(element, into: &buffer) }
        case .object(let members):
            if members.count < 16 {
                buffer.append(0x80 | UInt8(members.count))
            } else {
                appendLength(members.count, nil, 0xDE, 0xDF, to: &buffer)
            }
            for member in members {
                encode(.string(member.key), into: &buffer)
                encode(member.value, into: &buffer)
            }
        }
    }

    /// Decodes exactly one MessagePack object that fills all of `bytes`.
    package static func decode(_ bytes: UnsafeRawBufferPointer) throws(CodecError) -> JSONValue {
        var reader = MessagePackReader(bytes)
        let value = try reader.decodeValue(depth: 0, inKey: false)
        try reader.finish()
        return value
    }

    package static func decode(_ bytes: [UInt8]) throws(CodecError) -> JSONValue {
        let result: Result<JSONValue, CodecError> = bytes.withUnsafeBytes { buffer in
            do throws(CodecError) { return .success(try decode(buffer)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Validates exactly one MessagePack object filling `bytes`, without building a tree
    /// or allocating. Accepts and rejects exactly what `decode` does, with the same errors.
    package static func validate(_ bytes: UnsafeRawBufferPointer) throws(CodecError) {
        var reader = MessagePackReader(bytes)
        try reader.skipValue(depth: 0, inKey: false)
        try reader.finish()
    }

    package static func validate(_ bytes: [UInt8]) throws(CodecError) {
        let result: Result<Void, CodecError> = bytes.withUnsafeBytes { buffer in
            do throws(CodecError) { return .success(try validate(buffer)) } catch { return .failure(error) }
        }
        try result.get()
    }

    // MARK: - Encoding helpers

    private static func encodeUnsigned(_ n: UInt64, into buffer: inout [UInt8]) {
        if n < 0x80 {
            buffer.append(UInt8(n))
        } else if n <= UInt64(UInt8.max) {
            buffer.append(0xCC)
            buffer.append(UInt8(n))
        } else if n <= UInt64(UInt16.max) {
            buffer.append(0xCD)
            appendBigEndian(UInt16(n), to: &buffer)
        } else if n <= UInt64(UInt32.max) {
            buffer.append(0xCE)
            appendBigEndian(UInt32(n), to: &buffer)
        } else {
            buffer.append(0xCF)
            appendBigEndian(n, to: &buffer)
        }
    }

    /// Appends a length with the smallest of the given formats: `f8` (if any, for str and
    /// bin) takes an 8-bit length, `f16` a 16-bit one and `f32` a 32-bit one.
    private static func appendLength(_ count: Int, _ f8: UInt8?, _ f16: UInt8, _ f32: UInt8, to buffer: inout [UInt8]) {
        if let f8, count <= Int(UInt8.max) {
            buffer.append(f8)
            buffer.append(UInt8(count))
        } else if count <= Int(UInt16.max) {
            buffer.append(f16)
            appendBigEndian(UInt16(count), to: &buffer)
        } else {
            precondition(count <= Int(UInt32.max), "MessagePack cannot encode more than 2^32-1 items or bytes")
            buffer.append(f32)
            appendBigEndian(UInt32(count), to: &buffer)
        }
    }

    @inline(__always)
    private static func appendBigEndian(_ value: some FixedWidthInteger, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }
}

// MARK: - Reader

/// Cursor over the input shared by `MessagePack.decode` and `MessagePack.validate`.
private struct MessagePackReader {
    let buf: UnsafeRawBufferPointer
    let end: Int
    var i = 0

    init(_ buf: UnsafeRawBufferPointer) {
        self.buf = buf
        self.end = buf.count
    }

    /// One header with its payload checked (and skipped, for strings and binaries).
    enum Item {
        case scalar(JSONValue)
        case string(Range<Int>)  // valid UTF-8
        case binary(Range<Int>)
        case array(Int)  // element count, already checked against the remaining bytes
        case map(Int)  // entry count, already checked against the remaining bytes
    }

    mutating func finish() throws(CodecError) {
        if i < end { throw CodecError("trailing bytes after MessagePack object", at: i) }
    }

    /// Decodes the value at `i`. `depth` is the number of enclosing containers; `inKey`
    /// whether the value is (part of) a map key that is not a string.
    mutating func decodeValue(depth: Int, inKey: Bool) throws(CodecError) -> JSONValue {
        switch try readItem(depth: depth) {
        case .scalar(let value):
            return value
        case .string(let range):
            return .string(String(decoding: UnsafeRawBufferPointer(rebasing: buf[range]), as: UTF8.self))
        case .binary(let range):
            return .binary(Array(buf[range]))
        case .array(let count):
            var elements: [JSONValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try decodeValue(depth: depth + 1, inKey: inKey)) }
            return .array(elements)
        case .map(let count):
            var members: [JSONMember] = []
            members.reserveCapacity(count)
            for _ in 0..<count {
                let nonStringKey = try checkKey(inKey: inKey)
                let key: String
                switch try decodeValue(depth: depth + 1, inKey: inKey || nonStringKey) {
                case .string(let s): key = s
                case let other: key = String(decoding: JSON.serialize(other), as: UTF8.self)
                }
                members.append(JSONMember(key, try decodeValue(depth: depth + 1, inKey: inKey)))
            }
            return .object(members)
        }
    }

    /// `decodeValue` without building anything.
    mutating func skipValue(depth: Int, inKey: Bool) throws(CodecError) {
        switch try readItem(depth: depth) {
        case .scalar, .string, .binary:
            return
        case .array(let count):
            for _ in 0..<count { try skipValue(depth: depth + 1, inKey: inKey) }
        case .map(let count):
            for _ in 0..<count {
                let nonStringKey = try checkKey(inKey: inKey)
                try skipValue(depth: depth + 1, inKey: inKey || nonStringKey)
                try skipValue(depth: depth + 1, inKey: inKey)
            }
        }
    }

    /// Whether the map key at `i` is not a string. A non-string key becomes its JSON text;
    /// if such a key could itself contain non-string keys, each level would escape the
    /// level below again and a ~1 KB input could demand 2^500 bytes, so inside a
    /// non-string key every map key must be a string.
    mutating func checkKey(inKey: Bool) throws(CodecError) -> Bool {
        guard i < end else { return false }  // readItem reports the end of input
        switch buf[i] {
        case 0xA0...0xBF, 0xD9, 0xDA, 0xDB:
            return false
        default:
            if inKey { throw CodecError("non-string map key inside a non-string map key", at: i) }
            return true
        }
    }

    /// Reads the header at `i` (`depth` = number of enclosing containers) and, for strings
    /// and binaries, its payload.
    mutating func readItem(depth: Int) throws(CodecError) -> Item {
        guard i < end else { throw CodecError("unexpected end of input", at: end) }
        let start = i
        let b = buf[i]
        i += 1
        switch b {
        case 0x00...0x7F: return .scalar(.int(Int64(b)))
        case 0x80...0x8F: return try container(map: true, count: Int(b & 0x0F), start: start, depth: depth)
        case 0x90...0x9F: return try container(map: false, count: Int(b & 0x0F), start: start, depth: depth)
        case 0xA0...0xBF: return try string(count: Int(b & 0x1F), start: start, kind: "fixstr")
        case 0xC0: return .scalar(.null)
        case 0xC1: throw CodecError("reserved byte 0xc1", at: start)
        case 0xC2: return .scalar(.bool(false))
        case 0xC3: return .scalar(.bool(true))
        case 0xC4: return try binary(count: Int(try read(UInt8.self, start, "bin8")), start: start, kind: "bin8")
        case 0xC5: return try binary(count: Int(try read(UInt16.self, start, "bin16")), start: start, kind: "bin16")
        case 0xC6: return try binary(count: Int(try read(UInt32.self, start, "bin32")), start: start, kind: "bin32")
        case 0xC7: return try ext(count: Int(try read(UInt8.self, start, "ext8")), start: start, kind: "ext8")
        case 0xC8: return try ext(count: Int(try read(UInt16.self, start, "ext16")), start: start, kind: "ext16")
        case 0xC9: return try ext(count: Int(try read(UInt32.self, start, "ext32")), start: start, kind: "ext32")
        case 0xCA:
            let bits = try read(UInt32.self, start, "float32")
            return .scalar(.double(Double(Float(bitPattern: bits))))
        case 0xCB:
            return .scalar(.double(Double(bitPattern: try read(UInt64.self, start, "float64"))))
        case 0xCC: return .scalar(.int(Int64(try read(UInt8.self, start, "uint8"))))
        case 0xCD: return .scalar(.int(Int64(try read(UInt16.self, start, "uint16"))))
        case 0xCE: return .scalar(.int(Int64(try read(UInt32.self, start, "uint32"))))
        case 0xCF:
            let n = try read(UInt64.self, start, "uint64")
            return .scalar(n <= UInt64(Int64.max) ? .int(Int64(n)) : .uint(n))
        case 0xD0: return .scalar(.int(Int64(Int8(bitPattern: try read(UInt8.self, start, "int8")))))
        case 0xD1: return .scalar(.int(Int64(Int16(bitPattern: try read(UInt16.self, start, "int16")))))
        case 0xD2: return .scalar(.int(Int64(Int32(bitPattern: try read(UInt32.self, start, "int32")))))
        case 0xD3: return .scalar(.int(Int64(bitPattern: try read(UInt64.self, start, "int64"))))
        case 0xD4: return try ext(count: 1, start: start, kind: "fixext1")
        case 0xD5: return try ext(count: 2, start: start, kind: "fixext2")
        case 0xD6: return try ext(count: 4, start: start, kind: "fixext4")
        case 0xD7: return try ext(count: 8, start: start, kind: "fixext8")
        case 0xD8: return try ext(count: 16, start: start, kind: "fixext16")
        case 0xD9: return try string(count: Int(try read(UInt8.self, start, "str8")), start: start, kind: "str8")
        case 0xDA: return try string(count: Int(try read(UInt16.self, start, "str16")), start: start, kind: "str16")
        case 0xDB: return try string(count: Int(try read(UInt32.self, start, "str32")), start: start, kind: "str32")
        case 0xDC:
            let count = Int(try read(UInt16.self, start, "array16"))
            return try container(map: false, count: count, start: start, depth: depth)
        case 0xDD:
            let count = Int(try read(UInt32.self, start, "array32"))
            return try container(map: false, count: count, start: start, depth: depth)
        case 0xDE:
            let count = Int(try read(UInt16.self, start, "map16"))
            return try container(map: true, count: count, start: start, depth: depth)
        case 0xDF:
            let count = Int(try read(UInt32.self, start, "map32"))
            return try container(map: true, count: count, start: start, depth: depth)
        default:  // 0xE0...0xFF: negative fixint
            return .scalar(.int(Int64(Int8(bitPattern: b))))
        }
    }

    /// Reads a big-endian integer at `i`, or reports a truncated `kind` header at `start`.
    @inline(__always)
    mutating func read<T: FixedWidthInteger>(_: T.Type, _ start: Int, _ kind: StaticString) throws(CodecError) -> T {
        let size = MemoryLayout<T>.size
        try need(size, start, kind)
        let value = T(bigEndian: buf.loadUnaligned(fromByteOffset: i, as: T.self))
        i += size
        return value
    }

    @inline(__always)
    func need(_ count: Int, _ start: Int, _ kind: StaticString) throws(CodecError) {
        if count > end - i {
            throw CodecError("truncated \(kind): needs \(count) bytes, \(end - i) remain", at: start)
        }
    }

    mutating func string(count: Int, start: Int, kind: StaticString) throws(CodecError) -> Item {
        try need(count, start, kind)
        let range = i..<(i + count)
        if let bad = JSON.firstInvalidUTF8(buf, range.lowerBound, range.upperBound) {
            throw CodecError("invalid UTF-8 in string", at: bad)
        }
        i = range.upperBound
        return .string(range)
    }

    mutating func binary(count: Int, start: Int, kind: StaticString) throws(CodecError) -> Item {
        try need(count, start, kind)
        let range = i..<(i + count)
        i = range.upperBound
        return .binary(range)
    }

    /// An ext payload of `count` bytes after its one-byte type code (which is dropped).
    mutating func ext(count: Int, start: Int, kind: StaticString) throws(CodecError) -> Item {
        try need(1 + count, start, kind)
        i += 1
        return try binary(count: count, start: start, kind: kind)
    }

    mutating func container(map: Bool, count: Int, start: Int, depth: Int) throws(CodecError) -> Item {
        if depth + 1 > MessagePack.maxDepth { throw CodecError("nesting depth exceeds 512", at: start) }
        // Every element takes at least one byte: reject impossible counts before allocating.
        let minimum = map ? 2 * count : count
        if minimum > end - i {
            throw CodecError(
                "truncated \(map ? "map" : "array"): declares \(count) \(map ? "entries" : "elements"), "
                    + "\(end - i) bytes remain",
                at: start
            )
        }
        return map ? .map(count) : .array(count)
    }
}

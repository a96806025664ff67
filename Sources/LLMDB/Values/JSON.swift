// JSON: a strict RFC 8259 parser, validator and serializer over raw bytes (no Foundation).

/// Strict RFC 8259 JSON over UTF-8 bytes.
///
/// Parsing works directly on the raw buffer with index arithmetic; the only allocations
/// are the tree itself (arrays, members, and one `String` per string value). `validate`
/// checks exactly the same grammar and produces exactly the same errors as `parse`
/// without allocating anything.
///
/// Numbers: integers without fraction/exponent become `.int` (or `.uint` above
/// `Int64.max`); everything else, and integers too large for `UInt64`, become `.double`.
/// `-0` is `.int(0)`. A number whose magnitude rounds to infinity as a `Double` (e.g.
/// `1e400`) is rejected with "number out of range"; tiny ones underflow to 0.
/// Duplicate object keys are kept, in order.
package enum JSON {
    /// Maximum nesting depth of arrays and objects; deeper input is an error.
    package static let maxDepth = 512

    /// Parses one complete JSON text (RFC 8259; surrounding whitespace allowed).
    package static func parse(_ bytes: UnsafeRawBufferPointer) throws(CodecError) -> JSONValue {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        try parser.finish()
        return value
    }

    package static func parse(_ bytes: [UInt8]) throws(CodecError) -> JSONValue {
        let result: Result<JSONValue, CodecError> = bytes.withUnsafeBytes { buffer in
            do throws(CodecError) { return .success(try parse(buffer)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Validates one complete JSON text without building a tree and without allocating.
    /// Accepts and rejects exactly what `parse` does, with the same errors.
    ///
    /// - Returns: `true` if the top-level value is the literal `null` (so a write of
    ///   `null` can be treated as a delete without parsing), otherwise `false`.
    @discardableResult
    package static func validate(_ bytes: UnsafeRawBufferPointer) throws(CodecError) -> Bool {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        let isNull = parser.i < parser.end && parser.buf[parser.i] == UInt8(ascii: "n")
        try parser.skipValue(depth: 0)
        try parser.finish()
        return isNull
    }

    /// `validate` for an array; returns `true` if the top-level value is `null`.
    @discardableResult
    package static func validate(_ bytes: [UInt8]) throws(CodecError) -> Bool {
        let result: Result<Bool, CodecError> = bytes.withUnsafeBytes { buffer in
            do throws(CodecError) { return .success(try validate(buffer)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Compact serialization (no whitespace). Strings are escaped per RFC 8259 (`"`, `\`,
    /// and control characters); doubles use Swift's shortest round-trip form (`1.0`,
    /// `1e-05`, `1e+20`); non-finite doubles become `null`; `.binary` becomes
    /// `{"$binary":"<base64>"}`.
    package static func serialize(_ value: JSONValue) -> [UInt8] {
        var buffer: [UInt8] = []
        serialize(value, into: &buffer)
        return buffer
    }

    /// Appends the compact serialization of `value` to `buffer`.
    package static func serialize(_ value: JSONValue, into buffer: inout [UInt8]) {
        switch value {
        case .null:
            appendASCII("null", to: &buffer)
        case .bool(let b):
            appendASCII(b ? "true" : "false", to: &buffer)
        case .int(let n):
            if n < 0 {
                buffer.append(UInt8(ascii: "-"))
                appendDecimal(n.magnitude, to: &buffer)
            } else {
                appendDecimal(UInt64(n), to: &buffer)
            }
        case .uint(let n):
            appendDecimal(n, to: &buffer)
        case .double(let d):
            appendDouble(d, to: &buffer)
        case .string(let s):
            appendString(s, to: &buffer)
        case .binary(let bytes):
            appendASCII("{\"$binary\":\"", to: &buffer)
            Base64.encode(bytes, into: &buffer)
            appendASCII("\"}", to: &buffer)
        case .array(let elements):
            buffer.append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { buffer.append(UInt8(ascii: ",")) }
                first = false
                serialize(element, into: &buffer)
            }
            buffer.append(UInt8(ascii: "]"))
        case .object(let members):
            buffer.append(UInt8(ascii: "{"))
            var first = true
            for member in members {
                if !first { buffer.append(UInt8(ascii: ",")) }
                first = false
                appendString(member.key, to: &buffer)
                buffer.append(UInt8(ascii: ":"))
                serialize(member.value, into: &buffer)
            }
            buffer.append(UInt8(ascii: "}"))
        }
    }

    /// Serialization with 2-space indentation and `"key": value` members, for humans.
    /// Empty arrays/objects print as `[]`/`{}`; no trailing newline.
    package static func serializePretty(_ value: JSONValue) -> [UInt8] {
        var buffer: [UInt8] = []
        appendPretty(value, indent: 0, to: &buffer)
        return buffer
    }

    // MARK: - Serialization helpers

    private static func appendPretty(_ value: JSONValue, indent: Int, to buffer: inout [UInt8]) {
        switch value {
        case .array(let elements) where !elements.isEmpty:
            buffer.append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { buffer.append(UInt8(ascii: ",")) }
                first = false
                appendNewline(indent: indent + 2, to: &buffer)
                appendPretty(element, indent: indent + 2, to: &buffer)
            }
            appendNewline(indent: indent, to: &buffer)
            buffer.append(UInt8(ascii: "]"))
        case .object(let members) where !members.isEmpty:
            buffer.append(UInt8(ascii: "{"))
            var first = true
            for member in members {
                if !first { buffer.append(UInt8(ascii: ",")) }
                first = false
                appendNewline(indent: indent + 2, to: &buffer)
                appendString(member.key, to: &buffer)
                buffer.append(UInt8(ascii: ":"))
                buffer.append(UInt8(ascii: " "))
                appendPretty(member.value, indent: indent + 2, to: &buffer)
            }
            appendNewline(indent: indent, to: &buffer)
            buffer.append(UInt8(ascii: "}"))
        case .binary(let bytes):
            appendPretty(.object([JSONMember("$binary", .string(Base64.encode(bytes)))]), indent: indent, to: &buffer)
        default:
            serialize(value, into: &buffer)
        }
    }

    private static func appendNewline(indent: Int, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\n"))
        buffer.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent))
    }

    private static func appendASCII(_ s: StaticString, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    private static func appendDecimal(_ value: UInt64, to buffer: inout [UInt8]) {
        let start = buffer.count
        var n = value
        repeat {
            buffer.append(UInt8(truncatingIfNeeded: n % 10) &+ UInt8(ascii: "0"))
            n /= 10
        } while n != 0
        buffer[start...].reverse()
    }

    private static func appendDouble(_ d: Double, to buffer: inout [UInt8]) {
        guard d.isFinite else {
            appendASCII("null", to: &buffer)
            return
        }
        // Swift's description is the shortest representation that round-trips and always
        // contains '.' or an exponent ("1.0", "1e-05", "1e+20"), all valid JSON numbers.
        buffer.append(contentsOf: d.description.utf8)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func appendString(_ s: String, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        if s.utf8.withContiguousStorageIfAvailable({ appendEscaped($0, to: &buffer) }) == nil {
            var copy = s
            copy.withUTF8 { appendEscaped($0, to: &buffer) }
        }
        buffer.append(UInt8(ascii: "\""))
    }

    private static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to buffer: inout [UInt8]) {
        var runStart = 0
        for k in 0..<bytes.count {
            let c = bytes[k]
            guard c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") else { continue }
            if runStart < k {
                buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<k]))
            }
            runStart = k + 1
            buffer.append(UInt8(ascii: "\\"))
            switch c {
            case UInt8(ascii: "\""): buffer.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): buffer.append(UInt8(ascii: "\\"))
            case 0x08: buffer.append(UInt8(ascii: "b"))
            case 0x0C: buffer.append(UInt8(ascii: "f"))
            case 0x0A: buffer.append(UInt8(ascii: "n"))
            case 0x0D: buffer.append(UInt8(ascii: "r"))
            case 0x09: buffer.append(UInt8(ascii: "t"))
            default:
                buffer.append(UInt8(ascii: "u"))
                buffer.append(UInt8(ascii: "0"))
                buffer.append(UInt8(ascii: "0"))
                buffer.append(hexDigits[Int(c >> 4)])
                buffer.append(hexDigits[Int(c & 0xF)])
            }
        }
        if runStart < bytes.count {
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
    }

    // MARK: - Shared low-level helpers (also used by MessagePack)

    /// If a well-formed UTF-8 sequence starts at `j` (with a non-ASCII lead byte), the index
    /// just past it; otherwise `nil`. Rejects overlong forms, surrogates and > U+10FFFF.
    @inline(__always)
    static func utf8SequenceEnd(_ buf: UnsafeRawBufferPointer, _ j: Int, _ end: Int) -> Int? {
        let lead = buf[j]
        @inline(__always) func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            k < end && buf[k] >= lo && buf[k] <= hi
        }
        switch lead {
        case 0xC2...0xDF:
            return cont(j + 1) ? j + 2 : nil
        case 0xE0:
            return cont(j + 1, 0xA0) && cont(j + 2) ? j + 3 : nil
        case 0xE1...0xEC, 0xEE...0xEF:
            return cont(j + 1) && cont(j + 2) ? j + 3 : nil
        case 0xED:
            return cont(j + 1, 0x80, 0x9F) && cont(j + 2) ? j + 3 : nil
        case 0xF0:
            return cont(j + 1, 0x90) && cont(j + 2) && cont(j + 3) ? j + 4 : nil
        case 0xF1...0xF3:
            return cont(j + 1) && cont(j + 2) && cont(j + 3) ? j + 4 : nil
        case 0xF4:
            return cont(j + 1, 0x80, 0x8F) && cont(j + 2) && cont(j + 3) ? j + 4 : nil
        default:
            return nil
        }
    }

    /// The smallest offset in `start..<end` where invalid UTF-8 begins, or `nil` if valid.
    static func firstInvalidUTF8(_ buf: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int? {
        var j = start
        while j < end {
            while j + 8 <= end, buf.loadUnaligned(fromByteOffset: j, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                j += 8
            }
            guard j < end else { break }
            if buf[j] < 0x80 {
                j += 1
            } else if let next = utf8SequenceEnd(buf, j, end) {
                j = next
            } else {
                return j
            }
        }
        return nil
    }
}

// MARK: - Parser

/// Cursor over the input shared by `JSON.parse` and `JSON.validate`.
private struct JSONParser {
    let buf: UnsafeRawBufferPointer
    let end: Int
    var i = 0
    /// Reused for unescaping strings that contain escapes.
    var scratch: [UInt8] = []

    init(_ buf: UnsafeRawBufferPointer) {
        self.buf = buf
        self.end = buf.count
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while i < end {
            switch buf[i] {
            case 0x20, 0x0A, 0x0D, 0x09: i += 1
            default: return
            }
        }
    }

    func endOfInput() -> CodecError { CodecError("unexpected end of input", at: end) }

    mutating func finish() throws(CodecError) {
        skipWhitespace()
        if i < end { throw CodecError("unexpected data after JSON value", at: i) }
    }

    // MARK: Tree building

    /// Parses the value at `i` (which must not be whitespace). `depth` is the number of
    /// enclosing containers.
    mutating func parseValue(depth: Int) throws(CodecError) -> JSONValue {
        guard i < end else { throw endOfInput() }
        switch buf[i] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default:
            return try scanLiteral()
        }
    }

    mutating func parseArray(depth: Int) throws(CodecError) -> JSONValue {
        if depth > JSON.maxDepth { throw CodecError("nesting depth exceeds 512", at: i) }
        i += 1
        skipWhitespace()
        guard i < end else { throw endOfInput() }
        if buf[i] == UInt8(ascii: "]") {
            i += 1
            return .array([])
        }
        var elements: [JSONValue] = []
        while true {
            elements.append(try parseValue(depth: depth))
            if try afterElement(close: UInt8(ascii: "]")) { return .array(elements) }
        }
    }

    mutating func parseObject(depth: Int) throws(CodecError) -> JSONValue {
        if depth > JSON.maxDepth { throw CodecError("nesting depth exceeds 512", at: i) }
        i += 1
        skipWhitespace()
        guard i < end else { throw endOfInput() }
        if buf[i] == UInt8(ascii: "}") {
            i += 1
            return .object([])
        }
        var members: [JSONMember] = []
        while true {
            try expectKey()
            let key = try parseString()
            try expectColon()
            let value = try parseValue(depth: depth)
            members.append(JSONMember(key, value))
            if try afterElement(close: UInt8(ascii: "}")) { return .object(members) }
        }
    }

    mutating func parseString() throws(CodecError) -> String {
        let (start, stop, escaped) = try scanString()
        if !escaped {
            return String(decoding: UnsafeRawBufferPointer(rebasing: buf[start..<stop]), as: UTF8.self)
        }
        scratch.removeAll(keepingCapacity: true)
        var j = start
        while j < stop {
            let c = buf[j]
            if c != UInt8(ascii: "\\") {
                scratch.append(c)
                j += 1
                continue
            }
            let e = buf[j + 1]
            j += 2
            switch e {
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(j)
                j += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {  // validated: a low surrogate follows
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (hex4(j + 2) - 0xDC00)
                    j += 6
                }
                appendUTF8(scalar)
            default: scratch.append(e)  // '"', '\\', '/'
            }
        }
        return String(decoding: scratch, as: UTF8.self)
    }

    mutating func appendUTF8(_ v: UInt32) {
        switch v {
        case 0..<0x80:
            scratch.append(UInt8(v))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | (v >> 6)))
            scratch.append(UInt8(0x80 | (v & 0x3F)))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | (v >> 12)))
            scratch.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (v & 0x3F)))
        default:
            scratch.append(UInt8(0xF0 | (v >> 18)))
            scratch.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            scratch.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    mutating func parseNumber() throws(CodecError) -> JSONValue {
        let n = try scanNumber()
        if n.isInteger {
            let digits = n.intEnd - n.intStart
            if digits <= 18 {
                var v: Int64 = 0
                for k in n.intStart..<n.intEnd { v = v &* 10 &+ Int64(buf[k] &- UInt8(ascii: "0")) }
                return .int(n.negative ? -v : v)
            }
            var v: UInt64 = 0
            var overflow = false
            for k in n.intStart..<n.intEnd {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(UInt64(buf[k] &- UInt8(ascii: "0")))
                if o1 || o2 {
                    overflow = true
                    break
                }
                v = a
            }
            if !overflow {
                if !n.negative {
                    return v <= UInt64(Int64.max) ? .int(Int64(v)) : .uint(v)
                }
                if v <= UInt64(Int64.max) { return .int(-Int64(v)) }
                if v == UInt64(Int64.max) + 1 { return .int(.min) }
            }
        }
        if overflowsDouble(n) { throw CodecError("number out of range", at: n.start) }
        return .double(try toDouble(n))
    }

    private static let powersOf10: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    func toDouble(_ n: ScannedNumber) throws(CodecError) -> Double {
        // Clinger's fast path: an exact mantissa < 2^53 times/divided by an exact power of
        // ten is correctly rounded by a single IEEE operation.
        var mantissa: UInt64 = 0
        var significant = 0
        var exact = true
        var k = n.intStart
        while k < n.fracEnd {
            if k == n.intEnd {
                k = n.fracStart
                continue
            }
            let d = buf[k] &- UInt8(ascii: "0")
            k += 1
            if mantissa == 0 && d == 0 { continue }
            significant += 1
            if significant > 19 {
                exact = false
                break
            }
            mantissa = mantissa * 10 + UInt64(d)
        }
        let exponent10 = n.exponent - (n.fracEnd - n.fracStart)
        if exact && mantissa <= 1 << 53 && exponent10 >= -22 && exponent10 <= 22 {
            var d = Double(mantissa)
            if exponent10 < 0 {
                d /= Self.powersOf10[-exponent10]
            } else {
                d *= Self.powersOf10[exponent10]
            }
            return n.negative ? -d : d
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: buf[n.start..<n.end]), as: UTF8.self)
        guard let d = Double(text) else { throw CodecError("invalid number", at: n.start) }
        guard d.isFinite else { throw CodecError("number out of range", at: n.start) }
        return d
    }

    // MARK: Validation without a tree

    mutating func skipValue(depth: Int) throws(CodecError) {
        guard i < end else { throw endOfInput() }
        switch buf[i] {
        case UInt8(ascii: "{"):
            let depth = depth + 1
            if depth > JSON.maxDepth { throw CodecError("nesting depth exceeds 512", at: i) }
            i += 1
            skipWhitespace()
            guard i < end else { throw endOfInput() }
            if buf[i] == UInt8(ascii: "}") {
                i += 1
                return
            }
            while true {
                try expectKey()
                _ = try scanString()
                try expectColon()
                try skipValue(depth: depth)
                if try afterElement(close: UInt8(ascii: "}")) { return }
            }
        case UInt8(ascii: "["):
            let depth = depth + 1
            if depth > JSON.maxDepth { throw CodecError("nesting depth exceeds 512", at: i) }
            i += 1
            skipWhitespace()
            guard i < end else { throw endOfInput() }
            if buf[i] == UInt8(ascii: "]") {
                i += 1
                return
            }
            while true {
                try skipValue(depth: depth)
                if try afterElement(close: UInt8(ascii: "]")) { return }
            }
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let n = try scanNumber()
            if overflowsDouble(n) { throw CodecError("number out of range", at: n.start) }
        default:
            _ = try scanLiteral()
        }
    }

    // MARK: Shared scanning

    /// At the first byte of an object member: requires the opening quote of its key.
    mutating func expectKey() throws(CodecError) {
        if buf[i] != UInt8(ascii: "\"") { throw CodecError("expected string key in object", at: i) }
    }

    /// After a key: skips `:` and surrounding whitespace.
    mutating func expectColon() throws(CodecError) {
        skipWhitespace()
        guard i < end else { throw endOfInput() }
        if buf[i] != UInt8(ascii: ":") { throw CodecError("expected ':' after object key", at: i) }
        i += 1
        skipWhitespace()
    }

    /// After an array element or object member: consumes `,` (returning false, positioned
    /// at the next element) or the closing bracket (returning true).
    mutating func afterElement(close: UInt8) throws(CodecError) -> Bool {
        skipWhitespace()
        guard i < end else { throw endOfInput() }
        let c = buf[i]
        if c == UInt8(ascii: ",") {
            i += 1
            skipWhitespace()
            guard i < end else { throw endOfInput() }
            if buf[i] == close {
                throw CodecError(
                    close == UInt8(ascii: "]") ? "trailing comma in array" : "trailing comma in object",
                    at: i
                )
            }
            return false
        }
        if c == close {
            i += 1
            return true
        }
        throw CodecError(
            close == UInt8(ascii: "]")
                ? "expected ',' or ']' after array element" : "expected ',' or '}' after object member",
            at: i
        )
    }

    /// `true`, `false`, `null`, or an error explaining why the byte at `i` starts no value.
    mutating func scanLiteral() throws(CodecError) -> JSONValue {
        let c = buf[i]
        let word: StaticString
        let value: JSONValue
        switch c {
        case UInt8(ascii: "t"): (word, value) = ("true", .bool(true))
        case UInt8(ascii: "f"): (word, value) = ("false", .bool(false))
        case UInt8(ascii: "n"): (word, value) = ("null", .null)
        case UInt8(ascii: "N"), UInt8(ascii: "I"):
            throw CodecError("NaN and Infinity are not allowed", at: i)
        case UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: ","):
            throw CodecError("expected a value", at: i)
        default:
            throw CodecError("unexpected byte, expected a value", at: i)
        }
        let count = word.utf8CodeUnitCount
        guard end - i >= count else { throw CodecError("invalid literal", at: i) }
        let w = word.utf8Start
        for k in 1..<count where buf[i + k] != w[k] {
            throw CodecError("invalid literal", at: i)
        }
        i += count
        return value
    }

    /// Scans a string whose opening quote is at `i`, validating escapes and UTF-8, and
    /// moves past the closing quote. Returns the content range and whether it has escapes.
    mutating func scanString() throws(CodecError) -> (start: Int, end: Int, escaped: Bool) {
        let open = i
        var j = i + 1
        var escaped = false
        while true {
            // 8 bytes at a time while none is '"', '\\', a control character or non-ASCII.
            while j + 8 <= end {
                let w = buf.loadUnaligned(fromByteOffset: j, as: UInt64.self)
                let ones: UInt64 = 0x0101_0101_0101_0101
                let high: UInt64 = 0x8080_8080_8080_8080
                let q = w ^ (ones &* 0x22)
                let b = w ^ (ones &* 0x5C)
                let special = ((q &- ones) & ~q) | ((b &- ones) & ~b) | ((w &- ones &* 0x20) & ~w) | w
                if special & high != 0 { break }
                j += 8
            }
            guard j < end else { throw CodecError("unterminated string", at: open) }
            let c = buf[j]
            if c == UInt8(ascii: "\"") {
                i = j + 1
                return (open + 1, j, escaped)
            } else if c == UInt8(ascii: "\\") {
                escaped = true
                j = try scanEscape(j, open: open)
            } else if c < 0x20 {
                throw CodecError("unescaped control character in string", at: j)
            } else if c < 0x80 {
                j += 1
            } else if let next = JSON.utf8SequenceEnd(buf, j, end) {
                j = next
            } else {
                throw CodecError("invalid UTF-8 in string", at: j)
            }
        }
    }

    /// Validates the escape whose backslash is at `j`; returns the index after it.
    func scanEscape(_ j: Int, open: Int) throws(CodecError) -> Int {
        guard j + 1 < end else { throw CodecError("unterminated string", at: open) }
        switch buf[j + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
            UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return j + 2
        case UInt8(ascii: "u"):
            guard j + 6 <= end, isHex4(j + 2) else { throw CodecError("invalid \\u escape", at: j) }
            let u = hex4(j + 2)
            if u >= 0xDC00 && u <= 0xDFFF { throw CodecError("lone surrogate in \\u escape", at: j) }
            guard u >= 0xD800 && u <= 0xDBFF else { return j + 6 }
            guard j + 12 <= end, buf[j + 6] == UInt8(ascii: "\\"), buf[j + 7] == UInt8(ascii: "u"),
                isHex4(j + 8)
            else { throw CodecError("lone surrogate in \\u escape", at: j) }
            let low = hex4(j + 8)
            guard low >= 0xDC00 && low <= 0xDFFF else { throw CodecError("lone surrogate in \\u escape", at: j) }
            return j + 12
        default:
            throw CodecError("invalid escape sequence", at: j)
        }
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(c &- UInt8(ascii: "a") &+ 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(c &- UInt8(ascii: "A") &+ 10)
        default: return nil
        }
    }

    func isHex4(_ k: Int) -> Bool {
        Self.hexValue(buf[k]) != nil && Self.hexValue(buf[k + 1]) != nil
            && Self.hexValue(buf[k + 2]) != nil && Self.hexValue(buf[k + 3]) != nil
    }

    /// The value of 4 hex digits at `k` (already validated).
    func hex4(_ k: Int) -> UInt32 {
        var v: UInt32 = 0
        for m in k..<(k + 4) { v = v << 4 | (Self.hexValue(buf[m]) ?? 0) }
        return v
    }

    struct ScannedNumber {
        var start: Int
        var end: Int
        var negative: Bool
        var intStart: Int
        var intEnd: Int
        var fracStart: Int
        var fracEnd: Int
        /// The explicit exponent (0 if none), clamped to ±2^48.
        var exponent: Int
        var isInteger: Bool
    }

    @inline(__always)
    func isDigit(_ k: Int) -> Bool {
        k < end && buf[k] &- UInt8(ascii: "0") < 10
    }

    /// Scans a number starting at `i` (a '-' or digit) per the RFC 8259 grammar.
    mutating func scanNumber() throws(CodecError) -> ScannedNumber {
        let start = i
        var j = i
        let negative = buf[j] == UInt8(ascii: "-")
        if negative { j += 1 }
        let intStart = j
        if isDigit(j) {
            if buf[j] == UInt8(ascii: "0") {
                j += 1
                if isDigit(j) { throw CodecError("leading zeros are not allowed", at: intStart) }
            } else {
                j += 1
                while isDigit(j) { j += 1 }
            }
        } else if j < end && buf[j] == UInt8(ascii: "I") {
            throw CodecError("NaN and Infinity are not allowed", at: start)
        } else {
            throw CodecError("expected digit", at: j)
        }
        let intEnd = j
        var fracStart = j
        var fracEnd = j
        if j < end && buf[j] == UInt8(ascii: ".") {
            j += 1
            guard isDigit(j) else { throw CodecError("expected digit after decimal point", at: j) }
            fracStart = j
            while isDigit(j) { j += 1 }
            fracEnd = j
        }
        var exponent = 0
        var hasExponent = false
        if j < end && (buf[j] == UInt8(ascii: "e") || buf[j] == UInt8(ascii: "E")) {
            hasExponent = true
            j += 1
            var negativeExponent = false
            if j < end && (buf[j] == UInt8(ascii: "+") || buf[j] == UInt8(ascii: "-")) {
                negativeExponent = buf[j] == UInt8(ascii: "-")
                j += 1
            }
            guard isDigit(j) else { throw CodecError("expected digit in exponent", at: j) }
            while isDigit(j) {
                if exponent < 1 << 48 { exponent = exponent * 10 + Int(buf[j] &- UInt8(ascii: "0")) }
                j += 1
            }
            if negativeExponent { exponent = -exponent }
        }
        i = j
        return ScannedNumber(
            start: start,
            end: j,
            negative: negative,
            intStart: intStart,
            intEnd: intEnd,
            fracStart: fracStart,
            fracEnd: fracEnd,
            exponent: exponent,
            isInteger: fracStart == fracEnd && !hasExponent
        )
    }

    /// Significant digits of 2^1024 - 2^970, the smallest magnitude that rounds to infinity
    /// (the midpoint between Double.greatestFiniteMagnitude and 2^1024, ties to even).
    /// Its value is 0.<digits> × 10^309.
    static let overflowDigits: StaticString = """
        1797693134862315807937289714053034150799341327100378269361737789804449682927647509466490179775872070\
        9633028641669288791094655554785194040263065748867150582068190890200070838367627385484581771153176447\
        5730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904\
        174497792
        """

    /// Whether the scanned number's magnitude would round to infinity as a Double. Exact
    /// and allocation-free, so `validate` and `parse` agree.
    func overflowsDouble(_ n: ScannedNumber) -> Bool {
        var k = n.intStart
        var position = n.intEnd - n.intStart  // value = 0.<digits from k> × 10^position
        while k < n.intEnd && buf[k] == UInt8(ascii: "0") {
            k += 1
            position -= 1
        }
        if k == n.intEnd {
            k = n.fracStart
            while k < n.fracEnd && buf[k] == UInt8(ascii: "0") {
                k += 1
                position -= 1
            }
            if k == n.fracEnd { return false }  // zero
        }
        position += n.exponent
        if position != 309 { return position > 309 }
        let limit = Self.overflowDigits.utf8Start
        let limitCount = Self.overflowDigits.utf8CodeUnitCount
        for m in 0..<limitCount {
            if k == n.intEnd { k = n.fracStart }
            if k >= n.fracEnd { return false }  // ran out: smaller (the limit's last digit is nonzero)
            let d = buf[k]
            if d != limit[m] { return d > limit[m] }
            k += 1
        }
        return true  // equal to or above the limit
    }
}

// MARK: - Base64

/// RFC 4648 standard-alphabet Base64 with `=` padding.
package enum Base64 {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8
    )

    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, c) in alphabet.enumerated() { table[Int(c)] = UInt8(index) }
        return table
    }()

    package static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        encode(bytes, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the Base64 text of `bytes` to `out`.
    package static func encode(_ bytes: some Collection<UInt8>, into out: inout [UInt8]) {
        var iterator = bytes.makeIterator()
        while let b0 = iterator.next() {
            let b1 = iterator.next()
            let b2 = iterator.next()
            let n = UInt32(b0) << 16 | UInt32(b1 ?? 0) << 8 | UInt32(b2 ?? 0)
            out.append(alphabet[Int(n >> 18)])
            out.append(alphabet[Int(n >> 12 & 0x3F)])
            out.append(b1 == nil ? UInt8(ascii: "=") : alphabet[Int(n >> 6 & 0x3F)])
            out.append(b2 == nil ? UInt8(ascii: "=") : alphabet[Int(n & 0x3F)])
        }
    }

    /// Decodes padded standard Base64; `nil` if the length is not a multiple of 4, a
    /// character is outside the alphabet, or padding is misplaced. No whitespace allowed.
    package static func decode(_ s: String) -> [UInt8]? {
        if let result = s.utf8.withContiguousStorageIfAvailable({ decode($0) }) { return result }
        var copy = s
        return copy.withUTF8 { decode($0) }
    }

    private static func decode(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 4 * 3)
        var k = 0
        while k < text.count {
            let last = k + 4 == text.count
            let c0 = decodeTable[Int(text[k])]
            let c1 = decodeTable[Int(text[k + 1])]
            guard c0 != 0xFF, c1 != 0xFF else { return nil }
            let pad2 = text[k + 2] == UInt8(ascii: "=")
            let pad3 = text[k + 3] == UInt8(ascii: "=")
            let c2 = pad2 ? 0 : decodeTable[Int(text[k + 2])]
            let c3 = pad3 ? 0 : decodeTable[Int(text[k + 3])]
            guard c2 != 0xFF, c3 != 0xFF else { return nil }
            if (pad2 || pad3) && !last { return nil }
            if pad2 && !pad3 { return nil }
            let n = UInt32(c0) << 18 | UInt32(c1) << 12 | UInt32(c2) << 6 | UInt32(c3)
            out.append(UInt8(truncatingIfNeeded: n >> 16))
            if !pad2 { out.append(UInt8(truncatingIfNeeded: n >> 8)) }
            if !pad3 { out.append(UInt8(truncatingIfNeeded: n)) }
            k += 4
        }
        return out
    }
}

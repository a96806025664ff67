import LLMDB
import Testing

@Suite struct CodecTests {
    // MARK: - Helpers

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    static func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

    static func parseError(_ input: [UInt8]) -> CodecError? {
        do {
            _ = try JSON.parse(input)
            return nil
        } catch {
            return error
        }
    }

    static func validateError(_ input: [UInt8]) -> CodecError? {
        do {
            try JSON.validate(input)
            return nil
        } catch {
            return error
        }
    }

    static func decodeError(_ input: [UInt8]) -> CodecError? {
        do {
            _ = try MessagePack.decode(input)
            return nil
        } catch {
            return error
        }
    }

    static func msgpackValidateError(_ input: [UInt8]) -> CodecError? {
        do {
            try MessagePack.validate(input)
            return nil
        } catch {
            return error
        }
    }

    // MARK: - JSON round trips

    /// Canonical compact texts: parse then serialize reproduces them exactly.
    static let canonicalJSON: [String] = [
        "null", "true", "false", "0", "-1", "42",
        "9223372036854775807", "-9223372036854775808", "18446744073709551615", "9223372036854775808",
        "1.0", "-0.0", "1.5", "-2.25", "0.1", "1e-05", "1e+20", "1.7976931348623157e+308", "5e-324",
        "2.2250738585072014e-308", "123456.789",
        #""""#, #""hello""#, #""héllo wörld 中文 🌍👩‍👩‍👧""#,
        #""\"\\\b\f\n\r\t/""#, #""\u0000\u0001\u001f""#, "\"\u{7F}\"",
        "[]", "{}", "[[]]", "[{}]", #"{"":""}"#,
        #"[1,-2,3.5,"x",null,true,false,[],{}]"#,
        #"{"a":1,"b":[true,false,null],"c":{"d":"e","f":[1,[2,[3]]]},"a":2}"#,
        #"{"z":1,"y":2,"x":3}"#,
        #"{"big":18446744073709551615,"neg":-9223372036854775808,"f":-1.25e-10,"s":"\n"}"#,
    ]

    @Test(arguments: canonicalJSON)
    func jsonRoundTrip(_ text: String) throws {
        let tree = try JSON.parse(Self.bytes(text))
        #expect(Self.text(JSON.serialize(tree)) == text)
        // via MessagePack
        let packed = MessagePack.encode(tree)
        try MessagePack.validate(packed)
        let unpacked = try MessagePack.decode(packed)
        #expect(unpacked == tree)
        #expect(Self.text(JSON.serialize(unpacked)) == text)
        // pretty output parses back to the same tree
        #expect(try JSON.parse(JSON.serializePretty(tree)) == tree)
        #expect(try JSON.validate(Self.bytes(text)) == tree.isNull)
    }

    @Test func jsonParsesValues() throws {
        #expect(
            try JSON.parse(Self.bytes(" \t\r\n[1, -2 ,3.5,\"x\" ]\n "))
                == .array([.int(1), .int(-2), .double(3.5), .string("x")])
        )
        #expect(try JSON.parse(Self.bytes(#""\u00e9\u00E9\ud83d\ude00\/""#)) == .string("éé😀/"))
        #expect(try JSON.parse(Self.bytes(#""\u0000""#)) == .string("\u{0}"))
        #expect(try JSON.parse(Self.bytes("-0")) == .int(0))
        #expect(try JSON.parse(Self.bytes("1E2")) == .double(100))
        #expect(try JSON.parse(Self.bytes("1e-2")) == .double(0.01))
        #expect(try JSON.parse(Self.bytes("0.001")) == .double(0.001))
        #expect(try JSON.parse(Self.bytes("-9223372036854775808")) == .int(.min))
        #expect(try JSON.parse(Self.bytes("18446744073709551615")) == .uint(.max))
        #expect(try JSON.parse(Self.bytes("18446744073709551616")) == .double(18446744073709551616.0))
        #expect(try JSON.parse(Self.bytes("-9223372036854775809")) == .double(-9223372036854775809.0))
        #expect(try JSON.parse(Self.bytes("1e-400")) == .double(0))
        #expect(try JSON.parse(Self.bytes("1.7976931348623157e308")) == .double(.greatestFiniteMagnitude))
        // Just below the rounding midpoint to infinity still rounds to the largest finite.
        #expect(try JSON.parse(Self.bytes("1.7976931348623158e308")) == .double(.greatestFiniteMagnitude))
        #expect(try JSON.parse(Self.bytes("0.1e1")) == .double(1))
        #expect(try JSON.parse(Self.bytes("123456789012345678901234567890")) == .double(1.2345678901234568e29))
        #expect(try JSON.parse(Self.bytes("3.141592653589793238462643383279")) == .double(.pi))
        #expect(try JSON.parse(Self.bytes("2.2250738585072011e-308")) == .double(Double.leastNormalMagnitude.nextDown))
        let long = "0." + String(repeating: "0", count: 400) + "1e401"
        #expect(try JSON.parse(Self.bytes(long)) == .double(1))
        #expect(try JSON.validate(Self.bytes(long)) == false)

        let object = try JSON.parse(Self.bytes(#"{"a":1,"b":{"c":null},"a":2}"#))
        #expect(
            object
                == .object([
                    JSONMember("a", .int(1)), JSONMember("b", .object([JSONMember("c", .null)])),
                    JSONMember("a", .int(2)),
                ])
        )
        #expect(object["a"] == .int(2))
        #expect(object["b"]?["c"] == .null)
        #expect(object["b"]?["c"]?.isNull == true)
        #expect(object["zz"] == nil)
        #expect(JSONValue.array([])["a"] == nil)

        let literal: JSONValue = ["x": [1, 2.5, "s", nil, true]]
        #expect(
            literal == .object([JSONMember("x", .array([.int(1), .double(2.5), .string("s"), .null, .bool(true)]))])
        )
        #expect(literal.description == #"{"x":[1,2.5,"s",null,true]}"#)
    }

    @Test func jsonValidateReportsNull() throws {
        #expect(try JSON.validate(Self.bytes("null")) == true)
        #expect(try JSON.validate(Self.bytes(" \n null\t")) == true)
        #expect(try JSON.validate(Self.bytes("[null]")) == false)
        #expect(try JSON.validate(Self.bytes("{}")) == false)
        #expect(try JSON.validate(Self.bytes(#""null""#)) == false)
        #expect(try JSON.validate(Self.bytes("0")) == false)
        #expect(Self.validateError(Self.bytes("nul")) == CodecError("invalid literal", at: 0))
        #expect(Self.validateError(Self.bytes("null null")) == CodecError("unexpected data after JSON value", at: 5))
        let empty: [UInt8] = []
        empty.withUnsafeBytes { buffer in
            #expect(throws: CodecError("unexpected end of input", at: 0)) { try JSON.validate(buffer) }
            #expect(throws: CodecError("unexpected end of input", at: 0)) { try JSON.parse(buffer) }
            #expect(throws: CodecError("unexpected end of input", at: 0)) { try MessagePack.validate(buffer) }
            #expect(throws: CodecError("unexpected end of input", at: 0)) { try MessagePack.decode(buffer) }
        }
    }

    @Test func jsonSerialization() {
        let value: JSONValue = .object([
            JSONMember("s", .string("q\"b\\n\nt\tc\u{1}\u{1F}\u{7F}é😀")),
            JSONMember(
                "d",
                .array([
                    .double(1), .double(-0.5), .double(.infinity), .double(-.infinity), .double(.nan), .double(1e100),
                ])
            ),
            JSONMember("i", .array([.int(.min), .int(.max), .uint(.max), .int(0)])),
            JSONMember("b", .binary([0, 1, 2, 0xFF])),
            JSONMember("e", .binary([])),
        ])
        let expected =
            #"{"s":"q\"b\\n\nt\tc\u0001\u001f"# + "\u{7F}é😀" + #"","d":[1.0,-0.5,null,null,null,1e+100],"#
            + #""i":[-9223372036854775808,9223372036854775807,18446744073709551615,0],"#
            + #""b":{"$binary":"AAEC/w=="},"e":{"$binary":""}}"#
        #expect(Self.text(JSON.serialize(value)) == expected)

        var buffer = Self.bytes("prefix:")
        JSON.serialize(.array([.int(1)]), into: &buffer)
        #expect(Self.text(buffer) == "prefix:[1]")

        let pretty: JSONValue = [
            "a": 1, "b": [true, nil, [], [:]], "c": ["d": "e"], "f": .binary([1, 2, 3]),
        ]
        let expectedPretty = """
            {
              "a": 1,
              "b": [
                true,
                null,
                [],
                {}
              ],
              "c": {
                "d": "e"
              },
              "f": {
                "$binary": "AQID"
              }
            }
            """
        #expect(Self.text(JSON.serializePretty(pretty)) == expectedPretty)
        #expect(Self.text(JSON.serializePretty(.int(3))) == "3")
        #expect(Self.text(JSON.serializePretty(.array([]))) == "[]")
    }

    // MARK: - JSON errors

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var input: [UInt8]
        var message: String
        var offset: Int
        init(_ input: String, _ message: String, _ offset: Int) {
            self.input = Array(input.utf8)
            self.message = message
            self.offset = offset
        }
        init(bytes: [UInt8], _ message: String, _ offset: Int) {
            self.input = bytes
            self.message = message
            self.offset = offset
        }
        var testDescription: String { "\(message) @\(offset)" }
    }

    static let jsonErrorCases: [ErrorCase] = [
        ErrorCase("", "unexpected end of input", 0),
        ErrorCase("   ", "unexpected end of input", 3),
        ErrorCase("[", "unexpected end of input", 1),
        ErrorCase("[1", "unexpected end of input", 2),
        ErrorCase("[1,", "unexpected end of input", 3),
        ErrorCase(#"{"a""#, "unexpected end of input", 4),
        ErrorCase(#"{"a":"#, "unexpected end of input", 5),
        ErrorCase("[1,]", "trailing comma in array", 3),
        ErrorCase("[1, ]", "trailing comma in array", 4),
        ErrorCase(#"{"a":1,}"#, "trailing comma in object", 7),
        ErrorCase("[,1]", "expected a value", 1),
        ErrorCase("[1 2]", "expected ',' or ']' after array element", 3),
        ErrorCase("[1}", "expected ',' or ']' after array element", 2),
        ErrorCase(#"{"a":1 "b":2}"#, "expected ',' or '}' after object member", 7),
        ErrorCase(#"{"a":1]"#, "expected ',' or '}' after object member", 6),
        ErrorCase("{1:2}", "expected string key in object", 1),
        ErrorCase("{,}", "expected string key in object", 1),
        ErrorCase(#"{"a" 1}"#, "expected ':' after object key", 5),
        ErrorCase("01", "leading zeros are not allowed", 0),
        ErrorCase("-01", "leading zeros are not allowed", 1),
        ErrorCase("[00]", "leading zeros are not allowed", 1),
        ErrorCase("NaN", "NaN and Infinity are not allowed", 0),
        ErrorCase("Infinity", "NaN and Infinity are not allowed", 0),
        ErrorCase("[-Infinity]", "NaN and Infinity are not allowed", 1),
        ErrorCase("-", "expected digit", 1),
        ErrorCase("-a", "expected digit", 1),
        ErrorCase("1.", "expected digit after decimal point", 2),
        ErrorCase("1.e5", "expected digit after decimal point", 2),
        ErrorCase("1e", "expected digit in exponent", 2),
        ErrorCase("1e+", "expected digit in exponent", 3),
        ErrorCase(".5", "unexpected byte, expected a value", 0),
        ErrorCase("+1", "unexpected byte, expected a value", 0),
        ErrorCase("1e400", "number out of range", 0),
        ErrorCase("[-1e400]", "number out of range", 1),
        ErrorCase("1.7976931348623159e308", "number out of range", 0),
        ErrorCase(
            "17976931348623158079372897140530341507993413271003782693617377898044496829276475094664901797758720709633028641669288791094655554785194040263065748867150582068190890200070838367627385484581771153176447573027006985557136695962284291481986083493647529271907416844436551070434271155969950809304288017790417449779200",
            "number out of range",
            0
        ),
        ErrorCase("1e99999999999999999999999", "number out of range", 0),
        ErrorCase("tru", "invalid literal", 0),
        ErrorCase("nul", "invalid literal", 0),
        ErrorCase("nulL", "invalid literal", 0),
        ErrorCase("[falsy]", "invalid literal", 1),
        ErrorCase("true false", "unexpected data after JSON value", 5),
        ErrorCase("{}x", "unexpected data after JSON value", 2),
        ErrorCase("1 2", "unexpected data after JSON value", 2),
        ErrorCase("\"abc", "unterminated string", 0),
        ErrorCase(#"["abc\"]"#, "unterminated string", 1),
        ErrorCase(#""\"#, "unterminated string", 0),
        ErrorCase("\"a\u{01}b\"", "unescaped control character in string", 2),
        ErrorCase("\"abcdefghijklmnop\nq\"", "unescaped control character in string", 17),
        ErrorCase(#""\x""#, "invalid escape sequence", 1),
        ErrorCase(#""ab\U0041""#, "invalid escape sequence", 3),
        ErrorCase(#""\u12G4""#, "invalid \\u escape", 1),
        ErrorCase(#""\u12""#, "invalid \\u escape", 1),
        ErrorCase(#""\ud800""#, "lone surrogate in \\u escape", 1),
        ErrorCase(#""x\udc00""#, "lone surrogate in \\u escape", 2),
        ErrorCase(#""\ud800\u0041""#, "lone surrogate in \\u escape", 1),
        ErrorCase(#""\ud800\ud800""#, "lone surrogate in \\u escape", 1),
        ErrorCase(#""\ud800x""#, "lone surrogate in \\u escape", 1),
        ErrorCase(bytes: [0x22, 0x61, 0xFF, 0x22], "invalid UTF-8 in string", 2),
        ErrorCase(bytes: [0x22, 0xC0, 0x80, 0x22], "invalid UTF-8 in string", 1),  // overlong
        ErrorCase(bytes: [0x22, 0xE0, 0x80, 0x80, 0x22], "invalid UTF-8 in string", 1),  // overlong
        ErrorCase(bytes: [0x22, 0xED, 0xA0, 0x80, 0x22], "invalid UTF-8 in string", 1),  // surrogate
        ErrorCase(bytes: [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "invalid UTF-8 in string", 1),  // > U+10FFFF
        ErrorCase(bytes: [0x22, 0xC3, 0x22], "invalid UTF-8 in string", 1),  // truncated sequence
        ErrorCase(bytes: [0x22, 0xC3], "invalid UTF-8 in string", 1),
        ErrorCase(bytes: [0x22] + Array("abcdefghijklmnop".utf8) + [0x80, 0x22], "invalid UTF-8 in string", 17),
        ErrorCase(bytes: [0xEF, 0xBB, 0xBF, 0x31], "unexpected byte, expected a value", 0),  // BOM
        ErrorCase(bytes: [0x5B, 0x00, 0x5D], "unexpected byte, expected a value", 1),
        ErrorCase(
            String(repeating: "[", count: 513) + String(repeating: "]", count: 513),
            "nesting depth exceeds 512",
            512
        ),
        ErrorCase(
            String(repeating: #"{"a":"#, count: 513) + "1" + String(repeating: "}", count: 513),
            "nesting depth exceeds 512",
            512 * 5
        ),
        ErrorCase(String(repeating: "[", count: 100_000), "nesting depth exceeds 512", 512),
    ]

    @Test(arguments: jsonErrorCases)
    func jsonError(_ c: ErrorCase) {
        let expected = CodecError(c.message, at: c.offset)
        #expect(Self.parseError(c.input) == expected)
        #expect(Self.validateError(c.input) == expected)
    }

    @Test func jsonMaximumDepthIsAccepted() throws {
        let deep = Self.bytes(String(repeating: "[", count: 512) + String(repeating: "]", count: 512))
        var tree = try JSON.parse(deep)
        #expect(try JSON.validate(deep) == false)
        #expect(JSON.serialize(tree) == deep)
        #expect(try MessagePack.decode(MessagePack.encode(tree)) == tree)
        var depth = 0
        while case .array(let inner) = tree {
            depth += 1
            tree = inner.first ?? .null
        }
        #expect(depth == 512)
        #expect(CodecError("x", at: 3).description == "x at byte 3")
    }

    // MARK: - Base64

    @Test func base64() {
        let vectors = [
            ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
        ]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        let all = (0...255).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(all)) == all)
        #expect(Base64.encode([0xFB, 0xFF]) == "+/8=")
        for bad in ["Zg=", "Z===", "====", "Zg==Zg==", "Zm9v!A==", "Zm9", "Zm 9v", "Z=g="] {
            #expect(Base64.decode(bad) == nil, "\(bad)")
        }
    }

    // MARK: - MessagePack spec vectors

    static func str(_ n: Int) -> String { String(repeating: "a", count: n) }
    static func strBytes(_ n: Int) -> [UInt8] { [UInt8](repeating: 0x61, count: n) }

    static let msgpackVectors: [(JSONValue, [UInt8])] = [
        (.object([JSONMember("a", .int(1))]), [0x81, 0xA1, 0x61, 0x01]),
        (.null, [0xC0]),
        (.bool(false), [0xC2]),
        (.bool(true), [0xC3]),
        (.int(0), [0x00]),
        (.int(127), [0x7F]),
        (.int(128), [0xCC, 0x80]),
        (.int(255), [0xCC, 0xFF]),
        (.int(256), [0xCD, 0x01, 0x00]),
        (.int(65535), [0xCD, 0xFF, 0xFF]),
        (.int(65536), [0xCE, 0x00, 0x01, 0x00, 0x00]),
        (.int(4_294_967_296), [0xCF, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00]),
        (.int(.max), [0xCF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        (.uint(.max), [0xCF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        (.uint(1 << 63), [0xCF, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
        (.int(-1), [0xFF]),
        (.int(-32), [0xE0]),
        (.int(-33), [0xD0, 0xDF]),
        (.int(-128), [0xD0, 0x80]),
        (.int(-129), [0xD1, 0xFF, 0x7F]),
        (.int(-32768), [0xD1, 0x80, 0x00]),
        (.int(-32769), [0xD2, 0xFF, 0xFF, 0x7F, 0xFF]),
        (.int(-2_147_483_649), [0xD3, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF]),
        (.int(.min), [0xD3, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
        (.double(1.5), [0xCB, 0x3F, 0xF8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
        (.double(-0.0), [0xCB, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
        (.string(""), [0xA0]),
        (.string("é"), [0xA2, 0xC3, 0xA9]),
        (.string(str(31)), [0xBF] + strBytes(31)),
        (.string(str(32)), [0xD9, 0x20] + strBytes(32)),
        (.string(str(255)), [0xD9, 0xFF] + strBytes(255)),
        (.string(str(256)), [0xDA, 0x01, 0x00] + strBytes(256)),
        (.string(str(65536)), [0xDB, 0x00, 0x01, 0x00, 0x00] + strBytes(65536)),
        (.binary([]), [0xC4, 0x00]),
        (.binary([1, 2, 3]), [0xC4, 0x03, 0x01, 0x02, 0x03]),
        (.binary(strBytes(256)), [0xC5, 0x01, 0x00] + strBytes(256)),
        (.binary(strBytes(65536)), [0xC6, 0x00, 0x01, 0x00, 0x00] + strBytes(65536)),
        (.array([]), [0x90]),
        (.array([.int(1), .int(2)]), [0x92, 0x01, 0x02]),
        (.array(Array(repeating: .null, count: 15)), [0x9F] + Array(repeating: 0xC0, count: 15)),
        (.array(Array(repeating: .null, count: 16)), [0xDC, 0x00, 0x10] + Array(repeating: 0xC0, count: 16)),
        (
            .array(Array(repeating: .null, count: 65536)),
            [0xDD, 0x00, 0x01, 0x00, 0x00] + Array(repeating: 0xC0, count: 65536)
        ),
        (.object([]), [0x80]),
        (
            .object((0..<16).map { JSONMember(String(UnicodeScalar(UInt8(0x61 + $0))), .int(Int64($0))) }),
            [0xDE, 0x00, 0x10] + (0..<16).flatMap { [0xA1, UInt8(0x61 + $0), UInt8($0)] }
        ),
    ]

    @Test func msgpackSpecVectors() throws {
        for (value, encoded) in Self.msgpackVectors {
            #expect(MessagePack.encode(value) == encoded, "\(value)")
            #expect(try MessagePack.decode(encoded) == value, "\(encoded.prefix(12))")
            try MessagePack.validate(encoded)
        }
        var buffer: [UInt8] = [0xAA]
        MessagePack.encode(.bool(true), into: &buffer)
        #expect(buffer == [0xAA, 0xC3])
        // map32 is used from 65536 entries
        let bigMap = JSONValue.object((0..<65536).map { JSONMember("", .int(Int64($0 & 0x7F))) })
        let packed = MessagePack.encode(bigMap)
        #expect(packed.prefix(5) == [0xDF, 0x00, 0x01, 0x00, 0x00])
        #expect(try MessagePack.decode(packed) == bigMap)
    }

    /// Encodings we never produce but must decode.
    static let msgpackDecodeOnly: [([UInt8], JSONValue)] = [
        ([0xCA, 0x3F, 0xC0, 0x00, 0x00], .double(1.5)),  // float32
        ([0xCA, 0xFF, 0x80, 0x00, 0x00], .double(-.infinity)),
        ([0xD0, 0x01], .int(1)),  // non-minimal int8
        ([0xD0, 0xFF], .int(-1)),
        ([0xD1, 0x00, 0x05], .int(5)),
        ([0xD2, 0xFF, 0xFF, 0xFF, 0xFE], .int(-2)),
        ([0xD3, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07], .int(7)),
        ([0xCC, 0x05], .int(5)),
        ([0xCE, 0xFF, 0xFF, 0xFF, 0xFF], .int(4_294_967_295)),
        ([0xCF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05], .int(5)),
        ([0xD9, 0x03, 0x61, 0x62, 0x63], .string("abc")),  // non-minimal str8
        ([0xDA, 0x00, 0x01, 0x61], .string("a")),
        ([0xDB, 0x00, 0x00, 0x00, 0x00], .string("")),
        ([0xC5, 0x00, 0x01, 0x09], .binary([9])),
        ([0xC6, 0x00, 0x00, 0x00, 0x00], .binary([])),
        ([0xD4, 0x01, 0xAA], .binary([0xAA])),  // fixext1
        ([0xD5, 0x01, 0xAA, 0xBB], .binary([0xAA, 0xBB])),
        ([0xD6, 0xFF, 0x00, 0x00, 0x00, 0x01], .binary([0, 0, 0, 1])),  // timestamp32
        ([0xD7, 0x02] + [UInt8](repeating: 7, count: 8), .binary([UInt8](repeating: 7, count: 8))),
        ([0xD8, 0x02] + [UInt8](repeating: 8, count: 16), .binary([UInt8](repeating: 8, count: 16))),
        ([0xC7, 0x02, 0x05, 0xAA, 0xBB], .binary([0xAA, 0xBB])),  // ext8
        ([0xC7, 0x00, 0x05], .binary([])),
        ([0xC8, 0x00, 0x01, 0x05, 0xAA], .binary([0xAA])),  // ext16
        ([0xC9, 0x00, 0x00, 0x00, 0x01, 0x05, 0xAA], .binary([0xAA])),  // ext32
        ([0xDC, 0x00, 0x01, 0xC0], .array([.null])),  // non-minimal array16
        ([0xDD, 0x00, 0x00, 0x00, 0x01, 0xC0], .array([.null])),
        ([0xDE, 0x00, 0x01, 0xA1, 0x6B, 0xC3], .object([JSONMember("k", .bool(true))])),
        ([0xDF, 0x00, 0x00, 0x00, 0x01, 0xA1, 0x6B, 0xC2], .object([JSONMember("k", .bool(false))])),
        // non-string keys become their JSON text
        ([0x81, 0x01, 0x02], .object([JSONMember("1", .int(2))])),
        ([0x82, 0xC0, 0xC3, 0xFF, 0xC2], .object([JSONMember("null", .bool(true)), JSONMember("-1", .bool(false))])),
        ([0x81, 0x92, 0x01, 0xA1, 0x22, 0xC0], .object([JSONMember(#"[1,"\""]"#, .null)])),
        ([0x81, 0x81, 0xA1, 0x61, 0x01, 0x02], .object([JSONMember(#"{"a":1}"#, .int(2))])),
        ([0x81, 0x91, 0x81, 0xA1, 0x61, 0x91, 0x01, 0xC0], .object([JSONMember(#"[{"a":[1]}]"#, .null)])),
        ([0x81, 0xA1, 0x6B, 0x81, 0x01, 0x02], .object([JSONMember("k", .object([JSONMember("1", .int(2))]))])),
        ([0x81, 0xCB, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0, 0x00], .object([JSONMember("1.5", .int(0))])),
        ([0x81, 0xC4, 0x01, 0xFF, 0x00], .object([JSONMember(#"{"$binary":"/w=="}"#, .int(0))])),
    ]

    @Test func msgpackDecodesOtherEncodings() throws {
        for (encoded, value) in Self.msgpackDecodeOnly {
            #expect(try MessagePack.decode(encoded) == value, "\(encoded)")
            try MessagePack.validate(encoded)
        }
        let nan = try MessagePack.decode([0xCB, 0x7F, 0xF8, 0, 0, 0, 0, 0, 1])
        guard case .double(let d) = nan else {
            Issue.record("expected a double")
            return
        }
        #expect(d.isNaN)
        #expect(Self.text(JSON.serialize(nan)) == "null")
    }

    // MARK: - MessagePack errors

    static let msgpackErrorCases: [ErrorCase] = [
        ErrorCase(bytes: [], "unexpected end of input", 0),
        ErrorCase(bytes: [0xC1], "reserved byte 0xc1", 0),
        ErrorCase(bytes: [0x92, 0x01, 0xC1], "reserved byte 0xc1", 2),
        ErrorCase(bytes: [0xC0, 0xC0], "trailing bytes after MessagePack object", 1),
        ErrorCase(bytes: [0x91, 0x01, 0x02], "trailing bytes after MessagePack object", 2),
        ErrorCase(bytes: [0x92, 0x91, 0x01], "unexpected end of input", 3),
        ErrorCase(bytes: [0x82, 0xA1, 0x61, 0x01], "truncated map: declares 2 entries, 3 bytes remain", 0),
        ErrorCase(bytes: [0x82, 0xA1, 0x61, 0x01, 0x02], "unexpected end of input", 5),
        ErrorCase(bytes: [0xCC], "truncated uint8: needs 1 bytes, 0 remain", 0),
        ErrorCase(bytes: [0xCD, 0x01], "truncated uint16: needs 2 bytes, 1 remain", 0),
        ErrorCase(bytes: [0xCE, 0x01, 0x02, 0x03], "truncated uint32: needs 4 bytes, 3 remain", 0),
        ErrorCase(bytes: [0xCF, 0, 0, 0, 0, 0, 0, 0], "truncated uint64: needs 8 bytes, 7 remain", 0),
        ErrorCase(bytes: [0x91, 0xD3, 0, 0], "truncated int64: needs 8 bytes, 2 remain", 1),
        ErrorCase(bytes: [0xD0], "truncated int8: needs 1 bytes, 0 remain", 0),
        ErrorCase(bytes: [0xCA, 0, 0], "truncated float32: needs 4 bytes, 2 remain", 0),
        ErrorCase(bytes: [0xCB, 0, 0, 0, 0, 0, 0, 0], "truncated float64: needs 8 bytes, 7 remain", 0),
        ErrorCase(bytes: [0xA3, 0x61], "truncated fixstr: needs 3 bytes, 1 remain", 0),
        ErrorCase(bytes: [0xD9], "truncated str8: needs 1 bytes, 0 remain", 0),
        ErrorCase(bytes: [0xD9, 0x05, 0x61], "truncated str8: needs 5 bytes, 1 remain", 0),
        ErrorCase(bytes: [0xDA, 0xFF, 0xFF], "truncated str16: needs 65535 bytes, 0 remain", 0),
        ErrorCase(bytes: [0xDB, 0xFF, 0xFF, 0xFF, 0xFF, 0x61], "truncated str32: needs 4294967295 bytes, 1 remain", 0),
        ErrorCase(bytes: [0xC4, 0x02, 0x00], "truncated bin8: needs 2 bytes, 1 remain", 0),
        ErrorCase(bytes: [0xC5, 0x00], "truncated bin16: needs 2 bytes, 1 remain", 0),
        ErrorCase(bytes: [0xC6, 0xFF, 0xFF, 0xFF, 0xFF], "truncated bin32: needs 4294967295 bytes, 0 remain", 0),
        ErrorCase(bytes: [0xC7], "truncated ext8: needs 1 bytes, 0 remain", 0),
        ErrorCase(bytes: [0xC7, 0x01, 0x05], "truncated ext8: needs 2 bytes, 1 remain", 0),
        ErrorCase(bytes: [0xC9, 0xFF, 0xFF, 0xFF, 0xFF, 0x05], "truncated ext32: needs 4294967296 bytes, 1 remain", 0),
        ErrorCase(bytes: [0xD4, 0x01], "truncated fixext1: needs 2 bytes, 1 remain", 0),
        ErrorCase(bytes: [0xD8, 0x01, 0x00], "truncated fixext16: needs 17 bytes, 2 remain", 0),
        ErrorCase(bytes: [0x93, 0x01], "truncated array: declares 3 elements, 1 bytes remain", 0),
        ErrorCase(bytes: [0xDC, 0xFF, 0xFF], "truncated array: declares 65535 elements, 0 bytes remain", 0),
        ErrorCase(
            bytes: [0xDD, 0xFF, 0xFF, 0xFF, 0xFF, 0xC0],
            "truncated array: declares 4294967295 elements, 1 bytes remain",
            0
        ),
        ErrorCase(bytes: [0xDE, 0x00], "truncated map16: needs 2 bytes, 1 remain", 0),
        ErrorCase(
            bytes: [0xDF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC0, 0xC0],
            "truncated map: declares 4294967295 entries, 2 bytes remain",
            0
        ),
        ErrorCase(bytes: [0xA2, 0xC3, 0x28], "invalid UTF-8 in string", 1),
        ErrorCase(bytes: [0xA1, 0xFF], "invalid UTF-8 in string", 1),
        ErrorCase(bytes: [0xA3, 0xED, 0xA0, 0x80], "invalid UTF-8 in string", 1),
        ErrorCase(bytes: [0xA2, 0xC0, 0x80], "invalid UTF-8 in string", 1),
        ErrorCase(bytes: [0xD9, 0x0A] + Array("abcdefghi".utf8) + [0x80], "invalid UTF-8 in string", 11),
        ErrorCase(bytes: [0x81, 0xA1, 0xFF, 0xC0], "invalid UTF-8 in string", 2),
        ErrorCase(bytes: [UInt8](repeating: 0x91, count: 513) + [0xC0], "nesting depth exceeds 512", 512),
        ErrorCase(
            bytes: Array([[UInt8]](repeating: [0x81, 0xA0], count: 513).joined()) + [0xC0],
            "nesting depth exceeds 512",
            1024
        ),
        ErrorCase(
            bytes: [0x81, 0x91] + [UInt8](repeating: 0x91, count: 511) + [0xC0, 0xC0],
            "nesting depth exceeds 512",
            512
        ),
        // Non-string keys nested in non-string keys would grow exponentially when re-escaped.
        ErrorCase(
            bytes: [UInt8](repeating: 0x81, count: 513) + [UInt8](repeating: 0xC0, count: 514),
            "non-string map key inside a non-string map key",
            2
        ),
        ErrorCase(bytes: [0x81, 0x91, 0x81, 0x01, 0x02, 0xC0], "non-string map key inside a non-string map key", 3),
        ErrorCase(
            bytes: [0x81, 0x81, 0xA1, 0x61, 0x81, 0xC0, 0xC0, 0xC0],
            "non-string map key inside a non-string map key",
            5
        ),
        ErrorCase(bytes: [UInt8](repeating: 0x91, count: 100_000), "nesting depth exceeds 512", 512),
    ]

    @Test(arguments: msgpackErrorCases)
    func msgpackError(_ c: ErrorCase) {
        let expected = CodecError(c.message, at: c.offset)
        #expect(Self.decodeError(c.input) == expected)
        #expect(Self.msgpackValidateError(c.input) == expected)
    }

    @Test func msgpackMaximumDepthIsAccepted() throws {
        let deep = [UInt8](repeating: 0x91, count: 512) + [0xC0]
        try MessagePack.validate(deep)
        let tree = try MessagePack.decode(deep)
        #expect(MessagePack.encode(tree) == deep)
        // map keys and values count toward the depth too
        let deepValues = Array([[UInt8]](repeating: [0x81, 0xA0], count: 512).joined()) + [0xC0]
        try MessagePack.validate(deepValues)
        #expect(MessagePack.encode(try MessagePack.decode(deepValues)) == deepValues)
        let deepKeys = [0x81] + Array([[UInt8]](repeating: [0x91], count: 511).joined()) + [0xC0, 0xC0]
        try MessagePack.validate(deepKeys)
        let decoded = try MessagePack.decode(deepKeys)
        #expect(
            decoded
                == .object([
                    JSONMember(String(repeating: "[", count: 511) + "null" + String(repeating: "]", count: 511), .null)
                ])
        )
    }

    // MARK: - Property tests

    static let scalarPool: [Unicode.Scalar] = [
        "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\r", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}",
        "é", "ß", "中", "\u{2028}", "\u{FEFF}", "\u{FFFF}", "😀", "\u{10FFFF}", "👩",
    ]

    static func randomString(_ rng: inout SplitMix64) -> String {
        var s = String.UnicodeScalarView()
        let length = rng.chance(3) ? 32 + rng.below(300) : rng.below(12)
        for _ in 0..<length {
            if rng.chance(60) {
                s.append(Unicode.Scalar(UInt8(0x20 + rng.below(0x5F))))
            } else if rng.chance(50) {
                s.append(scalarPool[rng.below(scalarPool.count)])
            } else {
                var v = UInt32(rng.below(0x110000))
                if (0xD800...0xDFFF).contains(v) { v -= 0x800 }
                s.append(Unicode.Scalar(v)!)
            }
        }
        return String(s)
    }

    static func randomDouble(_ rng: inout SplitMix64) -> Double {
        switch rng.below(5) {
        case 0: return Double(Int64(bitPattern: rng.next()) >> rng.below(64)) / 1000
        case 1:
            return [
                0.0, -0.0, 1.0, -1.0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                .leastNonzeroMagnitude, .leastNormalMagnitude, 0.1, 1e22, 1e23, 9_007_199_254_740_994,
            ][rng.below(12)]
        default:
            while true {
                let d = Double(bitPattern: rng.next())
                if d.isFinite { return d }
            }
        }
    }

    static func randomInt(_ rng: inout SplitMix64) -> Int64 {
        switch rng.below(4) {
        case 0:
            return [
                0, 1, -1, 31, -32, -33, 127, 128, -128, -129, 255, 256, 65535, 65536, -32768, -32769,
                Int64(Int32.max), Int64(Int32.min), Int64(UInt32.max), .max, .min,
            ][rng.below(21)]
        case 1: return Int64(rng.below(200)) - 100
        default: return Int64(bitPattern: rng.next()) >> rng.below(64)
        }
    }

    static func randomTree(_ rng: inout SplitMix64, depth: Int, binary: Bool) -> JSONValue {
        let kinds = depth >= 5 ? 8 : 10
        switch rng.below(kinds) {
        case 0: return .null
        case 1: return .bool(rng.chance(50))
        case 2, 3: return .int(randomInt(&rng))
        case 4: return .uint(UInt64(Int64.max) + 1 + rng.next() % UInt64(Int64.max))
        case 5: return .double(randomDouble(&rng))
        case 6: return .string(randomString(&rng))
        case 7:
            if binary {
                return .binary(
                    (0..<(rng.chance(5) ? 300 : rng.below(10))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                )
            }
            return .string(randomString(&rng))
        case 8:
            let count = rng.chance(5) ? 16 + rng.below(10) : rng.below(6)
            return .array((0..<count).map { _ in randomTree(&rng, depth: depth + 1, binary: binary) })
        default:
            let count = rng.chance(5) ? 16 + rng.below(10) : rng.below(6)
            return .object(
                (0..<count).map { _ in
                    JSONMember(
                        rng.chance(10) ? "dup" : randomString(&rng),
                        randomTree(&rng, depth: depth + 1, binary: binary)
                    )
                }
            )
        }
    }

    @Test func randomTreesRoundTrip() throws {
        var rng = SplitMix64(state: 0x5EED_1234)
        for _ in 0..<2000 {
            let withBinary = Self.randomTree(&rng, depth: 0, binary: true)
            let packed = MessagePack.encode(withBinary)
            try MessagePack.validate(packed)
            #expect(try MessagePack.decode(packed) == withBinary)

            let tree = Self.randomTree(&rng, depth: 0, binary: false)
            let text = JSON.serialize(tree)
            #expect(try JSON.validate(text) == tree.isNull)
            let parsed = try JSON.parse(text)
            #expect(parsed == tree, "\(Self.text(text))")
            #expect(JSON.serialize(parsed) == text)
            #expect(try JSON.parse(JSON.serializePretty(tree)) == tree)
            #expect(try MessagePack.decode(MessagePack.encode(tree)) == tree)
        }
    }

    /// Bytes that look a lot like JSON, to reach deep into the parser.
    static let jsonTokens: [[UInt8]] =
        [
            "{", "}", "[", "]", ",", ":", "\"", "\\", "u", "d8", "dc", "00", "0", "1", "9", "-", "+", ".", "e", "E",
            "true", "false", "null", "tru", " ", "\n", "\"a\"", "\"k\":", "1e400", "\\ud800", "\\udc00", "NaN",
        ].map { Array($0.utf8) } + [
            [0x01], [0x7F], [0xFF], [0xC3, 0xA9], [0xC3], [0xED, 0xA0, 0x80], [0xF0, 0x9F, 0x98, 0x80],
        ]

    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = input
        for _ in 0..<(1 + rng.below(3)) {
            switch rng.below(4) {
            case 0 where !b.isEmpty: b[rng.below(b.count)] = UInt8(truncatingIfNeeded: rng.next())
            case 1 where !b.isEmpty: b.remove(at: rng.below(b.count))
            case 2: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.below(b.count + 1))
            default: b = Array(b.prefix(rng.below(b.count + 1)))
            }
        }
        return b
    }

    static func checkJSONAgreement(_ input: [UInt8]) {
        let parsed: Result<JSONValue, CodecError>
        do { parsed = .success(try JSON.parse(input)) } catch { parsed = .failure(error) }
        let validated: Result<Bool, CodecError>
        do { validated = .success(try JSON.validate(input)) } catch { validated = .failure(error) }
        switch (parsed, validated) {
        case (.success(let value), .success(let isNull)):
            #expect(isNull == value.isNull)
            #expect((try? JSON.parse(JSON.serialize(value))) == value)
        case (.failure(let e1), .failure(let e2)):
            #expect(e1 == e2)
            #expect(e1.offset >= 0 && e1.offset <= input.count)
        default:
            Issue.record("parse and validate disagree on \(input): \(parsed) vs \(validated)")
        }
    }

    static func checkMessagePackAgreement(_ input: [UInt8]) {
        let decoded: Result<JSONValue, CodecError>
        do { decoded = .success(try MessagePack.decode(input)) } catch { decoded = .failure(error) }
        let validated: Result<Void, CodecError>
        do { validated = .success(try MessagePack.validate(input)) } catch { validated = .failure(error) }
        switch (decoded, validated) {
        case (.success(let value), .success):
            let again = MessagePack.encode(value)
            #expect((try? MessagePack.decode(again)).map(MessagePack.encode) == again)
        case (.failure(let e1), .failure(let e2)):
            #expect(e1 == e2)
            #expect(e1.offset >= 0 && e1.offset <= input.count)
        default:
            Issue.record("decode and validate disagree on \(input)")
        }
    }

    @Test func randomBytesNeverCrash() {
        var rng = SplitMix64(state: 42)
        var jsonAccepted = 0
        var msgpackAccepted = 0
        for round in 0..<6000 {
            let input: [UInt8]
            switch round % 3 {
            case 0:  // uniformly random bytes
                input = (0..<rng.below(40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1:  // random JSON-ish tokens
                input = (0..<rng.below(20)).flatMap { _ in Self.jsonTokens[rng.below(Self.jsonTokens.count)] }
            default:  // mutated valid documents
                let tree = Self.randomTree(&rng, depth: 2, binary: true)
                input = Self.mutate(rng.chance(50) ? JSON.serialize(tree) : MessagePack.encode(tree), &rng)
            }
            Self.checkJSONAgreement(input)
            Self.checkMessagePackAgreement(input)
            if (try? JSON.validate(input)) != nil { jsonAccepted += 1 }
            if (try? MessagePack.validate(input)) != nil { msgpackAccepted += 1 }
        }
        // The generators reach both outcomes.
        #expect(jsonAccepted > 100)
        #expect(msgpackAccepted > 100)
    }
}

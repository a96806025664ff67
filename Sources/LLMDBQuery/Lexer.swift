public import LLMDB

/// A position in the query text (1-based).
public struct SourcePosition: Sendable, Hashable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public var description: String { "line \(line), column \(column)" }
}

/// An LQL error: what was wrong, where, and (for syntax errors) what was expected.
public struct QueryError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let position: SourcePosition?
    public var description: String { position.map { "\($0): \(message)" } ?? message }

    init(_ message: String, at position: SourcePosition? = nil) {
        self.message = message
        self.position = position
    }

    /// As an ``LLMDBError`` (code `invalid_query`), for callers that handle those.
    public var asLLMDBError: LLMDBError { LLMDBError(.invalidQuery, description) }
}

struct Token: Sendable {
    enum Kind: Sendable, Equatable {
        case identifier(String)  // also keywords; compared case-insensitively
        case quotedIdentifier(String)  // "name"
        case string(String)
        case integer(Int64)
        case double(Double)
        case parameter(String)  // $1 → "1", :name → "name"
        case symbol(String)  // ( ) , . * = != <> < <= > >= + - / % ;
        case end
    }
    let kind: Kind
    let position: SourcePosition

    var text: String {
        switch kind {
        case .identifier(let s): s
        case .quotedIdentifier(let s): "\"\(s)\""
        case .string(let s): "'\(s)'"
        case .integer(let n): String(n)
        case .double(let d): String(d)
        case .parameter(let p): Int(p) != nil ? "$\(p)" : ":\(p)"
        case .symbol(let s): s
        case .end: "the end of the query"
        }
    }

    func isKeyword(_ k: String) -> Bool {
        if case .identifier(let s) = kind { return s.uppercased() == k }
        return false
    }
}

/// Splits LQL text into tokens; never crashes on any input.
enum Lexer {
    static func tokens(_ text: String) throws(QueryError) -> [Token] {
        let chars = Array(text.unicodeScalars)
        var out: [Token] = []
        var i = 0
        var line = 1
        var col = 1
        func advance(_ n: Int = 1) {
            for _ in 0..<n where i < chars.count {
                if chars[i] == "\n" {
                    line += 1
                    col = 1
                } else {
                    col += 1
                }
                i += 1
            }
        }
        func isIdentStart(_ c: Unicode.Scalar) -> Bool { c == "_" || c.properties.isAlphabetic }
        func isIdent(_ c: Unicode.Scalar) -> Bool { isIdentStart(c) || ("0"..."9").contains(c) }
        while i < chars.count {
            let c = chars[i]
            let pos = SourcePosition(line: line, column: col)
            if c == " " || c == "\t" || c == "\n" || c == "\r" {
                advance()
                continue
            }
            if c == "-" && i + 1 < chars.count && chars[i + 1] == "-" {
                while i < chars.count && chars[i] != "\n" { advance() }
                continue
            }
            if isIdentStart(c) {
                var s = ""
                while i < chars.count && isIdent(chars[i]) {
                    s.unicodeScalars.append(chars[i])
                    advance()
                }
                out.append(Token(kind: .identifier(s), position: pos))
                continue
            }
            if ("0"..."9").contains(c) {
                var s = ""
                var isDouble = false
                while i < chars.count && (("0"..."9").contains(chars[i]) || chars[i] == ".") {
                    if chars[i] == "." {
                        // `1.x` where x is not a digit is not a number's fraction.
                        if isDouble || i + 1 >= chars.count || !("0"..."9").contains(chars[i + 1]) { break }
                        isDouble = true
                    }
                    s.unicodeScalars.append(chars[i])
                    advance()
                }
                if i < chars.count && (chars[i] == "e" || chars[i] == "E") {
                    var exp = "e"
                    var j = i + 1
                    if j < chars.count && (chars[j] == "+" || chars[j] == "-") {
                        exp.unicodeScalars.append(chars[j])
                        j += 1
                    }
                    if j < chars.count && ("0"..."9").contains(chars[j]) {
                        advance(j - i)
                        while i < chars.count && ("0"..."9").contains(chars[i]) {
                            exp.unicodeScalars.append(chars[i])
                            advance()
                        }
                        s += exp
                        isDouble = true
                    }
                }
                if isDouble {
                    guard let d = Double(s), d.isFinite else {
                        throw QueryError("the number \(s) is out of range", at: pos)
                    }
                    out.append(Token(kind: .double(d), position: pos))
                } else {
                    guard let n = Int64(s) else { throw QueryError("the integer \(s) is out of range", at: pos) }
                    out.append(Token(kind: .integer(n), position: pos))
                }
                continue
            }
            if c == "'" || c == "\"" {
                let quote = c
                advance()
                var s = ""
                var closed = false
                while i < chars.count {
                    if chars[i] == quote {
                        if i + 1 < chars.count && chars[i + 1] == quote {
                            s.unicodeScalars.append(quote)
                            advance(2)
                            continue
                        }
                        advance()
                        closed = true
                        break
                    }
                    s.unicodeScalars.append(chars[i])
                    advance()
                }
                guard closed else {
                    throw QueryError(
                        quote == "'"
                            ? "unterminated string: expected a closing '"
                            : "unterminated quoted name: expected a closing \"",
                        at: pos
                    )
                }
                out.append(Token(kind: quote == "'" ? .string(s) : .quotedIdentifier(s), position: pos))
                continue
            }
            if c == "$" || c == ":" {
                advance()
                var s = ""
                while i < chars.count && isIdent(chars[i]) {
                    s.unicodeScalars.append(chars[i])
                    advance()
                }
                guard !s.isEmpty, c == ":" || Int(s) != nil else {
                    throw QueryError(
                        c == "$"
                            ? "expected a parameter number after $ (like $1)"
                            : "expected a parameter name after : (like :city)",
                        at: pos
                    )
                }
                out.append(Token(kind: .parameter(s), position: pos))
                continue
            }
            let two = i + 1 < chars.count ? String(c) + String(chars[i + 1]) : ""
            if ["!=", "<>", "<=", ">=", "||"].contains(two) {
                advance(2)
                out.append(Token(kind: .symbol(two == "<>" ? "!=" : two), position: pos))
                continue
            }
            if "(),.*=<>+-/%;[]".unicodeScalars.contains(c) {
                advance()
                out.append(Token(kind: .symbol(String(c)), position: pos))
                continue
            }
            throw QueryError("unexpected character '\(c)'", at: pos)
        }
        out.append(Token(kind: .end, position: SourcePosition(line: line, column: col)))
        return out
    }
}

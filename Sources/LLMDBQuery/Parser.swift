import LLMDB

/// A recursive-descent parser for LQL (grammar: docs/lql.md). Every error names its
/// position and what was expected; no input makes it crash.
public struct Parser {
    var tokens: [Token]
    var i = 0
    /// How deep the parser has recursed (statements, parentheses, prefixes, arguments).
    var depth = 0
    /// The depth of the expression tree the last expression production returned: a chain
    /// `1+1+…` is parsed in a loop but makes a tree as deep as it is long, and every later
    /// pass over the tree (checks, evaluation, even freeing it) recurses that deep.
    var treeDepth = 0
    /// The limit of both: deeper input is refused with an error (docs/lql.md, "Limits"), so
    /// that no query can exhaust a thread's stack.
    public static let maxDepth = 200

    static let reserved: Set<String> = [
        "SELECT", "FROM", "WHERE", "GROUP", "BY", "HAVING", "ORDER", "LIMIT", "OFFSET", "AS", "AND", "OR", "NOT", "IN",
        "LIKE", "IS", "NULL", "TRUE", "FALSE", "FOR", "VALID_TIME", "SYSTEM_TIME", "OF", "TO", "BETWEEN", "ALL",
        "TRANSACTION", "ASC", "DESC", "EXPLAIN", "HISTORY", "PARTITION", "KV", "INSERT", "INTO", "VALUES", "RECORDS",
        "UPDATE", "SET", "DELETE", "ERASE", "BEGIN", "COMMIT", "PORTION", "EMBEDDED", "WASM", "SETTING", "DEFAULT",
        "JOIN", "INNER", "ON",
    ]

    /// Parses one statement (a trailing `;` is allowed).
    public static func parse(_ text: String) throws(QueryError) -> Statement {
        var p = Parser(tokens: try Lexer.tokens(text))
        let s = try p.statement()
        if case .symbol(";") = p.peek.kind { p.i += 1 }
        guard case .end = p.peek.kind else { throw p.expected("the end of the statement") }
        return s
    }

    var peek: Token { tokens[min(i, tokens.count - 1)] }

    func expected(_ what: String) -> QueryError {
        QueryError("expected \(what), found \(peek.text)", at: peek.position)
    }

    mutating func accept(_ keyword: String) -> Bool {
        if peek.isKeyword(keyword) {
            i += 1
            return true
        }
        return false
    }

    mutating func expect(_ keyword: String) throws(QueryError) {
        guard accept(keyword) else { throw expected(keyword) }
    }

    mutating func acceptSymbol(_ s: String) -> Bool {
        if case .symbol(s) = peek.kind {
            i += 1
            return true
        }
        return false
    }

    mutating func expectSymbol(_ s: String) throws(QueryError) {
        guard acceptSymbol(s) else { throw expected("'\(s)'") }
    }

    mutating func name(_ what: String) throws(QueryError) -> String {
        switch peek.kind {
        case .identifier(let s) where !Self.reserved.contains(s.uppercased()):
            i += 1
            return s
        case .quotedIdentifier(let s) where !s.isEmpty:
            i += 1
            return s
        default:
            throw expected(what)
        }
    }

    // MARK: Statements

    mutating func statement() throws(QueryError) -> Statement {
        try enter()
        defer { depth -= 1 }
        if accept("EXPLAIN") { return .explain(try statement()) }
        if accept("SETTING") {
            // Query-wide defaults: SETTING DEFAULT VALID_TIME … [, DEFAULT SYSTEM_TIME …] statement
            var valid: TemporalClause? = nil
            var system: TemporalClause? = nil
            repeat {
                try expect("DEFAULT")
                if accept("VALID_TIME") {
                    guard valid == nil else { throw QueryError("DEFAULT VALID_TIME is given twice", at: peek.position) }
                    valid = try temporal(system: false)
                } else if accept("SYSTEM_TIME") {
                    guard system == nil else {
                        throw QueryError("DEFAULT SYSTEM_TIME is given twice", at: peek.position)
                    }
                    system = try temporal(system: true)
                } else {
                    throw expected("VALID_TIME or SYSTEM_TIME after DEFAULT")
                }
            } while acceptSymbol(",")
            let inner = try statement()
            return Self.withDefaults(inner, valid: valid, system: system)
        }
        if accept("BEGIN") {
            var list: [Statement] = []
            while true {
                while acceptSymbol(";") {}
                if accept("COMMIT") { break }
                guard !peek.isKeyword("BEGIN") else { throw QueryError("transactions do not nest", at: peek.position) }
                if case .end = peek.kind { throw expected("COMMIT") }
                list.append(try statement())
                if !acceptSymbol(";") && !peek.isKeyword("COMMIT") { throw expected("';' or COMMIT") }
            }
            return .transaction(list)
        }
        if peek.isKeyword("INSERT") {
            let pos = peek.position
            i += 1
            try expect("INTO")
            let coll = try name("a collection name")
            let portion = try portionClause()
            var columns: [String] = []
            var rows: [[Expr]] = []
            if accept("RECORDS") {
                repeat { rows.append([try expression()]) } while acceptSymbol(",")
            } else {
                try expectSymbol("(")
                repeat { columns.append(try dottedName()) } while acceptSymbol(",")
                try expectSymbol(")")
                try expect("VALUES")
                repeat {
                    let at = peek.position
                    try expectSymbol("(")
                    var row: [Expr] = []
                    repeat { row.append(try expression()) } while acceptSymbol(",")
                    try expectSymbol(")")
                    guard row.count == columns.count else {
                        throw QueryError("\(row.count) values for \(columns.count) columns", at: at)
                    }
                    rows.append(row)
                } while acceptSymbol(",")
            }
            return .insert(collection: coll, columns: columns, rows: rows, portion: portion, position: pos)
        }
        if peek.isKeyword("UPDATE") {
            let pos = peek.position
            i += 1
            let coll = try name("a collection name")
            let portion = try portionClause()
            try expect("SET")
            var set: [Assignment] = []
            repeat {
                let path = try dottedName().split(separator: ".").map(String.init)
                try expectSymbol("=")
                set.append(Assignment(path: path, value: try expression()))
            } while acceptSymbol(",")
            let filter: Expr? = accept("WHERE") ? try expression() : nil
            return .update(collection: coll, portion: portion, set: set, filter: filter, position: pos)
        }
        if peek.isKeyword("DELETE") {
            let pos = peek.position
            i += 1
            try expect("FROM")
            let coll = try name("a collection name")
            let portion = try portionClause()
            let filter: Expr? = accept("WHERE") ? try expression() : nil
            return .delete(collection: coll, portion: portion, filter: filter, position: pos)
        }
        if peek.isKeyword("ERASE") {
            let pos = peek.position
            i += 1
            let all = accept("ALL")
            try expect("FROM")
            let coll = try name("a collection name")
            let filter: Expr? = accept("WHERE") ? try expression() : nil
            return .erase(collection: coll, filter: filter, all: all, position: pos)
        }
        if accept("HISTORY") {
            try expect("OF")
            // The key is a value (a string or a parameter), not a condition: `IN PARTITION`
            // follows it, which a full expression would read as an IN list.
            let key = try additive()
            var partition: Expr? = nil
            if accept("IN") {
                try expect("PARTITION")
                partition = try additive()
            }
            var system: TemporalClause? = nil
            if accept("FOR") {
                try expect("SYSTEM_TIME")
                try expect("AS")
                try expect("OF")
                system = .asOf(try expression())
            } else if peek.isKeyword("AS") {
                i += 1
                try expect("OF")
                try expect("TRANSACTION")
                system = .transaction(try expression())
            }
            return .history(key: key, partition: partition, systemTime: system)
        }
        guard accept("SELECT") else {
            throw expected("SELECT, INSERT, UPDATE, DELETE, ERASE, BEGIN, HISTORY OF or EXPLAIN")
        }
        return .select(try select())
    }

    mutating func select() throws(QueryError) -> Select {
        var items: [SelectItem] = []
        repeat {
            if acceptSymbol("*") {
                items.append(SelectItem(expr: .star, alias: nil))
                continue
            }
            let e = try expression()
            var alias: String? = nil
            if accept("AS") {
                alias = try name("an alias after AS")
            } else if case .identifier(let s) = peek.kind, !Self.reserved.contains(s.uppercased()) {
                alias = s
                i += 1
            }
            items.append(SelectItem(expr: e, alias: alias))
        } while acceptSymbol(",")
        try expect("FROM")
        let from = try tableRef()
        var s = Select(
            items: items,
            from: from,
            filter: nil,
            groupBy: [],
            having: nil,
            orderBy: [],
            limit: nil,
            offset: nil
        )
        if accept("INNER") {
            try expect("JOIN")
        } else if !peek.isKeyword("JOIN") {
            return try rest(&s)
        } else {
            i += 1
        }
        let right = try tableRef()
        try expect("ON")
        s.join = Join(table: right, on: try expression())
        return try rest(&s)
    }

    mutating func rest(_ s: inout Select) throws(QueryError) -> Select {
        if accept("WHERE") { s.filter = try expression() }
        if accept("GROUP") {
            try expect("BY")
            repeat { s.groupBy.append(try expression()) } while acceptSymbol(",")
        }
        if accept("HAVING") { s.having = try expression() }
        if accept("ORDER") {
            try expect("BY")
            repeat {
                let e = try expression()
                var desc = false
                if accept("DESC") { desc = true } else { _ = accept("ASC") }
                s.orderBy.append((e, desc))
            } while acceptSymbol(",")
        }
        if accept("LIMIT") { s.limit = try expression() }
        if accept("OFFSET") { s.offset = try expression() }
        return s
    }

    /// Applies query-wide temporal defaults to every table reference that has no clause of its own.
    static func withDefaults(_ s: Statement, valid: TemporalClause?, system: TemporalClause?) -> Statement {
        switch s {
        case .select(var sel):
            if sel.from.validTime == nil { sel.from.validTime = valid }
            if sel.from.systemTime == nil { sel.from.systemTime = system }
            return .select(sel)
        case .explain(let inner):
            return .explain(withDefaults(inner, valid: valid, system: system))
        case .history(let k, let p, let sys):
            return .history(key: k, partition: p, systemTime: sys ?? system)
        default:
            return s
        }
    }

    /// A module name: letters, digits, '-', '_' and '.' (as registered), or "quoted".
    mutating func moduleName() throws(QueryError) -> String {
        var out = try name("a module name")
        while true {
            if case .symbol(let s) = peek.kind, s == "-" || s == "." {
                i += 1
                switch peek.kind {
                case .identifier(let w): out += s + w
                case .integer(let n): out += s + String(n)
                default: throw expected("the rest of the module name")
                }
                i += 1
            } else {
                return out
            }
        }
    }

    /// `a.b.c` as one name.
    mutating func dottedName() throws(QueryError) -> String {
        var parts = [try name("a column name")]
        while acceptSymbol(".") { parts.append(try name("a member name after '.'")) }
        return parts.joined(separator: ".")
    }

    /// `FOR PORTION OF VALID_TIME FROM a TO b`, if present.
    mutating func portionClause() throws(QueryError) -> Portion? {
        guard peek.isKeyword("FOR"), i + 1 < tokens.count, tokens[i + 1].isKeyword("PORTION") else { return nil }
        i += 2
        try expect("OF")
        try expect("VALID_TIME")
        try expect("FROM")
        let a = try additive()
        try expect("TO")
        return Portion(from: a, to: try additive())
    }

    mutating func source() throws(QueryError) -> TableSource {
        if accept("KV") {
            if acceptSymbol("(") {
                let p = try expression()
                try expectSymbol(")")
                return .kv(prefix: p)
            }
            return .kv(prefix: nil)
        }
        return .collection(try name("a collection name, or kv"))
    }

    mutating func tableRef() throws(QueryError) -> TableRef {
        let pos = peek.position
        let source: TableSource
        if accept("EMBEDDED") {
            try expect("WASM")
            let module = try moduleName()
            try expectSymbol("(")
            let over = try self.source()
            try expectSymbol(")")
            source = .wasm(module: module, over: over)
        } else if accept("KV") {
            if acceptSymbol("(") {
                let p = try expression()
                try expectSymbol(")")
                source = .kv(prefix: p)
            } else {
                source = .kv(prefix: nil)
            }
        } else {
            source = .collection(try name("a collection name, or kv"))
        }
        var ref = TableRef(source: source, alias: nil, validTime: nil, systemTime: nil, position: pos)
        while true {
            if accept("FOR") {
                if accept("VALID_TIME") {
                    guard ref.validTime == nil else { throw QueryError("FOR VALID_TIME is given twice", at: pos) }
                    ref.validTime = try temporal(system: false)
                } else if accept("SYSTEM_TIME") {
                    guard ref.systemTime == nil else { throw QueryError("FOR SYSTEM_TIME is given twice", at: pos) }
                    ref.systemTime = try temporal(system: true)
                } else {
                    throw expected("VALID_TIME or SYSTEM_TIME after FOR")
                }
            } else if peek.isKeyword("AS"), i + 1 < tokens.count, tokens[i + 1].isKeyword("OF") {
                i += 2
                try expect("TRANSACTION")
                guard ref.systemTime == nil else { throw QueryError("the system time is given twice", at: pos) }
                ref.systemTime = .transaction(try expression())
            } else if accept("AS") {
                ref.alias = try name("an alias")
            } else if ref.alias == nil, case .identifier(let w) = peek.kind, !Self.reserved.contains(w.uppercased()) {
                ref.alias = w
                i += 1
            } else {
                break
            }
        }
        return ref
    }

    mutating func temporal(system: Bool) throws(QueryError) -> TemporalClause {
        if accept("AS") {
            try expect("OF")
            if system && accept("TRANSACTION") { return .transaction(try expression()) }
            return .asOf(try additive())
        }
        if accept("FROM") {
            let a = try additive()
            try expect("TO")
            return .fromTo(a, try additive())
        }
        if accept("BETWEEN") {
            let a = try additive()
            try expect("AND")
            return .between(a, try additive())
        }
        if accept("ALL") { return .all }
        throw expected("AS OF, FROM … TO, BETWEEN … AND or ALL")
    }

    // MARK: Expressions (lowest precedence first)

    /// One level of recursion deeper, refused past ``maxDepth``.
    mutating func enter() throws(QueryError) {
        depth += 1
        guard depth <= Self.maxDepth else {
            depth -= 1
            throw tooDeep()
        }
    }

    func tooDeep() -> QueryError {
        QueryError(
            "the query is nested too deeply (more than \(Self.maxDepth) levels of operators, parentheses, prefixes or statements; split long chains, e.g. a long OR into IN (…))",
            at: peek.position
        )
    }

    /// Records that the node just built sits over children `childDepth` deep.
    mutating func built(over childDepth: Int) throws(QueryError) {
        guard childDepth < Self.maxDepth else { throw tooDeep() }
        treeDepth = childDepth + 1
    }

    mutating func expression() throws(QueryError) -> Expr {
        try enter()
        defer { depth -= 1 }
        return try or()
    }

    // The four left-deep chains (OR, AND, + - ||, * / %) repeat one loop on purpose: a
    // shared helper taking the operand as a closure adds frames to every level of
    // parentheses, and the deepest query the limit allows then no longer fits the stack
    // the tests give it (2 MiB in a debug build).

    mutating func or() throws(QueryError) -> Expr {
        var e = try and()
        var d = treeDepth
        while accept("OR") {
            let r = try and()
            try built(over: max(d, treeDepth))
            d = treeDepth
            e = .binary("OR", e, r)
        }
        treeDepth = d
        return e
    }

    mutating func and() throws(QueryError) -> Expr {
        var e = try not()
        var d = treeDepth
        while accept("AND") {
            let r = try not()
            try built(over: max(d, treeDepth))
            d = treeDepth
            e = .binary("AND", e, r)
        }
        treeDepth = d
        return e
    }

    mutating func not() throws(QueryError) -> Expr {
        if accept("NOT") {
            try enter()
            defer { depth -= 1 }
            let inner = try not()
            try built(over: treeDepth)
            return .unary("NOT", inner)
        }
        return try comparison()
    }

    mutating func comparison() throws(QueryError) -> Expr {
        let left = try additive()
        let dl = treeDepth
        if case .symbol(let op) = peek.kind, ["=", "!=", "<", "<=", ">", ">="].contains(op) {
            i += 1
            let right = try additive()
            try built(over: max(dl, treeDepth))
            return .binary(op, left, right)
        }
        if accept("IS") {
            let negated = accept("NOT")
            try expect("NULL")
            try built(over: dl)
            return .isNull(left, negated: negated)
        }
        let negated = accept("NOT")
        if accept("IN") {
            try expectSymbol("(")
            var items: [Expr] = []
            var d = dl
            repeat {
                items.append(try expression())
                d = max(d, treeDepth)
            } while acceptSymbol(",")
            try expectSymbol(")")
            try built(over: d)
            return .inList(left, items, negated: negated)
        }
        if accept("LIKE") {
            let pattern = try additive()
            try built(over: max(dl, treeDepth))
            return .like(left, pattern, negated: negated)
        }
        if accept("BETWEEN") {
            let a = try additive()
            let da = treeDepth
            try expect("AND")
            let b = try additive()
            // AND(>=, <=), under a NOT when negated.
            try built(over: max(dl, da, treeDepth) + (negated ? 2 : 1))
            let e: Expr = .binary("AND", .binary(">=", left, a), .binary("<=", left, b))
            return negated ? .unary("NOT", e) : e
        }
        if negated { throw expected("IN, LIKE or BETWEEN after NOT") }
        treeDepth = dl
        return left
    }

    mutating func additive() throws(QueryError) -> Expr {
        var e = try multiplicative()
        var d = treeDepth
        while case .symbol(let op) = peek.kind, op == "+" || op == "-" || op == "||" {
            i += 1
            let r = try multiplicative()
            try built(over: max(d, treeDepth))
            d = treeDepth
            e = .binary(op, e, r)
        }
        treeDepth = d
        return e
    }

    mutating func multiplicative() throws(QueryError) -> Expr {
        var e = try unary()
        var d = treeDepth
        while case .symbol(let op) = peek.kind, op == "*" || op == "/" || op == "%" {
            i += 1
            let r = try unary()
            try built(over: max(d, treeDepth))
            d = treeDepth
            e = .binary(op, e, r)
        }
        treeDepth = d
        return e
    }

    mutating func unary() throws(QueryError) -> Expr {
        if acceptSymbol("-") {
            try enter()
            defer { depth -= 1 }
            let inner = try unary()
            try built(over: treeDepth)
            return .unary("-", inner)
        }
        return try primary()
    }

    mutating func primary() throws(QueryError) -> Expr {
        let t = peek
        treeDepth = 1
        switch t.kind {
        case .integer(let n):
            i += 1
            return .literal(.int(n))
        case .double(let d):
            i += 1
            return .literal(.double(d))
        case .string(let s):
            i += 1
            return .literal(.string(s))
        case .parameter(let p):
            i += 1
            return .parameter(p, t.position)
        case .symbol("("):
            i += 1
            let e = try expression()  // its tree depth is the parenthesized expression's
            try expectSymbol(")")
            return e
        case .identifier(let s) where s.uppercased() == "NULL":
            i += 1
            return .literal(.null)
        case .identifier(let s) where s.uppercased() == "EMBEDDED":
            i += 1
            try expect("WASM")
            let module = try moduleName()
            try expectSymbol("(")
            try expectSymbol(")")
            treeDepth = 1
            return .wasmAggregate(module, t.position)
        case .identifier(let s) where s.uppercased() == "TRUE" || s.uppercased() == "FALSE":
            i += 1
            return .literal(.bool(s.uppercased() == "TRUE"))
        case .identifier, .quotedIdentifier:
            let first = try name("a column, a value or a function")
            if acceptSymbol("(") {
                var args: [Expr] = []
                var d = 0
                if acceptSymbol("*") {
                    try expectSymbol(")")  // COUNT(*)
                } else if !acceptSymbol(")") {
                    repeat {
                        args.append(try expression())
                        d = max(d, treeDepth)
                    } while acceptSymbol(",")
                    try expectSymbol(")")
                }
                try built(over: d)
                return .call(first.uppercased(), args, t.position)
            }
            var path = [first]
            while acceptSymbol(".") {
                switch peek.kind {
                case .identifier(let s), .quotedIdentifier(let s):
                    i += 1
                    path.append(s)
                default:
                    throw expected("a member name after '.'")
                }
            }
            treeDepth = 1
            return .column(path, t.position)
        default:
            throw expected("a value, a column, a parameter or '('")
        }
    }
}

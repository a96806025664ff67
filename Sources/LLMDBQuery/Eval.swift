import LLMDB

/// Evaluates expressions over one row (or one group of rows, for aggregates), with SQL's
/// NULL: a missing member is NULL; comparisons with NULL are unknown; WHERE keeps true rows.
struct Eval {
    let ex: Executor
    let row: Row?
    var alias: String? = nil
    /// For a group: the value of each aggregate call over the group's rows.
    var aggregates: [Expr: JSONValue]? = nil

    init(ex: Executor, row: Row?, alias: String? = nil, aggregates: [Expr: JSONValue]? = nil) {
        self.ex = ex
        self.row = row
        self.alias = alias
        self.aggregates = aggregates
    }

    static func typeName(_ v: JSONValue) -> String {
        switch v {
        case .null: "null"
        case .bool: "boolean"
        case .int, .uint, .double: "number"
        case .string: "string"
        case .binary: "binary"
        case .array: "array"
        case .object: "object"
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

    /// A total order for sorting: null < booleans < numbers < strings < arrays < objects.
    static func order(_ a: JSONValue, _ b: JSONValue) -> Int {
        func rank(_ v: JSONValue) -> Int {
            switch v {
            case .null: 0
            case .bool: 1
            case .int, .uint, .double: 2
            case .string: 3
            case .binary: 4
            case .array: 5
            case .object: 6
            }
        }
        if let c = compare(a, b) { return c }
        let ra = rank(a)
        let rb = rank(b)
        if ra != rb { return ra < rb ? -1 : 1 }
        let ta = a.text
        let tb = b.text
        return ta < tb ? -1 : (ta == tb ? 0 : 1)
    }

    /// -1, 0, 1 for comparable values; nil for NULL or different types.
    static func compare(_ a: JSONValue, _ b: JSONValue) -> Int? {
        if case .int(let x) = a, case .int(let y) = b { return x < y ? -1 : (x == y ? 0 : 1) }
        if let x = number(a), let y = number(b) { return x < y ? -1 : (x == y ? 0 : 1) }
        if case .string(let x) = a, case .string(let y) = b { return x < y ? -1 : (x == y ? 0 : 1) }
        if case .bool(let x) = a, case .bool(let y) = b { return x == y ? 0 : (!x ? -1 : 1) }
        if a.isNull || b.isNull { return nil }
        if case .array = a, a == b { return 0 }
        if case .object = a, a == b { return 0 }
        return nil
    }

    /// true, false, or nil (unknown).
    func truth(_ e: Expr) throws -> Bool? {
        let v = try value(e)
        switch v {
        case .bool(let b): return b
        case .null: return nil
        default: throw QueryError("a condition must be true or false, not a \(Self.typeName(v)) (\(Executor.text(e)))")
        }
    }

    func column(_ path: [String]) -> JSONValue {
        guard let row else { return .null }
        var p = path[...]
        if let alias, p.count > 1, p.first == alias { p = p.dropFirst() }
        let head = p.first!
        switch head {
        case "_id" where p.count == 1: return row.id.map { .string($0) } ?? .null
        case "_key" where p.count == 1:
            return row.key.map { .string($0.description) } ?? row.id.map { .string($0) } ?? .null
        case "_partition" where p.count == 1: return .int(Int64(row.key?.partition ?? 0))
        case "_valid_from" where p.count == 1: return .string(row.validFrom.iso8601)
        case "_valid_to" where p.count == 1: return row.validTo.map { .string($0.iso8601) } ?? .null
        case "_tx_id" where p.count == 1: return .int(Int64(row.txID))
        case "_tx_time" where p.count == 1:
            if let t = row.txTime { return .string(t.iso8601) }
            return (try? ex.db.read { try $0.transactionTime(row.txID) }).map { .string($0.iso8601) } ?? .null
        default: break
        }
        var cur: JSONValue
        if row.key != nil {
            // kv rows: `key`, and `value` (or a path into it).
            if head == "key" && p.count == 1 { return .string(row.key!.description) }
            guard head == "value" else { return .null }
            cur = row.body
            p = p.dropFirst()
        } else {
            cur = row.body
        }
        for seg in p {
            guard let next = cur[seg] else { return .null }
            cur = next
        }
        return cur
    }

    func value(_ e: Expr) throws -> JSONValue {
        switch e {
        case .literal(let v): return v
        case .parameter(let p, let pos):
            guard let v = ex.parameters[p] else {
                throw QueryError("the parameter \(Int(p) != nil ? "$" : ":")\(p) has no value", at: pos)
            }
            return v
        case .column(let path, _): return column(path)
        case .star: return .null
        case .unary("-", let a):
            let v = try value(a)
            if v.isNull { return .null }
            if case .int(let n) = v, n != .min { return .int(-n) }
            guard let d = Self.number(v) else { throw QueryError("cannot negate a \(Self.typeName(v))") }
            return .double(-d)
        case .unary(_, let a):  // NOT
            guard let t = try truth(a) else { return .null }
            return .bool(!t)
        case .binary("AND", let a, let b):
            let x = try truth(a)
            if x == false { return .bool(false) }
            let y = try truth(b)
            if y == false { return .bool(false) }
            return x == true && y == true ? .bool(true) : .null
        case .binary("OR", let a, let b):
            let x = try truth(a)
            if x == true { return .bool(true) }
            let y = try truth(b)
            if y == true { return .bool(true) }
            return x == false && y == false ? .bool(false) : .null
        case .binary(let op, let a, let b):
            return try binary(op, try value(a), try value(b))
        case .inList(let a, let list, let negated):
            let v = try value(a)
            if v.isNull { return .null }
            let hit = try list.contains { Self.compare(v, try value($0)) == 0 }
            return .bool(negated ? !hit : hit)
        case .like(let a, let p, let negated):
            let v = try value(a)
            let pattern = try value(p)
            guard case .string(let s) = v else { return v.isNull ? .null : .bool(negated) }
            guard case .string(let pat) = pattern else { throw QueryError("LIKE takes a string pattern") }
            let m = Self.like(Array(s.unicodeScalars)[...], Array(pat.unicodeScalars)[...])
            return .bool(negated ? !m : m)
        case .isNull(let a, let negated):
            let isNull = try value(a).isNull
            return .bool(negated ? !isNull : isNull)
        case .wasmAggregate(let module, let pos):
            guard let v = ex.wasmResults[module] else {
                throw QueryError("EMBEDDED WASM \(module)() was not computed", at: pos)
            }
            return v
        case .call(let f, let args, let pos):
            if Executor.aggregates.contains(f) { return try aggregate(f, args, pos) }
            return try function(f, args.map { try value($0) }, pos)
        }
    }

    func binary(_ op: String, _ x: JSONValue, _ y: JSONValue) throws -> JSONValue {
        switch op {
        case "=", "!=", "<", "<=", ">", ">=":
            if x.isNull || y.isNull { return .null }
            guard let c = Self.compare(x, y) else { return op == "!=" ? .bool(true) : .bool(false) }
            switch op {
            case "=": return .bool(c == 0)
            case "!=": return .bool(c != 0)
            case "<": return .bool(c < 0)
            case "<=": return .bool(c <= 0)
            case ">": return .bool(c > 0)
            default: return .bool(c >= 0)
            }
        case "||":
            if x.isNull || y.isNull { return .null }
            func s(_ v: JSONValue) -> String { if case .string(let t) = v { t } else { v.text } }
            return .string(s(x) + s(y))
        default:
            if x.isNull || y.isNull { return .null }
            return try Self.arithmetic(op, x, y)
        }
    }

    /// `+ - * / %` with SQL's answers and never a trap: integers stay exact while the
    /// result fits in 64 bits (a `/` that leaves a remainder, or an integer result that
    /// overflows, is computed in double precision instead, as `+` always was); a result too
    /// large for a double, and division by zero, are errors.
    static func arithmetic(_ op: String, _ x: JSONValue, _ y: JSONValue) throws -> JSONValue {
        if case .int(let a) = x, case .int(let b) = y {
            switch op {
            case "+":
                let (r, o) = a.addingReportingOverflow(b)
                if !o { return .int(r) }
            case "-":
                let (r, o) = a.subtractingReportingOverflow(b)
                if !o { return .int(r) }
            case "*":
                let (r, o) = a.multipliedReportingOverflow(by: b)
                if !o { return .int(r) }
            case "/":
                guard b != 0 else { throw QueryError("division by zero") }
                // Int64.min / -1 overflows: it falls through to double precision.
                let (q, o) = a.dividedReportingOverflow(by: b)
                if !o, a % b == 0 { return .int(q) }
            case "%":
                guard b != 0 else { throw QueryError("division by zero") }
                // Int64.min % -1 is 0 (the remainder reports an overflow, not a wrong value).
                return .int(b == -1 ? 0 : a % b)
            default: break
            }
        }
        guard let a = number(x), let b = number(y) else {
            throw QueryError("type error: \(typeName(x)) \(op) \(typeName(y)) (arithmetic takes numbers)")
        }
        let r: Double
        switch op {
        case "+": r = a + b
        case "-": r = a - b
        case "*": r = a * b
        case "/":
            guard b != 0 else { throw QueryError("division by zero") }
            r = a / b
        case "%":
            guard b != 0 else { throw QueryError("division by zero") }
            r = a.truncatingRemainder(dividingBy: b)
        default: throw QueryError("unknown operator \(op)")
        }
        return try finite(r, "\(x.text) \(op) \(y.text)")
    }

    /// A double result, or an error when it left the range of doubles (SQL's "value out of
    /// range"; JSON has no infinities).
    static func finite(_ d: Double, _ what: @autoclosure () -> String) throws -> JSONValue {
        guard d.isFinite else {
            throw QueryError("numeric overflow: \(what().prefix(200)) is out of the range of a double")
        }
        return .double(d)
    }

    func function(_ f: String, _ args: [JSONValue], _ pos: SourcePosition) throws -> JSONValue {
        func arity(_ n: Int) throws {
            if args.count != n {
                throw QueryError("\(f) takes \(n) argument\(n == 1 ? "" : "s"), not \(args.count)", at: pos)
            }
        }
        switch f {
        case "LOWER", "UPPER":
            try arity(1)
            if args[0].isNull { return .null }
            guard case .string(let s) = args[0] else {
                throw QueryError("\(f) takes a string, not a \(Self.typeName(args[0]))", at: pos)
            }
            return .string(f == "LOWER" ? s.lowercased() : s.uppercased())
        case "LENGTH":
            try arity(1)
            switch args[0] {
            case .null: return .null
            case .string(let s): return .int(Int64(s.count))
            case .array(let a): return .int(Int64(a.count))
            case .object(let m): return .int(Int64(m.count))
            default: throw QueryError("LENGTH takes a string, an array or an object", at: pos)
            }
        case "COALESCE":
            return args.first { !$0.isNull } ?? .null
        case "ABS":
            try arity(1)
            if args[0].isNull { return .null }
            if case .int(let n) = args[0], n != .min { return .int(abs(n)) }
            guard let d = Self.number(args[0]) else { throw QueryError("ABS takes a number", at: pos) }
            return .double(abs(d))
        case "ROUND":
            try arity(1)
            if args[0].isNull { return .null }
            guard let d = Self.number(args[0]) else { throw QueryError("ROUND takes a number", at: pos) }
            let r = d.rounded()
            return abs(r) < 9e18 ? .int(Int64(r)) : .double(r)
        default:
            throw QueryError("unknown function \(f)", at: pos)
        }
    }

    func aggregate(_ f: String, _ args: [Expr], _ pos: SourcePosition) throws -> JSONValue {
        guard let aggregates else {
            throw QueryError("\(f) is an aggregate: use it with GROUP BY or over all rows", at: pos)
        }
        guard let v = aggregates[.call(f, args, pos)] else {
            throw QueryError("\(f) cannot be used here (an aggregate in the select list, HAVING or ORDER BY)", at: pos)
        }
        return v
    }

    /// SQL LIKE: `%` any run, `_` one character.
    static func like(_ s: ArraySlice<Unicode.Scalar>, _ p: ArraySlice<Unicode.Scalar>) -> Bool {
        // Iterative with backtracking to the last %.
        var si = s.startIndex
        var pi = p.startIndex
        var star: ArraySlice<Unicode.Scalar>.Index? = nil
        var mark = si
        while si < s.endIndex {
            if pi < p.endIndex && (p[pi] == "_" || p[pi] == s[si]) && p[pi] != "%" {
                si += 1
                pi += 1
            } else if pi < p.endIndex && p[pi] == "%" {
                star = pi
                pi += 1
                mark = si
            } else if let st = star {
                pi = st + 1
                mark += 1
                si = mark
            } else {
                return false
            }
        }
        while pi < p.endIndex && p[pi] == "%" { pi += 1 }
        return pi == p.endIndex
    }
}

/// The running state of one aggregate call over the rows of a group: constant memory per
/// group, whatever the number of rows (the rows themselves are not kept).
struct Accumulator {
    let function: String
    /// nil for `COUNT(*)`.
    let argument: Expr?
    let position: SourcePosition
    var count = 0
    /// Whether every value so far was an integer: then `intSum` is exact (128 bits hold the
    /// sum of 2^63 values of 64 bits), whatever the order of the rows.
    var allInt = true
    var intSum: Int128 = 0
    var doubleSum = 0.0
    var best: JSONValue? = nil

    init(_ call: Expr) {
        guard case .call(let f, let args, let pos) = call else { preconditionFailure("not an aggregate call") }
        function = f
        argument = args.first
        position = pos
    }

    /// Adds one row (NULLs are skipped, as in SQL).
    mutating func add(_ ev: Eval) throws {
        guard let argument else {
            count += 1
            return
        }
        let v = try ev.value(argument)
        if v.isNull { return }
        count += 1
        switch function {
        case "COUNT": break
        case "SUM", "AVG":
            guard let d = Eval.number(v) else {
                throw QueryError("\(function) takes numbers, found a \(Eval.typeName(v))", at: position)
            }
            doubleSum += d
            switch v {
            case .int(let n) where allInt: intSum += Int128(n)
            case .uint(let n) where allInt: intSum += Int128(n)
            default: allInt = false
            }
        default:  // MIN, MAX
            if let b = best {
                let c = Eval.order(v, b)
                if (function == "MIN" && c < 0) || (function == "MAX" && c > 0) { best = v }
            } else {
                best = v
            }
        }
    }

    /// The aggregate's value: a SUM of integers is exact, an integer when it fits in 64 bits
    /// and else the nearest double; with any double among the values, sums are in double
    /// precision, and a sum past the range of doubles is an error.
    func result() throws -> JSONValue {
        switch function {
        case "COUNT": return .int(Int64(count))
        case "SUM":
            if count == 0 { return .null }
            if allInt { return Int64(exactly: intSum).map { .int($0) } ?? .double(Double(intSum)) }
            return try Eval.finite(doubleSum, "SUM(…)")
        case "AVG":
            if count == 0 { return .null }
            if allInt { return .double(Double(intSum) / Double(count)) }
            return try Eval.finite(doubleSum / Double(count), "AVG(…)")
        default: return best ?? .null
        }
    }
}

public import LLMDB

/// An LQL expression.
public indirect enum Expr: Sendable, Hashable {
    case literal(JSONValue)
    case parameter(String, SourcePosition)
    /// A column: a dotted path into the row (`address.city`, `_valid_from`, `value.x`).
    case column([String], SourcePosition)
    case unary(String, Expr)  // "-", "NOT"
    case binary(String, Expr, Expr)  // = != < <= > >= + - * / % AND OR ||
    case inList(Expr, [Expr], negated: Bool)
    case like(Expr, Expr, negated: Bool)
    case isNull(Expr, negated: Bool)
    case call(String, [Expr], SourcePosition)  // functions and aggregates; COUNT(*) has no arguments
    /// `EMBEDDED WASM module()`: the `reduce_pages` module folded over the whole source.
    case wasmAggregate(String, SourcePosition)
    case star
}

/// A temporal clause of a table reference (SQL:2011).
public enum TemporalClause: Sendable, Hashable {
    case asOf(Expr)
    case fromTo(Expr, Expr)
    case between(Expr, Expr)
    case all
    /// `AS OF TRANSACTION n` (system time only).
    case transaction(Expr)
}

public enum TableSource: Sendable, Hashable {
    case collection(String)
    /// Raw facts: `kv` (all of partition 0) or `kv('prefix')`.
    case kv(prefix: Expr?)
    /// `EMBEDDED WASM module(kv('prefix'))` or `EMBEDDED WASM module(collection)`: the records
    /// a `map_pages` module outputs for the pages of that scan.
    indirect case wasm(module: String, over: TableSource)
}

public struct TableRef: Sendable, Hashable {
    public var source: TableSource
    public var alias: String?
    public var validTime: TemporalClause?
    public var systemTime: TemporalClause?
    public var position: SourcePosition
}

public struct SelectItem: Sendable, Hashable {
    public var expr: Expr
    public var alias: String?
}

/// `[INNER] JOIN table ON condition`.
public struct Join: Sendable, Hashable {
    public var table: TableRef
    public var on: Expr
}

public struct Select: Sendable, Hashable {
    public var items: [SelectItem]
    public var from: TableRef
    public var join: Join? = nil
    public var filter: Expr?
    public var groupBy: [Expr]
    public var having: Expr?
    public var orderBy: [(Expr, Bool)]  // (expression, descending)
    public var limit: Expr?
    public var offset: Expr?

    public static func == (a: Select, b: Select) -> Bool {
        // (Hashable by hand: the ORDER BY tuples are not.)
        a.items == b.items && a.from == b.from && a.join == b.join && a.filter == b.filter && a.groupBy == b.groupBy
            && a.having == b.having
            && a.orderBy.map(\.0) == b.orderBy.map(\.0) && a.orderBy.map(\.1) == b.orderBy.map(\.1)
            && a.limit == b.limit
            && a.offset == b.offset
    }
    public func hash(into h: inout Hasher) {
        h.combine(items)
        h.combine(from)
    }
}

/// `FOR PORTION OF VALID_TIME FROM a TO b`: the write holds over `[a, b)` only.
public struct Portion: Sendable, Hashable {
    public var from: Expr
    public var to: Expr
}

/// `path = value` in `UPDATE … SET`.
public struct Assignment: Sendable, Hashable {
    public var path: [String]
    public var value: Expr
}

/// One LQL statement.
public indirect enum Statement: Sendable, Hashable {
    case select(Select)
    /// `INSERT INTO coll (a, b) VALUES (…), (…)` or `INSERT INTO coll RECORDS {…}, {…}`;
    /// an `_id` column gives the id.
    case insert(collection: String, columns: [String], rows: [[Expr]], portion: Portion?, position: SourcePosition)
    /// `UPDATE coll [FOR PORTION OF VALID_TIME FROM a TO b] SET path = expr, … [WHERE …]`
    case update(collection: String, portion: Portion?, set: [Assignment], filter: Expr?, position: SourcePosition)
    /// `DELETE FROM coll [FOR PORTION OF VALID_TIME FROM a TO b] [WHERE …]`
    case delete(collection: String, portion: Portion?, filter: Expr?, position: SourcePosition)
    /// `ERASE FROM coll WHERE …` (`ERASE ALL FROM coll` to erase every document).
    case erase(collection: String, filter: Expr?, all: Bool, position: SourcePosition)
    /// `BEGIN; …; COMMIT`: the writes of the statements in one transaction.
    case transaction([Statement])
    /// `HISTORY OF 'key' [IN PARTITION n] [FOR SYSTEM_TIME AS OF t | AS OF TRANSACTION n]`
    case history(key: Expr, partition: Expr?, systemTime: TemporalClause?)
    case explain(Statement)
}

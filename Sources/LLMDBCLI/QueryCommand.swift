import ArgumentParser
import LLMDB
import LLMDBQuery

struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an LQL query: SELECT … FROM collection|kv … with SQL:2011 time clauses, HISTORY OF, EXPLAIN.",
        discussion: """
            Example: llmdb query "SELECT name, age FROM users FOR VALID_TIME AS OF '2026-01-01' WHERE city = :city \
            ORDER BY age DESC LIMIT 10" --param city=Paris. Parameters: --param 1=… for $1, --param name=… for :name; \
            a value is JSON when it parses as JSON, else a string. See docs/lql.md.
            """
    )
    @OptionGroup var db: DatabaseOptions
    @Argument(help: ArgumentHelp("The LQL statement.", valueName: "lql")) var text: String
    @Option(
        name: .customLong("param"),
        help: ArgumentHelp("A parameter, NAME=VALUE (repeatable).", valueName: "name=value")
    )
    var params: [String] = []
    @Option(help: ArgumentHelp("Stop a query that reads more rows than this.", valueName: "n")) var maxRows: Int =
        10_000_000
    @Option(help: ArgumentHelp("Stop a query that runs longer than this.", valueName: "ms")) var timeoutMs: Int = 30_000
    @Option(
        help: ArgumentHelp(
            "Stop a query that holds more memory than this (its estimate of the rows it keeps).",
            valueName: "MiB"
        )
    )
    var maxMemoryMb: Int = 256

    func run() throws {
        var parameters: [String: JSONValue] = [:]
        for p in params {
            guard let eq = p.firstIndex(of: "="), eq != p.startIndex else {
                throw CLIError("--param takes NAME=VALUE, not '\(p)'")
            }
            let name = String(p[..<eq])
            let raw = String(p[p.index(after: eq)...])
            parameters[name] = (try? JSONValue(parsing: raw)) ?? .string(raw)
        }
        guard maxRows > 0, timeoutMs > 0, maxMemoryMb > 0, maxMemoryMb <= 1 << 30 else {
            throw CLIError(
                "--max-rows, --timeout-ms and --max-memory-mb must be positive (--max-memory-mb at most 2^30)"
            )
        }
        var limits = QueryLimits()
        limits.maxMemoryBytes = maxMemoryMb << 20
        limits.maxScannedRows = maxRows
        limits.timeoutMicroseconds = Int64(timeoutMs) * 1000
        // Reads open the file read-only; writes (INSERT, UPDATE, DELETE, ERASE, BEGIN) writable.
        var readOnly = true
        if case .success(let statement) = Result(catching: { () throws(QueryError) in try Parser.parse(text) }) {
            switch statement {
            case .select, .history, .explain: readOnly = true
            default: readOnly = false
            }
        }
        let database = try db.open(readOnly: readOnly, create: !readOnly)
        let r = try LQL.run(text, on: database, parameters: parameters, limits: limits)
        if db.json {
            printJSON(object([("columns", .array(r.columns.map { .string($0) })), ("rows", .array(r.rows))]))
            return
        }
        if !r.plan.isEmpty {
            for line in r.plan { print(line) }
            return
        }
        printTable(r)
    }
}

/// A text table: one column per result column, values as compact JSON (strings bare).
func printTable(_ r: QueryResult) {
    func cell(_ v: JSONValue?) -> String {
        guard let v else { return "" }
        if case .string(let s) = v { return s }
        return v.text
    }
    let rows = r.rows.map { row in r.columns.map { cell(row[$0]) } }
    var widths = r.columns.map(\.count)
    for row in rows { for (i, c) in row.enumerated() { widths[i] = min(max(widths[i], c.count), 60) } }
    func line(_ cells: [String]) -> String {
        zip(cells, widths).map { c, w in
            let t = c.count > w ? String(c.prefix(w - 1)) + "…" : c
            return t + String(repeating: " ", count: max(0, w - t.count))
        }.joined(separator: "  ")
    }
    print(line(r.columns))
    print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
    for row in rows { print(line(row)) }
    print("(\(rows.count) row\(rows.count == 1 ? "" : "s"))")
}

import ArgumentParser
import LLMDB
import LLMDBDocuments
import LLMDBService
import LLMDBStorage
import LLMDBWasm

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error the CLI reports as one line on stderr, with exit status 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Options every command that opens a database takes.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("db"), help: ArgumentHelp("The database file.", valueName: "path"))
    var path: String = "./llmdb-data"

    @Flag(name: .customLong("json"), help: "Print machine-readable JSON.")
    var json = false

    @Option(help: ArgumentHelp("When a commit is durable: full, meta or none.", valueName: "mode"))
    var sync: String = "full"

    @Option(help: ArgumentHelp("The largest the file's map may grow to, in MiB.", valueName: "MiB"))
    var maxMapSize: Int = 1 << 20

    func open(readOnly: Bool = false, create: Bool = false) throws -> Database {
        guard let mode = SyncPolicy(rawValue: sync) else {
            throw CLIError("--sync must be full, meta or none, not '\(sync)'")
        }
        let (bytes, overflow) = maxMapSize.multipliedReportingOverflow(by: 1 << 20)
        guard maxMapSize > 0, !overflow else { throw CLIError("--max-map-size must be from 1 to \(Int.max >> 20) MiB") }
        var o = Database.Options()
        o.sync = mode
        o.readOnly = readOnly
        o.create = create
        o.maxMapSize = bytes
        o.mapSize = min(o.mapSize, o.maxMapSize)
        o.codeRunner = WasmRuntime(limits: try wasmLimitsFromEnvironment())
        o.indexKinds = Database.Options.allIndexKinds
        let result = Result { () throws(LLMDBError) -> Database in try Database.open(path: path, options: o) }
        if case .failure(let error) = result, error.code == .invalidArgument, !create {
            throw CLIError(
                "no database at \(path) (create one with `llmdb init --db \(path)` or write to it with `llmdb put`)"
            )
        }
        return try result.get()
    }
}

/// A key on the command line, with its partition.
struct KeyOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The partition (tenant or agent namespace), 0 to 4294967295.", valueName: "n"))
    var partition: UInt32 = 0
}

func parseTime(_ text: String, _ option: String) throws -> Instant {
    guard let t = Instant(parsing: text) else {
        throw CLIError(
            "\(option): '\(text)' is not a time; use ISO-8601 in UTC (2024-05-01T12:00:00Z, up to 6 fractional digits) or integer microseconds since the epoch"
        )
    }
    return t
}

func parseTime(_ text: String?, _ option: String) throws -> Instant? {
    guard let text else { return nil }
    return try parseTime(text, option) as Instant
}

/// Builds a value from command-line text.
func makeValue(_ text: String, type: String) throws -> Value {
    switch type {
    case "json": return try Value.json(text)
    case "raw": return Value.raw(text)
    case "msgpack": return try Value.messagePack(json: text)
    default: throw CLIError("--type must be json, raw or msgpack, not '\(type)'")
    }
}

// MARK: Output

func timeJSON(_ t: Instant?) -> JSONValue {
    guard let t, t != .endOfTime else { return .null }
    return .string(t.iso8601)
}

func valueJSON(_ v: Value?) throws -> JSONValue {
    guard let v else { return .null }
    return try v.jsonTree()
}

func keyJSON(_ k: Key) -> JSONValue { .string(k.description) }

func printJSON(_ v: JSONValue) {
    print(String(decoding: JSON.serialize(v), as: UTF8.self))
}

func object(_ members: [(String, JSONValue)]) -> JSONValue {
    .object(members.map { JSONMember($0.0, $0.1) })
}

func commitJSON(_ c: Commit) -> JSONValue {
    object([("tx_id", .int(Int64(c.txID))), ("tx_time", timeJSON(c.txTime))])
}

func flushStdout() { fflush(nil) }

func printError(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
}

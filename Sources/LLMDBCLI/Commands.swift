public import ArgumentParser
import LLMDB
import LLMDBStorage
import LLMDBWasm

#if canImport(Glibc)
import Glibc
#endif

/// `llmdb`: the command-line interface.
public struct LLMDBCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "llmdb",
        abstract: "A bitemporal memory store for agents: every fact keeps valid time and transaction time.",
        discussion: """
            Times (T) are ISO-8601 in UTC (2024-05-01T12:00:00.000000Z) or integer microseconds \
            since the epoch. Every command takes --db PATH (default ./llmdb-data) and --json.
            Without a subcommand, llmdb opens (creating if needed) the database and shows its state.
            """,
        version: "0.1.0",
        subcommands: [
            Status.self, Init.self, Put.self, Delete.self, Erase.self, Get.self, History.self, Timeline.self,
            Scan.self, Apply.self, Log.self, Stats.self, Backup.self, Compact.self, Verify.self,
            Code.self, Hook.self, Index.self, Reduce.self, Doc.self, SchemaCommand.self, Migrate.self, Query.self,
            Repl.self, Serve.self, MCPCommand.self, KeyCommand.self, Vector.self,
        ],
        defaultSubcommand: Status.self
    )
    public init() {}
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Open (creating if needed) the database and show its state and the next steps."
    )
    @OptionGroup var db: DatabaseOptions

    func run() throws {
        let database = try db.open(create: true)
        let s = try database.stats()
        if db.json {
            printJSON(statsJSON(s))
            return
        }
        print(
            "LLMDB database \(s.path): \(s.transactions) transactions, \(s.entries) entries, last tx \(s.lastTxID)\(s.lastTxTime.map { " at \($0)" } ?? "")."
        )
        print(
            "Try (with .build/release/llmdb, or scripts/run.sh):  llmdb put greeting '\"hello\"'   llmdb get greeting   llmdb history greeting   llmdb --help"
        )
    }
}

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create an empty database (does nothing to an existing one but check it)."
    )
    @OptionGroup var db: DatabaseOptions
    func run() throws {
        let database = try db.open(create: true)
        let s = try database.stats()
        if db.json {
            printJSON(object([("path", .string(s.path)), ("format_version", .int(Int64(s.formatVersion)))]))
        } else {
            print("database \(s.path) ready (format version \(s.formatVersion), \(s.transactions) transactions)")
        }
    }
}

struct TimeRangeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Start of valid time (default: the transaction time).", valueName: "T"))
    var validFrom: String?
    @Option(
        help: ArgumentHelp(
            "End of valid time, exclusive (default: open-ended; the value in effect there is restored).",
            valueName: "T"
        )
    )
    var validTo: String?
    @Option(help: ArgumentHelp("An explicit transaction time (imports); must be after the last one.", valueName: "T"))
    var txTime: String?
}

struct Put: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Put a value for a key (a new transaction).")
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var key: KeyOptions
    @Argument(help: ArgumentHelp("The key.", valueName: "key")) var name: String
    @Argument(help: "The value (JSON unless --type says otherwise).") var value: String
    @Option(help: ArgumentHelp("json, raw or msgpack (given as JSON, stored as MessagePack).", valueName: "type"))
    var type: String = "json"
    @OptionGroup var range: TimeRangeOptions

    func run() throws {
        let v: Value
        do { v = try makeValue(value, type: type) } catch let e as LLMDBError
            where e.code == .invalidJSON && type == "json"
        {
            throw CLIError("\(e.message) (for plain text use --type raw)")
        }
        let from = try parseTime(range.validFrom, "--valid-from")
        let to = try parseTime(range.validTo, "--valid-to")
        let k = Key(name, partition: key.partition)
        let tx = try parseTime(range.txTime, "--tx-time")
        let database = try db.open(create: true)
        let c = try database.write(txTime: tx) { try $0.put(k, v, validFrom: from, validTo: to) }
        if db.json { printJSON(commitJSON(c)) } else { print(c) }
    }
}

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Retract a key (writes a tombstone; history keeps it).")
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var key: KeyOptions
    @Argument(help: ArgumentHelp("The key.", valueName: "key")) var name: String
    @OptionGroup var range: TimeRangeOptions

    func run() throws {
        let from = try parseTime(range.validFrom, "--valid-from")
        let to = try parseTime(range.validTo, "--valid-to")
        let tx = try parseTime(range.txTime, "--tx-time")
        let k = Key(name, partition: key.partition)
        let database = try db.open(create: true)
        let c = try database.write(txTime: tx) { try $0.delete(k, validFrom: from, validTo: to) }
        if db.json { printJSON(commitJSON(c)) } else { print(c) }
    }
}

struct Erase: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Erase every entry of a key, for all valid and transaction times.",
        discussion: """
            The log keeps only that an erase happened and how many entries it removed. LMDB is \
            copy-on-write, so the erased bytes stay in freed pages until the file is compacted: \
            erase then compacts the file in place (as `llmdb compact` does) when no other process \
            has it open, and otherwise says that the bytes remain until `llmdb compact` runs.
            """
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var key: KeyOptions
    @Argument(help: ArgumentHelp("The key.", valueName: "key")) var name: String
    @Flag(help: "Do not compact after erasing (the erased bytes stay in free pages until `llmdb compact`).")
    var noCompact = false

    func run() throws {
        let k = Key(name, partition: key.partition)
        let c: Commit
        do {
            let database = try db.open()
            c = try database.erase(k)
            database.close()
        }
        var purged = false
        var note = ""
        if !noCompact {
            do {
                try Database.compact(path: db.path)
                purged = true
            } catch {
                note = "erased bytes remain in free pages until `llmdb compact` runs: \(error)"
            }
        }
        if db.json {
            printJSON(
                object([("tx_id", .int(Int64(c.txID))), ("tx_time", timeJSON(c.txTime)), ("compacted", .bool(purged))])
            )
        } else {
            print("\(c)\(purged ? "; file compacted, the erased bytes are gone" : "")")
        }
        if !note.isEmpty { printError("llmdb: note: \(note)") }
    }
}

struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Rewrite the database file in place without its free pages (offline: no other process may have it open).",
        discussion:
            "Removes the bytes of erased and overwritten entries from the file. Refused while another process has the database open."
    )
    @OptionGroup var db: DatabaseOptions
    func run() throws {
        let r = try Database.compact(path: db.path)
        if db.json {
            printJSON(
                object([("bytes_before", .int(Int64(r.bytesBefore))), ("bytes_after", .int(Int64(r.bytesAfter)))])
            )
        } else {
            print("compacted \(db.path): \(r.bytesBefore) → \(r.bytesAfter) bytes")
        }
    }
}

struct AsOfOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Read as of this transaction time (the last tx at or before it).", valueName: "T"))
    var txAt: String?
    @Option(name: .customLong("tx"), help: ArgumentHelp("Read as of this transaction id.", valueName: "N"))
    var txID: UInt64?

    func selector() throws -> TxSelector {
        if txAt != nil && txID != nil { throw CLIError("give --tx-at or --tx, not both") }
        if let txID { return .id(txID) }
        if let t = try parseTime(txAt, "--tx-at") { return .time(t) }
        return .latest
    }
}

struct Get: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a key's value as of a valid time and a transaction."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var key: KeyOptions
    @Argument(help: ArgumentHelp("The key.", valueName: "key")) var name: String
    @Option(help: ArgumentHelp("Valid time to read at (default: now).", valueName: "T")) var validAt: String?
    @OptionGroup var asOf: AsOfOptions

    func run() throws {
        let v = try parseTime(validAt, "--valid-at")
        let sel = try asOf.selector()
        let database = try db.open(readOnly: true)
        let f = try database.get(Key(name, partition: key.partition), validAt: v, tx: sel)
        if db.json {
            guard let f else {
                print("null")
                return
            }
            printJSON(
                object([
                    ("key", keyJSON(f.key)), ("value", try valueJSON(f.value)), ("type", .string(f.value!.tag.name)),
                    ("valid_from", timeJSON(f.validFrom)), ("tx_id", .int(Int64(f.txID))),
                    ("tx_time", timeJSON(f.txTime)),
                ])
            )
        } else {
            guard let f else {
                print("(absent)")
                return
            }
            print(try f.value!.jsonText())
        }
    }
}

func historyJSON(_ f: Fact) throws -> JSONValue {
    var m: [(String, JSONValue)] = [("value", try valueJSON(f.value))]
    if f.isTombstone { m.append(("deleted", .bool(true))) }
    m += [
        ("valid_from", timeJSON(f.validFrom)), ("valid_to", timeJSON(f.validTo)), ("tx_id", .int(Int64(f.txID))),
        ("tx_time", timeJSON(f.txTime)),
    ]
    return object(m)
}

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a key's entries by valid time, as known at a transaction."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var key: KeyOptions
    @Argument(help: ArgumentHelp("The key.", valueName: "key")) var name: String
    @OptionGroup var asOf: AsOfOptions
    @Flag(help: "Show every entry, including those later corrected.") var withCorrections = false

    func run() throws {
        let sel = try asOf.selector()
        let database = try db.open(readOnly: true)
        let h = try database.history(
            of: Key(name, partition: key.partition),
            asOf: sel,
            withCorrections: withCorrections
        )
        if db.json {
            printJSON(.array(try h.map(historyJSON)))
            return
        }
        for f in h {
            let v = try f.value.map { try $0.jsonText() } ?? "(deleted)"
            print("[\(f.validFrom), \(f.validTo.map { "\($0)" } ?? "∞")) tx \(f.txID) at \(f.txTime): \(v)")
        }
    }
}

struct Timeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a key's value over valid time, merged into runs, within a window."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var key: KeyOptions
    @Argument(help: ArgumentHelp("The key.", valueName: "key")) var name: String
    @Option(help: ArgumentHelp("Window start: runs with start < TO and end > FROM (needs --to).", valueName: "T"))
    var from: String?
    @Option(help: ArgumentHelp("Window end, exclusive (needs --from).", valueName: "T")) var to: String?
    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp("A closed window: runs with start ≤ B and end > A.", valueName: "A B")
    )
    var between: [String] = []
    @Option(help: ArgumentHelp("Only the run in effect at T.", valueName: "T")) var validAt: String?
    @OptionGroup var asOf: AsOfOptions

    func window() throws -> TimeWindow {
        let chosen = [from != nil || to != nil, !between.isEmpty, validAt != nil].filter { $0 }.count
        if chosen > 1 { throw CLIError("give one window: --from/--to, --between or --valid-at") }
        if from != nil || to != nil {
            guard let from, let to else { throw CLIError("--from and --to go together") }
            let a = try parseTime(from, "--from")
            let b = try parseTime(to, "--to") as Instant
            guard a < b else { throw CLIError("--to must be after --from") }
            return .from(a, to: b)
        }
        if !between.isEmpty {
            guard between.count == 2 else { throw CLIError("--between takes two times") }
            let a = try parseTime(between[0], "--between")
            let b = try parseTime(between[1], "--between") as Instant
            guard a <= b else { throw CLIError("--between: the second time must not be before the first") }
            return .between(a, and: b)
        }
        if let validAt { return .asOf(try parseTime(validAt, "--valid-at")) }
        return .all
    }

    func run() throws {
        let w = try window()
        let sel = try asOf.selector()
        let database = try db.open(readOnly: true)
        let runs = try database.timeline(of: Key(name, partition: key.partition), window: w, asOf: sel)
        if db.json {
            printJSON(
                .array(
                    try runs.map { r in
                        object([
                            ("value", try valueJSON(r.value)), ("valid_from", timeJSON(r.validFrom)),
                            ("valid_to", timeJSON(r.validTo)),
                        ])
                    }
                )
            )
            return
        }
        for r in runs { print("[\(r.validFrom), \(r.validTo.map { "\($0)" } ?? "∞")): \(try r.value.jsonText())") }
    }
}

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the keys with a prefix and their values, as of a time."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var key: KeyOptions
    @Option(help: ArgumentHelp("The key prefix (empty: the whole partition).", valueName: "P")) var prefix: String = ""
    @Option(help: ArgumentHelp("Valid time to read at (default: now).", valueName: "T")) var validAt: String?
    @OptionGroup var asOf: AsOfOptions
    @Option(help: ArgumentHelp("At most this many keys.", valueName: "n")) var limit: Int = .max
    @Option(
        help: ArgumentHelp("Pass the rows through this map_pages module (see `llmdb code`).", valueName: "module")
    )
    var map: String?

    func run() throws {
        guard limit > 0 else { throw CLIError("--limit must be positive") }
        let v = try parseTime(validAt, "--valid-at")
        let sel = try asOf.selector()
        let database = try db.open(readOnly: true)
        if let map {
            let rows = try database.scan(
                prefix: Key(prefix, partition: key.partition),
                map: map,
                validAt: v,
                tx: sel,
                limit: limit
            )
            try printFacts(rows, json: db.json)
            return
        }
        let facts = try database.read(validAt: v, tx: sel) {
            try $0.scan(prefix: Key(prefix, partition: key.partition), limit: limit)
        }
        if db.json {
            printJSON(
                .array(
                    try facts.map { f in
                        object([
                            ("key", keyJSON(f.key)), ("value", try valueJSON(f.value)),
                            ("valid_from", timeJSON(f.validFrom)),
                            ("tx_id", .int(Int64(f.txID))), ("tx_time", timeJSON(f.txTime)),
                        ])
                    }
                )
            )
            return
        }
        for f in facts { print("\(f.key)\t\(try f.value!.jsonText())") }
    }
}

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List transactions, optionally within a transaction-time window."
    )
    @OptionGroup var db: DatabaseOptions
    @Option(help: ArgumentHelp("Window start (with --to): transactions at FROM ≤ t < TO.", valueName: "T")) var from:
        String?
    @Option(help: ArgumentHelp("Window end, exclusive.", valueName: "T")) var to: String?
    @Option(help: ArgumentHelp("At most this many transactions.", valueName: "n")) var limit: Int = .max

    func run() throws {
        var w = TimeWindow.all
        if from != nil || to != nil {
            let a = try parseTime(from ?? "\(Int64.min)", "--from")
            let b = try parseTime(to ?? "inf", "--to") as Instant
            guard a < b else { throw CLIError("--to must be after --from") }
            w = .from(a, to: b)
        }
        let database = try db.open(readOnly: true)
        let records = try database.transactions(in: w, limit: limit)
        if db.json {
            printJSON(
                .array(
                    records.map { r in
                        object([
                            ("tx_id", .int(Int64(r.txID))), ("tx_time", timeJSON(r.txTime)),
                            ("puts", .int(Int64(r.puts))),
                            ("deletes", .int(Int64(r.deletes))), ("erases", .int(Int64(r.erases))),
                            ("entries_written", .int(Int64(r.entriesWritten))),
                            ("entries_erased", .int(Int64(r.entriesErased))),
                            ("explicit_time", .bool(r.explicitTime)), ("migration", .bool(r.migration)),
                        ])
                    }
                )
            )
            return
        }
        for r in records {
            print(
                "tx \(r.txID) at \(r.txTime): \(r.puts) puts, \(r.deletes) deletes, \(r.erases) erases (\(r.entriesWritten) entries written\(r.entriesErased > 0 ? ", \(r.entriesErased) erased" : ""))\(r.explicitTime ? " [explicit time]" : "")\(r.migration ? " [migration]" : "")"
            )
        }
    }
}

func statsJSON(_ s: DatabaseStats) -> JSONValue {
    object([
        ("path", .string(s.path)), ("file_size", .int(Int64(s.fileSize))), ("map_size", .int(Int64(s.mapSize))),
        ("max_map_size", .int(Int64(s.maxMapSize))), ("page_size", .int(Int64(s.pageSize))),
        ("entries", .int(Int64(s.entries))),
        ("transactions", .int(Int64(s.transactions))), ("last_tx_id", .int(Int64(s.lastTxID))),
        ("last_tx_time", timeJSON(s.lastTxTime)),
        ("readers", .int(Int64(s.readers))), ("max_readers", .int(Int64(s.maxReaders))),
        ("format_version", .int(Int64(s.formatVersion))),
        ("async_indexes", .array(s.asyncIndexes.map(asyncIndexJSON))),
    ])
}

func asyncIndexJSON(_ a: AsyncIndexStatus) -> JSONValue {
    object([
        ("name", .string(a.name)), ("kind", .string(a.kind)), ("phase", .string(a.phase.rawValue)),
        ("indexed_through", a.indexedThrough.map { .int(Int64($0)) } ?? .null),
        ("pending_transactions", .int(Int64(a.pendingTransactions))),
        ("built_entries", .int(Int64(a.builtEntries))), ("caught_up_entries", .int(Int64(a.caughtUpEntries))),
        ("build_horizon", .int(Int64(a.buildHorizon))), ("kind_registered", .bool(a.kindRegistered)),
        ("error", a.error.map { .string($0) } ?? .null),
    ])
}

/// One line per asynchronous index: how far it is behind the facts.
func asyncIndexLine(_ a: AsyncIndexStatus) -> String {
    var line = "index '\(a.name)' (\(a.kind)): \(a.phase.rawValue)"
    switch a.phase {
    case .building: line += ", \(a.builtEntries) entries built of those up to tx \(a.buildHorizon)"
    case .live, .failed: line += ", indexed through tx \(a.indexedThrough ?? 0)"
    }
    if a.pendingTransactions > 0 { line += ", \(a.pendingTransactions) transactions queued" }
    if !a.kindRegistered { line += " (its kind is not registered here: nothing advances)" }
    if let e = a.error { line += "; error: \(e)" }
    return line
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show sizes and counts.")
    @OptionGroup var db: DatabaseOptions
    func run() throws {
        let database = try db.open(readOnly: true)
        let s = try database.stats()
        if db.json {
            printJSON(statsJSON(s))
            return
        }
        print(
            """
            path            \(s.path)
            format version  \(s.formatVersion)
            file size       \(s.fileSize) bytes
            map size        \(s.mapSize) bytes (max \(s.maxMapSize))
            page size       \(s.pageSize) bytes
            entries         \(s.entries)
            transactions    \(s.transactions)
            last tx         \(s.lastTxID)\(s.lastTxTime.map { " at \($0)" } ?? "")
            readers         \(s.readers) of \(s.maxReaders)
            """
        )
        for a in s.asyncIndexes { print("async index     \(asyncIndexLine(a))") }
    }
}

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a hot, compacted copy of the database to a new file (writers may go on)."
    )
    @OptionGroup var db: DatabaseOptions
    @Argument(help: "The destination file (must not exist).") var destination: String
    func run() throws {
        let database = try db.open(readOnly: true)
        try database.backup(to: destination)
        if db.json {
            printJSON(object([("backup", .string(destination))]))
        } else {
            print("backup written to \(destination)")
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Check the whole file: keys, values, the transaction log and its index, and each index against the facts. Exits 1 on any problem."
    )
    @OptionGroup var db: DatabaseOptions
    func run() throws {
        let database = try db.open(readOnly: true)
        let r = try database.verify()
        if db.json {
            printJSON(
                object([
                    ("ok", .bool(r.ok)), ("entries", .int(Int64(r.entries))), ("keys", .int(Int64(r.keys))),
                    ("transactions", .int(Int64(r.transactions))), ("indexes_checked", .int(Int64(r.indexesChecked))),
                    ("indexes_unchecked", .array(r.indexesUnchecked.map { .string($0) })),
                    ("indexes_behind", .array(r.indexesBehind.map { .string($0) })),
                    ("problems", .array(r.problems.map { .string($0) })),
                ])
            )
        } else {
            print("\(r.ok ? "ok" : "PROBLEMS"): \(r.entries) entries, \(r.keys) keys, \(r.transactions) transactions")
            if r.indexesChecked > 0 { print("  \(r.indexesChecked) indexes match the facts") }
            for name in r.indexesUnchecked { print("  - index '\(name)' not checked: its kind is not registered") }
            for name in r.indexesBehind {
                print("  - index '\(name)' not checked: it is asynchronous and behind the facts (see llmdb stats)")
            }
            for p in r.problems { print("  - \(p)") }
        }
        if !r.ok { throw ExitCode(1) }
    }
}

/// Runs the `llmdb` command line with the process's arguments and exits.
///
/// Errors are one line on stderr (`Error: …`) with a non-zero status: 64 for a usage error,
/// 1 otherwise. `--help` and `--version` print to stdout and exit 0.
public func runCommandLine() -> Never {
    do {
        if let problem = LLMDBCommand.unknownCommand(in: Array(CommandLine.arguments.dropFirst())) {
            printError("Error: " + problem)
            exit(ExitCode.validationFailure.rawValue)
        }
        var command = try LLMDBCommand.parseAsRoot()
        try command.run()
        exit(0)
    } catch {
        let code = LLMDBCommand.exitCode(for: error)
        let message = LLMDBCommand.message(for: error)
        if code == .success {
            if !message.isEmpty { print(message) }
            exit(0)
        }
        let line = message.split(separator: "\n").first.map(String.init) ?? ""
        if !line.isEmpty { printError(line.hasPrefix("Error:") ? line : "Error: " + line) }
        exit(code.rawValue)
    }
}

extension LLMDBCommand {
    /// The names a command answers to: its name (given, or its type name in kebab case, as
    /// the argument parser derives it) and its aliases.
    static func names(of command: any ParsableCommand.Type) -> [String] {
        let name =
            command.configuration.commandName
            ?? String(describing: command).reduce(into: "") { out, c in
                if c.isUppercase, !out.isEmpty { out.append("-") }
                out.append(contentsOf: c.lowercased())
            }
        return [name] + command.configuration.aliases
    }

    /// The problem with `args` when a word in a command's place is not a command: without
    /// this, `llmdb vector --help` would print the help of `status` (the default command)
    /// as if `vector` existed. Options and their values are skipped; the words after a
    /// command without subcommands are its arguments.
    static func unknownCommand(in args: [String]) -> String? {
        // The root's options that take a value (those of `status`, the default command).
        let valued: Set<String> = ["--db", "--sync", "--max-map-size"]
        var command: any ParsableCommand.Type = LLMDBCommand.self
        var path = ["llmdb"]
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--" { return nil }
            if a.hasPrefix("-") {
                i += path.count == 1 && valued.contains(a) ? 2 : 1
                continue
            }
            let subcommands = command.configuration.subcommands
            if subcommands.isEmpty { return nil }
            guard let next = subcommands.first(where: { names(of: $0).contains(a) }) else {
                let known = subcommands.map { names(of: $0)[0] }
                return
                    "'\(a.prefix(60))' is not a command of \(path.joined(separator: " ")); the commands are: \(known.joined(separator: ", ")) (see \(path.joined(separator: " ")) --help)"
            }
            command = next
            path.append(names(of: next)[0])
            i += 1
        }
        return nil
    }
}

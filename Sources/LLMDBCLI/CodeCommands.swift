import ArgumentParser
import Foundation
import LLMDB
import LLMDBWasm

/// The WebAssembly limits and grants of the CLI's runtime, from the environment.
func wasmLimitsFromEnvironment() throws -> WasmLimits {
    let env = ProcessInfo.processInfo.environment
    var limits = WasmLimits()
    func number(_ name: String) throws -> Int64? {
        guard let text = env[name] else { return nil }
        guard let n = Int64(text), n > 0 else { throw CLIError("\(name) must be a positive integer, not '\(text)'") }
        return n
    }
    if let n = try number("LLMDB_WASM_FUEL") { limits.fuel = UInt64(n) }
    if let n = try number("LLMDB_WASM_DEADLINE_MS") {
        guard n <= 86_400_000 else { throw CLIError("LLMDB_WASM_DEADLINE_MS must be at most 86400000 (a day)") }
        limits.deadlineMicroseconds = n * 1000
    }
    if let n = try number("LLMDB_WASM_MEMORY_MB") {
        guard n <= 4096 else { throw CLIError("LLMDB_WASM_MEMORY_MB must be at most 4096") }
        limits.memoryBytes = Int(n) << 20
    }
    if let text = env["LLMDB_WASM_GRANTS"], !text.isEmpty {
        for name in text.split(separator: ",") {
            guard let c = WasmCapability(rawValue: String(name)) else {
                throw CLIError("LLMDB_WASM_GRANTS: unknown capability '\(name)'; the capabilities are clock and random")
            }
            limits.grants.insert(c)
        }
    }
    return limits
}

func codeJSON(_ c: CodeInfo) -> JSONValue {
    object([
        ("name", .string(c.meta.name)), ("kind", .string(c.meta.kind.rawValue)),
        ("function", .string(c.meta.function)), ("sha256", .string(c.meta.sha256)),
        ("size", .int(Int64(c.meta.size))), ("exports", .array(c.meta.exports.map { .string($0) })),
        ("tx_id", .int(Int64(c.txID))), ("registered_at", timeJSON(c.registeredAt)),
    ])
}

func definitionJSON(_ d: ExtensionDefinition) -> JSONValue {
    var members: [(String, JSONValue)] = [("name", .string(d.name))]
    if d.kind == .index { members.append(("kind", .string(d.indexKind))) }
    members += [
        ("module", .string(d.moduleName)), ("sha256", .string(d.module)),
        ("function", .string(d.function)), ("partition", .int(Int64(d.scope.partition))),
        ("prefix", .string(String(decoding: d.scope.prefix, as: UTF8.self))),
    ]
    if !d.settings.isEmpty { members.append(("settings", .object(d.settings))) }
    return object(members)
}

struct Code: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register, list, show and remove WebAssembly modules (see docs/wasm-abi.md).",
        discussion: """
            Modules are stored content-addressed at _meta/code/{sha256}, versioned like any fact: \
            `code list --tx N` shows which code was live at transaction N. Limits and grants come from \
            LLMDB_WASM_FUEL, LLMDB_WASM_DEADLINE_MS, LLMDB_WASM_MEMORY_MB and LLMDB_WASM_GRANTS (clock,random).
            """,
        subcommands: [CodeAdd.self, CodeList.self, CodeShow.self, CodeRemove.self]
    )
}

struct CodeAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Validate and register a module (a .wasm binary or .wat text)."
    )
    @OptionGroup var db: DatabaseOptions
    @Argument(help: ArgumentHelp("The module file.", valueName: "file")) var file: String
    @Option(help: ArgumentHelp("The module's name (1 to 64 letters, digits, - _ .).", valueName: "name")) var name:
        String
    @Option(
        help: ArgumentHelp("map_pages, reduce_pages, tx_hook or custom_index (default: inferred).", valueName: "kind")
    )
    var kind: String?
    @Option(help: ArgumentHelp("The exported function to call (default: the kind's name).", valueName: "name"))
    var function: String?

    func run() throws {
        var k: WasmFunctionKind? = nil
        if let kind {
            guard let parsed = WasmFunctionKind(rawValue: kind) else {
                throw CLIError("--kind must be map_pages, reduce_pages, tx_hook or custom_index, not '\(kind)'")
            }
            k = parsed
        }
        guard let data = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read \(file)") }
        let database = try db.open(create: true)
        let info = try database.addCode(Array(data), name: name, kind: k, function: function)
        if db.json {
            printJSON(codeJSON(info))
        } else {
            print(
                "registered \(info.meta.name): \(info.meta.kind.rawValue) '\(info.meta.function)', \(info.meta.size) bytes, sha256 \(info.meta.sha256) (tx \(info.txID))"
            )
        }
    }
}

struct CodeList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the live modules, as of a time."
    )
    @OptionGroup var db: DatabaseOptions
    @Option(help: ArgumentHelp("Valid time to read at (default: now).", valueName: "T")) var validAt: String?
    @OptionGroup var asOf: AsOfOptions

    func run() throws {
        let v = try parseTime(validAt, "--valid-at")
        let database = try db.open(readOnly: true)
        let list = try database.listCode(validAt: v, tx: try asOf.selector())
        if db.json {
            printJSON(.array(list.map(codeJSON)))
            return
        }
        if list.isEmpty { print("no modules") }
        for c in list {
            print(
                "\(c.meta.name)\t\(c.meta.kind.rawValue)\t\(c.meta.size) bytes\t\(c.meta.sha256.prefix(16))\tregistered \(c.registeredAt)"
            )
        }
    }
}

struct CodeShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one module: its exports, hash and users."
    )
    @OptionGroup var db: DatabaseOptions
    @Argument(help: ArgumentHelp("A module name, or at least 8 hex digits of its sha256.", valueName: "module"))
    var ref: String
    @OptionGroup var asOf: AsOfOptions

    func run() throws {
        let database = try db.open(readOnly: true)
        let c = try database.code(ref, tx: try asOf.selector())
        let users = try (database.hooks() + database.indexes()).filter { $0.module == c.meta.sha256 }
        if db.json {
            guard case .object(var members) = codeJSON(c) else { return }
            members.append(JSONMember("used_by", .array(users.map { .string("\($0.kind.rawValue) \($0.name)") })))
            printJSON(.object(members))
            return
        }
        print("name:       \(c.meta.name)")
        print("kind:       \(c.meta.kind.rawValue) (function '\(c.meta.function)')")
        print("sha256:     \(c.meta.sha256)")
        print("size:       \(c.meta.size) bytes")
        print("exports:    \(c.meta.exports.joined(separator: ", "))")
        print("registered: \(c.registeredAt) (tx \(c.txID))")
        print(
            "used by:    \(users.isEmpty ? "nothing" : users.map { "\($0.kind.rawValue) \($0.name)" }.joined(separator: ", "))"
        )
    }
}

struct CodeRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Retract a module (history keeps it). Refused while a hook or an index uses it."
    )
    @OptionGroup var db: DatabaseOptions
    @Argument(help: ArgumentHelp("A module name, or at least 8 hex digits of its sha256.", valueName: "module"))
    var ref: String
    @Flag(help: "Remove it even if hooks or indexes use it (their writes then fail until they are removed).")
    var force = false

    func run() throws {
        let database = try db.open()
        let c = try database.removeCode(ref, force: force)
        if db.json { printJSON(commitJSON(c)) } else { print("removed \(ref) (tx \(c.txID))") }
    }
}

struct Hook: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add, list and remove transaction hooks: tx_hook code that may reject writes to a key prefix.",
        subcommands: [HookAdd.self, HookList.self, HookRemove.self]
    )
}

struct ScopeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The key prefix covered (empty: the whole partition).", valueName: "P")) var prefix:
        String
    @Option(help: ArgumentHelp("The partition covered.", valueName: "n")) var partition: UInt32 = 0
    var scope: KeyScope { KeyScope(partition: partition, prefix: prefix) }
}

struct HookAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Run a tx_hook module on every transaction that writes keys under a prefix."
    )
    @OptionGroup var db: DatabaseOptions
    @Argument(help: ArgumentHelp("The tx_hook module (name or sha256 prefix).", valueName: "module")) var module: String
    @OptionGroup var scope: ScopeOptions
    @Option(help: ArgumentHelp("The hook's name (default: the module's name).", valueName: "name")) var name: String?
    @Option(help: ArgumentHelp("The exported function (default: the module's).", valueName: "name")) var function:
        String?

    func run() throws {
        let database = try db.open()
        let d = try database.addHook(name: name ?? module, module: module, scope: scope.scope, function: function)
        if db.json {
            printJSON(definitionJSON(d))
        } else {
            print("hook \(d.name) runs \(d.moduleName).\(d.function) on \(d.scope)")
        }
    }
}

struct HookList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the hooks, as of a transaction."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var asOf: AsOfOptions
    func run() throws {
        printDefinitions(try db.open(readOnly: true).hooks(tx: try asOf.selector()), json: db.json, none: "no hooks")
    }
}

struct HookRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a hook.")
    @OptionGroup var db: DatabaseOptions
    @Argument(help: ArgumentHelp("The hook's name.", valueName: "name")) var name: String
    func run() throws {
        let c = try db.open().removeHook(name)
        if db.json { printJSON(commitJSON(c)) } else { print("removed hook \(name) (tx \(c.txID))") }
    }
}

struct Index: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add, list, query and remove custom indexes: custom_index code that emits index keys per record.",
        discussion: "An index is bitemporal: `index get` answers as of any valid and transaction time.",
        subcommands: [IndexAdd.self, IndexGet.self, IndexList.self, IndexRemove.self]
    )
}

struct IndexAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Define an index over a key prefix, build it from all stored entries, and maintain it on every write."
    )
    @OptionGroup var db: DatabaseOptions
    @Argument(help: ArgumentHelp("The index's name.", valueName: "name")) var name: String
    @Option(help: ArgumentHelp("The custom_index module (name or sha256 prefix).", valueName: "module")) var module:
        String
    @OptionGroup var scope: ScopeOptions
    @Option(help: ArgumentHelp("The exported function (default: the module's).", valueName: "name")) var function:
        String?

    func run() throws {
        let database = try db.open()
        let d = try database.addIndex(name: name, module: module, scope: scope.scope, function: function)
        if db.json {
            printJSON(definitionJSON(d))
        } else {
            print("index \(d.name) built with \(d.moduleName).\(d.function) over \(d.scope)")
        }
    }
}

struct IndexGet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "List the facts whose value emits an index key, as of a time."
    )
    @OptionGroup var db: DatabaseOptions
    @Argument(help: ArgumentHelp("The index's name.", valueName: "name")) var name: String
    @Argument(help: ArgumentHelp("The index key (text).", valueName: "value")) var value: String
    @Option(help: ArgumentHelp("Valid time to read at (default: now).", valueName: "T")) var validAt: String?
    @OptionGroup var asOf: AsOfOptions
    @Option(help: ArgumentHelp("At most this many facts.", valueName: "n")) var limit: Int = .max

    func run() throws {
        guard limit > 0 else { throw CLIError("--limit must be positive") }
        let v = try parseTime(validAt, "--valid-at")
        let database = try db.open(readOnly: true)
        let facts = try database.lookup(
            index: name,
            key: Array(value.utf8),
            validAt: v,
            tx: try asOf.selector(),
            limit: limit
        )
        try printFacts(facts, json: db.json)
    }
}

struct IndexList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the indexes, as of a transaction."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var asOf: AsOfOptions
    func run() throws {
        printDefinitions(
            try db.open(readOnly: true).indexes(tx: try asOf.selector()),
            json: db.json,
            none: "no indexes"
        )
    }
}

struct IndexRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove an index and its data.")
    @OptionGroup var db: DatabaseOptions
    @Argument(help: ArgumentHelp("The index's name.", valueName: "name")) var name: String
    func run() throws {
        let c = try db.open().removeIndex(name)
        if db.json { printJSON(commitJSON(c)) } else { print("removed index \(name) (tx \(c.txID))") }
    }
}

struct Reduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fold the values under a prefix with a reduce_pages module, as of a time.",
        discussion: "Prints reduce_finish's output when the module exports it, else the accumulator in hex."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var key: KeyOptions
    @Option(help: ArgumentHelp("The key prefix (empty: the whole partition).", valueName: "P")) var prefix: String = ""
    @Option(name: .customLong("reduce"), help: ArgumentHelp("The reduce_pages module.", valueName: "module"))
    var module: String
    @Option(help: ArgumentHelp("Valid time to read at (default: now).", valueName: "T")) var validAt: String?
    @OptionGroup var asOf: AsOfOptions

    func run() throws {
        let v = try parseTime(validAt, "--valid-at")
        let database = try db.open(readOnly: true)
        let r = try database.reduce(
            prefix: Key(prefix, partition: key.partition),
            module: module,
            validAt: v,
            tx: try asOf.selector()
        )
        let hex = r.accumulatorHex
        if db.json {
            var result: JSONValue = .null
            if let out = r.result {
                result = (try? JSON.parse(out)) ?? .string(String(decoding: out, as: UTF8.self))
            }
            printJSON(
                object([
                    ("result", result), ("accumulator_hex", .string(hex)), ("records", .int(Int64(r.records))),
                    ("pages", .int(Int64(r.pages))),
                ])
            )
            return
        }
        if let out = r.result { print(String(decoding: out, as: UTF8.self)) } else { print(hex) }
    }
}

func printDefinitions(_ list: [ExtensionDefinition], json: Bool, none: String) {
    if json {
        printJSON(.array(list.map(definitionJSON)))
        return
    }
    if list.isEmpty { print(none) }
    for d in list {
        // An index of a kind that runs no module shows its kind (json_path, full_text, ...).
        let what = d.kind == .index && d.module.isEmpty ? d.indexKind : "\(d.moduleName).\(d.function)"
        print("\(d.name)\t\(what)\t\(d.scope)")
    }
}

func printFacts(_ facts: [Fact], json: Bool) throws {
    if json {
        printJSON(
            .array(
                try facts.map { f in
                    object([
                        ("key", keyJSON(f.key)), ("value", try valueJSON(f.value)),
                        ("valid_from", timeJSON(f.validFrom)), ("tx_id", .int(Int64(f.txID))),
                    ])
                }
            )
        )
        return
    }
    for f in facts { print("\(f.key)\t\(try f.value.map { try $0.jsonText() } ?? "(retracted)")") }
}

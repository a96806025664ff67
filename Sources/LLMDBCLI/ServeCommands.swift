import ArgumentParser
import Dispatch
import Foundation
import LLMDB
import LLMDBDocuments
import LLMDBServer
import LLMDBService
import LLMDBWasm
import Logging

/// Runs async work from a synchronous command and waits for it.
func runAsync(_ body: @escaping @Sendable () async throws -> Void) throws {
    final class Box: @unchecked Sendable {
        // @unchecked Sendable: written once by the task before the semaphore is signalled.
        var error: (any Error)?
    }
    let box = Box()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { try await body() } catch { box.error = error }
        done.signal()
    }
    done.wait()
    if let e = box.error { throw e }
}

/// Settings of `llmdb serve` from flags, then LLMDB_* environment variables, then a JSON
/// config file, then defaults (docs/server.md).
struct ServeSettings: ParsableArguments {
    @Option(
        name: .customLong("db"),
        help: ArgumentHelp("The database file (env LLMDB_DB; default ./llmdb-data).", valueName: "path")
    )
    var path: String?
    @Option(help: ArgumentHelp("Address to listen on (env LLMDB_HOST; default 127.0.0.1).", valueName: "host"))
    var host: String?
    @Option(help: ArgumentHelp("Port (env LLMDB_PORT; default 7070).", valueName: "n"))
    var port: Int?
    @Option(
        help: ArgumentHelp("A JSON file of settings (env LLMDB_CONFIG); keys as in docs/server.md.", valueName: "file")
    )
    var config: String?
    @Flag(help: "Require an API key even on loopback with no keys defined (env LLMDB_REQUIRE_AUTH=1).")
    var requireAuth = false
    @Option(help: ArgumentHelp("TLS certificate chain, PEM (env LLMDB_TLS_CERT).", valueName: "file"))
    var tlsCert: String?
    @Option(help: ArgumentHelp("TLS private key, PEM (env LLMDB_TLS_KEY).", valueName: "file"))
    var tlsKey: String?
    @Option(
        help: ArgumentHelp("Largest request body in bytes (env LLMDB_MAX_BODY_BYTES; default 4194304).", valueName: "n")
    )
    var maxBodyBytes: Int?
    @Option(
        help: ArgumentHelp(
            "Requests served at once; more get 503 (env LLMDB_MAX_CONCURRENT; default 256).",
            valueName: "n"
        )
    )
    var maxConcurrent: Int?
    @Option(
        help: ArgumentHelp(
            "Requests one API key may run at once (env LLMDB_MAX_CONCURRENT_PER_KEY; default a quarter of --max-concurrent).",
            valueName: "n"
        )
    )
    var maxConcurrentPerKey: Int?
    @Option(
        help: ArgumentHelp(
            "Grace time of a request body in ms, after which it must keep arriving at --min-body-rate, and the longest it may go without a byte (env LLMDB_BODY_TIMEOUT_MS; default 10000).",
            valueName: "ms"
        )
    )
    var bodyTimeoutMs: Int?
    @Option(
        help: ArgumentHelp(
            "Least average rate of a request body after its grace time, bytes/s (env LLMDB_MIN_BODY_RATE; default 4096).",
            valueName: "n"
        )
    )
    var minBodyRate: Int?
    @Option(
        help: ArgumentHelp("MCP sessions open at once (env LLMDB_MCP_MAX_SESSIONS; default 1000).", valueName: "n")
    )
    var mcpMaxSessions: Int?
    @Option(
        help: ArgumentHelp(
            "MCP sessions one API key may have open (env LLMDB_MCP_MAX_SESSIONS_PER_KEY; default a tenth of --mcp-max-sessions).",
            valueName: "n"
        )
    )
    var mcpMaxSessionsPerKey: Int?
    @Option(
        help: ArgumentHelp(
            "Bytes of events an MCP session keeps for resumption, 0 for none (env LLMDB_MCP_SESSION_HISTORY_BYTES; default 262144).",
            valueName: "n"
        )
    )
    var mcpSessionHistoryBytes: Int?
    @Option(help: ArgumentHelp("LQL time limit in ms (env LLMDB_QUERY_TIMEOUT_MS; default 5000).", valueName: "ms"))
    var queryTimeoutMs: Int?
    @Option(
        help: ArgumentHelp("Most rows an LQL query returns (env LLMDB_QUERY_MAX_ROWS; default 10000).", valueName: "n")
    )
    var queryMaxRows: Int?
    @Option(
        help: ArgumentHelp(
            "Memory an LQL query may hold at once, MiB (env LLMDB_QUERY_MAX_MEMORY_MB; default 256).",
            valueName: "MiB"
        )
    )
    var queryMaxMemoryMb: Int?
    @Option(
        help: ArgumentHelp(
            "trace, debug, info, notice, warning, error or critical (env LLMDB_LOG_LEVEL; default info).",
            valueName: "level"
        )
    )
    var logLevel: String?
    @Option(
        help: ArgumentHelp(
            "When a commit is durable: full, meta or none (env LLMDB_SYNC; default full).",
            valueName: "mode"
        )
    )
    var sync: String?

    struct Resolved {
        var path: String
        var options: ServerOptions
        var logLevel: Logger.Level
        var sync: SyncPolicy
    }

    func resolve() throws -> Resolved {
        let env = ProcessInfo.processInfo.environment
        var file: [String: JSONValue] = [:]
        if let configPath = config ?? env["LLMDB_CONFIG"] {
            guard let data = FileManager.default.contents(atPath: configPath) else {
                throw CLIError("cannot read the config file \(configPath)")
            }
            let tree: JSONValue
            do { tree = try JSONValue(parsing: Array(data)) } catch {
                throw CLIError("the config file \(configPath) is not valid JSON: \(error.message)")
            }
            guard case .object(let members) = tree else {
                throw CLIError("the config file \(configPath) must hold a JSON object")
            }
            let known: Set<String> = [
                "db", "host", "port", "require_auth", "tls_cert", "tls_key", "max_body_bytes", "max_concurrent",
                "max_concurrent_per_key", "body_timeout_ms", "min_body_rate", "mcp_max_sessions",
                "mcp_max_sessions_per_key", "mcp_session_history_bytes", "query_timeout_ms", "query_max_rows",
                "query_max_memory_mb",
                "log_level", "sync",
            ]
            for m in members {
                guard known.contains(m.key) else {
                    throw CLIError(
                        "the config file \(configPath) has an unknown setting '\(m.key)'; known: \(known.sorted().joined(separator: ", "))"
                    )
                }
                file[m.key] = m.value
            }
        }
        func text(_ flag: String?, _ envName: String, _ key: String) throws -> String? {
            if let flag { return flag }
            if let v = env[envName] { return v }
            switch file[key] {
            case nil: return nil
            case .string(let s)?: return s
            case .int(let n)?: return String(n)
            case .bool(let b)?: return b ? "1" : "0"
            default: throw CLIError("the config setting '\(key)' must be a string, an integer or a boolean")
            }
        }
        /// A numeric setting, in its range (`RequestLimits.ranges`, or `range`): checked here,
        /// at start-up, so that no value out of range reaches a request.
        func int(
            _ flag: Int?,
            _ envName: String,
            _ key: String,
            _ d: Int,
            range: ClosedRange<Int>? = nil
        ) throws
            -> Int
        {
            guard let s = try text(flag.map(String.init), envName, key) else { return d }
            let r = range ?? RequestLimits.range(key)
            guard let n = Int(s), r.contains(n) else {
                throw CLIError(
                    "\(key) must be an integer from \(r.lowerBound) to \(r.upperBound), not '\(s.prefix(40))'"
                )
            }
            return n
        }
        func optionalInt(_ flag: Int?, _ envName: String, _ key: String) throws -> Int? {
            guard try text(flag.map(String.init), envName, key) != nil else { return nil }
            return try int(flag, envName, key, 0)
        }
        var o = ServerOptions()
        o.host = try text(host, "LLMDB_HOST", "host") ?? "127.0.0.1"
        o.port = try int(port, "LLMDB_PORT", "port", 7070, range: 0...65535)
        let auth = try text(requireAuth ? "1" : nil, "LLMDB_REQUIRE_AUTH", "require_auth") ?? "0"
        o.requireAuth = ["1", "true", "yes"].contains(auth.lowercased())
        o.tlsCertificate = try text(tlsCert, "LLMDB_TLS_CERT", "tls_cert")
        o.tlsKey = try text(tlsKey, "LLMDB_TLS_KEY", "tls_key")
        o.limits.maxBodyBytes = try int(maxBodyBytes, "LLMDB_MAX_BODY_BYTES", "max_body_bytes", o.limits.maxBodyBytes)
        o.limits.maxConcurrentRequests = try int(
            maxConcurrent,
            "LLMDB_MAX_CONCURRENT",
            "max_concurrent",
            o.limits.maxConcurrentRequests
        )
        if let n = try optionalInt(maxConcurrentPerKey, "LLMDB_MAX_CONCURRENT_PER_KEY", "max_concurrent_per_key") {
            o.limits.maxConcurrentPerKey = n
        }
        o.limits.bodyTimeoutMs = try int(
            bodyTimeoutMs,
            "LLMDB_BODY_TIMEOUT_MS",
            "body_timeout_ms",
            o.limits.bodyTimeoutMs
        )
        o.limits.minBodyBytesPerSecond = try int(
            minBodyRate,
            "LLMDB_MIN_BODY_RATE",
            "min_body_rate",
            o.limits.minBodyBytesPerSecond
        )
        o.limits.maxMCPSessions = try int(
            mcpMaxSessions,
            "LLMDB_MCP_MAX_SESSIONS",
            "mcp_max_sessions",
            o.limits.maxMCPSessions
        )
        if let n = try optionalInt(mcpMaxSessionsPerKey, "LLMDB_MCP_MAX_SESSIONS_PER_KEY", "mcp_max_sessions_per_key") {
            o.limits.maxMCPSessionsPerKey = n
        }
        o.limits.mcpSessionHistoryBytes = try int(
            mcpSessionHistoryBytes,
            "LLMDB_MCP_SESSION_HISTORY_BYTES",
            "mcp_session_history_bytes",
            o.limits.mcpSessionHistoryBytes
        )
        o.limits.queryTimeoutMs = try int(
            queryTimeoutMs,
            "LLMDB_QUERY_TIMEOUT_MS",
            "query_timeout_ms",
            o.limits.queryTimeoutMs
        )
        o.limits.maxQueryRows = try int(queryMaxRows, "LLMDB_QUERY_MAX_ROWS", "query_max_rows", o.limits.maxQueryRows)
        o.limits.queryMaxMemoryMB = try int(
            queryMaxMemoryMb,
            "LLMDB_QUERY_MAX_MEMORY_MB",
            "query_max_memory_mb",
            o.limits.queryMaxMemoryMB
        )
        do { try o.limits.check() } catch { throw CLIError(error.message) }
        o.version = LLMDBCommand.configuration.version
        let levelText = try text(logLevel, "LLMDB_LOG_LEVEL", "log_level") ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else {
            throw CLIError(
                "log level must be trace, debug, info, notice, warning, error or critical, not '\(levelText)'"
            )
        }
        let syncText = try text(sync, "LLMDB_SYNC", "sync") ?? "full"
        guard let mode = SyncPolicy(rawValue: syncText) else {
            throw CLIError("sync must be full, meta or none, not '\(syncText)'")
        }
        return Resolved(
            path: try text(path, "LLMDB_DB", "db") ?? "./llmdb-data",
            options: o,
            logLevel: level,
            sync: mode
        )
    }

}

/// Opens (creating if needed) the database a server or MCP process serves, with the
/// WebAssembly layer.
func openServed(path: String, sync: SyncPolicy = .full) throws -> Database {
    var o = Database.Options()
    o.sync = sync
    o.create = true
    o.codeRunner = WasmRuntime(limits: try wasmLimitsFromEnvironment())
    o.indexKinds = Database.Options.allIndexKinds
    do { return try Database.open(path: path, options: o) } catch {
        throw CLIError("cannot open the database at \(path): \(error.message)")
    }
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the database over REST and MCP (streamable HTTP at /mcp) on one port.",
        discussion: """
            Listens on 127.0.0.1:7070 by default. On loopback with no API keys, requests need \
            no key; once any key exists (llmdb key create), every request needs one. Any other \
            address is refused unless keys exist. GET /openapi.json describes the REST API, \
            /health answers liveness, /metrics gives Prometheus metrics. SIGINT or SIGTERM \
            stops accepting connections, lets requests in flight finish, and closes the \
            database. See docs/server.md.
            """
    )
    @OptionGroup var settings: ServeSettings

    func run() throws {
        let r = try settings.resolve()
        var logger = Logger(label: "llmdb")
        logger.logLevel = r.logLevel
        let db = try openServed(path: r.path, sync: r.sync)
        defer { db.close() }
        let service = Service(db: db, limits: r.options.limits)
        let sessions = MCPSessions(service: service, version: r.options.version)
        let front = HTTPFront(service: service, options: r.options, logger: logger, mcp: sessions)
        do { try front.checkStartup() } catch let e as APIError { throw CLIError(e.message) }
        let keysExist = try APIKeys.any(db)
        logger.info(
            "llmdb serving",
            metadata: [
                "db": "\(r.path)",
                "address":
                    "\(r.options.tlsCertificate == nil ? "http" : "https")://\(r.options.host):\(r.options.port)",
                "auth": "\(r.options.requireAuth || keysExist ? "api keys" : "off (loopback, no keys)")",
            ]
        )
        try runAsync { try await front.serve() }
        logger.info("llmdb stopped; the database is closed")
    }
}

struct MCPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve the agent memory tools over MCP on stdin and stdout (for Claude Desktop, Cursor, …).",
        discussion: "See docs/mcp.md for the client configuration. Logs go to stderr."
    )
    @Option(name: .customLong("db"), help: ArgumentHelp("The database file.", valueName: "path"))
    var path: String = "./llmdb-data"

    func run() throws {
        let db = try openServed(path: path)
        defer { db.close() }
        let service = Service(db: db)
        try runAsync { try await MCPTools.runStdio(service, version: LLMDBCommand.configuration.version) }
    }
}

struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Manage the API keys of llmdb serve.",
        subcommands: [KeyCreate.self, KeyList.self, KeyRevoke.self]
    )
}

struct KeyCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create an API key; its token is printed once (only its SHA-256 is stored)."
    )
    @OptionGroup var db: DatabaseOptions
    @Option(help: ArgumentHelp("A name for the key (who or what uses it).", valueName: "name"))
    var name: String
    @Option(help: ArgumentHelp("read, write or admin.", valueName: "role"))
    var role: String = "read"
    @Option(
        name: .customLong("partition"),
        help: ArgumentHelp("Limit the key to this partition (repeatable).", valueName: "n")
    )
    var partitions: [UInt32] = []
    @Option(
        name: .customLong("prefix"),
        help: ArgumentHelp(
            "Limit the key to keys with this prefix, e.g. agent:knowledge: (repeatable).",
            valueName: "prefix"
        )
    )
    var prefixes: [String] = []

    func run() throws {
        guard let r = Principal.Role(rawValue: role) else {
            throw CLIError("--role must be read, write or admin, not '\(role)'")
        }
        let database = try db.open(create: true)
        defer { database.close() }
        let (token, info) = try APIKeys.create(
            database,
            name: name,
            role: r,
            partitions: partitions.isEmpty ? nil : Set(partitions),
            prefixes: prefixes.isEmpty ? nil : prefixes
        )
        if db.json {
            guard case .object(var m) = info.json else { return }
            m.append(JSONMember("token", .string(token)))
            printJSON(.object(m))
        } else {
            print("created key \(info.id) (\(name), \(r.rawValue))")
            print(token)
            print("Keep the token: it is not stored and cannot be shown again.")
        }
    }
}

struct KeyList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the live API keys (never their tokens)."
    )
    @OptionGroup var db: DatabaseOptions

    func run() throws {
        let database = try db.open(readOnly: true)
        defer { database.close() }
        let keys = try APIKeys.list(database)
        if db.json {
            printJSON(.array(keys.map(\.json)))
            return
        }
        if keys.isEmpty { print("no API keys (on loopback, llmdb serve needs none)") }
        for k in keys {
            let scope = [
                k.principal.partitions.map { "partitions " + $0.sorted().map(String.init).joined(separator: ",") },
                k.principal.prefixes.map { "prefixes " + $0.joined(separator: ",") },
            ].compactMap { $0 }
            print(
                "\(k.id)  \(k.principal.name)  \(k.principal.role.rawValue)  \(scope.isEmpty ? "all keys" : scope.joined(separator: "; "))  created \(k.created)"
            )
        }
    }
}

struct KeyRevoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke an API key; requests with it fail from now on."
    )
    @OptionGroup var db: DatabaseOptions
    @Argument(help: ArgumentHelp("The key's id (from llmdb key list).", valueName: "id"))
    var id: String

    func run() throws {
        let database = try db.open()
        defer { database.close() }
        let c = try APIKeys.revoke(database, id: id)
        if db.json {
            printJSON(.object([JSONMember("tx", .int(Int64(c.txID)))]))
        } else {
            print("revoked key \(id) at tx \(c.txID)")
        }
    }
}

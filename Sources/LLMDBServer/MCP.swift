import Foundation
import HTTPTypes
import Hummingbird
import LLMDB
public import LLMDBService
import Logging
public import MCP
import NIOCore
import Synchronization

/// The MCP tools: each is a service operation with the JSON schema of its REST route.
public enum MCPTools {
    struct Tool {
        let name: String
        let route: String
        let description: String
        let readOnly: Bool
    }

    static let tools: [Tool] = [
        Tool(
            name: "remember",
            route: "remember",
            description:
                "Store a memory under a key 'agent:{kind}:{id}' (kinds: context, analysis, decision, knowledge, progress, preferences, errors) with content (any JSON; its text is searchable) and optional confidence (0–1), source, dependencies and expires_at. Or pass 'memories' (an array of such objects) to store many in one transaction. Each call adds a new version; history is kept.",
            readOnly: false
        ),
        Tool(
            name: "recall",
            route: "recall",
            description:
                "Find memories by text (BM25 ranking over their content). Filter by namespace (a key prefix such as 'agent:knowledge:'), min_confidence or source; weight by recency or confidence; read as of a past valid time or transaction. Results are bounded by 'limit' (default 10) and by 'max_tokens' or 'max_bytes' so the answer fits your context; 'truncated' says when the budget cut it.",
            readOnly: true
        ),
        Tool(
            name: "correct",
            route: "correct",
            description:
                "Correct a memory you got wrong: the fields you give replace the current version at the same valid time, in a new transaction, with 'reason' recorded as correction_reason. The wrong version stays readable as of earlier transactions.",
            readOnly: false
        ),
        Tool(
            name: "forget",
            route: "forget",
            description:
                "Retract a memory from now (or valid_from): recall no longer returns it, its history stays. erase: true removes every version for good (privacy); use it only when asked.",
            readOnly: false
        ),
        Tool(
            name: "history",
            route: "memoryHistory",
            description:
                "Every version of one memory key, corrections and retractions included, with valid and transaction times.",
            readOnly: true
        ),
        Tool(
            name: "knowledge_evolution",
            route: "knowledgeEvolution",
            description:
                "How knowledge under a key or namespace prefix evolved: every version with the confidence change from the key's previous version.",
            readOnly: true
        ),
        Tool(
            name: "as_of",
            route: "asOf",
            description:
                "What you knew at a past transaction 'tx' (or time 'tx_time'): the memories under 'prefix' (default 'agent:') as they were recorded then.",
            readOnly: true
        ),
        Tool(
            name: "rollback",
            route: "rollback",
            description:
                "Roll the memories under 'prefix' back to what they were at transaction 'tx', as a new transaction (nothing is lost). With 'decision', also records agent:decision:{decision}:superseded with the reason.",
            readOnly: false
        ),
        Tool(
            name: "query",
            route: "query",
            description:
                "Run an LQL query (SQL-like, with FOR SYSTEM_TIME AS OF and FOR VALID_TIME clauses; see docs/lql.md) with 'parameters'. Read-only unless your key has the write role.",
            readOnly: true
        ),
        Tool(
            name: "list_namespaces",
            route: "listNamespaces",
            description: "The memory kinds (agent:{kind}) and how many keys each holds now.",
            readOnly: true
        ),
        Tool(
            name: "describe_schema",
            route: "describeSchema",
            description:
                "The JSON schema of a document collection (current version, or 'version'), with when it was set.",
            readOnly: true
        ),
        Tool(
            name: "dry_run_migration",
            route: "dryRunMigration",
            description:
                "Try a migration proposal on a collection's documents without writing: how many change, which fail and why, with before/after samples.",
            readOnly: true
        ),
        Tool(
            name: "vector_search",
            route: "searchVectors",
            description:
                "Find the k vectors nearest to 'vector' (an array of numbers of the collection's dimension) in a vector collection, optionally only those whose metadata matches 'filter' ({\"path.to.field\": value}), as of a past valid time or transaction. Returns keys, distances (smaller is nearer), metadata and versions, not the vectors; k is at most 100 and 'max_bytes' bounds the answer ('truncated' says when it cut).",
            readOnly: true
        ),
    ]

    static func route(_ id: String) -> Route { Route.all.first { $0.operationID == id }! }

    /// The JSON schema of a tool's arguments: its route's fields and path parameters.
    static func schema(_ route: Route) -> JSONValue {
        var props: [JSONMember] = route.pathParameters.map { JSONMember($0, ["type": "string"]) }
        var required: [JSONValue] = route.pathParameters.map { .string($0) }
        for field in route.fields {
            props.append(JSONMember(field.name, field.schema))
            if field.required { required.append(.string(field.name)) }
        }
        return .object([
            JSONMember("type", "object"),
            JSONMember("properties", .object(props)),
            JSONMember("required", .array(required)),
            JSONMember("additionalProperties", false),
        ])
    }

    static func value(_ json: JSONValue) -> MCP.Value {
        (try? JSONDecoder().decode(MCP.Value.self, from: Data(json.text.utf8))) ?? .null
    }

    static func json(_ value: MCP.Value) throws -> JSONValue {
        try JSONValue(parsing: Array(try JSONEncoder().encode(value)))
    }

    /// The tool list (the same for every session).
    static let list: [MCP.Tool] = tools.map { t in
        MCP.Tool(
            name: t.name,
            description: t.description,
            inputSchema: value(schema(route(t.route))),
            annotations: .init(readOnlyHint: t.readOnly, destructiveHint: t.readOnly ? nil : t.name == "forget")
        )
    }

    /// Runs one MCP operation on the database. Over HTTP (`front` set) it runs like a REST
    /// request's operation: in a concurrency slot (the total and the key's own bound), on the
    /// server's pool. Over stdio (one client, `local`) it runs on the pool of `llmdb mcp`.
    static func run<T: Sendable>(
        _ front: HTTPFront?,
        _ principal: Principal,
        _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        guard let front else { return try await BlockingPool.stdio.run(body) }
        return try await front.runInSlot(principal, body)
    }

    /// Records one MCP request over HTTP in the metrics, under `label`
    /// (`mcp:tools/call:{tool}`, `mcp:resources/read`, …), with the status of its outcome:
    /// 200, or its error's.
    static func counted<T>(_ front: HTTPFront?, _ label: String, _ body: () async throws -> T) async throws -> T {
        guard let front else { return try await body() }
        let start = ContinuousClock.now
        do {
            let result = try await body()
            front.metrics.record(route: label, method: "POST", status: 200, elapsed: ContinuousClock.now - start)
            return result
        } catch {
            let status = APIError(any: error).status
            front.metrics.record(route: label, method: "POST", status: status, elapsed: ContinuousClock.now - start)
            throw error
        }
    }

    /// A server whose tools act as `principal`; `front` is the HTTP front for sessions over
    /// HTTP (nil over stdio).
    public static func server(
        _ service: Service,
        principal: Principal,
        version: String,
        front: HTTPFront? = nil
    ) async -> Server {
        let server = Server(
            name: "llmdb",
            version: version,
            instructions:
                "LLMDB is your long-term memory with full history. remember facts under agent:{kind}:{id}, recall by text within a token budget, correct mistakes (the old version stays visible as of earlier transactions), and ask what you knew at any past transaction.",
            capabilities: .init(
                resources: .init(subscribe: false, listChanged: false),
                tools: .init(listChanged: false)
            )
        )
        let list = Self.list
        await server.withMethodHandler(ListTools.self) { _ in .init(tools: list) }
        await server.withMethodHandler(CallTool.self) { params in
            inFlight.add(1, ordering: .relaxed)
            defer { inFlight.subtract(1, ordering: .relaxed) }
            guard let tool = tools.first(where: { $0.name == params.name }) else {
                return .init(
                    content: [.text(text: "unknown tool '\(params.name)'", annotations: nil, _meta: nil)],
                    isError: true
                )
            }
            do {
                let result = try await counted(front, "mcp:tools/call:\(tool.name)") {
                    var members: [JSONMember] = []
                    for (k, v) in params.arguments ?? [:] { members.append(JSONMember(k, try json(v))) }
                    let args = try Args(.object(members))
                    let r = route(tool.route)
                    return try await run(front, principal) { try r.run(service, args, principal) }
                }
                return .init(content: [.text(text: result.text, annotations: nil, _meta: nil)], isError: false)
            } catch {
                return .init(
                    content: [.text(text: APIError(any: error).body.text, annotations: nil, _meta: nil)],
                    isError: true
                )
            }
        }
        await server.withMethodHandler(ListResources.self) { _ in
            var resources = [
                Resource(
                    name: "namespaces",
                    uri: "llmdb://namespaces",
                    description: "Memory kinds and their sizes",
                    mimeType: "application/json"
                )
            ]
            let collections: [String]
            do {
                collections = try await counted(front, "mcp:resources/list") {
                    try await run(front, principal) { try schemaCollections(service.db) }
                }
            } catch {
                throw MCPError.internalError(APIError(any: error).message)
            }
            for c in collections {
                guard (try? principal.check(.read, key: c + "/", partition: 0)) != nil else { continue }
                resources.append(
                    Resource(
                        name: "schema of \(c)",
                        uri: "llmdb://schemas/\(c)",
                        description: "The current JSON schema of the collection \(c)",
                        mimeType: "application/json"
                    )
                )
            }
            return .init(resources: resources, nextCursor: nil)
        }
        await server.withMethodHandler(ReadResource.self) { params in
            let uri = params.uri
            guard uri == "llmdb://namespaces" || uri.hasPrefix("llmdb://schemas/") else {
                throw MCPError.invalidParams("unknown resource '\(uri)' (see resources/list)")
            }
            do {
                let result = try await counted(front, "mcp:resources/read") {
                    try await run(front, principal) {
                        if uri == "llmdb://namespaces" {
                            return try service.namespaces(try Args(.object([])), principal)
                        }
                        let c = String(uri.dropFirst("llmdb://schemas/".count))
                        return try service.describeSchema(
                            try Args(.object([JSONMember("collection", .string(c))])),
                            principal
                        )
                    }
                }
                return .init(contents: [.text(result.text, uri: uri, mimeType: "application/json")])
            } catch {
                let e = APIError(any: error)
                // A refusal of the request (scope, arguments) or the server's own trouble
                // (busy, storage).
                throw e.status >= 500 ? MCPError.internalError(e.message) : MCPError.invalidParams(e.message)
            }
        }
        return server
    }

    /// Collections with a schema (from `_meta/schema/{collection}/…`).
    static func schemaCollections(_ db: Database) throws -> [String] {
        var out: Set<String> = []
        try db.read { s in
            try s.scan(prefix: Key("_meta/schema/", partition: Key.systemPartition)) { row in
                let k = String(decoding: try row.key().bytes.dropFirst("_meta/schema/".utf8.count), as: UTF8.self)
                if let c = k.split(separator: "/").first { out.insert(String(c)) }
                return true
            }
        }
        return out.sorted()
    }

    /// Serves MCP over stdin/stdout until the client closes it.
    public static func runStdio(_ service: Service, version: String) async throws {
        let server = await server(service, principal: .local, version: version)
        try await server.start(transport: await UniqueMembersTransport(StdioTransport()))
        await server.waitUntilCompleted()
        // The input ended; requests already read run in their own tasks. Wait until no tool
        // call has been running for a while, so every request read is answered.
        var quiet = 0
        while quiet < 5 {
            try? await Task.sleep(for: .milliseconds(20))
            quiet = inFlight.load(ordering: .relaxed) == 0 ? quiet + 1 : 0
        }
    }

    /// Tool calls running now.
    static let inFlight = Atomic<Int>(0)
}

/// MCP over streamable HTTP at `/mcp`: one MCP session (server and transport) per
/// client, created by its `initialize` request and bound to the API key that made it.
///
/// Sessions are bounded (``RequestLimits``): `maxMCPSessions` in all and
/// `mcpSessionsPerKey` for one API key. A key at its bound that opens another session closes
/// its own least recently used idle one (idle: no request in progress); when all sessions
/// are taken, the key with the most sessions (or one of the keys tied for the most) gives up
/// its least recently used idle one, and no other key does. When those candidates are all
/// busy, `initialize` is refused (503). Nothing is closed for an `initialize` that is itself
/// refused. A session keeps at most `mcpSessionHistoryBytes` of events for resumption
/// (``MCPSessionTransport``).
public actor MCPSessions {
    struct Session {
        let server: Server
        let transport: MCPSessionTransport
        /// The id of the principal (API key) that opened it.
        let principal: String
        var lastUsed: ContinuousClock.Instant
        var idle: Bool { transport.inProgress.load(ordering: .relaxed) == 0 }
    }
    let service: Service
    let version: String
    var sessions: [String: Session] = [:]
    var limits: RequestLimits { service.limits }

    public init(service: Service, version: String) {
        self.service = service
        self.version = version
    }

    nonisolated func handle(_ request: Hummingbird.Request, front: HTTPFront) async -> Hummingbird.Response {
        let principal: Principal
        do { principal = try front.principal(request.headers) } catch {
            return HTTPFront.json(401, APIError(any: error).body)
        }
        var headers: [String: String] = [:]
        for f in request.headers { headers[f.name.canonicalName] = f.value }
        var body: Data? = nil
        if request.method == .post {
            do {
                body = Data(try await HTTPFront.readBody(request, limits: front.options.limits).readableBytesView)
            } catch {
                return HTTPFront.json(error.status, error.body)
            }
        }
        let mcpRequest = MCP.HTTPRequest(method: request.method.rawValue, headers: headers, body: body, path: "/mcp")
        let response = await route(mcpRequest, principal: principal, front: front)
        var fields = HTTPFields()
        for (k, v) in response.headers {
            if let name = HTTPField.Name(k) { fields[name] = v }
        }
        let status = HTTPResponse.Status(code: response.statusCode)
        switch response {
        case .stream(let stream, _):
            let buffers = stream.map { ByteBuffer(bytes: $0) }
            return Hummingbird.Response(status: status, headers: fields, body: ResponseBody(asyncSequence: buffers))
        default:
            let data = response.bodyData ?? Data()
            return Hummingbird.Response(
                status: status,
                headers: fields,
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: data))
            )
        }
    }

    func route(_ request: MCP.HTTPRequest, principal: Principal, front: HTTPFront? = nil) async -> MCP.HTTPResponse {
        expire()
        let id = request.header(HTTPHeaderName.sessionID)
        if let id, var session = sessions[id] {
            guard session.principal == principal.id else {
                return .error(statusCode: 403, .invalidRequest("this MCP session belongs to another API key"))
            }
            session.lastUsed = .now
            sessions[id] = session
            let response = await session.transport.handleRequest(request)
            if request.method.uppercased() == "DELETE", response.statusCode == 200 { sessions[id] = nil }
            return response
        }
        if request.method.uppercased() == "POST", let body = request.body,
            (try? JSONValue(parsing: Array(body)))?["method"] == .string("initialize")
        {
            return await open(request, principal: principal, front: front)
        }
        if id != nil {
            return .error(statusCode: 404, .invalidRequest("unknown or expired MCP session; initialize again"))
        }
        return .error(
            statusCode: 400,
            .invalidRequest("missing \(HTTPHeaderName.sessionID) header (send initialize first)")
        )
    }

    /// Opens a session for `initialize`, making room first (see the type's notes). The
    /// request is checked before anything else (``MCPSessionTransport/checkInitialize(_:)``):
    /// an `initialize` that would not open a session closes none.
    func open(_ request: MCP.HTTPRequest, principal: Principal, front: HTTPFront?) async -> MCP.HTTPResponse {
        if let refusal = MCPSessionTransport.checkInitialize(request) { return refusal }
        let newID = UUID().uuidString
        let transport = MCPSessionTransport(sessionID: newID, historyLimit: limits.mcpSessionHistoryBytes)
        let server = await MCPTools.server(service, principal: principal, version: version, front: front)
        do { try await server.start(transport: transport) } catch {
            return .error(statusCode: 500, .internalError("could not start an MCP session: \(error)"))
        }
        // From here to the insertion nothing suspends, so the bounds hold however many
        // initialize requests interleave.
        var closing: [Session] = []
        if RequestSlots.counted(principal) {
            let mine = sessions.filter { $0.value.principal == principal.id }
            if mine.count >= limits.mcpSessionsPerKey {
                guard let victim = Self.leastRecentlyUsedIdle(mine) else {
                    await server.stop()
                    return .error(
                        statusCode: 503,
                        .internalError(
                            "the key '\(principal.name)' has \(mine.count) MCP sessions, its limit (mcp_max_sessions_per_key), each with a request in progress; end one (DELETE /mcp)"
                        )
                    )
                }
                closing.append(sessions.removeValue(forKey: victim)!)
            }
        }
        if sessions.count >= limits.maxMCPSessions {
            // Only the key holding the most sessions gives one up (its least recently used
            // idle one; of several keys with that many, the least recently used idle session
            // of any of them). When all of theirs are busy, no other key's is taken.
            var counts: [String: Int] = [:]
            for s in sessions.values { counts[s.principal, default: 0] += 1 }
            let most = counts.values.max() ?? 0
            let victim = Self.leastRecentlyUsedIdle(sessions.filter { counts[$0.value.principal] == most })
            guard let victim else {
                for s in closing { sessions[s.transport.sessionID] = s }
                await server.stop()
                return .error(
                    statusCode: 503,
                    .internalError(
                        "all \(sessions.count) MCP sessions (mcp_max_sessions) are taken, and the sessions of the key that holds the most (\(most)) each have a request in progress; retry shortly"
                    )
                )
            }
            closing.append(sessions.removeValue(forKey: victim)!)
        }
        sessions[newID] = Session(server: server, transport: transport, principal: principal.id, lastUsed: .now)
        for s in closing { await s.server.stop() }
        let response = await transport.handleRequest(request)
        if case .error = response {
            sessions[newID] = nil
            await server.stop()
        }
        return response
    }

    static func leastRecentlyUsedIdle(_ candidates: [String: Session]) -> String? {
        candidates.filter(\.value.idle).min { $0.value.lastUsed < $1.value.lastUsed }?.key
    }

    /// Drops sessions idle for `mcpSessionIdleSeconds` (checked on every request).
    func expire() {
        let now = ContinuousClock.now
        let idle = Duration.seconds(limits.mcpSessionIdleSeconds)
        for (id, s) in sessions where now - s.lastUsed > idle {
            sessions[id] = nil
            Task { await s.server.stop() }
        }
    }

    public func closeAll() async {
        for (_, s) in sessions { await s.server.stop() }
        sessions = [:]
    }
}

extension MCPTools {
    /// Why an incoming JSON-RPC message is refused before the MCP library decodes it: a
    /// member name twice in one object (the library's decoder would keep one silently, where
    /// REST refuses it), or two member names of one object that are canonically equivalent
    /// (`café` in NFC and in NFD): the library decodes objects into Swift dictionaries, whose
    /// keys compare by canonical equivalence, so it would keep only one of them, where REST,
    /// comparing bytes, keeps both. Nil if the message may go on.
    static func duplicateRefusal(_ data: Data) -> String? {
        guard let tree = try? JSONValue(parsing: Array(data)) else { return nil }
        func place(_ path: String) -> String { path == "$" ? "the message" : "the object at \(path.prefix(120))" }
        if let (path, name) = tree.duplicateMember() {
            return
                "the member '\(name.prefix(80))' appears twice in \(place(path)); every member name of a JSON object must be unique"
        }
        if let (path, name) = tree.duplicateMember(canonical: true) {
            let escaped = name.prefix(80).unicodeScalars.map {
                $0.isASCII ? String($0) : "\\u{\(String($0.value, radix: 16))}"
            }
            .joined()
            return
                "the member '\(escaped)' has a canonically equivalent name (the same text in another Unicode normalization, e.g. NFC and NFD) in \(place(path)); over MCP such names would be merged into one, so they are refused (REST compares names as bytes and keeps both)"
        }
        return nil
    }

    /// The JSON-RPC error response to a refused request (nil for a notification).
    static func errorResponse(to data: Data, _ message: String) -> Data? {
        guard let tree = try? JSONValue(parsing: Array(data)), let id = tree["id"], !id.isNull else { return nil }
        let body: JSONValue = .object([
            JSONMember("jsonrpc", "2.0"), JSONMember("id", id),
            JSONMember(
                "error",
                .object([
                    JSONMember("code", .int(-32600)), JSONMember("message", .string("Invalid Request: " + message)),
                ])
            ),
        ])
        return Data(body.text.utf8)
    }
}

/// A transport that refuses, with a JSON-RPC error, the messages that
/// ``MCPTools/duplicateRefusal(_:)`` refuses, and passes the rest on (used over stdio; the
/// HTTP transport checks the request body itself).
actor UniqueMembersTransport<Inner: Transport>: Transport {
    let inner: Inner
    let logger: Logger

    init(_ inner: Inner) async {
        self.inner = inner
        self.logger = await inner.logger
    }

    func connect() async throws { try await inner.connect() }
    func disconnect() async { await inner.disconnect() }
    func send(_ data: Data) async throws { try await inner.send(data) }

    func receive() -> AsyncThrowingStream<Data, any Error> {
        let messages = Task { await inner.receive() }
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await data in await messages.value {
                        if let why = MCPTools.duplicateRefusal(data) {
                            if let reply = MCPTools.errorResponse(to: data, why) { try await self.send(reply) }
                            continue
                        }
                        continuation.yield(data)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

import HTTPTypes
public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import LLMDB
public import LLMDBService
import LLMDBWasm
public import Logging
import NIOCore
import NIOSSL
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals

/// How `llmdb serve` listens and whom it lets in.
public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    public var port = 7070
    /// Require an API key on every request, even on loopback with no keys defined.
    public var requireAuth = false
    public var tlsCertificate: String? = nil
    public var tlsKey: String? = nil
    public var limits = RequestLimits()
    public var version = "dev"
    public init() {}

    public var isLoopback: Bool { host == "127.0.0.1" || host == "localhost" || host == "::1" }
}

/// Process metrics in the Prometheus text format.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let requests = Mutex<[String: Counter]>([:])
    let durations = Mutex<[String: DurationHistogram]>([:])
    static let buckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(1000), .seconds(5),
    ]

    func record(route: String, method: String, status: Int, elapsed: Duration) {
        let key = "\(method) \(route) \(status)"
        let counter = requests.withLock { d in
            if let c = d[key] { return c }
            let c = registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "llmdb",
                    metricName: "http_requests",
                    unitName: "total",
                    helpText: "HTTP requests by method, route and status"
                ),
                labels: [("method", method), ("route", route), ("status", String(status))]
            )
            d[key] = c
            return c
        }
        counter.increment()
        let hkey = "\(method) \(route)"
        let histogram = durations.withLock { d in
            if let h = d[hkey] { return h }
            let h = registry.makeDurationHistogram(
                descriptor: MetricNameDescriptor(
                    namespace: "llmdb",
                    metricName: "http_request_duration",
                    unitName: "seconds",
                    helpText: "HTTP request latency by method and route"
                ),
                labels: [("method", method), ("route", route)],
                buckets: Self.buckets
            )
            d[hkey] = h
            return h
        }
        histogram.recordNanoseconds(
            elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        )
    }

    /// The text exposition, with the database gauges read now.
    func render(_ db: Database) -> String {
        if let s = try? db.stats() {
            let gauges: [(String, String, String, Double)] = [
                ("transactions", "total", "Committed transactions", Double(s.lastTxID)),
                (
                    "group_commits", "total", "Group commits (one fsync each) since the process started",
                    Double(s.groupCommits)
                ),
                ("group_commit_writes", "total", "Write transactions committed in groups", Double(s.groupedWrites)),
                (
                    "group_commit_batch_size", "avg", "Write transactions per group commit, on average",
                    s.groupCommits > 0 ? Double(s.groupedWrites) / Double(s.groupCommits) : 0
                ),
                ("map_size", "bytes", "LMDB map size", Double(s.mapSize)),
                ("file_size", "bytes", "Database file size", Double(s.fileSize)),
                ("reader_slots_used", "", "LMDB reader slots in use", Double(s.readers)),
                ("reader_slots_max", "", "LMDB reader slots in all", Double(s.maxReaders)),
                ("entries", "", "Stored fact entries (all versions)", Double(s.entries)),
            ]
            for (name, unit, help, value) in gauges {
                registry.makeGauge(
                    descriptor: MetricNameDescriptor(
                        namespace: "llmdb",
                        metricName: name,
                        unitName: unit,
                        helpText: help
                    )
                ).set(value)
            }
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    namespace: "llmdb",
                    metricName: "async_index_batches",
                    unitName: "total",
                    helpText: "Batches the background index builder committed since the process started"
                )
            ).set(Double(s.asyncIndexBatches))
            for a in s.asyncIndexes {
                let perIndex: [(String, String, String, Double)] = [
                    (
                        "async_index_lag", "transactions",
                        "Transactions committed that an asynchronous index does not hold yet (all of them while building)",
                        Double(s.lastTxID - (a.indexedThrough ?? 0))
                    ),
                    (
                        "async_index_pending", "transactions", "Transactions queued for an asynchronous index",
                        Double(a.pendingTransactions)
                    ),
                    (
                        "async_index_built", "entries", "Entries an asynchronous index's build gave it",
                        Double(a.builtEntries)
                    ),
                    (
                        "async_index_caught_up", "entries",
                        "Entries of later commits the builder gave an asynchronous index",
                        Double(a.caughtUpEntries)
                    ),
                    (
                        "async_index_failed", "", "1 when an asynchronous index stopped at an error",
                        a.phase == .failed ? 1 : 0
                    ),
                ]
                for (name, unit, help, value) in perIndex {
                    registry.makeGauge(
                        descriptor: MetricNameDescriptor(
                            namespace: "llmdb",
                            metricName: name,
                            unitName: unit,
                            helpText: help
                        ),
                        labels: [("index", a.name), ("kind", a.kind)]
                    ).set(value)
                }
            }
        }
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "llmdb",
                metricName: "wasm_failures",
                unitName: "total",
                helpText: "WebAssembly calls that trapped, failed or hit a limit"
            )
        ).set(Double(WasmCounters.failures))
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}

/// The REST (and MCP-over-HTTP) front of a ``LLMDBService/Service``.
public final class HTTPFront: Sendable {
    public let service: LLMDBService.Service
    public let options: ServerOptions
    let metrics = ServerMetrics()
    /// The concurrency slots that REST routes and MCP tool calls take to run.
    let slots: RequestSlots
    /// The threads of the operations that hold a slot: as many as there are slots
    /// (`max_concurrent`), so an operation in a slot never waits for a thread that another
    /// key's operations hold. Only ``runInSlot(_:_:)`` submits work to it.
    let pool: BlockingPool
    /// The threads of `/health` and `/metrics`, which take no slot: apart from ``pool``, so
    /// that they never queue behind request work (nor request work behind them).
    let monitorPool: BlockingPool
    /// Threads of ``monitorPool``.
    static let monitorThreads = 2
    let logger: Logger
    public let mcp: MCPSessions?

    public init(service: LLMDBService.Service, options: ServerOptions, logger: Logger, mcp: MCPSessions?) {
        self.service = service
        self.options = options
        self.logger = logger
        self.mcp = mcp
        self.slots = RequestSlots(
            total: options.limits.maxConcurrentRequests,
            perKey: options.limits.concurrentPerKey
        )
        self.pool = BlockingPool(name: "llmdb-request", threads: slots.total)
        self.monitorPool = BlockingPool(name: "llmdb-monitor", threads: Self.monitorThreads)
    }

    deinit {
        pool.stop()
        monitorPool.stop()
    }

    /// Checks the start-up rules: every limit in its range, and a non-loopback address needs
    /// API keys.
    public func checkStartup() throws {
        try options.limits.check()
        if !options.isLoopback, try !APIKeys.any(service.db) {
            throw APIError(
                400,
                "no_keys",
                "refusing to listen on \(options.host) without API keys: anyone who can reach it could read and change the database. Create one with `llmdb key create --name NAME --role admin`, or listen on 127.0.0.1"
            )
        }
        if (options.tlsCertificate == nil) != (options.tlsKey == nil) {
            throw APIError(400, "invalid_argument", "TLS needs both --tls-cert and --tls-key")
        }
    }

    /// The principal of a request: its key's, or local access when auth is off.
    func principal(_ headers: HTTPFields) throws -> Principal {
        var token: String? = nil
        if let h = headers[.authorization] {
            guard h.hasPrefix("Bearer ") else {
                throw APIError(401, "unauthorized", "the Authorization header must be 'Bearer llmdb_…'")
            }
            token = String(h.dropFirst(7)).trimmingSpaces
        } else if let name = HTTPField.Name("X-API-Key"), let h = headers[name] {
            token = h.trimmingSpaces
        }
        if let token {
            guard let p = try APIKeys.verify(service.db, token: token) else {
                throw APIError(401, "unauthorized", "the API key is not valid (unknown, revoked or mistyped)")
            }
            return p
        }
        // Read on every request without a key (one cursor seek), never cached: a key made
        // by another process (`llmdb key create`) is required from the next request on.
        if try options.requireAuth || !options.isLoopback || APIKeys.any(service.db) {
            throw APIError(
                401,
                "unauthorized",
                "an API key is required: send 'Authorization: Bearer llmdb_…' (create one with `llmdb key create`)"
            )
        }
        return .local
    }

    /// Runs a service operation as one counted request: in a concurrency slot (``slots``:
    /// the total and the key's own bound), on a thread of ``pool``, which has one for every
    /// slot. REST routes and MCP tool calls both run through here.
    func runInSlot<T: Sendable>(_ principal: Principal, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try slots.acquire(principal)
        defer { slots.release(principal) }
        return try await pool.run(body)
    }

    /// Reads a request body of at most `maxBodyBytes`. Reading holds no slot; the body's
    /// deadline (``BodyDeadline``, in the channel pipeline) ends a body that arrives too
    /// slowly with ``BodyTimeout``.
    static func readBody(_ request: Request, limits: RequestLimits) async throws(APIError) -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: limits.maxBodyBytes)
        } catch let e as BodyTimeout {
            throw e.apiError
        } catch is NIOTooManyBytesError {
            throw APIError(413, "too_large", "the request body is larger than \(limits.maxBodyBytes) bytes")
        } catch {
            throw APIError(400, "invalid_argument", "the request body could not be read: \(error)")
        }
    }

    /// The members of a query string: names and values percent-decoded (`+` is a plus sign),
    /// each name once. A malformed escape or bytes that are not UTF-8 are refused: replacing
    /// them would make the key that is checked and stored differ from the one that was sent.
    static func queryParameters(_ query: String?) throws(APIError) -> [JSONMember] {
        guard let query, !query.isEmpty else { return [] }
        func decode(_ part: Substring, _ what: String) throws(APIError) -> String {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(part.utf8.count)
            var it = part.utf8.makeIterator()
            while let b = it.next() {
                guard b == UInt8(ascii: "%") else {
                    bytes.append(b)
                    continue
                }
                guard let h = it.next().flatMap(hexValue), let l = it.next().flatMap(hexValue) else {
                    throw APIError.bad("the query string has a malformed %-escape in \(what)")
                }
                bytes.append(h << 4 | l)
            }
            guard let s = String(validating: bytes, as: UTF8.self) else {
                throw APIError.bad("\(what) of the query string is not valid UTF-8 once %-decoded")
            }
            return s
        }
        var members: [JSONMember] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let eq = pair.firstIndex(of: "=")
            let name = try decode(pair[..<(eq ?? pair.endIndex)], "a parameter name")
            let value = try eq.map { (i) throws(APIError) in
                try decode(pair[pair.index(after: i)...], "the value of '\(name.prefix(40))'")
            }
            guard !members.contains(where: { $0.key.utf8Equals(name) }) else {
                throw APIError.bad("the query parameter '\(name.prefix(40))' is repeated")
            }
            members.append(JSONMember(name, .string(value ?? "")))
        }
        return members
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func json(_ status: Int, _ body: JSONValue) -> Response {
        var text = body.text
        text.append("\n")
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == 401 { headers[.wwwAuthenticate] = #"Bearer realm="llmdb""# }
        // The rest of a body that came too slowly is not read: the connection closes.
        if status == 408 { headers[.connection] = "close" }
        return Response(
            status: HTTPResponse.Status(code: status),
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: text))
        )
    }

    /// One REST request: its key, its body (read without holding a slot), its arguments,
    /// then its operation in a concurrency slot.
    func handle(_ route: Route, _ request: Request, _ context: BasicRequestContext) async -> Response {
        let start = ContinuousClock.now
        let response: Response
        do {
            let principal = try principal(request.headers)
            var json: JSONValue
            if route.hasBody {
                let bytes = Array(try await Self.readBody(request, limits: options.limits).readableBytesView)
                guard !bytes.isEmpty else { throw APIError.bad("the request needs a JSON body") }
                do { json = try JSONValue(parsing: bytes) } catch {
                    throw APIError(400, "invalid_json", "the body is not valid JSON: \(error.message)")
                }
                guard case .object = json else { throw APIError.bad("the request body must be a JSON object") }
            } else {
                json = .object(try Self.queryParameters(request.uri.query))
            }
            guard case .object(var members) = json else {
                throw APIError.bad("the request body must be a JSON object")
            }
            for name in route.pathParameters {
                guard let v = context.parameters.get(name) else {
                    throw APIError.bad("missing path parameter '\(name)'")
                }
                if members.contains(where: { $0.key == name }) {
                    throw APIError.bad("'\(name)' is given in the path; do not repeat it in the body")
                }
                members.append(JSONMember(name, .string(String(v))))
            }
            let args = try Args(.object(members))
            let service = self.service
            let result = try await runInSlot(principal) { try route.run(service, args, principal) }
            response = Self.json(200, result)
        } catch {
            let e = APIError(any: error)
            if e.status >= 500, e.code != "busy" {
                logger.error("request failed", metadata: ["route": "\(route.path)", "error": "\(e.message)"])
            }
            response = Self.json(e.status, e.body)
        }
        metrics.record(
            route: route.path,
            method: route.method.rawValue,
            status: response.status.code,
            elapsed: ContinuousClock.now - start
        )
        logger.debug(
            "request",
            metadata: [
                "method": "\(route.method.rawValue)", "path": "\(request.uri.path)",
                "status": "\(response.status.code)",
            ]
        )
        return response
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.middlewares.add(JSONErrors())
        for route in Route.all {
            let path = RouterPath(route.path)
            let method: HTTPRequest.Method =
                switch route.method {
                case .get: .get
                case .post: .post
                case .put: .put
                case .patch: .patch
                case .delete: .delete
                }
            router.on(path, method: method) { request, context in await self.handle(route, request, context) }
        }
        let openapi = OpenAPI.document(version: options.version).text
        router.get("/openapi.json") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: openapi))
            )
        }
        router.get("/health") { _, _ in
            do {
                let service = self.service
                return Self.json(200, try await self.monitorPool.run { try service.health() })
            } catch {
                return Self.json(503, APIError(503, "unavailable", "the database does not answer: \(error)").body)
            }
        }
        router.get("/metrics") { request, _ in
            // With auth on, metrics need a key too: they show routes, counts and sizes of the
            // whole database, so a key limited to partitions or prefixes may not read them.
            do {
                try self.principal(request.headers).requireUnscoped("/metrics (counts and sizes of every partition)")
            } catch {
                let e = APIError(any: error)
                return Self.json(e.status, e.body)
            }
            let service = self.service
            let text = (try? await self.monitorPool.run { self.metrics.render(service.db) }) ?? ""
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text))
            )
        }
        if let mcp {
            let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
                await mcp.handle(request, front: self)
            }
            router.post("/mcp", use: handler)
            router.get("/mcp", use: handler)
            router.delete("/mcp", use: handler)
        }
        return router
    }

    /// HTTP/1.1: a connection that sends nothing for 5 minutes is closed, and every request
    /// body has a deadline (``BodyDeadline``).
    var http1: HTTP1Channel.Configuration {
        let limits = options.limits
        return HTTP1Channel.Configuration(
            additionalChannelHandlers: [
                BodyDeadline(graceMs: limits.bodyTimeoutMs, minRate: limits.minBodyBytesPerSecond)
            ],
            idleTimeout: .minutes(5)
        )
    }

    /// The Hummingbird application, TLS included when configured.
    public func application() throws -> some ApplicationProtocol {
        let config = ApplicationConfiguration(address: .hostname(options.host, port: options.port), serverName: "llmdb")
        if let cert = options.tlsCertificate, let key = options.tlsKey {
            let certificates = try NIOSSLCertificate.fromPEMFile(cert).map { NIOSSLCertificateSource.certificate($0) }
            let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
            let tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: certificates,
                privateKey: .privateKey(privateKey)
            )
            return Application(
                router: router(),
                server: try .tls(.http1(configuration: http1), tlsConfiguration: tls),
                configuration: config,
                logger: logger
            )
        }
        return Application(
            router: router(),
            server: .http1(configuration: http1),
            configuration: config,
            logger: logger
        )
    }
}

extension HTTPFront {
    /// Serves until SIGINT or SIGTERM, then stops accepting connections, lets requests in
    /// flight finish, and closes the MCP sessions.
    public func serve() async throws {
        let app = try application()
        // Every thread now, once: a thread for each slot, and those of /health and /metrics.
        pool.startAll()
        monitorPool.startAll()
        // Services shut down in reverse order: the MCP sessions first (their event streams
        // would otherwise keep the server waiting), then the HTTP server, which lets the
        // requests in flight finish. After 10 s, what is left is cancelled.
        var config = ServiceGroupConfiguration(
            services: [app, MCPCloser(sessions: mcp)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        config.maximumGracefulShutdownDuration = .seconds(10)
        config.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: config).run()
    }
}

/// Closes the MCP sessions when graceful shutdown begins.
struct MCPCloser: ServiceLifecycle.Service {
    let sessions: MCPSessions?
    func run() async throws {
        try? await gracefulShutdown()
        await sessions?.closeAll()
    }
}

/// Routing errors (an unknown path, a wrong method) as JSON error bodies like every other error.
struct JSONErrors<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as HTTPError {
            var status = Int(e.status.code)
            var allowed: [String] = []
            if status == 404 {
                allowed = Self.methods(for: request.uri.path)
                if !allowed.isEmpty { status = 405 }
            }
            let code = status == 404 ? "not_found" : status == 405 ? "method_not_allowed" : "http_\(status)"
            let message =
                status == 404
                ? "no route \(request.method.rawValue) \(request.uri.path) (see /openapi.json)"
                : status == 405
                    ? "\(request.uri.path) takes \(allowed.joined(separator: ", ")), not \(request.method.rawValue)"
                    : (e.body ?? e.status.reasonPhrase)
            var response = HTTPFront.json(status, APIError(status, code, message).body)
            if status == 405 { response.headers[.allow] = allowed.joined(separator: ", ") }
            return response
        }
    }

    /// The methods routed at `path`, by matching it against every route's pattern.
    static func methods(for path: String) -> [String] {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        var out: [String] = []
        let fixed: [(String, String)] = [
            ("GET", "/health"), ("GET", "/metrics"), ("GET", "/openapi.json"), ("POST", "/mcp"), ("GET", "/mcp"),
            ("DELETE", "/mcp"),
        ]
        for (method, pattern) in Route.all.map({ ($0.method.rawValue, $0.path) }) + fixed {
            let p = pattern.split(separator: "/", omittingEmptySubsequences: true)
            guard p.count == parts.count else { continue }
            if zip(p, parts).allSatisfy({ $0.hasPrefix(":") || $0 == $1 }), !out.contains(method) { out.append(method) }
        }
        return out
    }
}

extension String {
    var trimmingSpaces: String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

import Foundation
import LLMDB
import Logging
import MCP
import Synchronization

/// The streamable-HTTP transport of one MCP session: the MCP SDK's
/// `StatefulHTTPServerTransport` (the same validation, SSE streams and resumption with
/// `Last-Event-ID`), with two changes that a server open to many clients needs:
///
/// - the events kept for resumption are bounded: at most `historyBytes` (each event counts
///   its size plus 64 bytes), the oldest dropped first. The SDK keeps every event of the
///   session, so a long session's memory grew with every answer. Resuming from a dropped
///   event is refused (`400`); a resumed request that has its answer ends with it.
/// - the requests in progress are counted (``inProgress``), so that ``MCPSessions`` can tell
///   an idle session from a busy one without waiting on this actor.
///
/// and three that keep a session from staying busy for ever with a request that is never
/// answered (a busy session is never closed to make room for another):
///
/// - a message is classified (``MessageKind``) exactly as the SDK will read it, and what the
///   two could read differently is refused with `400`: a message with both `method` and
///   `result` or `error` (the SDK takes it for a response and never answers it), and an `id`
///   that is not a string or an integer (a boolean, `1.5`, `null`: the SDK cannot answer it
///   with that id);
/// - an `initialize` whose params the SDK cannot decode is refused with `400` too
///   (``checkInitialize(_:)``), before any session exists;
/// - at most ``maxOpenRequests`` requests of one session are in progress at once; more get
///   `503`.
actor MCPSessionTransport: Transport {
    nonisolated let logger = Logger(label: "llmdb.mcp.transport", factory: { _ in SwiftLogNoOpLogHandler() })
    let sessionID: String
    let historyLimit: Int
    static let validation: any HTTPRequestValidationPipeline = StandardValidationPipeline(validators: [
        OriginValidator.localhost(),
        AcceptHeaderValidator(mode: .sseRequired),
        ContentTypeValidator(),
        ProtocolVersionValidator(),
        SessionValidator(),
    ])
    /// JSON-RPC requests of this session whose answer has not been sent.
    nonisolated let inProgress = Atomic<Int>(0)
    /// Requests of one session in progress at once (each has an open event stream); more are
    /// refused with 503. A request that is never answered thus holds one of these, not
    /// unbounded memory; tool calls are bounded further by the key's concurrency slots.
    static let maxOpenRequests = 64

    private var initialized = false
    private var terminated = false
    private var started = false
    private let incoming: AsyncThrowingStream<Data, any Error>
    private let incomingContinuation: AsyncThrowingStream<Data, any Error>.Continuation
    /// The open SSE stream of each request in progress, by JSON-RPC id.
    private var requestStreams: [String: AsyncThrowingStream<Data, any Error>.Continuation] = [:]
    /// The GET stream, for messages the server starts (LLMDB sends none today).
    private var standalone: AsyncThrowingStream<Data, any Error>.Continuation? = nil
    private static let standaloneID = "_GET_stream"

    private struct Event {
        let stream: String
        let id: String
        let message: Data?
        /// The answer that ends its request's stream.
        let final: Bool
        var cost: Int { (message?.count ?? 0) + 64 }
    }
    /// Oldest first, from `first` on (earlier slots are dropped events not yet compacted).
    private var events: [Event] = []
    private var first = 0
    private var counter = 0
    /// The bytes the kept events count for; at most `historyLimit`.
    private(set) var historyBytes = 0

    init(sessionID: String, historyLimit: Int) {
        self.sessionID = sessionID
        self.historyLimit = historyLimit
        (incoming, incomingContinuation) = AsyncThrowingStream<Data, any Error>.makeStream()
    }

    // MARK: Transport

    func connect() async throws {
        guard !started else { throw MCPError.internalError("Transport already started") }
        started = true
    }

    func disconnect() async { terminate() }

    func send(_ data: Data) async throws {
        guard !terminated else { throw MCPError.connectionClosed }
        switch MessageKind(data) {
        case .response(let id)?:
            let eventID = store(stream: id, message: data, final: true)
            if let c = requestStreams.removeValue(forKey: id) {
                c.yield(Self.sse(id: eventID, data: data))
                c.finish()
                inProgress.subtract(1, ordering: .relaxed)
            }
        case .request?, .notification?:
            let eventID = store(stream: Self.standaloneID, message: data, final: false)
            standalone?.yield(Self.sse(id: eventID, data: data))
        case nil:
            logger.warning("an outgoing MCP message that is not JSON-RPC was dropped")
        }
    }

    func receive() -> AsyncThrowingStream<Data, any Error> { incoming }

    // MARK: HTTP

    func handleRequest(_ request: HTTPRequest) async -> HTTPResponse {
        if terminated {
            return .error(
                statusCode: 404,
                .invalidRequest("Not Found: Session has been terminated"),
                sessionID: sessionID
            )
        }
        switch request.method.uppercased() {
        case "POST": return post(request)
        case "GET": return get(request)
        case "DELETE": return delete(request)
        default:
            return .error(
                statusCode: 405,
                .invalidRequest("Method Not Allowed"),
                sessionID: currentSessionID,
                extraHeaders: [HTTPHeaderName.allow: "GET, POST, DELETE"]
            )
        }
    }

    private var currentSessionID: String? { initialized ? sessionID : nil }

    private var headers: [String: String] {
        initialized ? [HTTPHeaderName.sessionID: sessionID] : [:]
    }

    private var streamHeaders: [String: String] {
        var h = headers
        h[HTTPHeaderName.contentType] = "text/event-stream"
        h[HTTPHeaderName.cacheControl] = "no-cache, no-transform"
        h[HTTPHeaderName.connection] = "keep-alive"
        return h
    }

    private func context(_ method: String, initialize: Bool) -> HTTPValidationContext {
        Self.context(method, initialize: initialize, sessionID: currentSessionID)
    }

    private static func context(_ method: String, initialize: Bool, sessionID: String?) -> HTTPValidationContext {
        HTTPValidationContext(
            httpMethod: method,
            sessionID: sessionID,
            isInitializationRequest: initialize,
            supportedProtocolVersions: Version.supported
        )
    }

    /// The checks of a `POST` that change nothing: a body that is one JSON-RPC message, read
    /// as the SDK will read it, with unique member names, in a request that passes the
    /// validation pipeline. The message's kind, or the response that refuses it.
    private static func check(
        _ request: HTTPRequest,
        sessionID: String?
    ) -> (kind: MessageKind?, refusal: HTTPResponse?) {
        guard let body = request.body, !body.isEmpty else {
            return (nil, .error(statusCode: 400, .parseError("Empty request body"), sessionID: sessionID))
        }
        let kind: MessageKind
        switch MessageKind.classify(body) {
        case .success(let k): kind = k
        case .failure(.notJSONRPC):
            return (nil, .error(statusCode: 400, .parseError("Invalid JSON-RPC message"), sessionID: sessionID))
        case .failure(.refused(let why)):
            return (nil, .error(statusCode: 400, .invalidRequest("Invalid Request: " + why), sessionID: sessionID))
        }
        if let why = MCPTools.duplicateRefusal(body) {
            return (nil, .error(statusCode: 400, .invalidRequest("Invalid Request: " + why), sessionID: sessionID))
        }
        let context = context("POST", initialize: kind.isInitialize, sessionID: sessionID)
        if let refusal = validation.validate(request, context: context) { return (nil, refusal) }
        return (kind, nil)
    }

    /// Whether `request` would open a session: an `initialize` request that passes every
    /// check of ``handleRequest(_:)`` and whose params the SDK can decode; nil if so, else the
    /// response that refuses it. It changes nothing, so ``MCPSessions`` calls it before it
    /// makes room for a new session.
    static func checkInitialize(_ request: HTTPRequest) -> HTTPResponse? {
        let (kind, refusal) = check(request, sessionID: nil)
        if let refusal { return refusal }
        guard kind?.isInitialize == true, let body = request.body else {
            return .error(statusCode: 400, .invalidRequest("Invalid Request: not an initialize request"))
        }
        guard (try? JSONDecoder().decode(Request<Initialize>.self, from: body)) != nil else {
            return .error(
                statusCode: 400,
                .invalidParams(
                    "Invalid params: initialize takes params {protocolVersion: string, capabilities: object, clientInfo: {name: string, version: string}}"
                )
            )
        }
        return nil
    }

    private func post(_ request: HTTPRequest) -> HTTPResponse {
        let (checked, refusal) = Self.check(request, sessionID: currentSessionID)
        guard let kind = checked, let body = request.body else {
            return refusal ?? .error(statusCode: 400, .parseError("Invalid JSON-RPC message"))
        }
        let isInitialize = kind.isInitialize
        switch kind {
        case .notification, .response:
            incomingContinuation.yield(body)
            return .accepted(headers: headers)
        case .request(let id, _):
            if isInitialize {
                guard !initialized else {
                    return .error(
                        statusCode: 400,
                        .invalidRequest("Bad Request: Session already initialized"),
                        sessionID: sessionID
                    )
                }
                initialized = true
            }
            guard requestStreams[id] == nil else {
                return .error(
                    statusCode: 409,
                    .invalidRequest("a request with the id \(id) is already in progress in this session"),
                    sessionID: currentSessionID
                )
            }
            guard requestStreams.count < Self.maxOpenRequests else {
                return .error(
                    statusCode: 503,
                    .internalError(
                        "this session has \(requestStreams.count) requests in progress, the most one session may have; wait for their answers"
                    ),
                    sessionID: currentSessionID
                )
            }
            let (stream, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
            requestStreams[id] = continuation
            inProgress.add(1, ordering: .relaxed)
            prime(id, continuation, version: protocolVersion(body, request))
            incomingContinuation.yield(body)
            return .stream(stream, headers: streamHeaders)
        }
    }

    private func get(_ request: HTTPRequest) -> HTTPResponse {
        if let refusal = Self.validation.validate(request, context: context("GET", initialize: false)) {
            return refusal
        }
        if let last = request.header(HTTPHeaderName.lastEventID) { return resume(after: last, request) }
        guard standalone == nil else {
            return .error(
                statusCode: 409,
                .invalidRequest("Conflict: Only one SSE stream is allowed per session"),
                sessionID: currentSessionID
            )
        }
        let (stream, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
        standalone = continuation
        prime(
            Self.standaloneID,
            continuation,
            version: request.header(HTTPHeaderName.protocolVersion) ?? Version.latest
        )
        return .stream(stream, headers: streamHeaders)
    }

    private func delete(_ request: HTTPRequest) -> HTTPResponse {
        if let refusal = Self.validation.validate(request, context: context("DELETE", initialize: false)) {
            return refusal
        }
        terminate()
        return .ok(headers: headers)
    }

    /// Replays the events of one stream after `lastEventID`. A request stream that has its
    /// answer ends after the replay; one still in progress, or the GET stream, goes on.
    private func resume(after lastEventID: String, _ request: HTTPRequest) -> HTTPResponse {
        guard let index = events[first...].firstIndex(where: { $0.id == lastEventID }) else {
            return .error(
                statusCode: 400,
                .invalidRequest(
                    "Invalid Last-Event-ID: '\(lastEventID.prefix(80))' is unknown or no longer kept (a session keeps its last \(historyLimit) bytes of events)"
                ),
                sessionID: currentSessionID
            )
        }
        let streamID = events[index].stream
        let replay = events[(index + 1)...].filter { $0.stream == streamID }
        let (stream, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
        for e in replay { if let m = e.message { continuation.yield(Self.sse(id: e.id, data: m)) } }
        if replay.contains(where: \.final) {
            continuation.finish()
            return .stream(stream, headers: streamHeaders)
        }
        if streamID == Self.standaloneID {
            standalone?.finish()
            standalone = continuation
        } else if let old = requestStreams.updateValue(continuation, forKey: streamID) {
            old.finish()
        } else {
            // Neither answered nor in progress: the session ended the request.
            continuation.finish()
            return .stream(stream, headers: streamHeaders)
        }
        prime(streamID, continuation, version: request.header(HTTPHeaderName.protocolVersion) ?? Version.latest)
        return .stream(stream, headers: streamHeaders)
    }

    // MARK: Events

    /// Keeps an event for resumption (dropping the oldest past the limit) and returns its id.
    private func store(stream: String, message: Data?, final: Bool) -> String {
        counter += 1
        let e = Event(stream: stream, id: "\(stream)_\(counter)", message: message, final: final)
        events.append(e)
        historyBytes += e.cost
        while historyBytes > historyLimit, first < events.count {
            historyBytes -= events[first].cost
            first += 1
        }
        if first > 64, first * 2 > events.count {
            events.removeFirst(first)
            first = 0
        }
        return e.id
    }

    /// The priming event (an id, no data) that lets a client resume a stream from its start;
    /// only clients of protocol 2025-03-26 or later understand it.
    private func prime(
        _ stream: String,
        _ continuation: AsyncThrowingStream<Data, any Error>.Continuation,
        version: String
    ) {
        guard version >= "2025-03-26" else { return }
        let id = store(stream: stream, message: nil, final: false)
        continuation.yield(Data("id: \(id)\ndata: \n\n".utf8))
    }

    private func protocolVersion(_ body: Data, _ request: HTTPRequest) -> String {
        if let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            json["method"] as? String == "initialize",
            let params = json["params"] as? [String: Any], let v = params["protocolVersion"] as? String
        {
            return v
        }
        return request.header(HTTPHeaderName.protocolVersion) ?? Version.latest
    }

    static func sse(id: String, data: Data) -> Data {
        Data("id: \(id)\nevent: message\ndata: \(String(decoding: data, as: UTF8.self))\n\n".utf8)
    }

    private func terminate() {
        guard !terminated else { return }
        terminated = true
        for (_, c) in requestStreams { c.finish() }
        requestStreams = [:]
        inProgress.store(0, ordering: .relaxed)
        standalone?.finish()
        standalone = nil
        events = []
        first = 0
        historyBytes = 0
        incomingContinuation.finish()
    }
}

/// What a JSON-RPC message is, for routing: as the SDK will read it, so that every request
/// routed here gets its answer from the SDK.
enum MessageKind {
    case request(id: String, method: String)
    case notification(method: String)
    case response(id: String)

    /// Why ``classify(_:)`` refuses a message.
    enum Refusal: Error {
        /// Not a JSON object.
        case notJSONRPC
        /// A JSON object that the SDK would read otherwise than as a request, a notification
        /// or a response routed by its id.
        case refused(String)
    }

    /// The kind of a message the SDK sent (its own are well formed); nil if it is none.
    init?(_ data: Data) {
        guard case .success(let kind) = Self.classify(data) else { return nil }
        self = kind
    }

    /// The kind of an incoming message, or why it is refused:
    ///
    /// - an `id` must be a string or an integer (written without fraction or exponent, within
    ///   64 bits): the SDK reads no other id, so it would answer another (`1.5`, `true`) with
    ///   an id of its own and the request would stay in progress;
    /// - a message has `method` (a request, or without `id` a notification) or `result` /
    ///   `error` (a response), never both: the SDK tries a response first, so it would take
    ///   such a request for a response and never answer it.
    static func classify(_ data: Data) -> Result<MessageKind, Refusal> {
        guard let json = try? JSONValue(parsing: Array(data)), case .object(let members) = json else {
            return .failure(.notJSONRPC)
        }
        func member(_ name: String) -> JSONValue? { members.first { $0.key == name }?.value }
        var id: String? = nil
        switch member("id") {
        case nil: break
        case .string(let s)?: id = s
        case .int(let n)?: id = String(n)
        case let other?:
            return .failure(
                .refused(
                    "the id must be a string or an integer, not \(other.text.prefix(40)) (a request is answered with its id)"
                )
            )
        }
        let method = member("method")
        let isResponse = member("result") != nil || member("error") != nil
        if method != nil, isResponse {
            return .failure(
                .refused(
                    "a message has 'method' (a request or a notification) or 'result'/'error' (a response), not both"
                )
            )
        }
        if let method {
            guard case .string(let name) = method else { return .failure(.refused("'method' must be a string")) }
            return .success(id.map { .request(id: $0, method: name) } ?? .notification(method: name))
        }
        if isResponse {
            guard let id else { return .failure(.refused("a response needs the id of the request it answers")) }
            return .success(.response(id: id))
        }
        return .failure(.notJSONRPC)
    }

    var isInitialize: Bool {
        if case .request(_, "initialize") = self { return true }
        return false
    }
}

import Foundation
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
actor MCPSessionTransport: Transport {
    nonisolated let logger = Logger(label: "llmdb.mcp.transport", factory: { _ in SwiftLogNoOpLogHandler() })
    let sessionID: String
    let historyLimit: Int
    let validation: any HTTPRequestValidationPipeline = StandardValidationPipeline(validators: [
        OriginValidator.localhost(),
        AcceptHeaderValidator(mode: .sseRequired),
        ContentTypeValidator(),
        ProtocolVersionValidator(),
        SessionValidator(),
    ])
    /// JSON-RPC requests of this session whose answer has not been sent.
    nonisolated let inProgress = Atomic<Int>(0)

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
        HTTPValidationContext(
            httpMethod: method,
            sessionID: currentSessionID,
            isInitializationRequest: initialize,
            supportedProtocolVersions: Version.supported
        )
    }

    private func post(_ request: HTTPRequest) -> HTTPResponse {
        guard let body = request.body, !body.isEmpty else {
            return .error(statusCode: 400, .parseError("Empty request body"), sessionID: currentSessionID)
        }
        guard let kind = MessageKind(body) else {
            return .error(statusCode: 400, .parseError("Invalid JSON-RPC message"), sessionID: currentSessionID)
        }
        if let why = MCPTools.duplicateRefusal(body) {
            return .error(statusCode: 400, .invalidRequest("Invalid Request: " + why), sessionID: currentSessionID)
        }
        let isInitialize = kind.isInitialize
        if let refusal = validation.validate(request, context: context("POST", initialize: isInitialize)) {
            return refusal
        }
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
            let (stream, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
            requestStreams[id] = continuation
            inProgress.add(1, ordering: .relaxed)
            prime(id, continuation, version: protocolVersion(body, request))
            incomingContinuation.yield(body)
            return .stream(stream, headers: streamHeaders)
        }
    }

    private func get(_ request: HTTPRequest) -> HTTPResponse {
        if let refusal = validation.validate(request, context: context("GET", initialize: false)) {
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
        if let refusal = validation.validate(request, context: context("DELETE", initialize: false)) {
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

/// What a JSON-RPC message is, for routing (as the SDK's transports classify it).
enum MessageKind {
    case request(id: String, method: String)
    case notification(method: String)
    case response(id: String)

    init?(_ data: Data) {
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        var id: String? = nil
        if let s = json["id"] as? String {
            id = s
        } else if let n = json["id"] as? Int {
            id = String(n)
        }
        if let method = json["method"] as? String {
            self = id.map { .request(id: $0, method: method) } ?? .notification(method: method)
        } else if json["result"] != nil || json["error"] != nil, let id {
            self = .response(id: id)
        } else {
            return nil
        }
    }

    var isInitialize: Bool {
        if case .request(_, "initialize") = self { return true }
        return false
    }
}

import LLMDBService
import NIOCore
import NIOHTTPTypes

/// Why a request's body stopped being read: it arrived too slowly, or stopped arriving. The
/// body's reader (a route, `/mcp`) sees this error and answers `408 body_timeout`.
struct BodyTimeout: Error, Sendable {
    let graceMs: Int
    let minRate: Int
    /// No byte came for `graceMs` (rather than too few on average).
    var stalled = false

    var apiError: APIError {
        APIError(
            408,
            "body_timeout",
            stalled
                ? "the request body stopped arriving: no byte came for \(graceMs) ms (body_timeout_ms)"
                : "the request body arrived too slowly: after \(graceMs) ms (body_timeout_ms) it must keep arriving at \(minRate) bytes/s or more on average (min_body_rate)"
        )
    }
}

/// Gives every request body a deadline, on every route and `/mcp` alike, made of two rules:
///
/// - the rate: a body of n bytes must have arrived by `grace + n / minRate` after its
///   request's head;
/// - progress: it may never go `grace` without a byte (counting from the head), so a client
///   cannot send most of a body at once and then hold its connection and buffer for as long
///   as the average allows (about 17 minutes for 4 MiB at the defaults).
///
/// While the body is short of both, the deadline moves as bytes arrive; once it passes, the
/// body's reader gets ``BodyTimeout`` and the connection is closed after the response (or at
/// once when the response has already been sent, for a route that did not read the body).
///
/// It sits in the channel pipeline after the HTTP codec, so it sees request and response
/// parts. Reading a body holds no request slot (``RequestSlots``); this bounds how long a
/// slow body holds its connection.
final class BodyDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let graceMs: Int
    let minRate: Int
    /// When the head of the request whose body is being read arrived; nil between bodies.
    private var start: NIODeadline? = nil
    private var received: Int64 = 0
    /// When the last bytes of that body (or its head) arrived.
    private var lastProgress: NIODeadline = .uptimeNanoseconds(0)
    private(set) var timer: Scheduled<Void>? = nil
    private var expired = false
    /// Request heads read and response ends written: equal when every request so far has
    /// its whole response.
    private var heads = 0
    private var ends = 0
    private var closeAfterResponse = false

    init(graceMs: Int, minRate: Int) {
        self.graceMs = graceMs
        self.minRate = max(1, minRate)
    }

    /// The earlier of the two rules: grace + received / minRate after the head (the rate),
    /// and grace after the last bytes (progress); and which of them it is.
    private var deadline: (at: NIODeadline, stalled: Bool)? {
        guard let start else { return nil }
        let extra = Double(received) / Double(minRate) * 1e9
        let nanos = extra >= 1e15 ? Int64(1e15) : Int64(extra)
        let grace = TimeAmount.milliseconds(Int64(graceMs))
        let rate = start + grace + .nanoseconds(nanos)
        let progress = lastProgress + grace
        return progress < rate ? (progress, true) : (rate, false)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // After a timeout nothing more of this connection is read: it closes.
        guard !expired else { return }
        switch unwrapInboundIn(data) {
        case .head:
            heads += 1
            start = context.eventLoop.now
            lastProgress = context.eventLoop.now
            received = 0
        case .body(let buffer):
            received += Int64(buffer.readableBytes)
            lastProgress = context.eventLoop.now
        case .end:
            start = nil
            timer?.cancel()
            timer = nil
        }
        context.fireChannelRead(data)
    }

    /// The timer is set once a read burst ends with the body incomplete, so a request whose
    /// body came with its head (most) never sets one.
    func channelReadComplete(context: ChannelHandlerContext) {
        if start != nil, timer == nil, !expired { schedule(context) }
        context.fireChannelReadComplete()
    }

    private func schedule(_ context: ChannelHandlerContext) {
        timer?.cancel()
        guard let deadline else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline.at) { [self] in
            self.timer = nil
            self.check(context)
        }
    }

    private func check(_ context: ChannelHandlerContext) {
        guard let deadline, !expired else { return }
        if context.eventLoop.now < deadline.at {
            // Bytes arrived since the timer was set: the deadline moved.
            schedule(context)
            return
        }
        expired = true
        start = nil
        context.fireErrorCaught(BodyTimeout(graceMs: graceMs, minRate: minRate, stalled: deadline.stalled))
        if ends == heads {
            context.close(promise: nil)
        } else {
            closeAfterResponse = true
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        ends += 1
        guard closeAfterResponse, ends == heads else {
            context.write(data, promise: promise)
            return
        }
        let done = promise ?? context.eventLoop.makePromise()
        context.writeAndFlush(data, promise: done)
        done.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }
}

import HTTPTypes
import LLMDBService
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

@testable import LLMDBServer

/// The body deadline on an embedded channel, whose clock the test moves: no real time passes.
@Suite("Body deadline: grace time, then a minimum rate")
struct BodyDeadlineTests {
    /// A channel with the handler (grace 1 s, 100 bytes/s) and a recorder of what reaches the
    /// request side.
    final class Recorder: ChannelInboundHandler {
        typealias InboundIn = HTTPRequestPart
        var parts: [HTTPRequestPart] = []
        var errors: [any Error] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { parts.append(unwrapInboundIn(data)) }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { errors.append(error) }
    }

    static func channel() throws -> (EmbeddedChannel, Recorder) {
        let recorder = Recorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(BodyDeadline(graceMs: 1000, minRate: 100))
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, recorder)
    }

    static let head = HTTPRequestPart.head(HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/v1/facts"))

    static func body(_ n: Int) -> HTTPRequestPart { .body(ByteBuffer(repeating: 0x61, count: n)) }

    @Test("a body that keeps coming, but below the rate, is cut off where the rate falls behind")
    func belowTheRate() throws {
        let (channel, recorder) = try Self.channel()
        try channel.writeInbound(Self.head)
        // 50 bytes (0.5 s at 100 bytes/s), then a byte every 400 ms: never a pause of the
        // grace time, but the rate's deadline (1 s + n / 100 bytes/s) is passed at 1.53 s.
        try channel.writeInbound(Self.body(50))
        for _ in 0..<3 {
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(400))
            try channel.writeInbound(Self.body(1))
        }
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(300))  // 1.5 s
        #expect(recorder.errors.isEmpty)
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(100))  // 1.6 s
        let e = try #require(recorder.errors.first as? BodyTimeout)
        #expect(e.apiError.status == 408 && e.apiError.code == "body_timeout")
        #expect(e.apiError.message.contains("min_body_rate"), "\(e.apiError.message)")
        // The response has not been written: the connection stays until it has.
        #expect(channel.isActive)
        // Bytes after the timeout are not passed on.
        try channel.writeInbound(Self.body(10))
        #expect(recorder.parts.count == 5)
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .requestTimeout)))
        #expect(channel.isActive)
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        #expect(!channel.isActive)
    }

    @Test("a body that stops coming is cut off after the grace time without a byte, however much it sent")
    func stalled() throws {
        let (channel, recorder) = try Self.channel()
        try channel.writeInbound(Self.head)
        // All but the last byte at once: by the rate alone it could then wait 100 s.
        try channel.writeInbound(Self.body(10_000))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(999))
        #expect(recorder.errors.isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(2))
        let e = try #require(recorder.errors.first as? BodyTimeout)
        #expect(e.apiError.status == 408 && e.apiError.code == "body_timeout")
        #expect(e.apiError.message.contains("no byte came for 1000 ms"), "\(e.apiError.message)")
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .requestTimeout)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        #expect(!channel.isActive)
    }

    @Test("a pause is measured from the last bytes: a body that pauses less than the grace time goes on")
    func pauses() throws {
        let (channel, recorder) = try Self.channel()
        try channel.writeInbound(Self.head)
        // 1,000 bytes every 900 ms for 9 s: far above the rate, each pause under the grace.
        for _ in 0..<10 {
            try channel.writeInbound(Self.body(1000))
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(900))
        }
        #expect(recorder.errors.isEmpty)
        // Then a pause of the grace time from the last bytes.
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(99))
        #expect(recorder.errors.isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(2))
        #expect(recorder.errors.first is BodyTimeout)
        _ = try? channel.finish()
    }

    @Test("a body that keeps coming faster than the rate is read to the end, past the grace time")
    func steady() throws {
        let (channel, recorder) = try Self.channel()
        try channel.writeInbound(Self.head)
        for _ in 0..<30 {
            // 20 bytes every 100 ms: 200 bytes/s, twice the rate, for 3 s.
            try channel.writeInbound(Self.body(20))
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(100))
        }
        try channel.writeInbound(HTTPRequestPart.end(nil))
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(recorder.errors.isEmpty)
        #expect(recorder.parts.count == 32)
        #expect(channel.isActive)
        _ = try channel.finish()
    }

    @Test("a request answered without reading its body is closed at the deadline")
    func answeredFirst() throws {
        let (channel, recorder) = try Self.channel()
        try channel.writeInbound(Self.head)
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .notFound)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1001))
        #expect(recorder.errors.first is BodyTimeout)
        #expect(!channel.isActive)
    }

    @Test("requests whose body came with their head set no timer and are never cut off")
    func complete() throws {
        let handler = BodyDeadline(graceMs: 1000, minRate: 100)
        let recorder = Recorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        for _ in 0..<3 {
            // One read burst: head, body and end together, as most requests come.
            for part in [Self.head, Self.body(10), HTTPRequestPart.end(nil)] {
                channel.pipeline.syncOperations.fireChannelRead(NIOAny(part))
            }
            channel.pipeline.syncOperations.fireChannelReadComplete()
            #expect(handler.timer == nil)
            try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
            try channel.writeOutbound(HTTPResponsePart.end(nil))
        }
        channel.embeddedEventLoop.advanceTime(by: .seconds(3600))
        #expect(recorder.errors.isEmpty)
        #expect(recorder.parts.count == 9)
        #expect(channel.isActive)
        _ = try channel.finish()
    }
}

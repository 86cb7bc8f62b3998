import IngestPipeline
import NIOCore
import NIOEmbedded
import NIOWebSocket
import OptionsFeed
import Synchronization
import Testing

@testable import IngestService

/// The feed connection's frame handler in a NIO test channel: reassembly, the
/// status flow, pings both ways, the close handshake, and reads stopped while
/// a full buffer (no spool) waits for room. Time is the test loop's own.
@Suite("Feed frame handler")
struct FeedFrameHandlerTests {
    static let pingInterval = Duration.seconds(10)

    struct Harness {
        let channel: NIOAsyncTestingChannel
        let buffer: RecordBuffer
        let stats: IngestStats
        let attempt: FeedSession.Attempt

        /// A server frame in, as the socket reads it.
        func receive(_ opcode: WebSocketOpcode, _ text: String, fin: Bool = true) async throws {
            try await receive(opcode, ByteBuffer(string: text), fin: fin)
        }

        func receive(_ opcode: WebSocketOpcode, _ data: ByteBuffer, fin: Bool = true) async throws {
            try await channel.writeInbound(WebSocketFrameParserTests.encoded(opcode, data, fin: fin))
        }

        /// The last `autoRead` the handler set (the test channel's `getOption` always says `true`).
        var autoRead: Bool? {
            channel.options.last { $0.option is ChannelOptions.Types.AutoReadOption }?.value as? Bool
        }

        /// Every frame the handler wrote (NIO's encoder, not in this pipeline, applies the mask).
        func sent() async throws -> [(opcode: WebSocketOpcode, text: String, masked: Bool)] {
            var frames: [(WebSocketOpcode, String, Bool)] = []
            while let frame = try await channel.readOutbound(as: WebSocketFrame.self) {
                frames.append((frame.opcode, String(buffer: frame.data), frame.maskKey != nil))
            }
            return frames
        }
    }

    static func harness(capacity: Int = 1_000, apiKey: String = "the-key", wallClock: WallClock = .system) async throws -> Harness {
        let buffer = RecordBuffer(capacity: capacity, flushThreshold: 100)
        let stats = IngestStats()
        let intake = FeedIntake(
            buffer: buffer, stats: stats, gaps: GapLedger(startsOpen: false), deadLetters: DeadLetterQueue(), spool: nil,
            notionalThreshold: 0, logger: CapturedLogs().logger("feed"))
        let configuration = FeedSessionConfiguration(
            url: "ws://127.0.0.1:1/options", apiKey: apiKey, subscriptions: ["T.*"], maxFrameBytes: 4_000,
            pingInterval: pingInterval, watchdog: .init(), readPacing: .init(interval: .zero))
        let session = FeedSession(
            configuration: configuration, intake: intake, monitor: FeedMonitor(configuration: .init()), wallClock: wallClock,
            logger: CapturedLogs().logger("feed"))
        let attempt = FeedSession.Attempt(watchdog: SessionWatchdog(configuration: .init(), now: .now), mask: configuration.mask)
        let channel = NIOAsyncTestingChannel()
        try await channel.testingEventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(FeedFrameHandler(session: session, attempt: attempt, maxFrameSize: 16_000))
        }.get()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        return Harness(channel: channel, buffer: buffer, stats: stats, attempt: attempt)
    }

    static func trade(_ sequence: Int) -> String {
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":6.5,"s":20,"c":[209],"t":1764772200120,"q":\#(sequence)}"#
    }

    static func trades(_ sequences: Range<Int>) -> String {
        "[" + sequences.map(trade).joined(separator: ",") + "]"
    }

    @Test("a message in three frames is reassembled and its trades buffered once")
    func reassembles() async throws {
        let harness = try await Self.harness()
        let message = Self.trades(0..<3)
        let cut = message.utf8.count / 3
        let parts = [String(message.prefix(cut)), String(message.dropFirst(cut).prefix(cut)), String(message.dropFirst(2 * cut))]
        try await harness.receive(.text, parts[0], fin: false)
        try await harness.receive(.continuation, parts[1], fin: false)
        #expect(harness.stats.frames.load(ordering: .relaxed) == 0)
        try await harness.receive(.continuation, parts[2])
        #expect(harness.stats.frames.load(ordering: .relaxed) == 1)
        #expect(harness.buffer.take(upTo: 10).trades.map(\.sequence) == [0, 1, 2])
    }

    @Test("a message over WS_MAX_FRAME_BYTES, whole or in pieces, and a binary message are counted and skipped; the next is read")
    func skipsOversizedAndBinary() async throws {
        let harness = try await Self.harness()
        try await harness.receive(.text, "[" + String(repeating: " ", count: 4_200) + "]")
        try await harness.receive(.text, String(repeating: " ", count: 2_100), fin: false)
        try await harness.receive(.continuation, String(repeating: " ", count: 2_100))
        try await harness.receive(.binary, Self.trades(0..<1))
        try await harness.receive(.text, Self.trades(7..<8))
        #expect(harness.stats.badFrames.count(.oversized) == 2)
        #expect(harness.stats.badFrames.count(.binary) == 1)
        #expect(harness.buffer.take(upTo: 10).trades.map(\.sequence) == [7])
        #expect(harness.channel.isActive)
    }

    @Test("connected → the key is sent, auth_success → the subscription, every frame masked")
    func statusFlow() async throws {
        let harness = try await Self.harness(apiKey: "k\"1")
        try await harness.receive(.text, #"[{"ev":"status","status":"connected","message":"Connected Successfully"}]"#)
        try await harness.receive(.text, #"[{"ev":"status","status":"auth_success","message":"authenticated"}]"#)
        let sent = try await harness.sent()
        #expect(sent.map(\.text) == [#"{"action":"auth","params":"k\"1"}"#, #"{"action":"subscribe","params":"T.*"}"#])
        #expect(sent.allSatisfy { $0.opcode == .text && $0.masked })
    }

    @Test("auth_failed: the close handshake begins, later data is not read, and the socket closes when the server answers")
    func rejectedKeyCloses() async throws {
        let harness = try await Self.harness()
        try await harness.receive(.text, #"[{"ev":"status","status":"auth_failed","message":"bad key"}]"#)
        let sent = try await harness.sent()
        #expect(sent.map(\.opcode) == [.connectionClose])
        try await harness.receive(.text, Self.trades(0..<2))
        #expect(harness.buffer.count == 0)
        guard case .rejected(let reason) = harness.attempt.failure else {
            Issue.record("expected a rejection, got \(String(describing: harness.attempt.failure))")
            return
        }
        #expect(reason.contains("auth_failed"))
        var close = ByteBuffer()
        close.write(webSocketErrorCode: .normalClosure)
        try await harness.receive(.connectionClose, close)
        try await harness.channel.closeFuture.get()
    }

    @Test("the server's close frame is answered with its code and ends the attempt with the code and reason")
    func serverClose() async throws {
        let harness = try await Self.harness()
        var close = ByteBuffer()
        close.write(webSocketErrorCode: .policyViolation)
        close.writeString("bad key")
        try await harness.receive(.connectionClose, close)
        try await harness.channel.closeFuture.get()
        let sent = try await harness.sent()
        #expect(sent.map(\.opcode) == [.connectionClose])
        #expect(sent.first?.masked == true)
        #expect(harness.attempt.failure == .connection("closed by the server (1008: bad key)"))
    }

    @Test("a ping is answered with its payload; a ping goes out every interval and a pong missing at the next ends the connection")
    func pings() async throws {
        let harness = try await Self.harness()
        try await harness.receive(.ping, "abc")
        #expect(try await harness.sent().map { "\($0.opcode):\($0.text)" } == ["\(WebSocketOpcode.pong):abc"])

        await harness.channel.testingEventLoop.advanceTime(by: .seconds(10))
        #expect(try await harness.sent().map(\.opcode) == [.ping])
        try await harness.receive(.pong, "ingest-options")
        await harness.channel.testingEventLoop.advanceTime(by: .seconds(10))
        #expect(try await harness.sent().map(\.opcode) == [.ping])
        #expect(harness.channel.isActive)

        await harness.channel.testingEventLoop.advanceTime(by: .seconds(10))
        try await harness.channel.closeFuture.get()
        guard case .connection(let reason) = harness.attempt.failure else {
            Issue.record("expected a connection failure, got \(String(describing: harness.attempt.failure))")
            return
        }
        #expect(reason.contains("no pong") && reason.contains("without a close frame"))
    }

    @Test("no spool, buffer full: reads stop, later frames are held, and every trade goes in, in order, once room is made")
    func backpressure() async throws {
        let harness = try await Self.harness(capacity: 10)
        // One read with two frames: the first fills the buffer, so the second's bytes are held.
        var read = WebSocketFrameParserTests.encoded(.text, ByteBuffer(string: Self.trades(0..<25)))
        var second = WebSocketFrameParserTests.encoded(.text, ByteBuffer(string: Self.trades(25..<28)))
        read.writeBuffer(&second)
        try await harness.channel.writeInbound(read)
        #expect(harness.autoRead == false)
        try await harness.receive(.text, Self.trades(28..<30))
        var taken: [Int64] = []
        while taken.count < 30 {
            taken += harness.buffer.take(upTo: 7).trades.map(\.sequence)
            await Task.yield()
        }
        #expect(taken == (0..<30).map(Int64.init))
        await harness.attempt.handedOff()
        try await harness.channel.testingEventLoop.submit {}.get()
        #expect(harness.autoRead == true)
        #expect(harness.stats.tradesDropped.load(ordering: .relaxed) == 0)
    }

    @Test("no spool, buffer full, the session stops: the waiting ends and what did not fit is counted as dropped")
    func stopWhileWaiting() async throws {
        let harness = try await Self.harness(capacity: 10)
        try await harness.receive(.text, Self.trades(0..<25))
        harness.attempt.cancelHandOff()
        await harness.attempt.handedOff()
        #expect(harness.buffer.count == 10)
        #expect(harness.stats.tradesDropped.load(ordering: .relaxed) == 15)
    }

    @Test("frames split anywhere across reads, and many in one read, give the same trades in order")
    func framesAcrossReads() async throws {
        let harness = try await Self.harness()
        var stream = ByteBuffer()
        for batch in 0..<6 {
            var frame = WebSocketFrameParserTests.encoded(.text, ByteBuffer(string: Self.trades(batch * 3..<batch * 3 + 3)))
            stream.writeBuffer(&frame)
        }
        // Reads of 1, 2, 3 … bytes: every header and payload is cut somewhere.
        var size = 1
        while stream.readableBytes > 0 {
            try await harness.channel.writeInbound(stream.readSlice(length: min(size, stream.readableBytes))!)
            size += 1
        }
        #expect(harness.stats.frames.load(ordering: .relaxed) == 6)
        #expect(harness.buffer.take(upTo: 100).trades.map(\.sequence) == (0..<18).map(Int64.init))
    }

    /// Several whole frames as one read of the socket.
    static func oneRead(_ texts: [String]) -> ByteBuffer {
        var read = ByteBuffer()
        for text in texts {
            var frame = WebSocketFrameParserTests.encoded(.text, ByteBuffer(string: text))
            read.writeBuffer(&frame)
        }
        return read
    }

    @Test("the messages of one read reach the buffer in one hand-off, read off the clock once: their trades share a received_at")
    func oneHandOffARead() async throws {
        // A wall clock that moves a microsecond at every read of it.
        let ticks = ClockReads()
        let harness = try await Self.harness(wallClock: WallClock { 1_764_772_300_000_000 + ticks.next() })
        try await harness.channel.writeInbound(Self.oneRead((0..<5).map { Self.trades($0 * 2..<$0 * 2 + 2) }))
        try await harness.channel.writeInbound(Self.oneRead([Self.trades(10..<12)]))
        #expect(harness.stats.frames.load(ordering: .relaxed) == 6)
        let trades = harness.buffer.take(upTo: 100).trades
        #expect(trades.map(\.sequence) == (0..<12).map(Int64.init))
        #expect(Set(trades[0..<10].map(\.receivedAtMicros)).count == 1, "one clock read for the first read's five messages")
        #expect(trades[10].receivedAtMicros > trades[0].receivedAtMicros, "the next read reads the clock again")
        #expect(ticks.value == 2)
        #expect(harness.stats.lastMessageAtMicros.load(ordering: .relaxed) == trades[10].receivedAtMicros)
    }

    @Test("a status that ends the session after data in the same read: the data before it is buffered, nothing after it")
    func statusEndsSessionMidRead() async throws {
        let harness = try await Self.harness()
        try await harness.channel.writeInbound(Self.oneRead([
            Self.trades(0..<2), #"[{"ev":"status","status":"auth_failed","message":"bad key"}]"#, Self.trades(2..<4),
        ]))
        #expect(harness.buffer.take(upTo: 10).trades.map(\.sequence) == [0, 1])
        #expect(harness.buffer.count == 0)
        let sent = try await harness.sent()
        #expect(sent.map(\.opcode) == [.connectionClose])
    }

    @Test("a protocol error (reserved bit, frame over the limit) sends a close frame with its code and ends the connection")
    func protocolErrors() async throws {
        for (bytes, code, reason) in [
            ([0xC1, 0x00], WebSocketErrorCode.protocolError, "reserved bit"),
            ([0x81, 0x7E, 0xFF, 0xFF], .messageTooLarge, "over the limit of 16000"),
        ] as [([UInt8], WebSocketErrorCode, String)] {
            let harness = try await Self.harness()
            try await harness.channel.writeInbound(ByteBuffer(bytes: bytes))
            try await harness.channel.closeFuture.get()
            let sent = try await harness.channel.readOutbound(as: WebSocketFrame.self)
            var data = sent?.data ?? ByteBuffer()
            #expect(sent?.opcode == .connectionClose)
            #expect(data.readWebSocketErrorCode() == code)
            guard case .connection(let text) = harness.attempt.failure else {
                Issue.record("expected a connection failure, got \(String(describing: harness.attempt.failure))")
                continue
            }
            #expect(text.contains(reason))
        }
    }
}

/// Counts the calls of a test's clock.
private final class ClockReads: Sendable {
    private let count = Mutex<Int64>(0)
    /// The count before this call.
    func next() -> Int64 {
        count.withLock { count in
            count += 1
            return count - 1
        }
    }
    var value: Int64 { count.withLock { $0 } }
}

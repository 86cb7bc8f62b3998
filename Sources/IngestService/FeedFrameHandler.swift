import DequeModule
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import IngestPipeline
import Logging
import NIOCore
import NIOWebSocket
import OptionsFeed

/// The feed connection's frames, handled where the socket's bytes arrive: on
/// the connection's event loop, with no task hop between the socket and the
/// buffer (docs/design.md §7). The handler cuts the frames out of each read
/// itself (`WebSocketFrameParser`), decodes each message, and hands the
/// records of all the messages of a read to the buffer in one call; the read
/// pacing pauses at the end of each read
/// (`channelReadComplete`). Pings are answered, a ping goes out every
/// `WS_PING_INTERVAL_MS` and a missing pong by the next one ends the
/// connection; the close handshake waits at most `closeTimeout`.
///
/// Without a spool, a full buffer stops the reads (`autoRead` off) while a task
/// waits for room; bytes already read are held in order and handled after.
/// A protocol error (`WebSocketFrameParser.Failure`) sends a close frame with
/// its code and closes the socket.
final class FeedFrameHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    /// How long a close handshake this side began may wait for the server's close frame.
    static let closeTimeout: TimeAmount = .seconds(2)

    private let session: FeedSession
    private let attempt: FeedSession.Attempt
    /// The read pacing (`ReadPacing`, docs/design.md §7): its pause holds this loop's thread at the end
    /// of a read; the loop serves this one connection, so the frames that arrive meanwhile wait in the
    /// socket buffer and the next read takes them together.
    private var pacing: ReadPacing
    private var parser: WebSocketFrameParser
    private let decoder = FrameDecoder()
    private var frame = DecodedFrame()
    /// The message being reassembled from its frames.
    private var message = ByteBuffer()
    private var isBinary = false
    private var tooLarge = false
    /// A data frame arrived in this read: its end runs the read pacing.
    private var tickOpen = false

    private var context: ChannelHandlerContext?
    private var pinger: RepeatedTask?
    private var awaitingPong = false
    /// This side sent its close frame; the server's answer, or `closeTimeout`, closes the socket.
    private var closeSent = false
    private var closeTimer: Scheduled<Void>?
    /// The attempt is streaming: later frames need not say so again (it takes the attempt's lock).
    private var streaming = false
    /// A status ended the session (`auth_failed`, `max_connections`): what follows is not read.
    private var finished = false
    /// Without a spool: records wait for room in the buffer, reads are off, later bytes are held here.
    private var waitingForRoom = false
    private var held = Deque<ByteBuffer>()
    /// The server broke the protocol: nothing more is read.
    private var failed = false

    /// `maxFrameSize`: the longest frame accepted; a longer one ends the connection.
    init(session: FeedSession, attempt: FeedSession.Attempt, maxFrameSize: Int) {
        self.session = session
        self.attempt = attempt
        parser = WebSocketFrameParser(maxFrameSize: maxFrameSize)
        pacing = ReadPacing(configuration: session.configuration.readPacing)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let interval = TimeAmount.nanoseconds(Int64(session.configuration.pingInterval / .nanoseconds(1)))
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        pinger = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            handler.value.pingDue()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopTimers()
        self.context = nil
    }

    private func stopTimers() {
        pinger?.cancel()
        closeTimer?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if waitingForRoom {
            held.append(bytes)
        } else {
            parse(bytes)
        }
    }

    /// Handles the frames in `bytes`, then buffers the records of all its
    /// messages at once; if they fill the buffer (no spool), the bytes after
    /// are held.
    private func parse(_ bytes: ByteBuffer) {
        var bytes = bytes
        defer { readMicros = nil }
        do {
            while !failed, !waitingForRoom, let frame = try parser.next(from: &bytes) {
                handle(frame)
            }
        } catch {
            deliver()
            protocolError(error)
            return
        }
        deliver()
        if waitingForRoom, bytes.readableBytes > 0 { held.prepend(bytes) }
    }

    /// When this read's bytes arrived: read once, at its first whole message
    /// (docs/design.md §7, "One hand-off a read").
    private var readMicros: Int64?

    /// The records decoded from this read's messages, into the buffer in one
    /// hand-off: counted, their gap closed and their staleness recorded once
    /// a read, not once a message.
    private func deliver() {
        defer { frame.removeAll() }
        guard frame.hasRecords, let receivedAt = readMicros else { return }
        if !streaming {
            session.becomeStreaming(attempt)
            streaming = true
        }
        let waiting = session.intake.takeAvailable(frame, receivedAtMicros: receivedAt)
        if !waiting.isEmpty { waitForRoom(waiting) }
    }

    /// The server sent what is no WebSocket frame this client accepts: a close frame with the
    /// error's code, then the socket is closed without waiting for an answer.
    private func protocolError(_ error: WebSocketFrameParser.Failure) {
        failed = true
        held.removeAll()
        attempt.end(.connection("\(error)"))
        guard !closeSent else {
            context?.close(promise: nil)
            return
        }
        sendClose(error.closeCode, thenClose: true)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard tickOpen else { return }
        tickOpen = false
        let pause = pacing.tickEnded(now: .now)
        guard pause > .zero else { return }
        var request = timespec(tv_sec: Int(pause.components.seconds), tv_nsec: Int(pause.components.attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTimers()
        attempt.end(.connection("connection ended without a close frame (reset)"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        attempt.end(.connection("\(error)"))
        context.close(promise: nil)
    }

    /// Begins the close handshake (the session is stopping or a status ended it).
    func close() {
        guard let context, !closeSent else { return }
        sendClose(.normalClosure)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        closeTimer = context.eventLoop.scheduleTask(in: Self.closeTimeout) {
            handler.value.context?.close(promise: nil)
        }
    }

    private func handle(_ piece: WebSocketFrameParser.Frame) {
        switch piece.opcode {
        case .text, .binary, .continuation:
            guard !finished else { return }
            dataFrame(piece)
        case .ping:
            send(.pong, piece.data)
        case .pong:
            awaitingPong = false
        case .connectionClose:
            closedByServer(piece)
        default:
            break
        }
    }

    /// One frame of a message: reassembled, and the whole message handled at its last frame.
    private func dataFrame(_ piece: WebSocketFrameParser.Frame) {
        let data = piece.data
        if pacing.frameHandled(bytes: data.readableBytes) { tickOpen = true }
        let limit = session.configuration.maxFrameBytes
        switch piece.opcode {
        case .continuation:
            tooLarge = tooLarge || message.readableBytes + data.readableBytes > limit
            if tooLarge {
                message.clear()
            } else {
                var data = data
                message.writeBuffer(&data)
            }
        default:
            isBinary = piece.opcode == .binary
            tooLarge = data.readableBytes > limit
            message = tooLarge ? ByteBuffer() : data
        }
        guard piece.fin else { return }
        messageReceived()
    }

    /// A whole message: counted, recorded, decoded, its statuses acted on;
    /// its records wait in `frame` for the end of the read (`deliver`).
    private func messageReceived() {
        let stats = session.intake.stats
        stats.frames.add(1)
        // One clock read per socket read, not per message: the messages of a read arrived together. The
        // wall clock gives the health report's last message time and the trades' `received_at`.
        let receivedAt: Int64
        if let readMicros {
            receivedAt = readMicros
        } else {
            let now = ContinuousClock.now
            attempt.state.withLock { $0.watchdog.dataReceived(now: now) }
            receivedAt = session.wallClock.nowMicros()
            stats.lastMessageAtMicros.store(receivedAt, ordering: .relaxed)
            readMicros = receivedAt
        }
        if tooLarge {
            session.badFrame(.oversized, ["limit_bytes": "\(session.configuration.maxFrameBytes)"])
            return
        }
        if isBinary {
            session.badFrame(.binary, ["bytes": "\(message.readableBytes)"])
            return
        }
        // Recorded before decoding, with the receive time the trades carry: a replay of the
        // recording then writes the very same rows, `received_at` included.
        session.recorder?.record(message, receivedAtMicros: receivedAt)
        do {
            try message.withUnsafeReadableBytes { bytes throws(FrameError) in
                try decoder.decode(bytes, receivedAtMicros: receivedAt, into: &frame)
            }
        } catch {
            session.badFrame(.malformed, ["reason": "\(error.reason)", "offset": "\(error.offset)", "bytes": "\(message.readableBytes)"])
        }
        if frame.unknownEvents > 0 {
            session.unknownEvents(frame.unknownEvents)
            frame.unknownEvents = 0
        }
        guard !frame.statuses.isEmpty else { return }
        let statuses = frame.statuses
        frame.statuses.removeAll(keepingCapacity: true)
        for status in statuses {
            switch session.reply(to: status, attempt: attempt) {
            case .none:
                continue
            case .send(let text):
                send(.text, ByteBuffer(string: text))
            case .close:
                // What came before the status is buffered; nothing after it is read.
                deliver()
                finished = true
                close()
                return
            }
        }
    }

    /// No spool and a full buffer: reads stop until a task has put the records in.
    private func waitForRoom(_ batches: [RecordBatch]) {
        guard let context else { return }
        waitingForRoom = true
        try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let intake = session.intake
        attempt.handOff(
            Task {
                await intake.handWaiting(batches)
                loop.execute { handler.value.roomMade() }
            })
    }

    /// The records that waited are in: the held bytes are handled in order, then reads resume.
    private func roomMade() {
        waitingForRoom = false
        while !waitingForRoom, let next = held.popFirst() {
            parse(next)
        }
        guard !waitingForRoom, let context else { return }
        try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        context.read()
    }

    /// The server's close frame: answered (if this side had not sent one), then the socket is closed.
    private func closedByServer(_ piece: WebSocketFrameParser.Frame) {
        var data = piece.data
        let code = data.readWebSocketErrorCode()
        let reason = data.readString(length: data.readableBytes).flatMap { $0.isEmpty ? nil : $0 }
        let codeText = code.map { "\(UInt16(webSocketErrorCode: $0))" } ?? "no code"
        attempt.end(.connection("closed by the server (\(codeText)\(reason.map { ": \($0)" } ?? ""))"))
        guard let context else { return }
        if closeSent {
            context.close(promise: nil)
            return
        }
        sendClose(code, thenClose: true)
    }

    /// This side's close frame, with `code` (none: an empty frame); `thenClose`: the socket is closed once it is out.
    private func sendClose(_ code: WebSocketErrorCode?, thenClose: Bool = false) {
        guard let context else { return }
        closeSent = true
        var data = context.channel.allocator.buffer(capacity: 2)
        if let code { data.write(webSocketErrorCode: code) }
        send(.connectionClose, data, thenClose: thenClose)
    }

    /// Every ping interval: a pong missing since the last ping ends the connection; otherwise a ping
    /// goes out. While reads are off (waiting for room) no pong can be read, so none is expected.
    private func pingDue() {
        guard let context, !closeSent else { return }
        if waitingForRoom {
            awaitingPong = false
            return
        }
        if awaitingPong {
            attempt.end(.connection("ping timeout: no pong within \(session.configuration.pingInterval); connection ended without a close frame"))
            context.close(promise: nil)
            return
        }
        awaitingPong = true
        send(.ping, context.channel.allocator.buffer(string: "ingest-options"))
    }

    /// One masked frame (a client always masks), written at once; `thenClose`: the socket is closed once it is out.
    private func send(_ opcode: WebSocketOpcode, _ data: ByteBuffer, thenClose: Bool = false) {
        guard let context else { return }
        let frame = WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data)
        guard thenClose else {
            context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
            return
        }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in bound.value.close(promise: nil) }
    }
}

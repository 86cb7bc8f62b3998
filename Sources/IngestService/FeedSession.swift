import Foundation
import IngestPipeline
import Logging
import NIOCore
import OptionsFeed
import Synchronization
import WSClient

/// Why a feed session ended in a way the service must act on.
public enum FeedError: Error, Sendable, CustomStringConvertible {
    /// The feed rejected the key (`auth_failed`, `auth_timeout`): exit 77, no retry (SPEC §5.1).
    case authenticationRejected(status: String, message: String)
    /// The server closed or the socket dropped.
    case disconnected(reason: String)

    public var description: String {
        switch self {
        case .authenticationRejected(let status, let message): "feed rejected authentication (\(status)): \(message)"
        case .disconnected(let reason): "feed disconnected: \(reason)"
        }
    }
}

/// Hands decoded, accepted trades to the buffer and counts the rest.
public final class TradeIntake: Sendable {
    public let buffer: TradeBuffer
    public let stats: IngestStats
    /// SPEC §3 `POLYGON_OPTION_TRADE_VALUE_THRESHOLD`: keep trades with notional ≥ this.
    public let notionalThreshold: Double
    let logger: Logger
    private let invalidLog = Mutex<[InvalidTradeReason: ContinuousClock.Instant]>([:])

    public init(buffer: TradeBuffer, stats: IngestStats, notionalThreshold: Double, logger: Logger) {
        self.buffer = buffer
        self.stats = stats
        self.notionalThreshold = notionalThreshold
        self.logger = logger
    }

    /// Filters the frame's trades and waits until the buffer took every accepted one.
    public func take(_ frame: DecodedFrame) async throws {
        stats.tradesSeen.add(frame.trades.count + frame.invalid.count)
        stats.tradesInvalid.add(frame.invalid.count)
        stats.unknownEvents.add(frame.unknownEvents)
        for invalid in frame.invalid { logInvalid(invalid) }
        guard !frame.trades.isEmpty else { return }
        let accepted = notionalThreshold > 0 ? frame.trades.filter { $0.notional >= notionalThreshold } : frame.trades
        stats.tradesFiltered.add(frame.trades.count - accepted.count)
        stats.tradesAccepted.add(accepted.count)
        try await buffer.appendWaiting(accepted)
    }

    /// One warning per reason per minute: a flood of bad trades must not flood the log.
    private func logInvalid(_ invalid: InvalidTrade) {
        let now = ContinuousClock.now
        let due = invalidLog.withLock { last in
            if let previous = last[invalid.reason], now < previous.advanced(by: .seconds(60)) { return false }
            last[invalid.reason] = now
            return true
        }
        if due {
            logger.warning(
                "invalid trade rejected",
                metadata: ["reason": "\(invalid.reason.rawValue)", "raw": "\(invalid.raw.prefix(500))",
                           "invalid_total": "\(stats.tradesInvalid.load(ordering: .relaxed))"])
        }
    }
}

/// One connection to the feed: connect, wait for `connected`, authenticate,
/// subscribe, then stream frames into the intake until the socket ends
/// (SPEC §5.1 wire protocol).
public struct FeedSession: Sendable {
    public let url: String
    public let apiKey: String
    public let subscriptions: [String]
    public let maxFrameBytes: Int
    public let pingInterval: Duration
    let intake: TradeIntake
    let logger: Logger

    public init(
        url: String, apiKey: String, subscriptions: [String], maxFrameBytes: Int, pingInterval: Duration,
        intake: TradeIntake, logger: Logger
    ) {
        self.url = url
        self.apiKey = apiKey
        self.subscriptions = subscriptions
        self.maxFrameBytes = maxFrameBytes
        self.pingInterval = pingInterval
        self.intake = intake
        self.logger = logger
    }

    /// Protocol phase of the session.
    enum Phase: Sendable {
        case awaitingConnected, authenticating, streaming
    }

    /// Runs one session. Returns when the server closed the connection after
    /// streaming (`streamedSince` tells when streaming began); throws on
    /// rejection or failure.
    public func run(onStreaming: @escaping @Sendable () -> Void) async throws {
        let configuration = WebSocketClientConfiguration(
            maxFrameSize: maxFrameBytes,
            closeTimeout: .seconds(2),
            autoPing: .enabled(timePeriod: pingInterval)
        )
        let outcome = Mutex<FeedError?>(nil)
        let session = self
        let closeFrame = try await WebSocketClient.connect(
            url: url, configuration: configuration, logger: Logger(label: "websocket-client", factory: { _ in SwiftLogNoOpLogHandler() })
        ) { inbound, outbound, _ in
            do {
                try await session.handle(inbound: inbound, outbound: outbound, onStreaming: onStreaming)
            } catch let error as FeedError {
                outcome.withLock { $0 = error }
                try? await outbound.close(.normalClosure, reason: nil)
            }
        }
        if let error = outcome.withLock({ $0 }) { throw error }
        let code = closeFrame.map { "\($0.closeCode)" } ?? "no close frame"
        throw FeedError.disconnected(reason: "connection closed (\(code))")
    }

    private func handle(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, onStreaming: @Sendable () -> Void
    ) async throws {
        let decoder = FrameDecoder()
        var frame = DecodedFrame()
        var phase = Phase.awaitingConnected
        var message = ByteBuffer()
        var iterator = inbound.makeAsyncIterator()
        while let piece = try await iterator.next() {
            switch piece.opcode {
            case .text, .binary:
                message = piece.data
            case .continuation:
                var data = piece.data
                message.writeBuffer(&data)
            }
            guard piece.fin else { continue }
            intake.stats.frames.add(1)
            frame.removeAll()
            let receivedAt = Self.nowMicros()
            do {
                try message.withUnsafeReadableBytes { bytes throws(FrameError) in
                    try decoder.decode(bytes, receivedAtMicros: receivedAt, into: &frame)
                }
            } catch {
                intake.stats.malformedFrames.add(1)
                logger.warning("malformed frame", metadata: ["reason": "\(error.reason)", "offset": "\(error.offset)", "bytes": "\(message.readableBytes)"])
            }
            for status in frame.statuses {
                phase = try await handle(status, phase: phase, outbound: outbound, onStreaming: onStreaming)
            }
            try await intake.take(frame)
        }
    }

    private func handle(
        _ status: FeedStatus, phase: Phase, outbound: WebSocketOutboundWriter, onStreaming: @Sendable () -> Void
    ) async throws -> Phase {
        switch status.status {
        case "connected" where phase == .awaitingConnected:
            logger.info("feed connected, authenticating", metadata: ["message": "\(status.message)"])
            try await outbound.write(.text(#"{"action":"auth","params":\#(Self.jsonString(apiKey))}"#))
            return .authenticating
        case "auth_success":
            let params = subscriptions.joined(separator: ",")
            try await outbound.write(.text(#"{"action":"subscribe","params":\#(Self.jsonString(params))}"#))
            logger.info("feed authenticated, subscribed", metadata: ["subscriptions": "\(params)"])
            onStreaming()
            return .streaming
        case "auth_failed", "auth_timeout":
            throw FeedError.authenticationRejected(status: status.status, message: status.message)
        case "max_connections", "force_disconnect":
            logger.error(
                "feed says another client with this key took over",
                metadata: ["status": "\(status.status)", "message": "\(status.message)"])
            return phase
        case "slow_consumer":
            logger.warning("feed reports this client as a slow consumer", metadata: ["message": "\(status.message)"])
            return phase
        default:
            logger.info("feed status", metadata: ["status": "\(status.status)", "message": "\(status.message)"])
            return phase
        }
    }

    static func jsonString(_ text: String) -> String { JSONLogHandler.jsonString(text) }

    static func nowMicros() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec / 1000)
    }
}

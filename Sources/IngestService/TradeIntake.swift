import IngestDatabase
import IngestPipeline
import IngestSpool
import Logging
import OptionsFeed

/// Hands decoded, accepted trades to the buffer and counts the rest.
public final class TradeIntake: Sendable {
    public let buffer: TradeBuffer
    public let stats: IngestStats
    public let gaps: GapLedger
    public let deadLetters: DeadLetterQueue
    /// Where trades go when the buffer is full; `nil`: the reader waits instead.
    public let spool: Spool?
    /// docs/design.md §4.2 `POLYGON_OPTION_TRADE_VALUE_THRESHOLD`: keep trades with notional ≥ this.
    public let notionalThreshold: Double
    /// Per-symbol staleness and error classes of the health report; `nil` in tools that have none.
    public let health: HealthMonitor?
    let logger: Logger
    private let invalidLog = LogThrottle<InvalidTradeReason>()

    public init(
        buffer: TradeBuffer, stats: IngestStats, gaps: GapLedger, deadLetters: DeadLetterQueue, spool: Spool?,
        notionalThreshold: Double, health: HealthMonitor? = nil, logger: Logger
    ) {
        self.health = health
        self.spool = spool
        self.buffer = buffer
        self.stats = stats
        self.gaps = gaps
        self.deadLetters = deadLetters
        self.notionalThreshold = notionalThreshold
        self.logger = logger
    }

    /// Filters the frame's trades and waits until the buffer took every accepted one.
    public func take(_ frame: DecodedFrame, receivedAtMicros: Int64) async throws {
        stats.tradesSeen.add(frame.trades.count + frame.invalid.count)
        stats.tradesInvalid.add(frame.invalid.count)
        for invalid in frame.invalid {
            deadLetters.append(DeadLetter(source: "feed", reason: invalid.reason.rawValue, raw: invalid.raw))
            logInvalid(invalid)
        }
        if let first = frame.invalid.first {
            health?.errors.record(.data, count: frame.invalid.count, message: "invalid trade: \(first.reason.rawValue)")
        }
        guard !frame.trades.isEmpty else { return }
        // Once per frame: the first trade's feed time closes a gap (`to_t`), the newest is the next gap's `from_t`.
        var newestT = frame.trades[0].timestampMs
        for trade in frame.trades where trade.timestampMs > newestT { newestT = trade.timestampMs }
        gaps.dataArrived(atMicros: receivedAtMicros, firstT: frame.trades[0].timestampMs, newestT: newestT)
        let accepted = notionalThreshold > 0 ? frame.trades.filter { $0.notional >= notionalThreshold } : frame.trades
        stats.tradesFiltered.add(frame.trades.count - accepted.count)
        stats.tradesAccepted.add(accepted.count)
        health?.tradesAccepted(accepted)
        guard let spool else {
            let taken = await buffer.appendWaiting(accepted)
            if taken < accepted.count {
                // Stopped while waiting for room, with no spool to take the rest: counted, never silent.
                stats.tradesDropped.add(accepted.count - taken)
                gaps.tradesDropped(accepted[taken...])
                logger.error(
                    "trades dropped", metadata: ["reason": "stopped with the buffer full and no spool", "trades": "\(accepted.count - taken)"])
            }
            return
        }
        let taken = buffer.append(contentsOf: accepted)
        if taken < accepted.count {
            // Buffer full (database slow or down): the overflow goes to disk, not to waste.
            spoolOrDrop(Array(accepted[taken...]), spool: spool, stats: stats, logger: logger, gaps: gaps)
        }
    }

    /// One warning per reason per minute: a flood of bad trades must not flood the log.
    private func logInvalid(_ invalid: InvalidTrade) {
        guard let suppressed = invalidLog.admit(invalid.reason) else { return }
        logger.warning(
            "invalid trade rejected",
            metadata: [
                "reason": "\(invalid.reason.rawValue)", "raw": "\(invalid.raw.prefix(500))",
                "invalid_total": "\(stats.tradesInvalid.load(ordering: .relaxed))", "suppressed": "\(suppressed)",
            ])
    }
}

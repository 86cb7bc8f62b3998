import IngestDatabase
import IngestPipeline
import IngestSpool
import Logging
import OptionsFeed

/// Hands a frame's decoded records of every type to the buffer and counts the rest.
public final class FeedIntake: Sendable {
    public let buffer: RecordBuffer
    public let stats: IngestStats
    public let gaps: GapLedger
    public let deadLetters: DeadLetterQueue
    /// Where records go when the buffer is full, and behind a backlog there; `nil`: the reader waits instead.
    public let spool: Spool?
    /// While the spool holds a backlog, records go behind it instead of into
    /// the buffer (a live feed, which cannot wait: docs/design.md §5.2.2).
    /// `false` for a replay, which waits for room in the buffer instead of
    /// reading its file into the spool.
    public let spoolsBehindBacklog: Bool
    /// docs/design.md §4.2 `POLYGON_OPTION_TRADE_VALUE_THRESHOLD`: keep trades with notional ≥ this.
    public let notionalThreshold: Double
    /// Per-symbol staleness and error classes of the health report; `nil` in tools that have none.
    public let health: HealthMonitor?
    let logger: Logger
    private let invalidLog = LogThrottle<InvalidTradeReason>()
    private let invalidEventLog = LogThrottle<InvalidTradeReason>()

    public init(
        buffer: RecordBuffer, stats: IngestStats, gaps: GapLedger, deadLetters: DeadLetterQueue, spool: Spool?,
        notionalThreshold: Double, health: HealthMonitor? = nil, spoolsBehindBacklog: Bool = true, logger: Logger
    ) {
        self.health = health
        self.spool = spool
        self.spoolsBehindBacklog = spoolsBehindBacklog
        self.buffer = buffer
        self.stats = stats
        self.gaps = gaps
        self.deadLetters = deadLetters
        self.notionalThreshold = notionalThreshold
        self.logger = logger
    }

    /// Takes every record of the frame: its trades (filtered by the notional
    /// threshold, which applies to trades only), then its bars, quotes and FMV
    /// values, each type into its own ring of the buffer; invalid events of
    /// any type become dead letters with their type. Waits for room when the
    /// buffer is full and there is no spool.
    public func take(_ frame: DecodedFrame, receivedAtMicros: Int64) async {
        let waiting = takeAvailable(frame, receivedAtMicros: receivedAtMicros)
        if !waiting.isEmpty { await handWaiting(waiting) }
    }

    /// `take` without waiting, for the connection's event loop: returns what a
    /// full buffer had no room for, in order (only without a spool; with one it
    /// went to disk). The caller stops reading and hands it to `handWaiting`.
    public func takeAvailable(_ frame: DecodedFrame, receivedAtMicros: Int64) -> [RecordBatch] {
        var waiting: [RecordBatch] = []
        takeTrades(frame, receivedAtMicros: receivedAtMicros, waiting: &waiting)
        guard frame.notStoredEvents > 0 else { return waiting }
        takeInvalidEvents(frame.invalidEvents)
        if !frame.aggregates.isEmpty { takeRecords(.aggregates(frame.aggregates), waiting: &waiting) }
        if !frame.quotes.isEmpty { takeRecords(.quotes(frame.quotes), waiting: &waiting) }
        if !frame.fairValues.isEmpty { takeRecords(.fairValues(frame.fairValues), waiting: &waiting) }
        return waiting
    }

    /// Records of a type other than trades: counted, then into the buffer, the overflow to the spool.
    private func takeRecords(_ batch: RecordBatch, waiting: inout [RecordBatch]) {
        guard let counters = stats.counters(batch.kind) else { return }
        counters.seen.add(batch.count)
        counters.accepted.add(batch.count)
        health?.recordsAccepted(batch)
        hand(batch, waiting: &waiting)
    }

    /// Invalid bars, quotes and FMV events: counted per type and dead-lettered with their type.
    private func takeInvalidEvents(_ events: [InvalidEvent]) {
        guard !events.isEmpty else { return }
        for event in events {
            let kind = event.channel.recordKind
            if let counters = stats.counters(kind) {
                counters.seen.add(1)
                counters.invalid.add(1)
            }
            deadLetters.append(DeadLetter(source: "feed", reason: event.reason.rawValue, raw: event.raw, eventType: event.channel.rawValue))
            if let suppressed = invalidEventLog.admit(event.reason) {
                logger.warning(
                    "invalid event rejected",
                    metadata: ["type": "\(event.channel.rawValue)", "reason": "\(event.reason.rawValue)", "raw": "\(event.raw.prefix(500))",
                               "suppressed": "\(suppressed)"])
            }
        }
        health?.errors.record(.data, count: events.count, message: "invalid \(events[0].channel.rawValue) event: \(events[0].reason.rawValue)")
    }

    /// The frame's trades: filtered by the notional threshold, then into the buffer.
    private func takeTrades(_ frame: DecodedFrame, receivedAtMicros: Int64, waiting: inout [RecordBatch]) {
        stats.tradesSeen.add(frame.trades.count + frame.invalid.count)
        stats.tradesInvalid.add(frame.invalid.count)
        for invalid in frame.invalid {
            deadLetters.append(DeadLetter(source: "feed", reason: invalid.reason.rawValue, raw: invalid.raw, eventType: "T"))
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
        hand(.trades(accepted), waiting: &waiting)
    }

    /// Into the buffer, in arrival order (docs/design.md §5.2.2). With a spool:
    /// - while it holds a backlog, the batch goes behind it, not into memory
    ///   (`spoolsBehindBacklog`; the flusher writes what waits in the buffer,
    ///   which came first, then the spool);
    /// - what the buffer has no room for goes to disk, not to waste (the
    ///   database slow or down).
    /// A spool that refuses the batch behind its backlog (full, or its disk
    /// failing) leaves it to the buffer. Without a spool what the buffer has
    /// no room for joins `waiting`, and so does every batch after it, to keep
    /// their order.
    private func hand(_ batch: RecordBatch, waiting: inout [RecordBatch]) {
        guard !batch.isEmpty else { return }
        guard waiting.isEmpty else {
            waiting.append(batch)
            return
        }
        if spoolsBehindBacklog, let spool, !spool.isEmpty, spoolBehindBacklog(batch, spool) { return }
        let taken = buffer.append(batch)
        guard taken < batch.count else { return }
        let rest = batch.dropFirst(taken)
        if let spool {
            spoolOrDrop(rest, spool: spool, stats: stats, logger: logger, gaps: gaps)
        } else {
            waiting.append(rest)
        }
    }

    /// `batch` behind the spool's backlog, counted; `false` when the spool
    /// has drained meanwhile, or refused it (full, or the write failed:
    /// counted in the spool's own `write_failures`), and the caller still holds it.
    private func spoolBehindBacklog(_ batch: RecordBatch, _ spool: Spool) -> Bool {
        guard (try? spool.appendBehindBacklog(batch)) == true else { return false }
        stats.spooled(batch)
        return true
    }

    /// Puts in what `takeAvailable` had no room for, waiting for room (no
    /// spool: backpressure on the feed, nothing dropped). Only a stop while it
    /// waits (cancellation) leaves records behind: counted (trades also as a
    /// `trades_dropped` gap), never silent.
    public func handWaiting(_ batches: [RecordBatch]) async {
        for batch in batches {
            let taken = await buffer.appendWaiting(batch)
            guard taken < batch.count else { continue }
            let rest = batch.dropFirst(taken)
            stats.dropped(rest.kind, rest.count)
            if case .trades(let trades) = rest { gaps.tradesDropped(trades) }
            logger.error(
                rest.kind == .trade ? "trades dropped" : "records dropped",
                metadata: ["reason": "stopped with the buffer full and no spool", "type": "\(rest.kind.name)", "records": "\(rest.count)"])
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

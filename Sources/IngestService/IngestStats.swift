import OptionsFeed
import Synchronization

/// Counters shared by the services, read without stopping the hot path.
public final class IngestStats: Sendable {
    public let frames = Atomic<Int>(0)
    public let tradesSeen = Atomic<Int>(0)
    public let tradesAccepted = Atomic<Int>(0)
    public let tradesFiltered = Atomic<Int>(0)
    public let tradesInvalid = Atomic<Int>(0)
    public let reconnects = Atomic<Int>(0)
    public let batchesWritten = Atomic<Int>(0)
    public let batchesFailed = Atomic<Int>(0)
    public let rowsInserted = Atomic<Int>(0)
    public let tradesWritten = Atomic<Int>(0)
    public let tradesDropped = Atomic<Int>(0)
    public let retries = Atomic<Int>(0)
    /// Trades now in `dead_letters` (refused by the database or rejected by the decoder).
    public let deadLetters = Atomic<Int>(0)
    public let spooledTrades = Atomic<Int>(0)
    public let spoolReplayedTrades = Atomic<Int>(0)
    public let spoolCorruptRecords = Atomic<Int>(0)
    public let slowConsumerWarnings = Atomic<Int>(0)
    /// Side-table rows still queued when the shutdown deadline passed (lost;
    /// the queues count their own overflow).
    public let gapChangesLostAtShutdown = Atomic<Int>(0)
    public let deadLettersLostAtShutdown = Atomic<Int>(0)
    public let healthEventsLostAtShutdown = Atomic<Int>(0)
    public let staleAlerts = Atomic<Int>(0)
    /// When the last frame arrived (Unix µs; 0: none yet).
    public let lastMessageAtMicros = Atomic<Int64>(0)
    /// Frames that could not be used, by kind (docs/design.md §5.1).
    public let badFrames = BadFrameCounters()

    /// The other record types' counters (docs/design.md §4.4); the trades' are the ones above.
    public let aggregates = RecordCounters()
    public let quotes = RecordCounters()
    public let fairValues = RecordCounters()

    public init() {}

    /// The counters of a record type other than trades; `nil` for trades (their counters are the `trades…` ones).
    public func counters(_ kind: RecordKind) -> RecordCounters? {
        switch kind {
        case .trade: nil
        case .aggregate: aggregates
        case .quote: quotes
        case .fmv: fairValues
        }
    }

    /// Every record type's counts, trades included, for the health report and `/metrics`.
    public func counts(_ kind: RecordKind) -> RecordCounts {
        guard let counters = counters(kind) else {
            return RecordCounts(
                seen: tradesSeen.load(ordering: .relaxed), accepted: tradesAccepted.load(ordering: .relaxed),
                invalid: tradesInvalid.load(ordering: .relaxed), written: tradesWritten.load(ordering: .relaxed),
                dropped: tradesDropped.load(ordering: .relaxed))
        }
        return counters.counts
    }

    /// Adds to the written count of a batch's type.
    public func written(_ kind: RecordKind, _ count: Int) {
        if let counters = counters(kind) { counters.written.add(count) } else { tradesWritten.add(count) }
    }

    /// A batch appended to the spool: its trades count in `spooled_trades`.
    public func spooled(_ batch: RecordBatch) {
        if batch.kind == .trade { spooledTrades.add(batch.count) }
    }

    /// Adds to the dropped count of a batch's type.
    public func dropped(_ kind: RecordKind, _ count: Int) {
        if let counters = counters(kind) { counters.dropped.add(count) } else { tradesDropped.add(count) }
    }

    /// The counters as log metadata.
    public var summary: [String: Int] {
        [
            "frames": frames.load(ordering: .relaxed),
            "trades_seen": tradesSeen.load(ordering: .relaxed),
            "trades_accepted": tradesAccepted.load(ordering: .relaxed),
            "trades_filtered": tradesFiltered.load(ordering: .relaxed),
            "trades_invalid": tradesInvalid.load(ordering: .relaxed),
            "trades_written": tradesWritten.load(ordering: .relaxed),
            "rows_inserted": rowsInserted.load(ordering: .relaxed),
            "trades_dropped": tradesDropped.load(ordering: .relaxed),
            "batches_written": batchesWritten.load(ordering: .relaxed),
            "batches_failed": batchesFailed.load(ordering: .relaxed),
            "dead_letters": deadLetters.load(ordering: .relaxed),
            "spooled_trades": spooledTrades.load(ordering: .relaxed),
            "spool_replayed_trades": spoolReplayedTrades.load(ordering: .relaxed),
            "spool_corrupt_records": spoolCorruptRecords.load(ordering: .relaxed),
            "reconnects": reconnects.load(ordering: .relaxed),
            "slow_consumer": slowConsumerWarnings.load(ordering: .relaxed),
        ].merging(badFrames.summary) { $1 }.merging(otherRecordsSummary) { $1 }
    }

    /// `aggregates_seen`, `quotes_written`, … for the types that came at all.
    private var otherRecordsSummary: [String: Int] {
        var summary: [String: Int] = [:]
        for kind in RecordKind.allCases where kind != .trade {
            let counts = counts(kind)
            guard counts.seen > 0 else { continue }
            let prefix = kind.name + "s_"
            summary[prefix + "seen"] = counts.seen
            summary[prefix + "accepted"] = counts.accepted
            summary[prefix + "invalid"] = counts.invalid
            summary[prefix + "written"] = counts.written
            summary[prefix + "dropped"] = counts.dropped
        }
        return summary
    }
}

/// The counters of one record type besides trades: events seen in frames,
/// accepted into the buffer, invalid (dead-lettered by the decoder), written
/// to the table (new or already there), and dropped (the spool full).
public final class RecordCounters: Sendable {
    public let seen = Atomic<Int>(0)
    public let accepted = Atomic<Int>(0)
    public let invalid = Atomic<Int>(0)
    public let written = Atomic<Int>(0)
    public let dropped = Atomic<Int>(0)

    public init() {}

    public var counts: RecordCounts {
        RecordCounts(
            seen: seen.load(ordering: .relaxed), accepted: accepted.load(ordering: .relaxed), invalid: invalid.load(ordering: .relaxed),
            written: written.load(ordering: .relaxed), dropped: dropped.load(ordering: .relaxed))
    }
}

/// One record type's counts at a moment.
public struct RecordCounts: Sendable, Codable, Equatable {
    public var seen: Int
    public var accepted: Int
    public var invalid: Int
    public var written: Int
    public var dropped: Int

    public init(seen: Int = 0, accepted: Int = 0, invalid: Int = 0, written: Int = 0, dropped: Int = 0) {
        self.seen = seen
        self.accepted = accepted
        self.invalid = invalid
        self.written = written
        self.dropped = dropped
    }
}

extension Atomic where Value == Int {
    package func add(_ amount: Int) {
        if amount != 0 { wrappingAdd(amount, ordering: .relaxed) }
    }
}

/// Kinds of frames that carry nothing usable.
public enum BadFrameKind: String, Sendable, CaseIterable {
    case malformed
    case unknownEvent = "unknown_event"
    case binary
    case oversized
}

/// One counter per `BadFrameKind` (rare: a lock is cheap enough).
public final class BadFrameCounters: Sendable {
    private let counts = Mutex<[BadFrameKind: Int]>([:])

    public func add(_ kind: BadFrameKind, _ amount: Int = 1) {
        guard amount > 0 else { return }
        counts.withLock { $0[kind, default: 0] += amount }
    }

    public func count(_ kind: BadFrameKind) -> Int {
        counts.withLock { $0[kind, default: 0] }
    }

    var summary: [String: Int] {
        let counts = counts.withLock { $0 }
        return Dictionary(uniqueKeysWithValues: BadFrameKind.allCases.map { ("bad_frames_\($0.rawValue)", counts[$0, default: 0]) })
    }
}

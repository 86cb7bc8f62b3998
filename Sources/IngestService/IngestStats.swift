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

    public init() {}

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
        ].merging(badFrames.summary) { $1 }
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

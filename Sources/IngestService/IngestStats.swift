import Synchronization

/// Counters shared by the services, read without stopping the hot path.
public final class IngestStats: Sendable {
    public let frames = Atomic<Int>(0)
    public let malformedFrames = Atomic<Int>(0)
    public let unknownEvents = Atomic<Int>(0)
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

    public init() {}

    /// The counters as log metadata.
    public var summary: [String: Int] {
        [
            "frames": frames.load(ordering: .relaxed),
            "malformed_frames": malformedFrames.load(ordering: .relaxed),
            "trades_seen": tradesSeen.load(ordering: .relaxed),
            "trades_accepted": tradesAccepted.load(ordering: .relaxed),
            "trades_filtered": tradesFiltered.load(ordering: .relaxed),
            "trades_invalid": tradesInvalid.load(ordering: .relaxed),
            "trades_written": tradesWritten.load(ordering: .relaxed),
            "rows_inserted": rowsInserted.load(ordering: .relaxed),
            "trades_dropped": tradesDropped.load(ordering: .relaxed),
            "batches_written": batchesWritten.load(ordering: .relaxed),
            "batches_failed": batchesFailed.load(ordering: .relaxed),
            "reconnects": reconnects.load(ordering: .relaxed),
        ]
    }
}

extension Atomic where Value == Int {
    func add(_ amount: Int) {
        if amount != 0 { wrappingAdd(amount, ordering: .relaxed) }
    }
}

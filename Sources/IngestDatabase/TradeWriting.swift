import OptionsFeed

/// What the flusher needs of the database: batches of trades, the side
/// tables, the half-open breaker's probe, and a way to stop the statements in
/// flight at the shutdown deadline. `PostgresTradeWriter` is the real one;
/// tests script their own.
public protocol TradeWriting: Sendable {
    /// Connections: how many batches can be written at once.
    var poolSize: Int { get }
    /// Writes one batch in one transaction; on failure nothing of it is committed.
    func write(_ batch: RecordBatch) async throws -> BatchResult
    /// `SELECT 1`.
    func probe() async throws
    /// Writes `feed_gaps` changes in one transaction, fenced by the leadership term they were made under.
    func recordGaps(_ changes: GapChanges) async throws
    func recordDeadLetters(_ letters: [DeadLetter]) async throws
    func recordHealthEvents(_ events: [HealthEvent]) async throws
    /// Stops every statement in flight, from any thread, without waiting; one
    /// that has not returned after `grace` has its connection cut.
    func cancelInFlight(grace: Duration)
    /// Where the flusher should run: a thread its writes run on without a
    /// hop (docs/design.md §7, "One thread a flush"); `nil`: Swift's global executor.
    var flushExecutor: (any TaskExecutor)? { get }
}

extension TradeWriting {
    public var flushExecutor: (any TaskExecutor)? { nil }
}

/// When to flush the buffer (docs/design.md §5.2): every `interval`, or as soon as at
/// least `minimumBatch` trades wait; a flush takes everything waiting up to
/// `maximumBatch`, so batches grow under load instead of the flush rate.
///
/// A value-type state machine: it takes the number of waiting trades and the
/// time, and answers with an action. It never sleeps and owns no timer; the
/// flush loop sleeps until `deadline` or until trades arrive.
public struct FlushPolicy<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public struct Configuration: Sendable, Equatable {
        /// Longest time a waiting trade sits in the buffer (docs/design.md §5.2: 5 s).
        public var interval: Duration
        /// Waiting trades that trigger a flush at once (docs/design.md §5.2: 100).
        public var minimumBatch: Int
        /// Cap on one batch (docs/design.md §5.2: 10 000).
        public var maximumBatch: Int

        public init(interval: Duration = .seconds(5), minimumBatch: Int = 100, maximumBatch: Int = 10_000) {
            self.interval = interval
            self.minimumBatch = max(1, minimumBatch)
            self.maximumBatch = max(self.minimumBatch, maximumBatch)
        }
    }

    public enum Action: Sendable, Equatable {
        /// Nothing to do before `deadline` unless more trades arrive.
        case wait
        /// Take up to this many trades and write them.
        case flush(maximumItems: Int)
    }

    public let configuration: Configuration
    private var lastFlush: Instant
    private var inFlight = false
    private var draining = false

    public init(configuration: Configuration = .init(), now: Instant) {
        self.configuration = configuration
        self.lastFlush = now
    }

    /// The time at which waiting trades are due, whatever their number.
    /// `nil` while a flush is in flight (its completion decides the next one).
    public var deadline: Instant? {
        inFlight ? nil : lastFlush.advanced(by: configuration.interval)
    }

    /// Whether `drain()` was called.
    public var isDraining: Bool { draining }

    /// Decides what to do with `waiting` trades at `now`.
    public mutating func decide(waiting: Int, now: Instant) -> Action {
        guard !inFlight, waiting > 0 else { return .wait }
        let due = draining || now >= lastFlush.advanced(by: configuration.interval)
        guard due || waiting >= configuration.minimumBatch else { return .wait }
        inFlight = true
        return .flush(maximumItems: configuration.maximumBatch)
    }

    /// A flush the caller started without asking `decide` (what waits ahead
    /// of a spool backlog): `flushFinished` ends it as it ends the others.
    public mutating func flushStarted() {
        inFlight = true
    }

    /// The flush that `decide` asked for is over (written or handed back).
    public mutating func flushFinished(now: Instant) {
        inFlight = false
        lastFlush = now
    }

    /// Shutting down: from now on every waiting trade is flushed at once,
    /// regardless of interval or batch size.
    public mutating func drain() {
        draining = true
    }
}

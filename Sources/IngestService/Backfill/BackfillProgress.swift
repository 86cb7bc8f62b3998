import Synchronization

/// What the backfill has done and what waits (docs/design.md §5.8.1), for
/// the health report, `/metrics` and the `backfill_lagging` alert. Written by
/// `BackfillService`, read by anyone.
public final class BackfillProgress: Sendable {
    /// `off` (`BACKFILL=off`), `idle` (nothing to do), `waiting` (a gap waits
    /// for the commits before it, or for the leader role) or `running` (a merge is under way).
    public enum State: String, Sendable, Codable, CaseIterable {
        case off, idle, waiting, running
    }

    public struct Snapshot: Sendable, Equatable, Codable {
        public var state: State
        /// Gap rows left to backfill at the last look (pending, and failed ones due for a retry).
        public var gapsWaiting: Int
        /// Gaps this process finished, by outcome.
        public var gapsDone: Int
        public var gapsPartial: Int
        public var gapsFailed: Int
        /// Contracts whose window was merged.
        public var contractsMerged: Int
        /// Rows the merges inserted (each a trade the feed never delivered).
        public var rowsInserted: Int
        /// REST requests sent, retries included.
        public var requests: Int
        /// HTTP 429 answers: each made every request wait its `Retry-After`.
        public var rateLimited: Int
        /// Contracts the window being backfilled plans to merge (the `backfill` command's "done of total").
        public var contractsPlanned: Int
        /// When the oldest gap still waiting was first seen (Unix µs, this process's clock).
        public var oldestWaitingSinceMicros: Int64?
        /// The last failure's reason (no secret: `BackfillFailure` never holds the key).
        public var lastError: String?

        public init(
            state: State = .idle, gapsWaiting: Int = 0, gapsDone: Int = 0, gapsPartial: Int = 0, gapsFailed: Int = 0,
            contractsMerged: Int = 0, rowsInserted: Int = 0, requests: Int = 0, rateLimited: Int = 0, contractsPlanned: Int = 0,
            oldestWaitingSinceMicros: Int64? = nil, lastError: String? = nil
        ) {
            self.state = state
            self.gapsWaiting = gapsWaiting
            self.gapsDone = gapsDone
            self.gapsPartial = gapsPartial
            self.gapsFailed = gapsFailed
            self.contractsMerged = contractsMerged
            self.rowsInserted = rowsInserted
            self.requests = requests
            self.rateLimited = rateLimited
            self.contractsPlanned = contractsPlanned
            self.oldestWaitingSinceMicros = oldestWaitingSinceMicros
            self.lastError = lastError
        }

        /// How long the oldest waiting gap has waited at `nowMicros`; 0 when none waits.
        public func lagMicros(nowMicros: Int64) -> Int64 {
            oldestWaitingSinceMicros.map { max(0, nowMicros - $0) } ?? 0
        }
    }

    private let state: Mutex<Snapshot>
    /// `ALERT_BACKFILL_LAG_MS`; `nil` when the backfill is off.
    public let lagAlert: Duration?

    public init(enabled: Bool, lagAlert: Duration? = nil) {
        self.state = Mutex(Snapshot(state: enabled ? .idle : .off))
        self.lagAlert = enabled ? lagAlert : nil
    }

    public var snapshot: Snapshot { state.withLock { $0 } }

    func update(_ change: (inout Snapshot) -> Void) {
        state.withLock { change(&$0) }
    }
}

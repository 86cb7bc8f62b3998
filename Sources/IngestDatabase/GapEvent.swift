import Synchronization

/// A time of a `feed_gaps` row (Unix µs), and the clock it was read on.
///
/// The row's times are on the database's clock, so that a gap one host opens
/// and another closes (a failover) never compares two hosts' clocks. A time
/// this process read on its own clock is written as the database's
/// `clock_timestamp()` minus its age on this host (`PostgresTradeWriter.recordGaps`):
/// only a duration crosses hosts, and it is measured on one.
public struct GapTime: Sendable, Hashable, CustomStringConvertible {
    public enum Clock: Sendable, Hashable {
        /// This process's wall clock (a receive time).
        case local
        /// Read from the database (`ingest_state`, on its clock already).
        case database
    }

    public var micros: Int64
    public var clock: Clock

    public init(micros: Int64, clock: Clock) {
        self.micros = micros
        self.clock = clock
    }

    public static func local(_ micros: Int64) -> GapTime { GapTime(micros: micros, clock: .local) }
    public static func database(_ micros: Int64) -> GapTime { GapTime(micros: micros, clock: .database) }

    public var description: String { clock == .local ? "\(micros)" : "\(micros) (database clock)" }
}

/// One `feed_gaps` row this process opened. The database gives it its id
/// when the row is written (`INSERT … RETURNING id`); the close that ends
/// the gap finds the row by that id, so it ends this row and no other, and
/// no two hosts' clocks are compared to pick the row.
public final class GapRow: Sendable, Hashable, CustomStringConvertible {
    /// When the feed stopped streaming.
    public let startedAt: GapTime
    public let reason: String
    /// The feed time (`t`, Unix ms) of the newest trade received before the
    /// gap (`feed_gaps.from_t`): where its backfill window starts, before the
    /// margin (docs/design.md §5.8). `nil`: no trade was seen before it.
    public let fromT: Int64?
    private let storedID = Mutex<Int64?>(nil)

    public init(startedAt: GapTime, reason: String, fromT: Int64? = nil) {
        self.startedAt = startedAt
        self.reason = reason
        self.fromT = fromT
    }

    /// A row that starts at this process's time `startedAtMicros`.
    public convenience init(startedAtMicros: Int64, reason: String, fromT: Int64? = nil) {
        self.init(startedAt: .local(startedAtMicros), reason: reason, fromT: fromT)
    }

    public var startedAtMicros: Int64 { startedAt.micros }

    /// The row's id, once its INSERT is committed.
    public var id: Int64? { storedID.withLock { $0 } }

    /// Called after the transaction that inserted the row committed.
    func recorded(id: Int64) { storedID.withLock { $0 = id } }

    public static func == (lhs: GapRow, rhs: GapRow) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
    public var description: String {
        "gap(\(reason) from \(startedAt)\(fromT.map { ", t \($0)" } ?? "")\(id.map { ", id \($0)" } ?? ""))"
    }
}

/// One change to the `feed_gaps` table (every period in which the feed was
/// not streaming).
public enum GapEvent: Sendable, Equatable {
    /// The feed stopped streaming: a new row.
    case opened(GapRow)
    /// Data flows again at this time (Unix µs, the first trade's receive
    /// time on this process's clock): this process's row ends, found by its id.
    /// `toT`: the feed time (`t`, Unix ms) of that first trade (`feed_gaps.to_t`,
    /// where the backfill window ends before the margin); `backfill`: the row
    /// is marked `backfill = 'pending'` in the statement that closes it
    /// (docs/design.md §5.8).
    case closed(GapRow, atMicros: Int64, toT: Int64? = nil, backfill: Bool = false)
    /// Data flows again at this time: rows this process did not open but
    /// must end (an earlier run's, the previous leader's) end too, with the
    /// same `toT` and `backfill` as `closed`.
    case closedLeftOpen(LeftOpenGaps, atMicros: Int64, toT: Int64? = nil, backfill: Bool = false)
}

/// Which rows opened by someone else the first trade closes.
public enum LeftOpenGaps: Sendable, Equatable {
    /// Every open row: a single instance at start, when no other process
    /// writes `feed_gaps` (what an earlier run left open is the gap).
    case every
    /// The rows with these ids: those a new leader found open when it got
    /// the lock. A row a deposed leader writes late is not among them.
    case ids([Int64])
}

/// `feed_gaps` changes to write in one transaction, and the leadership term
/// they were recorded under (`LeaderLock`): written only while the database's
/// term is still that one, so that a leader that lost its lock cannot land
/// a change late. `nil` for an instance that leads no pair, and for changes
/// that stay true whoever leads (a gap that opened and closed while this
/// instance led).
public struct GapChanges: Sendable, Equatable {
    public var events: [GapEvent]
    public var fence: Int64?

    public init(_ events: [GapEvent], fence: Int64? = nil) {
        self.events = events
        self.fence = fence
    }
}

/// `feed_gaps` changes refused because the leadership term moved on: another
/// instance leads now, and the gap is its to record. Not a database fault
/// (the breaker does not count it).
public struct GapFenceError: Error, Sendable, CustomStringConvertible {
    public var fence: Int64
    /// The term the database holds (`nil`: no `ingest_state` row).
    public var term: Int64?

    public init(fence: Int64, term: Int64?) {
        self.fence = fence
        self.term = term
    }

    public var description: String { "leadership term is \(term.map(String.init) ?? "unset"), not \(fence): gap changes not written" }
}

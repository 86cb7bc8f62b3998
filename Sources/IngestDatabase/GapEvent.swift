import Synchronization

/// One `feed_gaps` row this process opened. The database gives it its id
/// when the row is written (`INSERT … RETURNING id`); the close that ends
/// the gap finds the row by that id, so it ends this row and no other, and
/// no two hosts' clocks are compared to pick the row.
public final class GapRow: Sendable, Hashable, CustomStringConvertible {
    /// When the feed stopped streaming (Unix µs).
    public let startedAtMicros: Int64
    public let reason: String
    private let storedID = Mutex<Int64?>(nil)

    public init(startedAtMicros: Int64, reason: String) {
        self.startedAtMicros = startedAtMicros
        self.reason = reason
    }

    /// The row's id, once its INSERT is committed.
    public var id: Int64? { storedID.withLock { $0 } }

    /// Called after the transaction that inserted the row committed.
    func recorded(id: Int64) { storedID.withLock { $0 = id } }

    public static func == (lhs: GapRow, rhs: GapRow) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
    public var description: String { "gap(\(reason) from \(startedAtMicros)\(id.map { ", id \($0)" } ?? ""))" }
}

/// One change to the `feed_gaps` table (every period in which the feed was
/// not streaming).
public enum GapEvent: Sendable, Equatable {
    /// The feed stopped streaming: a new row.
    case opened(GapRow)
    /// Data flows again at this time (Unix µs, the first trade's receive
    /// time): this process's row ends, found by its id.
    case closed(GapRow, atMicros: Int64)
    /// Data flows again at this time: rows this process did not open but
    /// must end (an earlier run's, the previous leader's) end too.
    case closedLeftOpen(LeftOpenGaps, atMicros: Int64)
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

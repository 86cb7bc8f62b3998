import IngestDatabase
import IngestPipeline
import OptionsFeed
import Synchronization

/// Records every period without data (docs/design.md §5.8): a
/// disconnect opens a gap, the first trade after the reconnect closes it.
/// Events wait here until the flusher writes them through the same guarded
/// database path as trades; while the database is down they stay in memory,
/// bounded, with the drop policy of every pending queue (`PendingQueue`: past
/// `capacity` the oldest are dropped, and counted).
///
/// A close names its row: the `GapRow` this ledger opened (its id comes from
/// the INSERT), or the ids of rows others left open that this instance
/// inherited. In an active/standby pair a leader that loses its lock drops
/// what it has not written (`leadershipLost`): written late, an open would
/// stay open for ever and a close could end, at this leader's time, a gap the
/// next leader counts on.
///
/// Gaps carry feed times (docs/design.md §5.8): an open the feed time `t` of
/// the newest trade this process received before it (`from_t`), a close that
/// of the first trade after it (`to_t`): the window a backfill fetches.
public final class GapLedger: Sendable {
    private struct State {
        var pending: PendingQueue<GapEvent>
        /// The row this ledger opened and has not closed yet.
        var openRow: GapRow?
        /// Rows opened by others that the next trade closes.
        var leftOpen: LeftOpenGaps?
        /// Events are recorded (always, but for a leader between losing its lock and getting it again).
        var leading = true
        /// Grows at each loss of the lock: events drained before it are not put back as they were.
        var term = 0
        var drainedTerm = 0
        /// The leadership term this instance leads under (`LeaderLock.tryAcquire`), while it leads a pair.
        var fence: Int64?
        var discarded = 0
        /// The newest feed time (`t`, Unix ms) of a trade this process received: an open gap's `from_t`.
        var lastT: Int64?
        /// The drop gap opened in `pending` and not drained yet: drops widen it, the drain closes it.
        var drop: (row: GapRow, toT: Int64, lastAtMicros: Int64)?
    }

    private let state: Mutex<State>
    /// Most events kept while the database is unreachable.
    public let capacity: Int
    /// Closes mark their rows `backfill = 'pending'` (`BACKFILL=watched`, docs/design.md §5.8).
    public let backfillOnClose: Bool

    /// `startsOpen`: whether a gap may be open when the process starts (a
    /// live service: the time it was not running is one; its first trade
    /// ends every row left open). A replay passes `false`: it streams no
    /// feed, so it neither opens nor closes gaps. `backfillOnClose`: every
    /// close marks its rows for the backfill (off by default, as `BACKFILL`).
    public init(capacity: Int = 10_000, startsOpen: Bool = true, backfillOnClose: Bool = false) {
        self.capacity = capacity
        self.backfillOnClose = backfillOnClose
        self.state = Mutex(State(pending: PendingQueue(capacity: capacity), leftOpen: startsOpen ? .every : nil))
    }

    /// The feed stopped streaming. A gap already open stays the same gap.
    public func open(atMicros time: Int64, reason: String) {
        state.withLock { state in
            guard state.leading, state.openRow == nil, state.leftOpen == nil else { return }
            let row = GapRow(startedAtMicros: time, reason: reason, fromT: state.lastT)
            state.openRow = row
            append(.opened(row), to: &state)
        }
    }

    /// At start: the service was not running since `time` (the newest
    /// receive time the database holds), and no gap row is open to say so.
    /// `fromT`: that trade's feed time (`ingest_state.last_trade_t`).
    public func restarted(lastDataAt time: GapTime, fromT: Int64? = nil) {
        state.withLock { state in
            let row = GapRow(startedAt: time, reason: "restart", fromT: fromT)
            state.openRow = row
            append(.opened(row), to: &state)
        }
    }

    /// This instance stopped leading: its feed stopped, and the
    /// gap is the next leader's to record. Drops every waiting event but
    /// gaps that opened and closed while it led (a finished period, which
    /// touches no other row); until `leadershipAcquired` it records nothing.
    /// Returns how many events it dropped.
    @discardableResult
    public func leadershipLost() -> Int {
        state.withLock { state in
            state.leading = false
            state.fence = nil
            state.term += 1
            state.openRow = nil
            state.leftOpen = nil
            state.drop = nil
            let pending = state.pending.drain()
            let kept = Self.finishedGaps(pending)
            let dropped = pending.count - kept.count
            state.pending.putBack(kept)
            state.discarded += dropped
            return dropped
        }
    }

    /// This instance became the leader. `gapStart`: when the
    /// table's newest trade was received, if no gap row is open; the period
    /// since then becomes a gap with `reason` ("failover"). `openGapIDs`: the
    /// rows open when it got the lock (a graceful handover's `shutdown` gap),
    /// which are the gap instead. This leader's first trade closes either.
    /// `fence`: the leadership term it got with the lock; every change it
    /// records from here is written only while the database's term is that one.
    /// `fromT`: the feed time of the table's newest trade (`ingest_state.last_trade_t`), the new gap's `from_t`.
    public func leadershipAcquired(gapStart: GapTime?, openGapIDs: [Int64] = [], reason: String, fence: Int64? = nil, fromT: Int64? = nil) {
        state.withLock { state in
            state.leading = true
            state.fence = fence
            state.openRow = nil
            state.leftOpen = openGapIDs.isEmpty ? nil : .ids(openGapIDs)
            if let gapStart, openGapIDs.isEmpty {
                let row = GapRow(startedAt: gapStart, reason: reason, fromT: fromT)
                state.openRow = row
                append(.opened(row), to: &state)
            }
        }
    }

    /// Trades arrived (one frame's): closes the open gap, if any, and keeps
    /// the newest feed time. Called once per frame, not per trade: `firstT`
    /// is the feed time (`t`, Unix ms) of the frame's first trade, the close's
    /// `to_t`; `newestT` the frame's largest, the next open's `from_t`
    /// (`nil`: unknown, kept as it was). Cheap when no gap is open.
    public func dataArrived(atMicros time: Int64, firstT: Int64? = nil, newestT: Int64? = nil) {
        state.withLock { state in
            if let newestT { state.lastT = max(state.lastT ?? newestT, newestT) }
            guard state.leading, state.openRow != nil || state.leftOpen != nil else { return }
            let backfill = backfillOnClose
            if let row = state.openRow { append(.closed(row, atMicros: time, toT: firstT, backfill: backfill), to: &state) }
            if let leftOpen = state.leftOpen {
                append(.closedLeftOpen(leftOpen, atMicros: time, toT: firstT, backfill: backfill), to: &state)
            }
            state.openRow = nil
            state.leftOpen = nil
        }
    }

    /// Trades were accepted and then dropped (the spool full): their feed
    /// times are a gap in the table as much as a disconnect's, so they make a
    /// finished gap, reason `trades_dropped`, from their first `t` to their
    /// last, marked for the backfill when it is on (docs/design.md §5.8.1).
    /// Drops that follow while that row waits to be written widen it: a long
    /// outage with a full spool makes one row per write attempt, not one per batch.
    public func tradesDropped(_ trades: some Collection<OptionTrade>) {
        guard var fromT = trades.first?.timestampMs else { return }
        var toT = fromT
        var lastAt = Int64.min
        for trade in trades {
            fromT = min(fromT, trade.timestampMs)
            toT = max(toT, trade.timestampMs)
            lastAt = max(lastAt, trade.receivedAtMicros)
        }
        state.withLock { state in
            guard state.leading else { return }
            if let drop = state.drop {
                guard fromT < (drop.row.fromT ?? fromT) else {
                    state.drop = (drop.row, max(drop.toT, toT), max(drop.lastAtMicros, lastAt))
                    return
                }
                // An earlier t than the row's start (a batch handed back): a row of its own keeps both windows true.
                closeDrop(&state)
            }
            let row = GapRow(startedAtMicros: lastAt, reason: "trades_dropped", fromT: fromT)
            state.drop = (row, toT, lastAt)
            append(.opened(row), to: &state)
        }
    }

    public var isEmpty: Bool { state.withLock { $0.pending.isEmpty } }
    /// Events dropped past `capacity`.
    public var dropped: Int { state.withLock { $0.pending.dropped } }
    /// Events dropped because the lock was lost before they were written.
    public var discarded: Int { state.withLock { $0.discarded } }

    /// Takes the waiting events, oldest first, with the fence to write them under.
    public func drain() -> GapChanges {
        state.withLock { state in
            state.drainedTerm = state.term
            // A waiting drop gap's open is in `pending`: its close goes with it, into the same transaction.
            closeDrop(&state)
            return GapChanges(state.pending.drain(), fence: state.fence)
        }
    }

    /// Puts events that could not be written back in front. Events drained
    /// before the lock was lost keep only their finished gaps, as in `leadershipLost`.
    public func putBack(_ events: [GapEvent]) {
        state.withLock { state in
            var events = events
            if state.drainedTerm != state.term {
                let kept = Self.finishedGaps(events)
                state.discarded += events.count - kept.count
                events = kept
            }
            state.pending.putBack(events)
        }
    }

    /// The opens whose close is among `events`, with that close, in order.
    static func finishedGaps(_ events: [GapEvent]) -> [GapEvent] {
        var opened = Set<GapRow>()
        var finished = Set<GapRow>()
        for event in events {
            switch event {
            case .opened(let row): opened.insert(row)
            case .closed(let row, _, _, _) where opened.contains(row): finished.insert(row)
            default: break
            }
        }
        return events.filter { event in
            switch event {
            case .opened(let row), .closed(let row, _, _, _): finished.contains(row)
            case .closedLeftOpen: false
            }
        }
    }

    /// Closes the waiting drop gap, if any, at its last drop.
    private func closeDrop(_ state: inout State) {
        guard let drop = state.drop else { return }
        append(.closed(drop.row, atMicros: drop.lastAtMicros, toT: drop.toT, backfill: backfillOnClose), to: &state)
        state.drop = nil
    }

    private func append(_ event: GapEvent, to state: inout State) {
        state.pending.append(event)
    }
}

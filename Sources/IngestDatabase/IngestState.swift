/// The one-row table `ingest_state` (`migrations/0002_ingest_state.sql`,
/// `0005_leader_term.sql`, `0006_backfill.sql`).
///
/// `last_received_at`: when the newest committed trade was received, on the
/// database's clock, kept in O(1) so that the restart and failover gaps are
/// found without scanning `options_trades` (which has no index on
/// `received_at`; a scan of a large table outlasts a leader's 5 s statement
/// timeout).
///
/// `last_trade_t`: the newest committed trade's feed time (`t`, the SIP time,
/// Unix ms), raised with the same `GREATEST` in the same statement: where the
/// backfill window of a restart gap starts (docs/design.md §5.8). Backfilled
/// rows (`BackfillStore.merge`) do not raise it: they were never received.
///
/// `leader_term`: raised by each new leader of an active/standby pair; the
/// fence of `feed_gaps` writes (`PostgresTradeWriter.recordGaps`).
///
/// QuestDB keeps no such row: its `options_trades` is ordered by its
/// designated timestamp `ts`, so the newest trade is read from the last
/// partition (`QuestDBDialect.lastReceived`), and it has no pairs.
public enum IngestState {
    /// Raises the last receive time to that of a trade received `ageMicros`
    /// ago on the writer's clock: the database's `clock_timestamp()` minus
    /// that age, so the time is on the database's clock whatever this host's
    /// says (never lowers it: an older batch, e.g. a replay, leaves it). Sent
    /// in the batch's transaction just before `COMMIT`, so it is committed or
    /// rolled back with the rows. An upsert: a missing row is made again. The
    /// age and `lastTradeT` (the batch's newest `t`, Unix ms) are integers,
    /// inlined so that the statement and the `COMMIT` go in one round trip.
    public static func advance(ageMicros: Int64, lastTradeT: Int64) -> String {
        "INSERT INTO ingest_state (id, last_received_at, last_trade_t) VALUES (true, \(databaseTime(ageMicros: ageMicros)), \(lastTradeT)) "
            + "ON CONFLICT (id) DO UPDATE SET last_received_at = GREATEST(ingest_state.last_received_at, EXCLUDED.last_received_at), "
            + "last_trade_t = GREATEST(ingest_state.last_trade_t, EXCLUDED.last_trade_t)"
    }

    /// A time this host read `ageMicros` ago, on the database's clock.
    static func databaseTime(ageMicros: Int64) -> String {
        "clock_timestamp() - \(ageMicros) * interval '1 microsecond'"
    }

    /// The last receive time (Unix µs, database clock) and the last trade's
    /// feed time (Unix ms), unless a `feed_gaps` row is open (then that row
    /// is the gap): one row read and an index of open gaps.
    static let unrecordedGapStart = """
        SELECT (extract(epoch FROM last_received_at) * 1000000)::bigint, last_trade_t FROM ingest_state
        WHERE last_received_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM feed_gaps WHERE ended_at IS NULL)
        """

    /// The gap `unrecordedGapStart` answers, from its first row.
    static func unrecordedGap(_ rows: [[String?]]) -> UnrecordedGap? {
        guard let row = rows.first, let start = row.first.flatMap({ $0 }).flatMap({ Int64($0) }) else { return nil }
        return UnrecordedGap(start: .database(start), lastTradeT: row.count > 1 ? row[1].flatMap { Int64($0) } : nil)
    }

    /// The newest committed trade's feed time (Unix ms); `nil` before the first.
    static let lastTradeT = "SELECT last_trade_t FROM ingest_state"

    /// `last_trade_t` while a service streams into the table: its newest
    /// commit was received less than `seconds` ago (on the database's clock).
    static func liveTradeT(withinSeconds seconds: Int) -> String {
        "SELECT last_trade_t FROM ingest_state WHERE last_received_at > clock_timestamp() - interval '\(max(0, seconds)) seconds'"
    }

    /// Raises the leadership term (a leader that just got the lock); answers the new term.
    static let raiseLeaderTerm = """
        INSERT INTO ingest_state (id, leader_term) VALUES (true, 1)
        ON CONFLICT (id) DO UPDATE SET leader_term = ingest_state.leader_term + 1 RETURNING leader_term
        """

    /// The term, row-locked until the transaction ends (the gap fence): a raise waits for it.
    static let leaderTermForShare = "SELECT leader_term FROM ingest_state WHERE id FOR SHARE"
}

/// The gap a start (a restart after a crash or `kill -9`, a failover) finds
/// unrecorded: since the newest committed trade, with no `feed_gaps` row open.
public struct UnrecordedGap: Sendable, Equatable {
    /// When that trade was received (`ingest_state.last_received_at`, database clock).
    public var start: GapTime
    /// Its feed time (`ingest_state.last_trade_t`, Unix ms): the gap row's
    /// `from_t`. `nil` on QuestDB before its first trade, or a row from before `0006`.
    public var lastTradeT: Int64?

    public init(start: GapTime, lastTradeT: Int64?) {
        self.start = start
        self.lastTradeT = lastTradeT
    }
}

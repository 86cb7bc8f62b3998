/// The one-row table `ingest_state` (`migrations/0002_ingest_state.sql`,
/// `0005_leader_term.sql`).
///
/// `last_received_at`: when the newest committed trade was received, on the
/// database's clock, kept in O(1) so that the restart and failover gaps are
/// found without scanning `options_trades` (which has no index on
/// `received_at`; a scan of a large table outlasts a leader's 5 s statement
/// timeout).
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
    /// age is an integer, inlined so that the statement and the `COMMIT` go
    /// in one round trip.
    public static func advance(ageMicros: Int64) -> String {
        "INSERT INTO ingest_state (id, last_received_at) VALUES (true, \(databaseTime(ageMicros: ageMicros))) "
            + "ON CONFLICT (id) DO UPDATE SET last_received_at = GREATEST(ingest_state.last_received_at, EXCLUDED.last_received_at)"
    }

    /// A time this host read `ageMicros` ago, on the database's clock.
    static func databaseTime(ageMicros: Int64) -> String {
        "clock_timestamp() - \(ageMicros) * interval '1 microsecond'"
    }

    /// The last receive time (Unix µs, database clock), unless a `feed_gaps`
    /// row is open (then that row is the gap): one row read and an index of open gaps.
    static let unrecordedGapStart = """
        SELECT (extract(epoch FROM last_received_at) * 1000000)::bigint FROM ingest_state
        WHERE last_received_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM feed_gaps WHERE ended_at IS NULL)
        """

    /// Raises the leadership term (a leader that just got the lock); answers the new term.
    static let raiseLeaderTerm = """
        INSERT INTO ingest_state (id, leader_term) VALUES (true, 1)
        ON CONFLICT (id) DO UPDATE SET leader_term = ingest_state.leader_term + 1 RETURNING leader_term
        """

    /// The term, row-locked until the transaction ends (the gap fence): a raise waits for it.
    static let leaderTermForShare = "SELECT leader_term FROM ingest_state WHERE id FOR SHARE"
}

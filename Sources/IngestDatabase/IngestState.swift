/// The one-row table `ingest_state` (`migrations/0002_ingest_state.sql`):
/// when the newest committed trade was received, kept in O(1) so that the
/// restart and failover gaps are found without scanning `options_trades`
/// (which has no index on `received_at`; a scan of a large table outlasts a
/// leader's 5 s statement timeout).
///
/// QuestDB keeps no such row: its `options_trades` is ordered by its
/// designated timestamp `ts`, so the newest trade is read from the last
/// partition (`QuestDBDialect.lastReceived`).
public enum IngestState {
    /// Raises the last receive time to `micros` (never lowers it: an older
    /// batch, e.g. a replay, leaves it). Sent in the batch's transaction just
    /// before `COMMIT`, so it is committed or rolled back with the rows. An
    /// upsert: a missing row is made again. `micros` is an integer, inlined
    /// so that the statement and the `COMMIT` go in one round trip.
    public static func advance(toMicros micros: Int64) -> String {
        "INSERT INTO ingest_state (id, last_received_at) VALUES (true, 'epoch'::timestamptz + \(micros) * interval '1 microsecond') "
            + "ON CONFLICT (id) DO UPDATE SET last_received_at = GREATEST(ingest_state.last_received_at, EXCLUDED.last_received_at)"
    }

    /// The last receive time (Unix µs), unless a `feed_gaps` row is open
    /// (then that row is the gap): one row read and an index of open gaps.
    static let unrecordedGapStart = """
        SELECT (extract(epoch FROM last_received_at) * 1000000)::bigint FROM ingest_state
        WHERE last_received_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM feed_gaps WHERE ended_at IS NULL)
        """

}

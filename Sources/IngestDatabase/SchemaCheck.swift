/// What the writer assumes of the tables, checked at start. Direct COPY into
/// `options_trades` (the fast path) is exactly-once only while the table has
/// its natural key: without a primary key or unique index on `(sym, ts, seq)`
/// a duplicate is not refused (no 23505 to fall back on) and is stored twice,
/// and the staging path's `ON CONFLICT (sym, ts, seq)` has no arbiter.
public enum SchemaCheck {
    /// What is missing, one line each; empty when the schema is as the writer
    /// needs it. PostgreSQL only (QuestDB's natural key is its dedup keys).
    /// `tables`: the other event tables the subscriptions write to (docs/design.md §4.4); each must exist,
    /// or its batches would fail for ever and hold back the spool behind them.
    public static func problems(conninfo: String, tables: [String] = []) throws(DatabaseError) -> [String] {
        let connection = try PGConnection(conninfo: conninfo)
        let missing = tables.isEmpty ? [] : try connection.query(missingTables, ["{" + tables.joined(separator: ",") + "}"]).compactMap { $0.first ?? nil }
        let rows = try connection.query(query)
        let row = rows.first ?? []
        func flag(_ index: Int) -> Bool { index < row.count && row[index] == "t" }
        guard flag(0) else { return ["table options_trades does not exist: apply the migrations (ingest-options migrate)"] }
        var problems: [String] = []
        if !flag(1) {
            problems.append(
                "options_trades has no primary key or unique index on exactly (sym, ts, seq): without it a trade written twice is stored twice; "
                    + "restore it, e.g. ALTER TABLE options_trades ADD PRIMARY KEY (sym, ts, seq)")
        }
        if !flag(2) {
            problems.append("table ingest_state does not exist: apply the migrations (ingest-options migrate)")
        } else if !flag(3) {
            problems.append("ingest_state has no column leader_term: apply the migrations (ingest-options migrate)")
        } else if !flag(4) {
            // Every batch's transaction raises it: without it every batch would fail.
            problems.append("ingest_state has no column last_trade_t: apply the migrations (ingest-options migrate)")
        }
        if !flag(5) {
            // Every gap row is written with its feed times (docs/design.md §5.8).
            problems.append("feed_gaps has no column from_t: apply the migrations (ingest-options migrate)")
        }
        for table in missing {
            problems.append("table \(table) does not exist, and POLYGON_SUBSCRIPTIONS has its events: apply the migrations (ingest-options migrate)")
        }
        return problems
    }

    /// Of the tables `$1` (text[]), those that do not exist.
    static let missingTables = "SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NULL ORDER BY 1"

    /// A key counts when it is unique, valid, immediate (an `ON CONFLICT`
    /// arbiter cannot be deferrable), on plain columns, not partial, and on
    /// exactly the three key columns, in any order.
    static let query = """
        SELECT to_regclass('options_trades') IS NOT NULL,
               EXISTS (
                 SELECT 1 FROM pg_index i
                 WHERE i.indrelid = to_regclass('options_trades') AND i.indisunique AND i.indisvalid AND i.indimmediate
                   AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnatts = 3
                   AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a
                        WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::smallint[])) = ARRAY['seq', 'sym', 'ts']),
               to_regclass('ingest_state') IS NOT NULL,
               EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('ingest_state') AND attname = 'leader_term' AND NOT attisdropped),
               EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('ingest_state') AND attname = 'last_trade_t' AND NOT attisdropped),
               EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('feed_gaps') AND attname = 'from_t' AND NOT attisdropped)
        """
}

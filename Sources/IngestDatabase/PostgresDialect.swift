import OptionsFeed

/// Every statement the writer sends to PostgreSQL (docs/design.md §5.3; the
/// DDL is `migrations/`): the session's staging table, the batch's
/// transaction, `COPY … FROM STDIN (FORMAT binary)` straight into
/// `options_trades` under a savepoint or into the staging table followed by
/// `INSERT … SELECT … ON CONFLICT (sym, ts, seq) DO NOTHING`, the bound
/// multi-row INSERT of `WriteMode.insert` (`TradeInsertStatement`), and the
/// side tables, each insert `ON CONFLICT DO NOTHING` on its natural key
/// (docs/design.md §4.1). Times travel as Unix µs, turned into `timestamptz`
/// in SQL; feed data only ever travels as parameters or COPY data.
enum PostgresDialect: WriterDialect {
    static let isTransactional = true

    /// The per-session temporary table a batch is copied into when the direct COPY met a duplicate.
    static let stagingTable = "options_trades_staging"
    static let columns = TradeCopyEncoder.columns.joined(separator: ", ")

    /// The ordinary statement timeout, then the staging table, once per connection
    /// (`ON COMMIT DELETE ROWS`: each batch's transaction empties it).
    static func connectionSetup(statementTimeoutMs: Int) -> [String] {
        [
            "SET statement_timeout = \(statementTimeoutMs)",
            "CREATE TEMP TABLE IF NOT EXISTS \(stagingTable) (LIKE options_trades INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
        ]
    }

    /// Opens a batch's transaction with the batch's own statement timeout (docs/design.md §5.3: 60 s).
    static func beginBatch(bulkTimeoutMs: Int) -> String {
        "BEGIN; SET LOCAL statement_timeout = \(bulkTimeoutMs)"
    }

    /// Raises `ingest_state.last_received_at` to the batch's newest receive
    /// time (`ageMicros` old on this host) and `last_trade_t` to its newest
    /// feed time in the batch's transaction, and commits it.
    static func commitBatch(lastReceivedAgeMicros ageMicros: Int64, lastTradeT: Int64) -> String {
        IngestState.advance(ageMicros: ageMicros, lastTradeT: lastTradeT) + "; COMMIT"
    }

    static let directCopySavepoint = "SAVEPOINT direct_copy"
    static let rollbackDirectCopy = "ROLLBACK TO SAVEPOINT direct_copy"
    static let releaseDirectCopy = "RELEASE SAVEPOINT direct_copy"
    /// The optimistic path: the encoded batch straight into the table.
    static let copyDirect = "COPY options_trades (\(columns)) FROM STDIN (FORMAT binary)"
    static let copyIntoStaging = "COPY \(stagingTable) (\(columns)) FROM STDIN (FORMAT binary)"
    /// Rows already stored are left as they are: a trade written twice is stored once.
    static let insertFromStaging =
        "INSERT INTO options_trades (\(columns)) SELECT \(columns) FROM \(stagingTable) ON CONFLICT (sym, ts, seq) DO NOTHING"

    /// The per-session temporary table of a record type's batches that met a duplicate (the trades' is `stagingTable`).
    static func stagingTable(_ kind: RecordKind) -> String { kind == .trade ? stagingTable : kind.table + "_staging" }

    /// Created in a batch's transaction the first time a connection needs it:
    /// the other event tables may not exist (before migration 0008), and a
    /// feed of trades alone never needs them.
    static func createStaging(_ kind: RecordKind) -> String {
        "CREATE TEMP TABLE IF NOT EXISTS \(stagingTable(kind)) (LIKE \(kind.table) INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    }

    /// `copyDirect`, `copyIntoStaging` and `insertFromStaging` of any record type.
    static func copyDirect<R: StoredRecord>(_: R.Type) -> String {
        R.kind == .trade ? copyDirect : "COPY \(R.kind.table) (\(R.columns.joined(separator: ", "))) FROM STDIN (FORMAT binary)"
    }

    static func copyIntoStaging<R: StoredRecord>(_: R.Type) -> String {
        R.kind == .trade ? copyIntoStaging : "COPY \(stagingTable(R.kind)) (\(R.columns.joined(separator: ", "))) FROM STDIN (FORMAT binary)"
    }

    /// Rows already stored are left as they are: a record written twice is stored once.
    static func insertFromStaging<R: StoredRecord>(_: R.Type) -> String {
        guard R.kind != .trade else { return insertFromStaging }
        let columns = R.columns.joined(separator: ", ")
        return "INSERT INTO \(R.kind.table) (\(columns)) SELECT \(columns) FROM \(stagingTable(R.kind)) ON CONFLICT \(R.conflictKey) DO NOTHING"
    }

    static let rowsPerStatement = TradeInsertStatement.rowsPerStatement

    static func insertTrades(rows: Int) -> String {
        TradeInsertStatement(rows: rows).sql
    }

    static func parameters(_ trades: ArraySlice<OptionTrade>) -> [String?] {
        TradeInsertStatement.parameters(trades)
    }

    /// `ON CONFLICT DO NOTHING` on `(source, reason, raw_bytes, md5(raw))`: a
    /// retry or a replay of the same letters adds nothing.
    static let insertDeadLetter =
        "INSERT INTO dead_letters (source, reason, sqlstate, message, raw, raw_bytes) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
    /// `insertDeadLetter` with the event's type as `$7` (migration 0009).
    static let insertTypedDeadLetter =
        "INSERT INTO dead_letters (source, reason, sqlstate, message, raw, raw_bytes, event_type) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
    static let deadLetterTypeExists =
        "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('dead_letters') AND attname = 'event_type' AND NOT attisdropped)"

    static func healthEvent(_ event: HealthEvent) -> (String, [String?]) {
        let time = "'epoch'::timestamptz + $%d::bigint * interval '1 microsecond'"
        func at(_ index: Int) -> String { time.replacing("%d", with: String(index)) }
        switch event {
        case .symbolHealth(let symbol, let micros, let status, let staleness, let updates):
            return (
                "INSERT INTO symbol_health_history (symbol, \"timestamp\", status, staleness_seconds, update_count) VALUES ($1, \(at(2)), $3, $4, $5) ON CONFLICT DO NOTHING",
                [symbol, String(micros), status, String(staleness), String(updates)]
            )
        case .stalenessAlert(let symbol, let micros, let staleness, let level):
            return (
                "INSERT INTO price_staleness_alerts (symbol, detected_at, staleness_seconds, alert_level) VALUES ($1, \(at(2)), $3, $4) ON CONFLICT DO NOTHING",
                [symbol, String(micros), String(staleness), level]
            )
        case .stalenessResolved(let symbol, let micros):
            return (
                "UPDATE price_staleness_alerts SET resolved_at = \(at(2)) WHERE symbol = $1 AND resolved_at IS NULL",
                [symbol, String(micros)]
            )
        case .connection(let micros, let component, let message, let statusCode, let metadata):
            return (
                "INSERT INTO websocket_health_logs (\"timestamp\", component, message, status_code, metadata) VALUES (\(at(1)), $2, $3, $4::integer, $5::jsonb) ON CONFLICT DO NOTHING",
                [String(micros), component, message, statusCode.map(String.init), metadata]
            )
        }
    }

    /// Every time is written on the database's clock (`GapTime`): a time
    /// read on this host as `clock_timestamp()` minus its age here. An
    /// opened row returns its id (`RETURNING id`); a close ends that row by
    /// its id (`nil` when the open was dropped unwritten: nothing to close),
    /// never before the row's start, and only a row still open.
    static func gapStatement(_ event: GapEvent, rowID: Int64?, nowMicros: Int64) -> (String, [String?])? {
        /// The SQL of `time` as parameter `index`, and the parameter.
        func at(_ time: GapTime, _ index: Int) -> (sql: String, parameter: String) {
            switch time.clock {
            case .database: ("'epoch'::timestamptz + $\(index)::bigint * interval '1 microsecond'", String(time.micros))
            case .local: ("clock_timestamp() - $\(index)::bigint * interval '1 microsecond'", String(nowMicros - time.micros))
            }
        }
        /// The close's feed time and backfill mark as parameters `index`, `index + 1`:
        /// `to_t` of the first trade after the gap; `backfill` becomes 'pending' only when asked.
        func closing(_ index: Int, toT: Int64?, backfill: Bool) -> (sql: String, parameters: [String?]) {
            ("to_t = $\(index)::bigint, backfill = COALESCE($\(index + 1)::text, backfill)", [toT.map(String.init), backfill ? "pending" : nil])
        }
        switch event {
        case .opened(let row):
            let start = at(row.startedAt, 1)
            return (
                "INSERT INTO feed_gaps (started_at, reason, from_t) VALUES (\(start.sql), $2, $3::bigint) RETURNING id",
                [start.parameter, row.reason, row.fromT.map(String.init)]
            )
        case .closed(_, let micros, let toT, let backfill):
            guard let rowID else { return nil }
            let end = at(.local(micros), 2)
            let set = closing(3, toT: toT, backfill: backfill)
            return (
                "UPDATE feed_gaps SET ended_at = GREATEST(started_at, \(end.sql)), \(set.sql) WHERE id = $1 AND ended_at IS NULL",
                [String(rowID), end.parameter] + set.parameters
            )
        case .closedLeftOpen(.every, let micros, let toT, let backfill):
            let end = at(.local(micros), 1)
            let set = closing(2, toT: toT, backfill: backfill)
            return ("UPDATE feed_gaps SET ended_at = GREATEST(started_at, \(end.sql)), \(set.sql) WHERE ended_at IS NULL", [end.parameter] + set.parameters)
        case .closedLeftOpen(.ids(let ids), let micros, let toT, let backfill):
            let end = at(.local(micros), 2)
            let set = closing(3, toT: toT, backfill: backfill)
            return (
                "UPDATE feed_gaps SET ended_at = GREATEST(started_at, \(end.sql)), \(set.sql) WHERE id = ANY($1::bigint[]) AND ended_at IS NULL",
                ["{" + ids.map(String.init).joined(separator: ",") + "}", end.parameter] + set.parameters
            )
        }
    }
}

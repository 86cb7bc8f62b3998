import OptionsFeed

/// Every statement the service sends to QuestDB, in one place (docs/design.md §5.3;
/// the DDL is `migrations/questdb/`). QuestDB speaks the PG wire protocol but
/// takes no COPY FROM STDIN, no DELETE and no ON CONFLICT: rows are written
/// with multi-row INSERTs whose values are all bound parameters, and the
/// table's `DEDUP UPSERT KEYS(ts, sym, seq)` stores a row written twice once.
/// Timestamps travel as ISO-8601 text with microseconds, which QuestDB
/// converts on insert (https://questdb.com/docs/pgwire/pgwire-intro).
///
/// The writer reaches it as its `WriterDialect` (docs/design.md §5.3.1):
/// no transactions, no session setup, gap rows found by their dedup key.
///
/// Not run against a live QuestDB here (none can be installed on this
/// machine): the statement shapes are unit-tested, the Postgres twin of this
/// path (`WRITE_MODE=insert`) is tested against a real server.
public enum QuestDBDialect {
    /// Rows per INSERT: 13 parameters a row, far below the protocol's 65 535.
    public static let rowsPerStatement = 500
    static let columns = TradeCopyEncoder.columns

    /// `INSERT INTO options_trades (…) VALUES ($1, …), (…)` for `rows` rows.
    public static func insertTrades(rows: Int) -> String {
        var values: [String] = []
        values.reserveCapacity(rows)
        for row in 0..<rows {
            let base = row * columns.count
            values.append("(" + (1...columns.count).map { "$\(base + $0)" }.joined(separator: ", ") + ")")
        }
        return "INSERT INTO options_trades (\(columns.joined(separator: ", "))) VALUES " + values.joined(separator: ", ")
    }

    /// The parameters of `trades` for `insertTrades`, row after row, as text.
    public static func parameters(_ trades: ArraySlice<OptionTrade>) -> [String?] {
        var parameters: [String?] = []
        parameters.reserveCapacity(trades.count * columns.count)
        for trade in trades {
            let strike = trade.symbol.strikeThousandths
            parameters += [
                trade.symbol.raw, trade.symbol.underlying, trade.symbol.expiry.description, trade.symbol.type.code,
                "\(Double(strike) / 1000)", String(trade.exchange), "\(trade.price)", String(trade.size), "\(trade.notional)",
                "{" + trade.conditions.map(String.init).joined(separator: ",") + "}",
                CivilTime.isoTimestamp(micros: trade.timestampMs * 1000), String(trade.sequence), CivilTime.isoTimestamp(micros: trade.receivedAtMicros),
            ]
        }
        return parameters
    }

    /// The QuestDB statement of a `feed_gaps` change. QuestDB has no ids: a
    /// row is found by its dedup key `(started_at, reason)`, which this
    /// process wrote, so no two clocks are compared. It updates WAL tables
    /// with bound parameters; the designated timestamp cannot change, `ended_at` can.
    /// `from_t`, `to_t` and `backfill` as on PostgreSQL (`migrations/questdb/0004_backfill.sql`);
    /// a close sets `to_t` only when known and `backfill` only when asked.
    public static func gapStatement(_ event: GapEvent) -> (String, [String?]) {
        /// `, to_t = $index` and `, backfill = 'pending'` as asked, and the parameter.
        func closing(_ index: Int, toT: Int64?, backfill: Bool) -> (sql: String, parameters: [String?]) {
            ((toT == nil ? "" : ", to_t = $\(index)") + (backfill ? ", backfill = 'pending'" : ""), toT.map { [String($0)] } ?? [])
        }
        switch event {
        case .opened(let row):
            return (
                "INSERT INTO feed_gaps (started_at, reason, from_t) VALUES ($1, $2, $3)",
                [CivilTime.isoTimestamp(micros: row.startedAtMicros), row.reason, row.fromT.map(String.init)]
            )
        case .closed(let row, let micros, let toT, let backfill):
            let set = closing(4, toT: toT, backfill: backfill)
            return (
                "UPDATE feed_gaps SET ended_at = $1\(set.sql) WHERE started_at = $2 AND reason = $3 AND ended_at IS NULL",
                [CivilTime.isoTimestamp(micros: max(micros, row.startedAtMicros)), CivilTime.isoTimestamp(micros: row.startedAtMicros), row.reason]
                    + set.parameters
            )
        case .closedLeftOpen(_, let micros, let toT, let backfill):
            // Only a single instance runs on QuestDB (no leader lock): what is open was left by an earlier run.
            let set = closing(2, toT: toT, backfill: backfill)
            return ("UPDATE feed_gaps SET ended_at = $1\(set.sql) WHERE ended_at IS NULL", [CivilTime.isoTimestamp(micros: micros)] + set.parameters)
        }
    }

    /// The newest trade's receive time and `ts` (Unix µs): `LIMIT -1` is the last row in
    /// designated-timestamp (`ts`) order, read from the newest partition, so a
    /// start does not scan the table (QuestDB keeps no `ingest_state` row).
    /// The trade with the newest `ts` is the one received last but for
    /// replays of older data, which a restart gap does not need to see.
    public static let lastReceived = "SELECT cast(received_at AS LONG), cast(ts AS LONG) FROM options_trades LIMIT -1"
    public static let openGapCount = "SELECT count() FROM feed_gaps WHERE ended_at IS NULL"
    public static let insertDeadLetter =
        "INSERT INTO dead_letters (created_at, source, reason, sqlstate, message, raw, raw_bytes) VALUES (now(), $1, $2, $3, $4, $5, $6)"
    /// With the event's type as `$7` (`migrations/questdb/0006`).
    public static let insertTypedDeadLetter =
        "INSERT INTO dead_letters (created_at, source, reason, sqlstate, message, raw, raw_bytes, event_type) VALUES (now(), $1, $2, $3, $4, $5, $6, $7)"
    public static let recordMigration = "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())"
    public static let appliedMigrations = "SELECT version FROM schema_migrations"

    /// The QuestDB statement of a health-table row (`migrations/questdb`: no ids, `VARCHAR` metadata).
    public static func healthEvent(_ event: HealthEvent) -> (String, [String?]) {
        switch event {
        case .symbolHealth(let symbol, let micros, let status, let staleness, let updates):
            return (
                "INSERT INTO symbol_health_history (symbol, timestamp, status, staleness_seconds, update_count) VALUES ($1, $2, $3, $4, $5)",
                [symbol, CivilTime.isoTimestamp(micros: micros), status, String(staleness), String(updates)]
            )
        case .stalenessAlert(let symbol, let micros, let staleness, let level):
            return (
                "INSERT INTO price_staleness_alerts (symbol, detected_at, staleness_seconds, alert_level) VALUES ($1, $2, $3, $4)",
                [symbol, CivilTime.isoTimestamp(micros: micros), String(staleness), level]
            )
        case .stalenessResolved(let symbol, let micros):
            return (
                "UPDATE price_staleness_alerts SET resolved_at = $2 WHERE symbol = $1 AND resolved_at IS NULL",
                [symbol, CivilTime.isoTimestamp(micros: micros)]
            )
        case .connection(let micros, let component, let message, let statusCode, let metadata):
            return (
                "INSERT INTO websocket_health_logs (timestamp, component, message, status_code, metadata) VALUES ($1, $2, $3, $4, $5)",
                [CivilTime.isoTimestamp(micros: micros), component, message, statusCode.map(String.init), metadata]
            )
        }
    }

    /// A migration file split into statements (QuestDB runs one per query):
    /// `;` at the end of a line ends one; `--` comment lines are dropped.
    public static func statements(of sql: String) -> [String] {
        var statements: [String] = []
        var current: [Substring] = []
        for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingWhitespace()
            if trimmed.hasPrefix("--") || trimmed.isEmpty { continue }
            current.append(line)
            if trimmed.hasSuffix(";") {
                var statement = current.joined(separator: "\n").trimmingWhitespace()
                statement.removeLast()
                statements.append(statement)
                current = []
            }
        }
        let rest = current.joined(separator: "\n").trimmingWhitespace()
        if !rest.isEmpty { statements.append(rest) }
        return statements
    }
}

extension QuestDBDialect: WriterDialect {
    /// No transactions: DEDUP UPSERT KEYS makes a partly written batch harmless to write again.
    static let isTransactional = false

    /// QuestDB takes no `SET statement_timeout` and no temporary tables.
    static func connectionSetup(statementTimeoutMs: Int) -> [String] { [] }

    /// QuestDB rows have no ids and times are this host's: neither `rowID` nor `nowMicros` matters.
    static func gapStatement(_ event: GapEvent, rowID: Int64?, nowMicros: Int64) -> (String, [String?])? {
        gapStatement(event)
    }
}

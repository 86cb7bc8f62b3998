import OptionsFeed

/// The SQL `PostgresTradeWriter` sends that differs between the servers
/// behind the PG wire (docs/design.md §5.3, §5.3.1): `PostgresDialect` and
/// `QuestDBDialect` answer it, one file each. The writer and its
/// `BatchStrategy` ask `DatabaseFlavor.dialect` for statements and for what
/// the server takes instead of branching on the flavor.
protocol WriterDialect {
    /// The server takes transactions, savepoints, temporary tables and
    /// `COPY … FROM STDIN` (PostgreSQL): a batch is one transaction and
    /// `WriteMode.copy` is open to it. Without them (QuestDB) every statement
    /// stands alone, batches are bound INSERTs, and the tables' dedup keys
    /// make a statement written twice harmless.
    static var isTransactional: Bool { get }

    /// What a new connection runs before its first use.
    static func connectionSetup(statementTimeoutMs: Int) -> [String]

    /// Rows per multi-row INSERT of `insertTrades`.
    static var rowsPerStatement: Int { get }
    /// `INSERT INTO options_trades (…) VALUES …` for `rows` rows, every value a bound parameter.
    static func insertTrades(rows: Int) -> String
    /// The parameters of `trades` for `insertTrades`, row after row, as text.
    static func parameters(_ trades: ArraySlice<OptionTrade>) -> [String?]

    /// One `dead_letters` row: `$1` … `$6` are source, reason, sqlstate, message, raw, raw_bytes.
    static var insertDeadLetter: String { get }
    /// `insertDeadLetter` with `$7` the event's type (`dead_letters.event_type`).
    static var insertTypedDeadLetter: String { get }
    /// The statement of a health-table row.
    static func healthEvent(_ event: HealthEvent) -> (String, [String?])
    /// The statement of a `feed_gaps` change; `nil`: nothing to write.
    /// - Parameters:
    ///   - rowID: for `.closed`, the id the database gave the row, if it has one yet.
    ///   - nowMicros: this host's wall clock now, which ages a time read here.
    static func gapStatement(_ event: GapEvent, rowID: Int64?, nowMicros: Int64) -> (String, [String?])?

    /// One round of partitions ahead and retention (`TableMaintenance.swift`, docs/design.md §4.3).
    static func maintainTables(_ retention: TableRetention, nowMicros: Int64, connection: PGConnection) throws(DatabaseError) -> TableMaintenanceReport
}

extension DatabaseFlavor {
    /// The statements of this server.
    var dialect: any WriterDialect.Type {
        switch self {
        case .postgres: PostgresDialect.self
        case .questdb: QuestDBDialect.self
        }
    }
}

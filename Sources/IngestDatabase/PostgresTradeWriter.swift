import Logging
import OptionsFeed

/// What one committed batch did.
public struct BatchResult: Sendable, Equatable {
    /// Records in the batch (of its one type).
    public var trades: Int
    /// Rows new to the table (the rest were already there: duplicates).
    public var inserted: Int
    /// Rows the database refused, now in `dead_letters`.
    public var deadLetters: [DeadLetter] = []

    public init(trades: Int, inserted: Int, deadLetters: [DeadLetter] = []) {
        self.trades = trades
        self.inserted = inserted
        self.deadLetters = deadLetters
    }
}

/// How batches reach `options_trades` (docs/design.md §5.3).
public enum WriteMode: String, Sendable, CaseIterable {
    /// `COPY … (FORMAT binary)` straight into the table under a savepoint; after a duplicate into a
    /// staging table, then `INSERT … SELECT … ON CONFLICT DO NOTHING` (`BatchStrategy`).
    case copy
    /// Multi-row `INSERT … VALUES … ON CONFLICT DO NOTHING` with bound parameters: the QuestDB path, runnable on Postgres.
    case insert
}

/// Writes batches of trades to PostgreSQL or QuestDB (docs/design.md §5.3):
/// the public face of the writer, the one the flusher and the service hold.
/// A batch goes to `options_trades` by the `BatchStrategy` (one transaction
/// per batch on PostgreSQL, so a trade written twice is stored once; rows the
/// database refuses are isolated into `dead_letters`, the rest is committed);
/// the side tables (`feed_gaps`, `dead_letters`, the health tables) are
/// written here. Each call runs on a session of the `WriterPool`
/// (`DB_POOL_SIZE`, default 2), with the statements of its `WriterDialect`.
public final class PostgresTradeWriter: Sendable {
    private let pool: WriterPool
    private let partitions: PartitionDays
    private let logger: Logger

    /// - Parameters:
    ///   - flavor: QuestDB always writes through bound INSERTs, without transactions (docs/design.md §5.3).
    ///   - poolSize: writer connections (docs/design.md §5.3: 2).
    ///   - statementTimeoutMs: per-statement timeout of ordinary statements (docs/design.md §5.3: 30 s).
    ///   - bulkTimeoutMs: per-statement timeout of a batch write (docs/design.md §5.3: 60 s).
    ///   - wallClock: this host's clock, the one receive times were read on.
    ///   - retention: which days a batch may create a partition for, and what `maintainTables` keeps (docs/design.md §4.3).
    public init(
        conninfo: String, flavor: DatabaseFlavor = .postgres, mode: WriteMode = .copy, poolSize: Int = 2,
        maintenance: PoolMaintenance<ContinuousClock.Instant>.Configuration = .init(), statementTimeoutMs: Int = 30_000, bulkTimeoutMs: Int = 60_000,
        wallClock: WallClock = .system, retention: TableRetention = .init(), logger: Logger
    ) {
        let partitions = PartitionDays(retention: retention)
        let sessions = (0..<max(1, poolSize)).map { _ in
            WriterSession(
                conninfo: conninfo, statementTimeoutMs: statementTimeoutMs, bulkTimeoutMs: bulkTimeoutMs, mode: mode, flavor: flavor,
                wallClock: wallClock, partitions: partitions)
        }
        self.pool = WriterPool(sessions: sessions, maintenance: maintenance, logger: logger)
        self.partitions = partitions
        self.logger = logger
    }

    /// One round of table maintenance (docs/design.md §4.3): the partitions of
    /// today and `PARTITIONS_AHEAD_DAYS` after it, the partitions older than
    /// `RETENTION_DAYS`, the side-table rows older than `SIDE_RETENTION_DAYS`.
    /// The days the writer knew are forgotten, so the next batch of each day
    /// checks its partition again.
    public func maintainTables() async throws -> TableMaintenanceReport {
        let logger = self.logger
        let partitions = self.partitions
        let report = try await pool.withSession { session in
            let connection = try session.connect(logger: logger)
            return try session.dialect.maintainTables(partitions.retention, nowMicros: session.wallClock.nowMicros(), connection: connection)
        }
        partitions.newRound()
        return report
    }

    /// Writer connections in the pool: how many batches can be written at once.
    public var poolSize: Int { pool.size }

    /// Writes one batch in one transaction. On failure nothing of the batch is
    /// committed and the error says whether a retry can help.
    public func write(_ batch: [OptionTrade]) async throws -> BatchResult {
        try await write(.trades(batch))
    }

    /// Writes one batch of any record type to its table in one transaction
    /// (`BatchStrategy`, the same for every type: `StoredRecord`).
    public func write(_ batch: RecordBatch) async throws -> BatchResult {
        guard !batch.isEmpty else { return BatchResult(trades: 0, inserted: 0) }
        let logger = self.logger
        return try await pool.withSession { session in
            switch batch {
            case .trades(let rows): try BatchStrategy.write(rows[...], session: session, logger: logger)
            case .aggregates(let rows): try BatchStrategy.write(rows[...], session: session, logger: logger)
            case .quotes(let rows): try BatchStrategy.write(rows[...], session: session, logger: logger)
            case .fairValues(let rows): try BatchStrategy.write(rows[...], session: session, logger: logger)
            }
        }
    }

    /// Stores dead letters (e.g. trades the decoder rejected).
    public func recordDeadLetters(_ letters: [DeadLetter]) async throws {
        guard !letters.isEmpty else { return }
        let logger = self.logger
        try await pool.withSession { session in
            try session.insertDeadLetters(letters, logger: logger)
        }
    }

    /// `SELECT 1`: the half-open breaker's probe.
    public func probe() async throws {
        let logger = self.logger
        try await pool.withSession { session in
            _ = try session.connect(logger: logger).query("SELECT 1")
        }
    }

    /// Writes `feed_gaps` changes in one transaction: `opened` inserts a row
    /// (`RETURNING id`: the row learns its id once committed), `closed` ends
    /// that row by its id, `closedLeftOpen` the rows others left open (every
    /// open row, or those ids); no clock picks the row. Every time is written
    /// on the database's clock (`GapTime`): a time read on this host as
    /// `clock_timestamp()` minus its age here. A close never ends before the
    /// row's start, and only ends a row still open (`PostgresDialect.gapStatement`).
    ///
    /// With a `fence`, the transaction first reads `ingest_state.leader_term`
    /// `FOR SHARE` and rolls back with `GapFenceError` unless it is the fence:
    /// a leader that lost its lock writes nothing, and a new leader raising
    /// the term waits for a transaction already past the check.
    ///
    /// QuestDB (no transactions, no ids, no pairs) takes the times as they are,
    /// one statement at a time (`QuestDBDialect.gapStatement`).
    public func recordGaps(_ changes: GapChanges) async throws {
        let events = changes.events
        guard !events.isEmpty else { return }
        let logger = self.logger
        try await pool.withSession { session in
            let connection = try session.connect(logger: logger)
            let transactional = session.dialect.isTransactional
            var inserted: [(row: GapRow, id: Int64)] = []
            do {
                if transactional {
                    try connection.execute("BEGIN")
                    if let fence = changes.fence {
                        let term = try connection.query(IngestState.leaderTermForShare).first?.first.flatMap { $0 }.flatMap { Int64($0) }
                        guard term == fence else { throw GapFenceError(fence: fence, term: term) }
                    }
                }
                for event in events {
                    var rowID: Int64?
                    if case .closed(let row, _, _, _) = event {
                        // Opened in this transaction, or written before; an open dropped unwritten leaves nothing to close.
                        rowID = inserted.last(where: { $0.row === row })?.id ?? row.id
                    }
                    guard let (sql, parameters) = session.dialect.gapStatement(event, rowID: rowID, nowMicros: session.wallClock.nowMicros())
                    else { continue }
                    let rows = try connection.query(sql, parameters)
                    if transactional, case .opened(let row) = event {
                        guard let id = rows.first?.first.flatMap({ $0 }).flatMap({ Int64($0) }) else {
                            throw DatabaseError(kind: .other, sqlState: nil, message: "INSERT INTO feed_gaps returned no id")
                        }
                        inserted.append((row, id))
                    }
                }
                if transactional { try connection.execute("COMMIT") }
            } catch {
                session.abandon(connection, inTransaction: transactional)
                throw error
            }
            for (row, id) in inserted { row.recorded(id: id) }
        }
    }

    /// Writes health-table rows (staleness transitions, connection events) in
    /// order. Each insert is `ON CONFLICT DO NOTHING` on the table's natural
    /// key (`migrations/0004_side_table_keys.sql`), so a list put back after
    /// a failure half-way is written again without doubling its first rows.
    public func recordHealthEvents(_ events: [HealthEvent]) async throws {
        guard !events.isEmpty else { return }
        let logger = self.logger
        try await pool.withSession { session in
            let connection = try session.connect(logger: logger)
            do {
                for event in events {
                    let (sql, parameters) = session.dialect.healthEvent(event)
                    _ = try connection.query(sql, parameters)
                }
            } catch {
                session.abandon(connection, inTransaction: false)
                throw error
            }
        }
    }

    /// Health-checks and closes idle connections as `PoolMaintenance` says;
    /// call it periodically (`startMaintenance` does, every few seconds).
    public func maintain(now: ContinuousClock.Instant = .now) async {
        await pool.maintain(now: now)
    }

    /// Runs `maintain` every `tick` until `shutdown`.
    public func startMaintenance(tick: Duration = .seconds(5)) {
        pool.startMaintenance(tick: tick)
    }

    /// Stops every statement in flight, at once and from any thread: the
    /// shutdown deadline passed (docs/faults.md, "Shutdown"). Each busy
    /// connection gets a cancel request; one that has not returned after
    /// `grace` has its socket shut down, which makes the blocked libpq call
    /// fail at once even when the server no longer answers. Nothing of a
    /// cancelled batch is committed: the caller spools it. Returns without waiting.
    public func cancelInFlight(grace: Duration = .milliseconds(300)) {
        pool.cancelInFlight(grace: grace)
    }

    /// The first writer connection's thread (docs/design.md §7, "One thread a flush").
    public var flushExecutor: (any TaskExecutor)? { pool.firstThread }

    /// Closes every connection (waiting for writes in flight) and stops the threads.
    public func shutdown() async {
        await pool.shutdown()
    }
}

extension PostgresTradeWriter: TradeWriting {}

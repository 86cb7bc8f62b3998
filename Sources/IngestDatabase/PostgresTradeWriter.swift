import Foundation
import Logging
import NIOPosix
import OptionsFeed
import Synchronization

/// What one committed batch did.
public struct BatchResult: Sendable, Equatable {
    /// Trades in the batch.
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
    /// `COPY … (FORMAT binary)` into a staging table, then `INSERT … SELECT … ON CONFLICT DO NOTHING`.
    case copy
    /// Multi-row `INSERT … VALUES … ON CONFLICT DO NOTHING` with bound parameters: the QuestDB path, runnable on Postgres.
    case insert
}

/// Writes batches of trades to PostgreSQL (docs/design.md §5.3): `COPY … FROM STDIN
/// (FORMAT binary)` into a temporary staging table, then `INSERT … SELECT …
/// ON CONFLICT DO NOTHING` into `options_trades`, one transaction per batch,
/// so a trade written twice is stored once. `WriteMode.insert` uses bound
/// multi-row INSERTs instead. A data or constraint error splits the batch
/// until the refused rows are isolated: they go to `dead_letters`, the rest
/// is committed (docs/design.md §5.3).
///
/// libpq blocks: each pooled connection lives on its own thread and is only
/// touched there (docs/design.md §1.4). The pool (docs/design.md §5.3, `DB_POOL_SIZE`, default 2)
/// hands out the lowest idle connection; idle ones get a health query every
/// 60 s and a broken one is replaced on its next use; idle ones beyond the
/// first are closed after 30 min (`PoolMaintenance`).
public final class PostgresTradeWriter: Sendable {
    private let slots: [Slot]
    private let state: Mutex<PoolState>
    private let maintenance: PoolMaintenance<ContinuousClock.Instant>
    private let maintenanceTask: Mutex<Task<Void, Never>?>
    private let logger: Logger

    /// One pooled connection: its thread and its session.
    private struct Slot: Sendable {
        let thread: NIOThreadPool
        let session: Session
    }

    /// Which slots are idle, who waits for one, and what maintenance needs to know.
    private struct PoolState {
        var slots: [PoolMaintenance<ContinuousClock.Instant>.Slot]
        var waiters: [CheckedContinuation<Int, Never>] = []
    }

    /// The connection and the reusable encode buffer, owned by the slot's thread.
    private final class Session: @unchecked Sendable {
        let conninfo: String
        /// Ordinary statements (probe, gaps, dead letters, health rows): docs/design.md §5.3, 30 s.
        let statementTimeoutMs: Int
        /// A batch write's statements, set per transaction: docs/design.md §5.3, 60 s.
        let bulkTimeoutMs: Int
        let mode: WriteMode
        let flavor: DatabaseFlavor
        /// Ages receive times for the database's clock (`IngestState`, `recordGaps`).
        let wallClock: WallClock
        /// Touched only on the slot's thread.
        var connection: PGConnection? {
            didSet { cancelHandle.withLock { $0 = connection?.makeCancelHandle() } }
        }
        /// How another thread stops this session's statement at the shutdown deadline.
        let cancelHandle = Mutex<CancelHandle?>(nil)
        var buffer: [UInt8] = []
        let encoder = TradeCopyEncoder()
        /// Batches left to send through the staging table before trying a direct COPY again.
        var stagingRun = 0
        /// Direct COPYs that met a duplicate and were redone through the staging table.
        var directCopyFallbacks = 0

        init(conninfo: String, statementTimeoutMs: Int, bulkTimeoutMs: Int, mode: WriteMode, flavor: DatabaseFlavor, wallClock: WallClock) {
            self.conninfo = conninfo
            self.wallClock = wallClock
            self.statementTimeoutMs = statementTimeoutMs
            self.bulkTimeoutMs = bulkTimeoutMs
            // QuestDB takes no COPY FROM STDIN: bound INSERTs are its only way in.
            self.mode = flavor == .questdb ? .insert : mode
            self.flavor = flavor
        }
    }

    static let stagingTable = "options_trades_staging"

    /// - Parameters:
    ///   - flavor: QuestDB always writes through bound INSERTs, without transactions (docs/design.md §5.3).
    ///   - poolSize: writer connections (docs/design.md §5.3: 2).
    ///   - statementTimeoutMs: per-statement timeout of ordinary statements (docs/design.md §5.3: 30 s).
    ///   - bulkTimeoutMs: per-statement timeout of a batch write (docs/design.md §5.3: 60 s).
    ///   - wallClock: this host's clock, the one receive times were read on.
    public init(
        conninfo: String, flavor: DatabaseFlavor = .postgres, mode: WriteMode = .copy, poolSize: Int = 2,
        maintenance: PoolMaintenance<ContinuousClock.Instant>.Configuration = .init(), statementTimeoutMs: Int = 30_000, bulkTimeoutMs: Int = 60_000,
        wallClock: WallClock = .system, logger: Logger
    ) {
        let now = ContinuousClock.now
        self.slots = (0..<max(1, poolSize)).map { _ in
            let thread = NIOThreadPool(numberOfThreads: 1)
            thread.start()
            return Slot(thread: thread, session: Session(
                conninfo: conninfo, statementTimeoutMs: statementTimeoutMs, bulkTimeoutMs: bulkTimeoutMs, mode: mode, flavor: flavor,
                wallClock: wallClock))
        }
        self.state = Mutex(PoolState(slots: slots.map { _ in .init(connected: false, lastUsed: now, lastChecked: now) }))
        self.maintenance = PoolMaintenance(configuration: maintenance)
        self.maintenanceTask = Mutex(nil)
        self.logger = logger
    }

    /// Writer connections in the pool: how many batches can be written at once.
    public var poolSize: Int { slots.count }

    /// Writes one batch in one transaction. On failure nothing of the batch is
    /// committed and the error says whether a retry can help.
    public func write(_ batch: [OptionTrade]) async throws -> BatchResult {
        guard !batch.isEmpty else { return BatchResult(trades: 0, inserted: 0) }
        let logger = self.logger
        return try await withSession { session in
            try Self.writeIsolatingBadRows(batch[...], session: session, logger: logger)
        }
    }

    /// Stores dead letters (e.g. trades the decoder rejected).
    public func recordDeadLetters(_ letters: [DeadLetter]) async throws {
        guard !letters.isEmpty else { return }
        let logger = self.logger
        try await withSession { session in
            let connection = try Self.connect(session, logger: logger)
            try Self.insertDeadLetters(letters, flavor: session.flavor, connection: connection)
        }
    }

    /// `SELECT 1`: the half-open breaker's probe.
    public func probe() async throws {
        let logger = self.logger
        try await withSession { session in
            _ = try Self.connect(session, logger: logger).query("SELECT 1")
        }
    }

    /// Writes `feed_gaps` changes in one transaction: `opened` inserts a row
    /// (`RETURNING id`: the row learns its id once committed), `closed` ends
    /// that row by its id, `closedLeftOpen` the rows others left open (every
    /// open row, or those ids); no clock picks the row. Every time is written
    /// on the database's clock (`GapTime`): a time read on this host as
    /// `clock_timestamp()` minus its age here. A close never ends before the
    /// row's start, and only ends a row still open.
    ///
    /// With a `fence`, the transaction first reads `ingest_state.leader_term`
    /// `FOR SHARE` and rolls back with `GapFenceError` unless it is the fence:
    /// a leader that lost its lock writes nothing, and a new leader raising
    /// the term waits for a transaction already past the check.
    ///
    /// QuestDB (no transactions, no pairs) takes the times as they are.
    public func recordGaps(_ changes: GapChanges) async throws {
        let events = changes.events
        guard !events.isEmpty else { return }
        let logger = self.logger
        try await withSession { session in
            let connection = try Self.connect(session, logger: logger)
            if session.flavor == .questdb {
                do {
                    for event in events {
                        let (sql, parameters) = QuestDBDialect.gapStatement(event)
                        _ = try connection.query(sql, parameters)
                    }
                } catch {
                    if !connection.isHealthy { session.connection = nil }
                    throw error
                }
                return
            }
            /// The SQL of `time` as parameter `index`, and the parameter.
            func at(_ time: GapTime, _ index: Int) -> (sql: String, parameter: String) {
                switch time.clock {
                case .database: ("'epoch'::timestamptz + $\(index)::bigint * interval '1 microsecond'", String(time.micros))
                case .local: ("clock_timestamp() - $\(index)::bigint * interval '1 microsecond'", String(session.wallClock.nowMicros() - time.micros))
                }
            }
            var inserted: [(row: GapRow, id: Int64)] = []
            do {
                try connection.execute("BEGIN")
                if let fence = changes.fence {
                    let term = try connection.query(IngestState.leaderTermForShare).first?.first.flatMap { $0 }.flatMap { Int64($0) }
                    guard term == fence else { throw GapFenceError(fence: fence, term: term) }
                }
                for event in events {
                    switch event {
                    case .opened(let row):
                        let start = at(row.startedAt, 1)
                        let rows = try connection.query(
                            "INSERT INTO feed_gaps (started_at, reason) VALUES (\(start.sql), $2) RETURNING id", [start.parameter, row.reason])
                        guard let id = rows.first?.first.flatMap({ $0 }).flatMap({ Int64($0) }) else {
                            throw DatabaseError(kind: .other, sqlState: nil, message: "INSERT INTO feed_gaps returned no id")
                        }
                        inserted.append((row, id))
                    case .closed(let row, let micros):
                        // Opened in this transaction, or written before; an open dropped unwritten leaves nothing to close.
                        guard let id = inserted.last(where: { $0.row === row })?.id ?? row.id else { continue }
                        let end = at(.local(micros), 2)
                        _ = try connection.query(
                            "UPDATE feed_gaps SET ended_at = GREATEST(started_at, \(end.sql)) WHERE id = $1 AND ended_at IS NULL",
                            [String(id), end.parameter])
                    case .closedLeftOpen(.every, let micros):
                        let end = at(.local(micros), 1)
                        _ = try connection.query(
                            "UPDATE feed_gaps SET ended_at = GREATEST(started_at, \(end.sql)) WHERE ended_at IS NULL", [end.parameter])
                    case .closedLeftOpen(.ids(let ids), let micros):
                        let end = at(.local(micros), 2)
                        _ = try connection.query(
                            "UPDATE feed_gaps SET ended_at = GREATEST(started_at, \(end.sql)) WHERE id = ANY($1::bigint[]) AND ended_at IS NULL",
                            ["{" + ids.map(String.init).joined(separator: ",") + "}", end.parameter])
                    }
                }
                try connection.execute("COMMIT")
            } catch {
                if connection.isHealthy { _ = try? connection.execute("ROLLBACK") } else { session.connection = nil }
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
        try await withSession { session in
            let connection = try Self.connect(session, logger: logger)
            do {
                for event in events {
                    let (sql, parameters) = session.flavor == .questdb
                        ? QuestDBDialect.healthEvent(event) : Self.postgresStatement(for: event)
                    _ = try connection.query(sql, parameters)
                }
            } catch {
                if !connection.isHealthy { session.connection = nil }
                throw error
            }
        }
    }

    static func postgresStatement(for event: HealthEvent) -> (String, [String?]) {
        let time = "'epoch'::timestamptz + $%d::bigint * interval '1 microsecond'"
        func at(_ index: Int) -> String { time.replacingOccurrences(of: "%d", with: String(index)) }
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

    /// Runs `body` on an idle pooled connection's thread, waiting for one when all are busy.
    private func withSession<R: Sendable>(_ body: @escaping @Sendable (Session) throws -> R) async throws -> R {
        let index = await acquire()
        defer { release(index) }
        let session = slots[index].session
        return try await slots[index].thread.runIfActive { try body(session) }
    }

    private func acquire() async -> Int {
        await withCheckedContinuation { continuation in
            let ready: Int? = state.withLock { state in
                if let index = state.slots.firstIndex(where: { !$0.busy }) {
                    state.slots[index].busy = true
                    return index
                }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// - Parameter used: a write ran on it (a health check is not a use: it must not keep an idle connection open).
    private func release(_ index: Int, used: Bool = true) {
        let connected = slots[index].session.connection != nil
        let now = ContinuousClock.now
        let waiter: CheckedContinuation<Int, Never>? = state.withLock { state in
            state.slots[index].connected = connected
            if used { state.slots[index].lastUsed = now }
            state.slots[index].lastChecked = now
            guard !state.waiters.isEmpty else {
                state.slots[index].busy = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume(returning: index)
    }

    /// Health-checks and closes idle connections as `PoolMaintenance` says;
    /// call it periodically (`startMaintenance` does, every few seconds).
    public func maintain(now: ContinuousClock.Instant = .now) async {
        let actions: [PoolMaintenance<ContinuousClock.Instant>.Action] = state.withLock { state in
            let actions = maintenance.actions(for: state.slots, now: now)
            for action in actions {
                switch action {
                case .check(let index), .close(let index): state.slots[index].busy = true
                }
            }
            return actions
        }
        for action in actions {
            switch action {
            case .check(let index):
                let session = slots[index].session
                let healthy = (try? await slots[index].thread.runIfActive { () -> Bool in
                    guard let connection = session.connection else { return false }
                    if (try? connection.query("SELECT 1")) != nil { return true }
                    session.connection = nil
                    return false
                }) ?? false
                if !healthy {
                    logger.warning("idle database connection failed its health check; it is replaced on next use", metadata: ["slot": "\(index)"])
                }
                release(index, used: false)
            case .close(let index):
                let session = slots[index].session
                _ = try? await slots[index].thread.runIfActive { session.connection = nil }
                logger.info("idle database connection closed", metadata: ["slot": "\(index)"])
                release(index, used: false)
            }
        }
    }

    /// Runs `maintain` every `tick` until `shutdown`.
    public func startMaintenance(tick: Duration = .seconds(5)) {
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                guard let self, !Task.isCancelled else { return }
                await self.maintain()
            }
        }
        maintenanceTask.withLock { $0 = task }
    }

    /// Stops every statement in flight, at once and from any thread: the
    /// shutdown deadline passed (docs/faults.md, "Shutdown"). Each busy
    /// connection gets a cancel request; one that has not returned after
    /// `grace` has its socket shut down, which makes the blocked libpq call
    /// fail at once even when the server no longer answers. Nothing of a
    /// cancelled batch is committed: the caller spools it. Returns without waiting.
    public func cancelInFlight(grace: Duration = .milliseconds(300)) {
        let busy: [Int] = state.withLock { state in state.slots.indices.filter { state.slots[$0].busy } }
        let handles = busy.compactMap { index in slots[index].session.cancelHandle.withLock { $0 }.map { (index, $0) } }
        guard !handles.isEmpty else { return }
        logger.warning("cancelling database statements in flight", metadata: ["connections": "\(handles.count)"])
        let graceMicros = UInt32(clamping: grace.components.seconds * 1_000_000 + grace.components.attoseconds / 1_000_000_000_000)
        for (_, handle) in handles {
            // PQcancel connects to the server: it may block as long as the server does not answer.
            Thread.detachNewThread { handle.cancel() }
        }
        Thread.detachNewThread { [self] in
            usleep(graceMicros)
            for (index, handle) in handles where state.withLock({ $0.slots[index].busy }) { handle.abort() }
        }
    }

    /// Closes every connection (waiting for writes in flight) and stops the threads.
    public func shutdown() async {
        maintenanceTask.withLock { $0?.cancel() }
        for index in slots.indices {
            let session = slots[index].session
            _ = try? await slots[index].thread.runIfActive { session.connection = nil }
            try? await slots[index].thread.shutdownGracefully()
        }
    }

    /// Writes a batch; when the rows are to blame, writes each half on its own
    /// until single refused rows remain, which become dead letters and the rest
    /// is committed. The rows are to blame for a data or constraint error
    /// (22xxx, 23xxx) at once, and for any other error that is not the
    /// connection's, the server's or the schema's (`DatabaseError.mayBeCausedByRows`:
    /// a trigger's `RAISE`, an index row too large, …) once it happened again on
    /// a connection that answers `SELECT 1`. Without that second rule such an
    /// error was retried for ever and, once it sat in the spool, blocked every
    /// write after it (docs/faults.md, "A bad row").
    private static func writeIsolatingBadRows(
        _ batch: ArraySlice<OptionTrade>, session: Session, logger: Logger, rowsConfirmedGuilty: Bool = false
    ) throws -> BatchResult {
        do {
            let inserted = try writeOnce(batch, session: session, logger: logger)
            return BatchResult(trades: batch.count, inserted: inserted)
        } catch let error as DatabaseError where error.kind == .data || error.kind == .constraint || error.mayBeCausedByRows {
            if error.mayBeCausedByRows, !rowsConfirmedGuilty {
                // Once more on a connection that answers: only an error that comes back is the rows'.
                _ = try connect(session, logger: logger).query("SELECT 1")
                do {
                    let inserted = try writeOnce(batch, session: session, logger: logger)
                    return BatchResult(trades: batch.count, inserted: inserted)
                } catch let again as DatabaseError where again.mayBeCausedByRows || again.kind == .data || again.kind == .constraint {
                    logger.warning(
                        "batch refused twice on a healthy connection; isolating the rows to blame",
                        metadata: ["trades": "\(batch.count)", "sqlstate": "\(again.sqlState ?? "")", "error": "\(again.message)"])
                    return try isolate(batch, after: again, session: session, logger: logger)
                }
            }
            return try isolate(batch, after: error, session: session, logger: logger)
        }
    }

    /// Splits a refused batch in halves, each written on its own; a single refused row is dead-lettered.
    private static func isolate(_ batch: ArraySlice<OptionTrade>, after error: DatabaseError, session: Session, logger: Logger) throws -> BatchResult {
        guard batch.count > 1 else {
            let trade = batch[batch.startIndex]
            let letter = DeadLetter(
                source: "database", reason: error.deadLetterReason, sqlState: error.sqlState, message: error.message,
                raw: trade.polygonJSON)
            try insertDeadLetters([letter], flavor: session.flavor, connection: connect(session, logger: logger))
            logger.warning(
                "row refused by the database, dead-lettered",
                metadata: ["sqlstate": "\(error.sqlState ?? "")", "error": "\(error.message)", "sym": "\(trade.symbol.raw)",
                           "seq": "\(trade.sequence)"])
            return BatchResult(trades: 1, inserted: 0, deadLetters: [letter])
        }
        let middle = batch.startIndex + batch.count / 2
        let left = try writeIsolatingBadRows(batch[..<middle], session: session, logger: logger, rowsConfirmedGuilty: true)
        let right = try writeIsolatingBadRows(batch[middle...], session: session, logger: logger, rowsConfirmedGuilty: true)
        return BatchResult(
            trades: left.trades + right.trades, inserted: left.inserted + right.inserted,
            deadLetters: left.deadLetters + right.deadLetters)
    }

    /// One transaction; nothing of the batch is committed when it throws.
    private static func writeOnce(_ batch: ArraySlice<OptionTrade>, session: Session, logger: Logger) throws -> Int {
        let connection = try connect(session, logger: logger)
        let columns = TradeCopyEncoder.columns.joined(separator: ", ")
        if session.flavor == .questdb {
            // No transaction: DEDUP UPSERT KEYS makes a partly written batch harmless to write again.
            do {
                var inserted = 0
                var start = batch.startIndex
                while start < batch.endIndex {
                    let end = min(start + QuestDBDialect.rowsPerStatement, batch.endIndex)
                    inserted += try connection.executeCounting(
                        QuestDBDialect.insertTrades(rows: end - start), QuestDBDialect.parameters(batch[start..<end]))
                    start = end
                }
                return inserted
            } catch {
                if !connection.isHealthy { session.connection = nil }
                throw error
            }
        }
        do {
            try connection.execute("BEGIN; SET LOCAL statement_timeout = \(session.bulkTimeoutMs)")
            var inserted = 0
            switch session.mode {
            case .copy:
                session.encoder.encode(batch, into: &session.buffer)
                if let direct = try copyDirect(batch.count, session: session, connection: connection, columns: columns) {
                    inserted = direct
                } else {
                    try session.buffer.withUnsafeBytes { bytes in
                        try connection.copyIn("COPY \(stagingTable) (\(columns)) FROM STDIN (FORMAT binary)", data: bytes)
                    }
                    inserted = try connection.execute(
                        "INSERT INTO options_trades (\(columns)) SELECT \(columns) FROM \(stagingTable) ON CONFLICT (sym, ts, seq) DO NOTHING"
                    )
                }
            case .insert:
                var start = batch.startIndex
                while start < batch.endIndex {
                    let end = min(start + TradeInsertStatement.rowsPerStatement, batch.endIndex)
                    let statement = TradeInsertStatement(rows: end - start)
                    inserted += try connection.executeCounting(statement.sql, TradeInsertStatement.parameters(batch[start..<end]))
                    start = end
                }
            }
            // The newest receive time moves with the rows, in the same transaction, on the database's clock (`IngestState`).
            let lastReceived = batch.lazy.map(\.receivedAtMicros).max() ?? 0
            try connection.execute(IngestState.advance(ageMicros: session.wallClock.nowMicros() - lastReceived) + "; COMMIT")
            return inserted
        } catch {
            if connection.isHealthy {
                _ = try? connection.execute("ROLLBACK")
            } else {
                session.connection = nil
            }
            throw error
        }
    }

    /// Batches that go through the staging table after a direct COPY met a
    /// duplicate: duplicates come in runs (a spool or a recording replayed, a
    /// restart), and each failed direct attempt costs a second COPY.
    static let stagingRunAfterDuplicate = 20

    /// The optimistic path: COPY the encoded batch straight into
    /// `options_trades` under a savepoint. `nil`: a row was already there
    /// (`unique_violation`, 23505), the savepoint is rolled back and the caller
    /// redoes the batch through the staging table + `ON CONFLICT DO NOTHING`,
    /// so exactly-once is unchanged. Any other error aborts the transaction as before.
    private static func copyDirect(_ count: Int, session: Session, connection: PGConnection, columns: String) throws -> Int? {
        if session.stagingRun > 0 {
            session.stagingRun -= 1
            return nil
        }
        try connection.execute("SAVEPOINT direct_copy")
        do {
            try session.buffer.withUnsafeBytes { bytes in
                try connection.copyIn("COPY options_trades (\(columns)) FROM STDIN (FORMAT binary)", data: bytes)
            }
        } catch let error as DatabaseError where error.sqlState == "23505" {
            try connection.execute("ROLLBACK TO SAVEPOINT direct_copy")
            session.stagingRun = stagingRunAfterDuplicate
            session.directCopyFallbacks += 1
            return nil
        }
        try connection.execute("RELEASE SAVEPOINT direct_copy")
        return count
    }

    /// `ON CONFLICT DO NOTHING` on `(source, reason, raw_bytes, md5(raw))`: a
    /// retry or a replay of the same letters adds nothing (QuestDB: no key, see `migrations/questdb`).
    private static func insertDeadLetters(_ letters: [DeadLetter], flavor: DatabaseFlavor, connection: PGConnection) throws {
        let sql = flavor == .questdb
            ? QuestDBDialect.insertDeadLetter
            : "INSERT INTO dead_letters (source, reason, sqlstate, message, raw, raw_bytes) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
        for letter in letters {
            _ = try connection.query(
                sql,
                [letter.source, letter.reason, letter.sqlState, letter.message, letter.raw, String(letter.rawBytes)])
        }
    }

    private static func connect(_ session: Session, logger: Logger) throws(DatabaseError) -> PGConnection {
        if let connection = session.connection, connection.isHealthy { return connection }
        session.connection = nil
        let connection = try PGConnection(conninfo: session.conninfo)
        guard session.flavor == .postgres else {
            logger.info("database connected", metadata: ["db": "\(PGConnection.masked(conninfo: session.conninfo))", "flavor": "questdb"])
            session.connection = connection
            return connection
        }
        try connection.execute("SET statement_timeout = \(session.statementTimeoutMs)")
        try connection.execute(
            "CREATE TEMP TABLE IF NOT EXISTS \(stagingTable) (LIKE options_trades INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        logger.info("database connected", metadata: ["db": "\(PGConnection.masked(conninfo: session.conninfo))"])
        session.connection = connection
        return connection
    }
}

extension PostgresTradeWriter: TradeWriting {}

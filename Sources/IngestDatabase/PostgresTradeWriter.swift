import Logging
import NIOPosix
import OptionsFeed

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

/// How batches reach `options_trades` (SPEC §5.3).
public enum WriteMode: String, Sendable, CaseIterable {
    /// `COPY … (FORMAT binary)` into a staging table, then `INSERT … SELECT … ON CONFLICT DO NOTHING`.
    case copy
    /// Multi-row `INSERT … VALUES … ON CONFLICT DO NOTHING` with bound parameters: the QuestDB path, runnable on Postgres.
    case insert
}

/// Writes batches of trades to PostgreSQL (SPEC §5.3): `COPY … FROM STDIN
/// (FORMAT binary)` into a temporary staging table, then `INSERT … SELECT …
/// ON CONFLICT DO NOTHING` into `options_trades`, one transaction per batch,
/// so a trade written twice is stored once. `WriteMode.insert` uses bound
/// multi-row INSERTs instead. A data or constraint error splits the batch
/// until the refused rows are isolated: they go to `dead_letters`, the rest
/// is committed (SPEC §5.3).
///
/// libpq blocks: the connection lives on this writer's own thread and is
/// only touched there (STYLE §4).
public final class PostgresTradeWriter: Sendable {
    private let thread: NIOThreadPool
    private let session: Session
    private let logger: Logger

    /// The connection and the reusable encode buffer, owned by the writer's thread.
    private final class Session: @unchecked Sendable {
        let conninfo: String
        let statementTimeoutMs: Int
        let mode: WriteMode
        var connection: PGConnection?
        var buffer: [UInt8] = []
        let encoder = TradeCopyEncoder()

        init(conninfo: String, statementTimeoutMs: Int, mode: WriteMode) {
            self.conninfo = conninfo
            self.statementTimeoutMs = statementTimeoutMs
            self.mode = mode
        }
    }

    static let stagingTable = "options_trades_staging"

    /// - Parameter bulkTimeoutMs: per-statement timeout of a batch write (SPEC §5.3: 60 s).
    public init(conninfo: String, mode: WriteMode = .copy, bulkTimeoutMs: Int = 60_000, logger: Logger) {
        self.thread = NIOThreadPool(numberOfThreads: 1)
        self.session = Session(conninfo: conninfo, statementTimeoutMs: bulkTimeoutMs, mode: mode)
        self.logger = logger
        thread.start()
    }

    /// Writes one batch in one transaction. On failure nothing of the batch is
    /// committed and the error says whether a retry can help.
    public func write(_ batch: [OptionTrade]) async throws -> BatchResult {
        guard !batch.isEmpty else { return BatchResult(trades: 0, inserted: 0) }
        let session = self.session
        let logger = self.logger
        return try await thread.runIfActive {
            try Self.writeIsolatingBadRows(batch[...], session: session, logger: logger)
        }
    }

    /// Stores dead letters (e.g. trades the decoder rejected).
    public func recordDeadLetters(_ letters: [DeadLetter]) async throws {
        guard !letters.isEmpty else { return }
        let session = self.session
        let logger = self.logger
        try await thread.runIfActive {
            let connection = try Self.connect(session, logger: logger)
            try Self.insertDeadLetters(letters, connection: connection)
        }
    }

    /// `SELECT 1`: the half-open breaker's probe.
    public func probe() async throws {
        let session = self.session
        let logger = self.logger
        try await thread.runIfActive {
            _ = try Self.connect(session, logger: logger).query("SELECT 1")
        }
    }

    /// Writes `feed_gaps` changes in one transaction: `opened` inserts a row,
    /// `closed` ends every open row that started before it.
    public func recordGaps(_ events: [GapEvent]) async throws {
        guard !events.isEmpty else { return }
        let session = self.session
        let logger = self.logger
        try await thread.runIfActive {
            let connection = try Self.connect(session, logger: logger)
            let time = "'epoch'::timestamptz + $1::bigint * interval '1 microsecond'"
            do {
                try connection.execute("BEGIN")
                for event in events {
                    switch event {
                    case .opened(let micros, let reason):
                        _ = try connection.query(
                            "INSERT INTO feed_gaps (started_at, reason) VALUES (\(time), $2)", [String(micros), reason])
                    case .closed(let micros):
                        _ = try connection.query(
                            "UPDATE feed_gaps SET ended_at = \(time) WHERE ended_at IS NULL AND started_at <= \(time)",
                            [String(micros)])
                    }
                }
                try connection.execute("COMMIT")
            } catch {
                if connection.isHealthy { _ = try? connection.execute("ROLLBACK") } else { session.connection = nil }
                throw error
            }
        }
    }

    /// Closes the connection and stops the writer's thread.
    public func shutdown() async {
        let session = self.session
        _ = try? await thread.runIfActive { session.connection = nil }
        try? await thread.shutdownGracefully()
    }

    /// Writes a batch; on a data or constraint error, writes each half on its
    /// own until single refused rows remain, which become dead letters.
    private static func writeIsolatingBadRows(_ batch: ArraySlice<OptionTrade>, session: Session, logger: Logger) throws -> BatchResult {
        do {
            let inserted = try writeOnce(batch, session: session, logger: logger)
            return BatchResult(trades: batch.count, inserted: inserted)
        } catch let error as DatabaseError where error.kind == .data || error.kind == .constraint {
            guard batch.count > 1 else {
                let trade = batch[batch.startIndex]
                let letter = DeadLetter(
                    source: "database", reason: error.kind.rawValue, sqlState: error.sqlState, message: error.message,
                    raw: trade.polygonJSON)
                try insertDeadLetters([letter], connection: connect(session, logger: logger))
                logger.warning(
                    "row refused by the database, dead-lettered",
                    metadata: ["sqlstate": "\(error.sqlState ?? "")", "error": "\(error.message)", "sym": "\(trade.symbol.raw)",
                               "seq": "\(trade.sequence)"])
                return BatchResult(trades: 1, inserted: 0, deadLetters: [letter])
            }
            let middle = batch.startIndex + batch.count / 2
            let left = try writeIsolatingBadRows(batch[..<middle], session: session, logger: logger)
            let right = try writeIsolatingBadRows(batch[middle...], session: session, logger: logger)
            return BatchResult(
                trades: left.trades + right.trades, inserted: left.inserted + right.inserted,
                deadLetters: left.deadLetters + right.deadLetters)
        }
    }

    /// One transaction; nothing of the batch is committed when it throws.
    private static func writeOnce(_ batch: ArraySlice<OptionTrade>, session: Session, logger: Logger) throws -> Int {
        let connection = try connect(session, logger: logger)
        let columns = TradeCopyEncoder.columns.joined(separator: ", ")
        do {
            try connection.execute("BEGIN")
            var inserted = 0
            switch session.mode {
            case .copy:
                session.encoder.encode(batch, into: &session.buffer)
                try session.buffer.withUnsafeBytes { bytes in
                    try connection.copyIn("COPY \(stagingTable) (\(columns)) FROM STDIN (FORMAT binary)", data: bytes)
                }
                inserted = try connection.execute(
                    "INSERT INTO options_trades (\(columns)) SELECT \(columns) FROM \(stagingTable) ON CONFLICT (sym, ts, seq) DO NOTHING"
                )
            case .insert:
                var start = batch.startIndex
                while start < batch.endIndex {
                    let end = min(start + TradeInsertStatement.rowsPerStatement, batch.endIndex)
                    let statement = TradeInsertStatement(rows: end - start)
                    inserted += try connection.executeCounting(statement.sql, TradeInsertStatement.parameters(batch[start..<end]))
                    start = end
                }
            }
            try connection.execute("COMMIT")
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

    private static func insertDeadLetters(_ letters: [DeadLetter], connection: PGConnection) throws {
        for letter in letters {
            _ = try connection.query(
                "INSERT INTO dead_letters (source, reason, sqlstate, message, raw) VALUES ($1, $2, $3, $4, $5)",
                [letter.source, letter.reason, letter.sqlState, letter.message, letter.raw])
        }
    }

    private static func connect(_ session: Session, logger: Logger) throws(DatabaseError) -> PGConnection {
        if let connection = session.connection, connection.isHealthy { return connection }
        session.connection = nil
        let connection = try PGConnection(conninfo: session.conninfo)
        try connection.execute("SET statement_timeout = \(session.statementTimeoutMs)")
        try connection.execute(
            "CREATE TEMP TABLE IF NOT EXISTS \(stagingTable) (LIKE options_trades INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        logger.info("database connected", metadata: ["db": "\(PGConnection.masked(conninfo: session.conninfo))"])
        session.connection = connection
        return connection
    }
}

import Logging
import NIOPosix
import OptionsFeed

/// What one committed batch did.
public struct BatchResult: Sendable, Equatable {
    /// Trades in the batch.
    public var trades: Int
    /// Rows new to the table (the rest were already there: duplicates).
    public var inserted: Int
}

/// Writes batches of trades to PostgreSQL (SPEC §5.3): `COPY … FROM STDIN
/// (FORMAT binary)` into a temporary staging table, then `INSERT … SELECT …
/// ON CONFLICT DO NOTHING` into `options_trades`, one transaction per batch,
/// so a trade written twice is stored once.
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
        var connection: PGConnection?
        var buffer: [UInt8] = []
        let encoder = TradeCopyEncoder()

        init(conninfo: String, statementTimeoutMs: Int) {
            self.conninfo = conninfo
            self.statementTimeoutMs = statementTimeoutMs
        }
    }

    static let stagingTable = "options_trades_staging"

    /// - Parameter bulkTimeoutMs: per-statement timeout of a batch write (SPEC §5.3: 60 s).
    public init(conninfo: String, bulkTimeoutMs: Int = 60_000, logger: Logger) {
        self.thread = NIOThreadPool(numberOfThreads: 1)
        self.session = Session(conninfo: conninfo, statementTimeoutMs: bulkTimeoutMs)
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
            try Self.write(batch, session: session, logger: logger)
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

    private static func write(_ batch: [OptionTrade], session: Session, logger: Logger) throws -> BatchResult {
        let connection = try connect(session, logger: logger)
        session.encoder.encode(batch, into: &session.buffer)
        let columns = TradeCopyEncoder.columns.joined(separator: ", ")
        do {
            try connection.execute("BEGIN")
            try session.buffer.withUnsafeBytes { bytes in
                try connection.copyIn("COPY \(stagingTable) (\(columns)) FROM STDIN (FORMAT binary)", data: bytes)
            }
            let inserted = try connection.execute(
                "INSERT INTO options_trades (\(columns)) SELECT \(columns) FROM \(stagingTable) ON CONFLICT (sym, ts, seq) DO NOTHING"
            )
            try connection.execute("COMMIT")
            return BatchResult(trades: batch.count, inserted: inserted)
        } catch {
            if connection.isHealthy {
                _ = try? connection.execute("ROLLBACK")
            } else {
                session.connection = nil
            }
            throw error
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

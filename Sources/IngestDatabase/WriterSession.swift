import Logging
import OptionsFeed
import Synchronization

/// One pooled writer connection and what lives with it: its settings, its
/// dialect, the reusable COPY buffer and the direct COPY's `StagingRun`
/// (docs/design.md §5.3). Touched only on its `WriterPool` slot's thread
/// (docs/design.md §1.4), but for `cancelHandle`, which any thread may use.
final class WriterSession: @unchecked Sendable {
    let conninfo: String
    /// Ordinary statements (probe, gaps, dead letters, health rows): docs/design.md §5.3, 30 s.
    let statementTimeoutMs: Int
    /// A batch write's statements, set per transaction: docs/design.md §5.3, 60 s.
    let bulkTimeoutMs: Int
    let mode: WriteMode
    let flavor: DatabaseFlavor
    let dialect: any WriterDialect.Type
    /// Ages receive times for the database's clock (`IngestState`, `recordGaps`).
    let wallClock: WallClock
    var connection: PGConnection? {
        didSet { cancelHandle.withLock { $0 = connection?.makeCancelHandle() } }
    }
    /// How another thread stops this session's statement at the shutdown deadline.
    let cancelHandle = Mutex<CancelHandle?>(nil)
    var buffer: [UInt8] = []
    let encoder = TradeCopyEncoder()
    var stagingRun = StagingRun()
    /// The days known to have a partition, shared by the pool's sessions
    /// (PostgreSQL; `nil` on QuestDB, which makes its own partitions).
    let partitions: PartitionDays?

    init(
        conninfo: String, statementTimeoutMs: Int, bulkTimeoutMs: Int, mode: WriteMode, flavor: DatabaseFlavor, wallClock: WallClock,
        partitions: PartitionDays? = nil
    ) {
        self.conninfo = conninfo
        self.partitions = flavor == .postgres ? partitions : nil
        self.wallClock = wallClock
        self.statementTimeoutMs = statementTimeoutMs
        self.bulkTimeoutMs = bulkTimeoutMs
        self.flavor = flavor
        self.dialect = flavor.dialect
        // QuestDB takes no COPY FROM STDIN: bound INSERTs are its only way in.
        self.mode = dialect.isTransactional ? mode : .insert
    }

    /// The open connection, or a new one set up for the dialect when there
    /// is none or libpq reports it broken.
    func connect(logger: Logger) throws(DatabaseError) -> PGConnection {
        if let connection, connection.isHealthy { return connection }
        self.connection = nil
        let connection = try PGConnection(conninfo: conninfo)
        for statement in dialect.connectionSetup(statementTimeoutMs: statementTimeoutMs) {
            try connection.execute(statement)
        }
        var metadata: Logger.Metadata = ["db": "\(PGConnection.masked(conninfo: conninfo))"]
        if flavor != .postgres { metadata["flavor"] = "\(flavor.rawValue)" }
        logger.info("database connected", metadata: metadata)
        self.connection = connection
        return connection
    }

    /// After a statement on `connection` failed: a broken connection is
    /// dropped (the next use replaces it); a live one in a transaction is rolled back.
    func abandon(_ connection: PGConnection, inTransaction: Bool) {
        if !connection.isHealthy {
            self.connection = nil
        } else if inTransaction {
            _ = try? connection.execute("ROLLBACK")
        }
    }

    /// Writes `dead_letters` rows, one statement each (`WriterDialect.insertDeadLetter`).
    func insertDeadLetters(_ letters: [DeadLetter], logger: Logger) throws {
        let connection = try connect(logger: logger)
        for letter in letters {
            _ = try connection.query(
                dialect.insertDeadLetter,
                [letter.source, letter.reason, letter.sqlState, letter.message, letter.raw, String(letter.rawBytes)])
        }
    }
}

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
        didSet {
            cancelHandle.withLock { $0 = connection?.makeCancelHandle() }
            deadLettersTyped = nil
        }
    }
    /// Whether `dead_letters` has `event_type` (migration 0009), asked once per connection.
    private var deadLettersTyped: Bool?
    /// How another thread stops this session's statement at the shutdown deadline.
    let cancelHandle = Mutex<CancelHandle?>(nil)
    var buffer: [UInt8] = []
    /// Per record type: duplicates come in runs of one type.
    var stagingRuns: [RecordKind: StagingRun] = [:]
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

    /// The staging table of `kind` on `connection`, in the batch's transaction.
    /// Asked each time (`IF NOT EXISTS`) rather than remembered: a transaction
    /// rolled back takes a table it created with it. Only a batch that met a
    /// duplicate comes here, and the trades' table comes with `connectionSetup`.
    func prepareStaging(_ kind: RecordKind, connection: PGConnection) throws(DatabaseError) {
        guard kind != .trade else { return }
        try connection.execute(PostgresDialect.createStaging(kind))
    }

    /// Writes `dead_letters` rows, one statement each (`WriterDialect.insertDeadLetter`).
    func insertDeadLetters(_ letters: [DeadLetter], logger: Logger) throws {
        let connection = try connect(logger: logger)
        if deadLettersTyped == nil {
            // Before migration 0009 the letters are written without their type: a side table must not stop the writer.
            deadLettersTyped = dialect.isTransactional ? try connection.query(PostgresDialect.deadLetterTypeExists).first?.first == "t" : true
        }
        let typed = deadLettersTyped == true
        for letter in letters {
            let parameters = [letter.source, letter.reason, letter.sqlState, letter.message, letter.raw, String(letter.rawBytes)]
            _ = try connection.query(
                typed ? dialect.insertTypedDeadLetter : dialect.insertDeadLetter, typed ? parameters + [letter.eventType] : parameters)
        }
    }
}

import Logging
import OptionsFeed

/// How a batch reaches `options_trades` on one session (docs/design.md §5.3):
/// one transaction per batch on PostgreSQL, with the direct COPY under a
/// savepoint, the staging table + `INSERT … ON CONFLICT` after a duplicate
/// (`StagingRun`), or bound multi-row INSERTs (`WriteMode.insert`, QuestDB's
/// only way, without a transaction); and the splitting of a refused batch
/// until its bad rows are alone and dead-lettered (docs/faults.md, "A bad
/// row"). The statements come from the session's `WriterDialect`; only
/// PostgreSQL takes transactions, COPY and a staging table
/// (`WriterDialect.isTransactional`), so those are `PostgresDialect`'s.
enum BatchStrategy {
    /// Writes a batch; when the rows are to blame, writes each half on its own
    /// until single refused rows remain, which become dead letters and the rest
    /// is committed. The rows are to blame for a data or constraint error
    /// (22xxx, 23xxx) at once, and for any other error that is not the
    /// connection's, the server's or the schema's (`DatabaseError.mayBeCausedByRows`:
    /// a trigger's `RAISE`, an index row too large, …) once it happened again on
    /// a connection that answers `SELECT 1`. Without that second rule such an
    /// error was retried for ever and, once it sat in the spool, blocked every
    /// write after it (docs/faults.md, "A bad row").
    static func write<R: StoredRecord>(
        _ batch: ArraySlice<R>, session: WriterSession, logger: Logger, rowsConfirmedGuilty: Bool = false
    ) throws -> BatchResult {
        do {
            let inserted: Int
            do {
                inserted = try writeOnce(batch, session: session, logger: logger)
            } catch let error as DatabaseError where error.isNoPartition && !rowsConfirmedGuilty && session.partitions != nil {
                // What this process knew of the partitions may be stale: ask again, once, before blaming the rows.
                session.partitions?.forget()
                inserted = try writeOnce(batch, session: session, logger: logger)
            }
            return BatchResult(trades: batch.count, inserted: inserted)
        } catch let error as DatabaseError where error.kind == .data || error.kind == .constraint || error.mayBeCausedByRows {
            if error.mayBeCausedByRows, !rowsConfirmedGuilty {
                // Once more on a connection that answers: only an error that comes back is the rows'.
                _ = try session.connect(logger: logger).query("SELECT 1")
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
    /// Rows of days without a partition that may not get one (docs/design.md §4.3) are
    /// dead-lettered together first, without a write each: a replay of days older than
    /// `RETENTION_DAYS` would otherwise cost two statements a row.
    private static func isolate<R: StoredRecord>(_ batch: ArraySlice<R>, after error: DatabaseError, session: WriterSession, logger: Logger) throws -> BatchResult {
        if error.isNoPartition, let refusedDays = session.partitions?.refusedDays, !refusedDays.isEmpty {
            // One snapshot, one pass: every row is in exactly one of the two.
            var refused: [R] = [], rest: [R] = []
            for record in batch {
                if refusedDays.contains(TableRetention.day(ofMilliseconds: record.partitionMs)) {
                    refused.append(record)
                } else {
                    rest.append(record)
                }
            }
            if !refused.isEmpty {
                let letters = refused.map { record in
                    DeadLetter(
                        source: "database", reason: error.deadLetterReason, sqlState: error.sqlState, message: error.message, raw: record.polygonJSON,
                        eventType: record.eventType)
                }
                try session.insertDeadLetters(letters, logger: logger)
                logger.warning(
                    "rows of days without a partition dead-lettered",
                    metadata: ["rows": "\(refused.count)", "table": "\(R.kind.table)", "sqlstate": "\(error.sqlState ?? "")"])
                let written = rest.isEmpty ? BatchResult(trades: 0, inserted: 0) : try write(rest[...], session: session, logger: logger, rowsConfirmedGuilty: true)
                return BatchResult(
                    trades: written.trades + refused.count, inserted: written.inserted, deadLetters: letters + written.deadLetters)
            }
        }
        guard batch.count > 1 else {
            let record = batch[batch.startIndex]
            let letter = DeadLetter(
                source: "database", reason: error.deadLetterReason, sqlState: error.sqlState, message: error.message,
                raw: record.polygonJSON, eventType: record.eventType)
            try session.insertDeadLetters([letter], logger: logger)
            logger.warning(
                "row refused by the database, dead-lettered",
                metadata: ["sqlstate": "\(error.sqlState ?? "")", "error": "\(error.message)", "table": "\(R.kind.table)",
                           "event": "\(record.polygonJSON.prefix(300))"])
            return BatchResult(trades: 1, inserted: 0, deadLetters: [letter])
        }
        let middle = batch.startIndex + batch.count / 2
        let left = try write(batch[..<middle], session: session, logger: logger, rowsConfirmedGuilty: true)
        let right = try write(batch[middle...], session: session, logger: logger, rowsConfirmedGuilty: true)
        return BatchResult(
            trades: left.trades + right.trades, inserted: left.inserted + right.inserted,
            deadLetters: left.deadLetters + right.deadLetters)
    }

    /// One transaction where the dialect has them; nothing of the batch is
    /// committed when it throws. Without transactions (QuestDB) a part may be
    /// written: its dedup keys make writing it again harmless.
    ///
    /// On the direct COPY path a batch costs three round trips to the server
    /// (docs/performance.md): `BEGIN`, the savepoint and the start of the COPY
    /// go as one simple query, then the COPY's rows, then the savepoint's
    /// release, the batch's `ingest_state` and `COMMIT` as one.
    private static func writeOnce<R: StoredRecord>(_ batch: ArraySlice<R>, session: WriterSession, logger: Logger) throws -> Int {
        let connection = try session.connect(logger: logger)
        let transactional = session.dialect.isTransactional
        do {
            // The partitions of the batch's days, before its transaction (docs/design.md §4.3).
            try session.partitions?.prepare(
                days: PartitionDays.days(of: batch), table: R.kind.table, nowMicros: session.wallClock.nowMicros(), connection: connection)
            // Sent with the batch's first statement.
            var begin = transactional ? PostgresDialect.beginBatch(bulkTimeoutMs: session.bulkTimeoutMs) : nil
            let inserted: Int
            var savepointOpen = false
            switch session.mode {
            case .copy:
                if let direct = try copyDirect(batch, begin: &begin, session: session, connection: connection) {
                    inserted = direct
                    savepointOpen = true
                } else {
                    if let statement = begin.take() { try connection.execute(statement) }
                    try session.prepareStaging(R.kind, connection: connection)
                    try copy(batch, sql: PostgresDialect.copyIntoStaging(R.self), session: session, connection: connection)
                    inserted = try connection.execute(PostgresDialect.insertFromStaging(R.self))
                }
            case .insert:
                if let statement = begin.take() { try connection.execute(statement) }
                inserted = try insert(batch, flavor: session.flavor, connection: connection)
            }
            if transactional {
                let commit = R.commitBatch(batch, nowMicros: session.wallClock.nowMicros())
                try connection.execute(savepointOpen ? PostgresDialect.releaseDirectCopy + "; " + commit : commit)
            }
            return inserted
        } catch {
            session.abandon(connection, inTransaction: transactional)
            throw error
        }
    }

    /// Multi-row INSERTs of the dialect's `rowsPerStatement` rows; the rows new to the table.
    static func insert<R: StoredRecord>(_ batch: ArraySlice<R>, flavor: DatabaseFlavor, connection: PGConnection) throws -> Int {
        var inserted = 0
        var start = batch.startIndex
        while start < batch.endIndex {
            let end = min(start + R.rowsPerStatement, batch.endIndex)
            inserted += try connection.executeCounting(R.insertStatement(rows: end - start, flavor: flavor), R.insertParameters(batch[start..<end], flavor: flavor))
            start = end
        }
        return inserted
    }

    /// The optimistic path: COPY the encoded batch straight into
    /// `options_trades` under a savepoint, which the caller releases with its
    /// commit; `begin` (the transaction's start, if not sent yet) goes in the
    /// same simple query as the savepoint and the COPY. `nil`: a row was
    /// already there (`unique_violation`, 23505), the savepoint is rolled back
    /// and the caller redoes the batch through the staging table + `ON
    /// CONFLICT DO NOTHING`, so exactly-once is unchanged. Any other error
    /// aborts the transaction as before. A batch of a `StagingRun` skips it
    /// (and `begin` is left to the caller).
    private static func copyDirect<R: StoredRecord>(
        _ batch: ArraySlice<R>, begin: inout String?, session: WriterSession, connection: PGConnection
    ) throws -> Int? {
        guard session.stagingRuns[R.kind, default: StagingRun()].nextBatchTriesDirectCopy() else { return nil }
        let start = [begin.take(), PostgresDialect.directCopySavepoint, PostgresDialect.copyDirect(R.self)].compactMap { $0 }
        do {
            try copy(batch, sql: start.joined(separator: "; "), session: session, connection: connection)
        } catch let error as DatabaseError where error.sqlState == "23505" {
            try connection.execute(PostgresDialect.rollbackDirectCopy)
            session.stagingRuns[R.kind, default: StagingRun()].metDuplicate()
            return nil
        }
        return batch.count
    }

    /// `batch` into the COPY statement `sql`, encoded and sent `CopyStream.rowsPerPiece`
    /// rows at a time into the session's buffer: the buffer holds a piece, never
    /// the whole batch (a 10 000-trade batch is ~2 MB encoded; docs/design.md §1.4).
    static func copy<R: StoredRecord>(_ batch: ArraySlice<R>, sql: String, session: WriterSession, connection: PGConnection) throws {
        defer {
            // A piece of huge rows (tens of thousands of conditions) may have grown it: not kept.
            if session.buffer.capacity > CopyStream.largestKeptBuffer { session.buffer = [] }
        }
        try connection.copyIn(sql) { send in
            var start = batch.startIndex
            repeat {
                let end = min(start + CopyStream.rowsPerPiece, batch.endIndex)
                let ends = CopyStream.Ends(header: start == batch.startIndex, trailer: end == batch.endIndex)
                R.encodeCopy(batch[start..<end], ends: ends, into: &session.buffer)
                try session.buffer.withUnsafeBytes { bytes in try send(bytes) }
                start = end
            } while start < batch.endIndex
        }
    }
}

/// Batches that go through the staging table after a direct COPY met a
/// duplicate (docs/design.md §5.3): duplicates come in runs (a spool or a
/// recording replayed, a restart), and each failed direct attempt costs a
/// second COPY. Pure: `BatchStrategy` asks it before each direct COPY.
struct StagingRun: Sendable, Equatable {
    /// docs/design.md §5.3: the next 20 batches after a duplicate.
    static let batchesAfterDuplicate = 20

    /// Batches left to send through the staging table before trying a direct COPY again.
    private(set) var remaining = 0

    /// Whether the next batch tries the direct COPY; `false` uses up one batch of the run.
    mutating func nextBatchTriesDirectCopy() -> Bool {
        guard remaining > 0 else { return true }
        remaining -= 1
        return false
    }

    /// The direct COPY met a row already stored: a run starts.
    mutating func metDuplicate() {
        remaining = Self.batchesAfterDuplicate
    }
}

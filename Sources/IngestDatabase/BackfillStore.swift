#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import OptionsFeed

/// Where a gap's backfill from the REST API stands (`feed_gaps.backfill`,
/// `migrations/0006_backfill.sql`; docs/design.md §5.8).
public enum BackfillState: String, Sendable, CaseIterable {
    /// Closed with `BACKFILL` on, not yet backfilled (or interrupted: a restart resumes it).
    case pending
    /// Every watched contract's window merged.
    case done
    /// Stopped by an error; retried once it is older than the retry age.
    case failed
    /// Merged, but for contracts past `BACKFILL_MAX_CONTRACTS` (logged): not retried.
    case partial
}

/// One `feed_gaps` row left to backfill.
public struct BackfillGap: Sendable, Equatable {
    public var id: Int64
    public var reason: String
    /// The row's times (Unix µs, the database's clock).
    public var startedAtMicros: Int64
    public var endedAtMicros: Int64?
    /// Feed time (`t`, Unix ms) of the newest trade before the gap; `nil`:
    /// none was seen (a first run, a row from before `0006`), the window's
    /// start is then the caller's to choose (e.g. `startedAtMicros`).
    public var fromT: Int64?
    /// Feed time of the first trade after the gap.
    public var toT: Int64?
    public var state: BackfillState

    public init(
        id: Int64, reason: String, startedAtMicros: Int64, endedAtMicros: Int64?, fromT: Int64?, toT: Int64?, state: BackfillState
    ) {
        self.id = id
        self.reason = reason
        self.startedAtMicros = startedAtMicros
        self.endedAtMicros = endedAtMicros
        self.fromT = fromT
        self.toT = toT
        self.state = state
    }
}

/// What `BackfillStore` refuses.
public enum BackfillStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// QuestDB has no transactions (the read and the insert of a merge could
    /// not be one), no ids on `feed_gaps` (a gap cannot be marked) and no
    /// `ingest_state` row.
    case needsPostgreSQL
    /// The surplus held a trade of another contract or outside the window: nothing was inserted.
    case outsideWindow(symbol: String, timestampMs: Int64)

    public var description: String {
        switch self {
        case .needsPostgreSQL: "backfill needs PostgreSQL (the QuestDB flavor has no transactions and no gap ids)"
        case .outsideWindow(let symbol, let t): "backfill surplus holds a trade outside the window (\(symbol) at t \(t)): nothing inserted"
        }
    }
}

/// The database side of the gap backfill (docs/design.md §5.8): the gap rows
/// left to backfill and their state, and the merge of one contract's window
/// into `options_trades`, each on a libpq connection of its own thread (a
/// one-session `WriterPool`, so that blocking libpq stays off the cooperative
/// pool and a long merge never holds up a live batch on the writer's pool).
///
/// PostgreSQL only: a QuestDB flavor is refused at `init` (`BackfillStoreError.needsPostgreSQL`).
public final class BackfillStore: Sendable {
    /// Most bytes of `backfill_error` kept (1 KiB): the reason, not a whole response body.
    public static let errorLimitBytes = 1024

    private let pool: WriterPool
    /// The days known to have a partition; forgotten when a merge meets a day without one, so the retry looks again.
    private let partitions: PartitionDays
    private let logger: Logger

    /// - Parameters:
    ///   - statementTimeoutMs: per-statement timeout of the gap reads and marks (docs/design.md §5.3: 30 s).
    ///   - bulkTimeoutMs: per-statement timeout inside a merge's transaction (docs/design.md §5.3: 60 s).
    public init(
        conninfo: String, flavor: DatabaseFlavor = .postgres, statementTimeoutMs: Int = 30_000, bulkTimeoutMs: Int = 60_000,
        retention: TableRetention = .init(), logger: Logger
    ) throws(BackfillStoreError) {
        guard flavor == .postgres else { throw .needsPostgreSQL }
        let partitions = PartitionDays(retention: retention)
        let session = WriterSession(
            conninfo: conninfo, statementTimeoutMs: statementTimeoutMs, bulkTimeoutMs: bulkTimeoutMs, mode: .insert, flavor: .postgres,
            wallClock: .system, partitions: partitions)
        self.partitions = partitions
        self.pool = WriterPool(sessions: [session], maintenance: .init(), logger: logger)
        self.logger = logger
    }

    /// The rows to backfill, oldest first: every `pending` one, and the
    /// `failed` ones whose last attempt is older than `retryFailedAfter`
    /// (read through the partial index of both states).
    public func pendingGaps(limit: Int, retryFailedAfter: Duration) async throws -> [BackfillGap] {
        try await withConnection { connection, _ in
            try connection.query(Self.pendingGapsQuery, [String(retryFailedAfter.milliseconds), String(max(0, limit))]).map(Self.gap)
        }
    }

    /// Records how a gap's backfill went. `error` is cut to `errorLimitBytes`
    /// (on a character boundary) and any `apiKey=` value or bearer token in
    /// it is masked: the column must never hold a secret.
    public func markGap(id: Int64, state: BackfillState, rows: Int64? = nil, requests: Int? = nil, error: String? = nil) async throws {
        let parameters = [String(id), state.rawValue, rows.map(String.init), requests.map(String.init), error.map(Self.storedError)]
        _ = try await withConnection { connection, _ in try connection.query(Self.markGapStatement, parameters) }
    }

    /// Merges one contract's window in ONE transaction: reads every stored
    /// row of `symbol` with `t` in `fromMs...toMs` (inclusive at both ends,
    /// at the millisecond; streamed and earlier backfilled rows alike, `seq`
    /// included) through the primary key `(sym, ts, seq)`, hands them to
    /// `surplus`, and inserts what it returns with `INSERT … ON CONFLICT
    /// (sym, ts, seq) DO NOTHING`. A transaction-scoped advisory lock on the
    /// contract orders two merges of it (two windows that overlap, a command
    /// beside the service): the second reads what the first inserted. Returns
    /// the rows inserted. When `surplus` or a statement throws, the
    /// transaction is rolled back and nothing is inserted.
    ///
    /// `ingest_state` is not touched: backfilled rows were never received,
    /// so they must not move `last_received_at` nor `last_trade_t` (a restart
    /// gap starts at the newest trade the feed delivered).
    public func merge(
        symbol: OptionSymbol, fromMs: Int64, toMs: Int64, surplus: @escaping @Sendable ([OptionTrade]) throws -> [OptionTrade]
    ) async throws -> Int {
        do {
            return try await mergeOnce(symbol: symbol, fromMs: fromMs, toMs: toMs, surplus: surplus)
        } catch let error as DatabaseError where error.isNoPartition {
            partitions.forget()
            throw error
        }
    }

    private func mergeOnce(
        symbol: OptionSymbol, fromMs: Int64, toMs: Int64, surplus: @escaping @Sendable ([OptionTrade]) throws -> [OptionTrade]
    ) async throws -> Int {
        try await withConnection(inTransaction: true) { connection, session in
            // The partitions of the window's days, before the transaction (docs/design.md §4.3).
            let days = TableRetention.day(ofMilliseconds: fromMs)...TableRetention.day(ofMilliseconds: max(fromMs, toMs))
            try session.partitions?.prepare(days: Array(days.prefix(366)), nowMicros: session.wallClock.nowMicros(), connection: connection)
            try connection.execute(PostgresDialect.beginBatch(bulkTimeoutMs: session.bulkTimeoutMs))
            _ = try connection.query(Self.lockContract, [symbol.raw])
            let stored = try connection.query(Self.windowQuery, [symbol.raw, String(fromMs), String(toMs)]).map { row in
                try Self.trade(row, symbol: symbol)
            }
            let rows = try surplus(stored)
            if let outside = rows.first(where: { $0.symbol.raw != symbol.raw || !(fromMs...toMs).contains($0.timestampMs) }) {
                throw BackfillStoreError.outsideWindow(symbol: outside.symbol.raw, timestampMs: outside.timestampMs)
            }
            let inserted = try BatchStrategy.insert(rows[...], flavor: .postgres, connection: connection)
            try connection.execute("COMMIT")
            return inserted
        }
    }

    /// The newest committed trade's feed time (`ingest_state.last_trade_t`, Unix ms); `nil` before the first.
    public func lastTradeT() async throws -> Int64? {
        try await withConnection { connection, _ in
            try connection.query(IngestState.lastTradeT).first?.first.flatMap { $0 }.flatMap { Int64($0) }
        }
    }

    /// `lastTradeT` when a service is streaming into the table (its newest
    /// commit was received less than `seconds` ago), else `nil`: trades of
    /// that millisecond and later may still be in its buffer.
    public func liveTradeT(within seconds: Int = 60) async throws -> Int64? {
        try await withConnection { connection, _ in
            try connection.query(IngestState.liveTradeT(withinSeconds: seconds)).first?.first.flatMap { $0 }.flatMap { Int64($0) }
        }
    }

    /// Runs `body` on the store's connection, on its thread; after a failure
    /// the connection is dropped when broken, else rolled back when `inTransaction`.
    private func withConnection<R: Sendable>(
        inTransaction: Bool = false, _ body: @escaping @Sendable (PGConnection, WriterSession) throws -> R
    ) async throws -> R {
        let logger = self.logger
        return try await pool.withSession { session in
            let connection = try session.connect(logger: logger)
            do {
                return try body(connection, session)
            } catch {
                session.abandon(connection, inTransaction: inTransaction)
                throw error
            }
        }
    }

    /// Closes the connection and stops its thread.
    public func shutdown() async {
        await pool.shutdown()
    }

    // MARK: Statements

    static let pendingGapsQuery = """
        SELECT id, reason, (extract(epoch FROM started_at) * 1000000)::bigint, (extract(epoch FROM ended_at) * 1000000)::bigint,
               from_t, to_t, backfill
        FROM feed_gaps
        WHERE backfill IN ('pending', 'failed')
          AND (backfill = 'pending' OR backfill_at IS NULL OR backfill_at < clock_timestamp() - $1::bigint * interval '1 millisecond')
        ORDER BY id LIMIT $2::bigint
        """

    static let markGapStatement = """
        UPDATE feed_gaps SET backfill = $2, backfill_rows = $3::bigint, backfill_requests = $4::integer, backfill_error = $5,
               backfill_at = clock_timestamp()
        WHERE id = $1::bigint
        """

    /// Two keys: this feature's class and the contract.
    static let lockContract = "SELECT pg_advisory_xact_lock(hashtext('ingest-options:backfill'), hashtext($1))"

    /// `ts` is stored at the millisecond (`t × 1000` µs): `[from, to + 1 ms)` is `[from, to]` inclusive at ms.
    static let windowQuery = """
        SELECT exchange, price, size, conditions, floor(extract(epoch FROM ts) * 1000)::bigint, seq,
               (extract(epoch FROM received_at) * 1000000)::bigint
        FROM options_trades
        WHERE sym = $1
          AND ts >= 'epoch'::timestamptz + $2::bigint * interval '1 millisecond'
          AND ts < 'epoch'::timestamptz + ($3::bigint + 1) * interval '1 millisecond'
        ORDER BY ts, seq
        """

    static func gap(_ row: [String?]) throws -> BackfillGap {
        func int(_ index: Int) -> Int64? { index < row.count ? row[index].flatMap { Int64($0) } : nil }
        guard let id = int(0), let started = int(2), row.count > 6, let state = row[6].flatMap(BackfillState.init(rawValue:)) else {
            throw DatabaseError(kind: .other, sqlState: nil, message: "unexpected feed_gaps row \(row)")
        }
        return BackfillGap(
            id: id, reason: row[1] ?? "", startedAtMicros: started, endedAtMicros: int(3), fromT: int(4), toT: int(5), state: state)
    }

    /// A stored row of `windowQuery` as the trade it holds.
    static func trade(_ row: [String?], symbol: OptionSymbol) throws -> OptionTrade {
        guard row.count == 7, let exchange = row[0].flatMap({ Int16($0) }), let price = row[1].flatMap({ Double($0) }),
            let size = row[2].flatMap({ Int64($0) }), let conditions = row[3].flatMap(Self.conditions),
            let t = row[4].flatMap({ Int64($0) }), let seq = row[5].flatMap({ Int64($0) }), let received = row[6].flatMap({ Int64($0) })
        else {
            throw DatabaseError(kind: .other, sqlState: nil, message: "unexpected options_trades row \(row)")
        }
        return OptionTrade(
            symbol: symbol, exchange: exchange, price: price, size: size, conditions: conditions, timestampMs: t, sequence: seq,
            receivedAtMicros: received)
    }

    /// A `smallint[]` in PostgreSQL's text form, `{209,219}`.
    static func conditions(_ text: String) -> [Int16]? {
        guard text.hasPrefix("{"), text.hasSuffix("}") else { return nil }
        let inner = text.dropFirst().dropLast()
        guard !inner.isEmpty else { return [] }
        var codes: [Int16] = []
        for part in inner.split(separator: ",") {
            guard let code = Int16(part) else { return nil }
            codes.append(code)
        }
        return codes
    }

    /// `error` as `backfill_error` keeps it: secrets masked, at most `errorLimitBytes`.
    static func storedError(_ error: String) -> String {
        var text = error
        for pattern in [#/(?i)(apiKey=)[^&\s"']+/#, #/(?i)(Bearer\s+)[^\s"']+/#] {
            text = text.replacing(pattern) { match in match.1 + "***" }
        }
        return DeadLetter.prefix(of: text, maxBytes: errorLimitBytes)
    }
}

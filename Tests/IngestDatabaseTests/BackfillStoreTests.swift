import IngestTestSupport
import Logging
import OptionsFeed
import Synchronization
import Testing

@testable import IngestDatabase

/// `BackfillStore`: the gap rows left to backfill and the merge of one
/// contract's window (docs/design.md §5.8). Against the real PostgreSQL of scripts/test.
@Suite("Backfill store", .serialized)
struct BackfillStoreTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    static let t0: Int64 = 1_764_772_200_000
    static let contract = OptionSymbol("O:SPY251219C00650000")!

    static func trade(_ symbol: OptionSymbol = contract, t: Int64, q: Int64, price: Double = 1.25, size: Int64 = 5) -> OptionTrade {
        OptionTrade(symbol: symbol, exchange: 65, price: price, size: size, conditions: [209, 219], timestampMs: t, sequence: q, receivedAtMicros: 1)
    }

    /// A trade's content key, as the merge counts it: (t, price, size, exchange, conditions).
    struct Key: Hashable {
        var t: Int64, price: Double, size: Int64, exchange: Int16, conditions: [Int16]
        init(_ trade: OptionTrade) {
            (t, price, size, exchange, conditions) = (trade.timestampMs, trade.price, trade.size, trade.exchange, trade.conditions)
        }
    }

    /// The multiset surplus of `rest` over `stored`: for a key the REST list
    /// holds n times and the table m < n times, n − m rows ranked m…n−1 with
    /// a negative seq made of the key's place in `rest` and the rank.
    static func surplus(of rest: [OptionTrade], over stored: [OptionTrade]) -> [OptionTrade] {
        var storedCount: [Key: Int] = [:]
        for trade in stored { storedCount[Key(trade), default: 0] += 1 }
        var restCount: [Key: Int] = [:]
        var order: [Key] = []
        for trade in rest {
            if restCount[Key(trade)] == nil { order.append(Key(trade)) }
            restCount[Key(trade), default: 0] += 1
        }
        var rows: [OptionTrade] = []
        for (place, key) in order.enumerated() {
            let (n, m) = (restCount[key]!, storedCount[key, default: 0])
            guard n > m else { continue }
            for rank in m..<n {
                rows.append(OptionTrade(
                    symbol: contract, exchange: key.exchange, price: key.price, size: key.size, conditions: key.conditions,
                    timestampMs: key.t, sequence: -(1 + Int64(place << 10 | rank)), receivedAtMicros: 2))
            }
        }
        return rows
    }

    static func count(_ database: TestDatabase, _ condition: String = "true") throws -> Int {
        Int(try database.connect().query("SELECT count(*) FROM options_trades WHERE \(condition)")[0][0]!)!
    }

    @Test("merge reads the contract's stored rows inclusive at both ends of the window, inserts the surplus once, and a second merge inserts nothing")
    func mergeInsertsTheSurplusOnce() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let writer = PostgresTradeWriter(conninfo: database.url, logger: Self.quiet)
        let other = OptionSymbol("O:SPY251219P00650000")!
        // Streamed: just outside, at both edges, inside (two identical trades in one ms), and another contract inside.
        _ = try await writer.write([
            Self.trade(t: Self.t0 - 1, q: 1), Self.trade(t: Self.t0, q: 2), Self.trade(t: Self.t0 + 500, q: 3),
            Self.trade(t: Self.t0 + 500, q: 4), Self.trade(t: Self.t0 + 1_000, q: 5), Self.trade(t: Self.t0 + 1_001, q: 6),
            Self.trade(other, t: Self.t0 + 500, q: 7),
        ])
        await writer.shutdown()
        let stateBefore = try database.connect().query("SELECT last_received_at, last_trade_t FROM ingest_state")

        // What the REST API reports for the window: the edges once, the pair three times, one trade the feed missed.
        let rest = [
            Self.trade(t: Self.t0, q: 0), Self.trade(t: Self.t0 + 500, q: 0), Self.trade(t: Self.t0 + 500, q: 0), Self.trade(t: Self.t0 + 500, q: 0),
            Self.trade(t: Self.t0 + 700, q: 0, price: 2.5), Self.trade(t: Self.t0 + 1_000, q: 0),
        ]
        let store = try BackfillStore(conninfo: database.url, logger: Self.quiet)
        let seen = Mutex<[Int64]>([])
        let first = try await store.merge(symbol: Self.contract, fromMs: Self.t0, toMs: Self.t0 + 1_000) { stored in
            seen.withLock { $0 = stored.map(\.sequence) }
            return Self.surplus(of: rest, over: stored)
        }
        #expect(seen.withLock { $0 } == [2, 3, 4, 5], "both ends of the window, this contract only, in (ts, seq) order")
        #expect(first == 2, "the third of the identical pair and the missed trade")
        let second = try await store.merge(symbol: Self.contract, fromMs: Self.t0, toMs: Self.t0 + 1_000) { stored in
            seen.withLock { $0 = stored.map(\.sequence) }
            return Self.surplus(of: rest, over: stored)
        }
        #expect(second == 0, "the surplus computed from the stored rows is empty now")
        #expect(seen.withLock { $0 }.filter { $0 < 0 }.count == 2, "the second merge read the backfilled rows too")
        // The same window's rows again (a surplus function that ignores the stored rows): the key keeps them once.
        let again = try await store.merge(symbol: Self.contract, fromMs: Self.t0, toMs: Self.t0 + 1_000) { _ in
            Self.surplus(of: rest, over: [Self.trade(t: Self.t0, q: 2), Self.trade(t: Self.t0 + 500, q: 3), Self.trade(t: Self.t0 + 500, q: 4), Self.trade(t: Self.t0 + 1_000, q: 5)])
        }
        #expect(again == 0, "ON CONFLICT DO NOTHING backs the multiset rule")
        let rows = try database.connect().query(
            "SELECT floor(extract(epoch FROM ts) * 1000)::bigint - \(Self.t0), price, conditions, received_at = 'epoch'::timestamptz + interval '2 microseconds' FROM options_trades WHERE seq < 0 ORDER BY ts")
        #expect(rows == [["500", "1.25", "{209,219}", "t"], ["700", "2.5", "{209,219}", "t"]])
        #expect(try Self.count(database) == 9)
        #expect(try database.connect().query("SELECT last_received_at, last_trade_t FROM ingest_state") == stateBefore, "backfilled rows were not received")
        #expect(try await store.lastTradeT() == Self.t0 + 1_001)
        await store.shutdown()
    }

    @Test("the live edge: last_trade_t while the newest commit was received within the minute, nil once it is older")
    func liveEdge() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let store = try BackfillStore(conninfo: database.url, flavor: .postgres, logger: Self.quiet)
        #expect(try await store.liveTradeT() == nil, "nothing committed yet")
        _ = try database.connect().execute(
            "INSERT INTO ingest_state (id, last_received_at, last_trade_t) VALUES (true, clock_timestamp() - interval '5 seconds', 4242) "
                + "ON CONFLICT (id) DO UPDATE SET last_received_at = EXCLUDED.last_received_at, last_trade_t = EXCLUDED.last_trade_t")
        #expect(try await store.liveTradeT() == 4242)
        #expect(try await store.liveTradeT(within: 2) == nil)
        _ = try database.connect().execute("UPDATE ingest_state SET last_received_at = clock_timestamp() - interval '2 minutes'")
        #expect(try await store.liveTradeT() == nil, "no service has committed for two minutes")
        await store.shutdown()
    }

    struct SurplusFailed: Error {}

    @Test("a merge whose surplus throws, whose insert fails half-way, or whose rows leave the window inserts nothing")
    func mergeRollsBack() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let store = try BackfillStore(conninfo: database.url, logger: Self.quiet)
        await #expect(throws: SurplusFailed.self) {
            try await store.merge(symbol: Self.contract, fromMs: Self.t0, toMs: Self.t0 + 10) { _ in throw SurplusFailed() }
        }
        // 600 rows: the first statement (500 rows) succeeds, the second meets a row the CHECK refuses.
        let many: [OptionTrade] = (0..<600).map { (index: Int) -> OptionTrade in
            let price: Double = index == 599 ? -1 : 1.25
            return Self.trade(t: Self.t0 + Int64(index % 10), q: -Int64(index + 1), price: price)
        }
        await #expect(throws: DatabaseError.self) {
            try await store.merge(symbol: Self.contract, fromMs: Self.t0, toMs: Self.t0 + 10) { _ in many }
        }
        #expect(try Self.count(database) == 0, "the first 500 rows rolled back with the rest")
        await #expect(throws: BackfillStoreError.outsideWindow(symbol: Self.contract.raw, timestampMs: Self.t0 + 11)) {
            try await store.merge(symbol: Self.contract, fromMs: Self.t0, toMs: Self.t0 + 10) { _ in
                [Self.trade(t: Self.t0 + 10, q: -1), Self.trade(t: Self.t0 + 11, q: -2)]
            }
        }
        #expect(try Self.count(database) == 0)
        // The connection is usable after each: a good merge commits.
        #expect(try await store.merge(symbol: Self.contract, fromMs: Self.t0, toMs: Self.t0 + 10) { _ in Array(many.prefix(599)) } == 599)
        await store.shutdown()
    }

    @Test("pending gaps come back oldest first with their feed times; a marked gap leaves the list; a failed one returns after the retry age")
    func pendingGapsAndMarks() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let writer = PostgresTradeWriter(conninfo: database.url, logger: Self.quiet)
        let now = WallClock.system.nowMicros()
        let first = GapRow(startedAtMicros: now - 3_000_000, reason: "connection reset", fromT: Self.t0)
        let second = GapRow(startedAtMicros: now - 2_000_000, reason: "stall", fromT: Self.t0 + 10_000)
        let unmarked = GapRow(startedAtMicros: now - 1_000_000, reason: "unmarked", fromT: Self.t0 + 20_000)
        try await writer.recordGaps(GapChanges([
            .opened(first), .closed(first, atMicros: now - 2_500_000, toT: Self.t0 + 500, backfill: true),
            .opened(second), .closed(second, atMicros: now - 1_500_000, toT: Self.t0 + 10_500, backfill: true),
            .opened(unmarked), .closed(unmarked, atMicros: now - 500_000, toT: Self.t0 + 20_500),
            .opened(GapRow(startedAtMicros: now, reason: "still open", fromT: Self.t0 + 30_000)),
        ]))
        await writer.shutdown()
        let store = try BackfillStore(conninfo: database.url, logger: Self.quiet)
        let pending = try await store.pendingGaps(limit: 10, retryFailedAfter: .seconds(60))
        #expect(pending.map(\.id) == [try #require(first.id), try #require(second.id)])
        #expect(pending.map(\.fromT) == [Self.t0, Self.t0 + 10_000])
        #expect(pending.map(\.toT) == [Self.t0 + 500, Self.t0 + 10_500])
        #expect(pending.map(\.state) == [.pending, .pending])
        #expect(pending.map(\.reason) == ["connection reset", "stall"])
        #expect(pending.allSatisfy { gap in gap.endedAtMicros.map { $0 > gap.startedAtMicros } == true })
        #expect(try await store.pendingGaps(limit: 1, retryFailedAfter: .seconds(60)).map(\.id) == [first.id])

        try await store.markGap(id: try #require(first.id), state: .done, rows: 12, requests: 3)
        let secret = "sk_live_0123456789"
        let long = "GET https://api.polygon.io/v3/trades/O:SPY?apiKey=\(secret)&limit=50000 failed: Authorization: Bearer \(secret) "
            + String(repeating: "é", count: 1_000)
        try await store.markGap(id: try #require(second.id), state: .failed, requests: 7, error: long)
        #expect(try await store.pendingGaps(limit: 10, retryFailedAfter: .seconds(60)).isEmpty, "done is never redone; failed waits for the retry age")
        let retried = try await store.pendingGaps(limit: 10, retryFailedAfter: .zero)
        #expect(retried.map(\.id) == [second.id] && retried.map(\.state) == [.failed])

        let rows = try database.connect().query(
            "SELECT reason, backfill, backfill_rows, backfill_requests, backfill_error, backfill_at IS NOT NULL FROM feed_gaps WHERE backfill IS NOT NULL ORDER BY id")
        #expect(rows.count == 2)
        #expect(rows[0] == ["connection reset", "done", "12", "3", nil, "t"])
        #expect(Array(rows[1].prefix(4)) == ["stall", "failed", nil, "7"])
        let error = try #require(rows[1][4])
        #expect(error.utf8.count <= BackfillStore.errorLimitBytes && error.utf8.count > 1_000, "cut to 1 KiB on a character boundary")
        #expect(!error.contains(secret), "no secret in the stored error: \(error.prefix(120))")
        #expect(error.hasPrefix("GET https://api.polygon.io/v3/trades/O:SPY?apiKey=***&limit=50000 failed: Authorization: Bearer *** "))
        await store.shutdown()
    }

    @Test("the backfill store refuses QuestDB with a clear error")
    func questDBRefused() {
        #expect(throws: BackfillStoreError.needsPostgreSQL) {
            try BackfillStore(conninfo: "host=localhost port=8812", flavor: .questdb, logger: Self.quiet)
        }
        #expect(BackfillStoreError.needsPostgreSQL.description.contains("backfill needs PostgreSQL"))
    }

    @Test("stored conditions read back as written", arguments: [("{}", [Int16]()), ("{209}", [209]), ("{209,219,-3}", [209, 219, -3])])
    func conditionsText(text: String, codes: [Int16]) {
        #expect(BackfillStore.conditions(text) == codes)
    }
}

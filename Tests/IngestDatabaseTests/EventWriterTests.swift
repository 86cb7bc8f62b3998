import IngestTestSupport
import Logging
import OptionsFeed
import Testing

@testable import IngestDatabase

/// The writer's one strategy for every record type (docs/design.md §4.4.1),
/// against the real PostgreSQL server that scripts/test starts.
@Suite("Writer: every record type", .serialized)
struct EventWriterTests {
    static let contract = OptionSymbol("O:SPY251219C00650000")!
    static let other = OptionSymbol("O:AAPL260116P00185500")!
    /// 2025-12-03 14:30 UTC and the next day: partitions created on demand.
    static let t0: Int64 = 1_764_772_200_000

    static func bar(_ symbol: OptionSymbol, minute: Int64, vwap: Double = 6.5, period: OptionAggregate.Period = .minute) -> OptionAggregate {
        let length: Int64 = period == .minute ? 60_000 : 1_000
        return OptionAggregate(
            symbol: symbol, period: period, startMs: t0 + minute * length, endMs: t0 + (minute + 1) * length, open: 6.4, high: 6.6, low: 6.3,
            close: 6.5, volume: 20 + minute, vwap: vwap, dayVolume: minute == 0 ? nil : 900, receivedAtMicros: 1_764_772_300_000_000)
    }

    static func quote(_ symbol: OptionSymbol, q: Int64, bid: Double = 6.4, dayOffset: Int64 = 0) -> OptionQuote {
        OptionQuote(
            symbol: symbol, bidExchange: 4, askExchange: 7, bidPrice: bid, askPrice: 6.6, bidSize: 10, askSize: 12,
            timestampMs: t0 + q + dayOffset * 86_400_000, sequence: q, receivedAtMicros: 1_764_772_300_000_000)
    }

    static func fmv(_ symbol: OptionSymbol, n: Int64) -> OptionFMV {
        OptionFMV(symbol: symbol, fmv: 6.5 + Double(n) / 100, timestampNanos: (t0 + n) * 1_000_000 + 123_456, receivedAtMicros: 1_764_772_300_000_000)
    }

    static let bars = (0..<5).map { bar(contract, minute: $0) } + [bar(other, minute: 0), bar(contract, minute: 0, period: .second)]
    /// Over two UTC days: each day's partition is created before the batch.
    static let quotes = (1...6).map { quote(contract, q: $0, dayOffset: $0 % 2) }
    static let fairValues = (1...4).map { fmv(contract, n: $0) } + [fmv(other, n: 1)]

    static func count(_ table: String, _ database: TestDatabase) throws -> Int {
        Int(try database.connect().query("SELECT count(*) FROM \(table)").first?.first.flatMap { $0 } ?? "") ?? -1
    }

    @Test("each type's batch goes to its own table once: written again, or with new rows among old ones, only the new are inserted", arguments: WriteMode.allCases)
    func exactlyOncePerType(mode: WriteMode) async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let writer = PostgresTradeWriter(conninfo: database.url, mode: mode, logger: Logger(label: "test"))
        #expect(try await writer.write(.aggregates(Self.bars)) == BatchResult(trades: 7, inserted: 7))
        #expect(try await writer.write(.quotes(Self.quotes)) == BatchResult(trades: 6, inserted: 6))
        #expect(try await writer.write(.fairValues(Self.fairValues)) == BatchResult(trades: 5, inserted: 5))
        // Old rows with new ones: on the COPY path the direct COPY meets a duplicate and the staging table takes over.
        let moreBars = Self.bars + [Self.bar(Self.contract, minute: 5)]
        #expect(try await writer.write(.aggregates(moreBars)) == BatchResult(trades: 8, inserted: 1))
        #expect(try await writer.write(.quotes(Self.quotes + [Self.quote(Self.contract, q: 7)])) == BatchResult(trades: 7, inserted: 1))
        #expect(try await writer.write(.fairValues(Self.fairValues + Self.fairValues)) == BatchResult(trades: 10, inserted: 0))
        // The staging path again on the same connection (its table made once per transaction that needs it).
        #expect(try await writer.write(.quotes(Self.quotes)) == BatchResult(trades: 6, inserted: 0))
        await writer.shutdown()

        #expect(try Self.count("options_aggregates", database) == 8)
        #expect(try Self.count("options_quotes", database) == 7)
        #expect(try Self.count("options_fmv", database) == 5)
        #expect(try Self.count("options_trades", database) == 0)
        let connection = try database.connect()
        #expect(
            try connection.query("SELECT count(DISTINCT tableoid) FROM options_quotes") == [["2"]], "the quotes of two UTC days, each in its partition")
        #expect(
            try connection.query("SELECT period, count(*) FROM options_aggregates GROUP BY period ORDER BY period") == [["minute", "7"], ["second", "1"]])
        // The restart gap and the backfill are about trades: other types leave ingest_state alone.
        #expect(try connection.query("SELECT count(*) FROM ingest_state WHERE last_trade_t IS NOT NULL AND last_trade_t > 0") == [["0"]])
    }

    @Test("a row its table refuses is dead-lettered with its event type, and the rest of its batch is committed", arguments: WriteMode.allCases)
    func refusedRowsKeepTheirType(mode: WriteMode) async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let writer = PostgresTradeWriter(conninfo: database.url, mode: mode, logger: Logger(label: "test"))
        // A negative bid and a zero VWAP pass no decoder, but a spool or a bug could bring one: CHECK refuses them.
        var quotes = Self.quotes
        quotes[2] = Self.quote(Self.contract, q: 3, bid: -1)
        let quoteResult = try await writer.write(.quotes(quotes))
        #expect(quoteResult.trades == 6 && quoteResult.inserted == 5 && quoteResult.deadLetters.count == 1)
        var bars = Self.bars
        bars[1] = Self.bar(Self.contract, minute: 1, vwap: 0)
        let barResult = try await writer.write(.aggregates(bars))
        #expect(barResult.inserted == 6 && barResult.deadLetters.map(\.eventType) == ["AM"])
        await writer.shutdown()

        let letters = try database.connect().query("SELECT event_type, source, sqlstate, raw FROM dead_letters ORDER BY id")
        #expect(letters.map { $0[0] } == ["Q", "AM"])
        #expect(letters.map { $0[1] } == ["database", "database"])
        #expect(letters.map { $0[2] } == ["23514", "23514"])
        #expect(letters[0][3]?.contains(#""ev":"Q""#) == true && letters[0][3]?.contains(#""bp":-1.0"#) == true)
        #expect(try Self.count("options_quotes", database) == 5)
        #expect(try Self.count("options_aggregates", database) == 6)
    }

    @Test("on a database without dead_letters.event_type (migrations not applied) letters are still written, without their type")
    func deadLettersBeforeTheirTypeColumn() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        try database.connect().execute("ALTER TABLE dead_letters DROP COLUMN event_type")
        let writer = PostgresTradeWriter(conninfo: database.url, logger: Logger(label: "test"))
        try await writer.recordDeadLetters([DeadLetter(source: "feed", reason: "missing_field", raw: #"{"ev":"Q"}"#, eventType: "Q")])
        await writer.shutdown()
        #expect(try database.connect().query("SELECT source, reason, raw FROM dead_letters") == [["feed", "missing_field", #"{"ev":"Q"}"#]])
    }
}

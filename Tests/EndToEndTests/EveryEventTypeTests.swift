import FeedSimulator
import Foundation
import IngestDatabase
import IngestTestSupport
import Testing

/// Every options event type through the one pipeline (docs/design.md §4.4.1), end to end:
/// feed-sim streaming trades, per-second and per-minute bars, quotes and fair values to the
/// built ingester through clean feed drops and a Postgres outage, and each type's table
/// checked against feed-sim's ledgers (docs/feed-sim.md, "Other event types", "The event
/// ledger") and the bars against the stored trades.
@Suite("Every event type", .serialized, .temporaryDirectory("events"))
struct EveryEventTypeTests {
    let directory: URL

    init() throws {
        directory = try TemporaryDirectory.required()
    }

    /// The stream: few contracts, so that each has many trades in every minute, and a rate at which
    /// the feed's clock runs ten times the wall clock (each trade's `t` is 0–2 ms after the one before),
    /// so that a connection dropped every 12 s streams some 120 s of feed time: one or two whole minutes.
    static let seed = 31
    static let symbols = 8
    static let rate = 10_000
    static let dropEvery = 12

    /// The run's first two contracts (the stream draws from every contract, so each has trades and prices).
    static let contracts = Array(TradeGenerator(seed: UInt64(seed), contracts: symbols, invalidFraction: 0).contracts.prefix(2))

    /// A timestamptz as Unix ms (exact: `extract` is numeric).
    static func ms(_ column: String) -> String { "(extract(epoch FROM \(column)) * 1000)::bigint" }

    /// feed-sim's ledgers loaded into temporary tables of `connection`'s session: `ledger_trades`
    /// (`--ledger`), `stream_trades` (`--stream-ledger`), and `ledger_bars`, `ledger_quotes`,
    /// `ledger_fmv` (`--event-ledger`, split by its first column).
    static func loadLedgers(trades: String, stream: String, events: String, into connection: PGConnection) throws {
        try connection.execute(
            """
            CREATE TEMP TABLE ledger_trades (sym text, t bigint, q bigint, p float8, s bigint, x int, valid int, c text);
            CREATE TEMP TABLE stream_trades (sym text, t bigint, q bigint, p float8, s bigint, x int, valid int, c text, sent int, sip bigint);
            CREATE TEMP TABLE ledger_bars (ev text, sym text, s bigint, e bigint, o float8, h float8, l float8, c float8, v bigint,
                                           vw float8, z bigint, av bigint, op float8, a float8);
            CREATE TEMP TABLE ledger_quotes (ev text, sym text, t bigint, q bigint, bx int, bp float8, bs bigint, ax int, ap float8, asz bigint);
            CREATE TEMP TABLE ledger_fmv (ev text, sym text, t bigint, fmv float8);
            """)
        for (table, path) in [("ledger_trades", trades), ("stream_trades", stream)] {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            try data.withUnsafeBytes { try connection.copyIn("COPY \(table) FROM STDIN (FORMAT csv, HEADER true)", data: $0) }
        }
        // The event ledger has no header; its first column says which columns follow.
        var byType: [String: [Substring]] = [:]
        for line in try String(contentsOfFile: events, encoding: .utf8).split(separator: "\n") {
            let type = line.prefix { $0 != "," }
            byType[type == "AM" ? "A" : String(type), default: []].append(line)
        }
        #expect(Set(byType.keys).isSubset(of: ["A", "Q", "FMV"]), "event ledger types: \(byType.keys.sorted())")
        for (type, table) in [("A", "ledger_bars"), ("Q", "ledger_quotes"), ("FMV", "ledger_fmv")] {
            guard let lines = byType[type] else { continue }
            let text = lines.joined(separator: "\n") + "\n"
            try Array(text.utf8).withUnsafeBytes { try connection.copyIn("COPY \(table) FROM STDIN (FORMAT csv)", data: $0) }
        }
    }

    /// One table against its ledger, as multisets of whole rows: what the ledger says was written and
    /// is not stored (`missing`), what is stored and was not written (`extra`), and a few of each.
    struct Comparison: CustomStringConvertible {
        var type: String
        var ledger: Int
        var stored: Int
        var missing: Int
        var extra: Int
        var examples: [String]

        var description: String { "\(type): ledger \(ledger), stored \(stored), missing \(missing), extra \(extra), e.g. \(examples)" }
    }

    static func compare(_ type: String, ledger: String, stored: String, on connection: PGConnection) throws -> Comparison {
        let counts = try connection.query(
            """
            WITH l AS (\(ledger)), d AS (\(stored))
            SELECT (SELECT count(*) FROM l), (SELECT count(*) FROM d),
                   (SELECT count(*) FROM (SELECT * FROM l EXCEPT ALL SELECT * FROM d) m),
                   (SELECT count(*) FROM (SELECT * FROM d EXCEPT ALL SELECT * FROM l) e)
            """)[0].map { Int($0 ?? "") ?? -1 }
        guard counts[2] != 0 || counts[3] != 0 else {
            return Comparison(type: type, ledger: counts[0], stored: counts[1], missing: 0, extra: 0, examples: [])
        }
        let examples = try connection.query(
            """
            WITH l AS (\(ledger)), d AS (\(stored))
            (SELECT 'missing ' || m::text FROM (SELECT * FROM l EXCEPT ALL SELECT * FROM d) m LIMIT 3)
            UNION ALL (SELECT 'extra ' || e::text FROM (SELECT * FROM d EXCEPT ALL SELECT * FROM l) e LIMIT 3)
            """).compactMap { $0[0] }
        return Comparison(type: type, ledger: counts[0], stored: counts[1], missing: counts[2], extra: counts[3], examples: examples)
    }

    /// The stored bars of `period` (`second`, `minute`, `length` ms) against bars recomputed from the stored
    /// trades, over the periods in which feed-sim skipped no trade (`stream_trades.sent` is 1 throughout:
    /// no drop and no reconnect inside, so every trade of the period reached the ingester; feed-sim's bars
    /// count every trade of its stream). Returns how many bars and periods were compared, and the mismatches.
    static func barsAgainstTrades(_ period: String, length: Int, on connection: PGConnection) throws
        -> (bars: Int, periods: Int, mismatched: Int, unmatchedContracts: Int, examples: [String])
    {
        let query = """
            WITH whole AS (
                SELECT t / \(length) * \(length) AS s FROM stream_trades GROUP BY 1 HAVING bool_and(sent = 1)
            ),
            recomputed AS (
                SELECT sym, \(ms("ts")) / \(length) * \(length) AS s,
                       (array_agg(price ORDER BY ts, seq))[1] AS open, max(price) AS high, min(price) AS low,
                       (array_agg(price ORDER BY ts DESC, seq DESC))[1] AS close, sum(size) AS volume,
                       round(sum(price::numeric * size) / sum(size), 4)::float8 AS vwap,
                       round(sum(size)::numeric / count(*))::float8 AS avg_size
                FROM options_trades GROUP BY 1, 2
            ),
            bars AS (
                SELECT sym, \(ms("start_ts")) AS s, open, high, low, close, volume, vwap, avg_size
                FROM options_aggregates WHERE period = '\(period)'
            ),
            compared AS (
                SELECT b.*, r.sym IS NULL OR (b.open, b.high, b.low, b.close, b.volume, b.vwap, b.avg_size)
                            IS DISTINCT FROM (r.open, r.high, r.low, r.close, r.volume, r.vwap, r.avg_size) AS differs,
                       row(b.*)::text || ' vs ' || CASE WHEN r.sym IS NULL THEN 'no trades' ELSE row(r.*)::text END AS detail
                FROM bars b JOIN whole USING (s) LEFT JOIN recomputed r USING (sym, s)
            )
            SELECT (SELECT count(*) FROM compared), (SELECT count(DISTINCT s) FROM compared),
                   (SELECT count(*) FROM compared WHERE differs),
                   -- a contract that traded in a compared period has its bar too
                   (SELECT count(*) FROM recomputed r WHERE r.s IN (SELECT s FROM compared)
                        AND NOT EXISTS (SELECT 1 FROM bars b WHERE b.sym = r.sym AND b.s = r.s)),
                   (SELECT string_agg(detail, '; ') FROM (SELECT detail FROM compared WHERE differs LIMIT 3) x)
            """
        let row = try connection.query(query)[0]
        let numbers = row.prefix(4).map { Int($0 ?? "") ?? -1 }
        return (numbers[0], numbers[1], numbers[2], numbers[3], row[4].map { [$0] } ?? [])
    }

    @Test(
        "T.*, A.*, AM.*, quotes and FMV of named contracts through drops every 12 s and a 12 s Postgres outage: every event feed-sim wrote is stored once in its table; bars agree with the stored trades of whole minutes and seconds"
    )
    func everyTypeStoredOnce() async throws {
        try await PrivatePostgres.with(database: "events") { server in
            let (c1, c2) = (Self.contracts[0], Self.contracts[1])
            let trades = directory.appendingPathComponent("trades.csv").path
            let stream = directory.appendingPathComponent("stream.csv").path
            let events = directory.appendingPathComponent("events.csv").path
            let pipeline = try await RunningPipeline.start(
                feed: ["--seed", "\(Self.seed)", "--rate", "\(Self.rate)", "--symbols", "\(Self.symbols)", "--invalid-fraction", "0",
                       "--drop-every", "\(Self.dropEvery)", "--quote-rate", "100", "--fmv-rate", "20",
                       "--ledger", trades, "--stream-ledger", stream, "--event-ledger", events],
                databaseURL: server.url, log: "events.log",
                DatabaseFaultTests.fast.merging([
                    "POLYGON_SUBSCRIPTIONS": "T.*,A.*,AM.*,Q.\(c1),Q.\(c2),FMV.\(c1)",
                    // Every trade is kept, so that bars can be recomputed from the table.
                    "POLYGON_OPTION_TRADE_VALUE_THRESHOLD": "0",
                ]) { $1 },
                spool: directory.appendingPathComponent("spool").path, directory: directory)
            let log = pipeline.log

            // Mid-stream: once every type has reached its table (a minute bar within about 6 s of feed time).
            _ = try await waitFor(timeout: .seconds(40), what: "a row in every event table", every: .milliseconds(250)) {
                let rows = try? PGConnection(conninfo: server.url).query(
                    """
                    SELECT (SELECT count(*) FROM options_trades) > 0 AND (SELECT count(*) FROM options_quotes) > 0
                       AND (SELECT count(*) FROM options_fmv) > 0
                       AND EXISTS (SELECT 1 FROM options_aggregates WHERE period = 'second')
                       AND EXISTS (SELECT 1 FROM options_aggregates WHERE period = 'minute')
                    """)
                return rows?.first?.first == "t" ? true : nil
            }
            try await server.run("stop")
            let down = Date().timeIntervalSince1970
            // Time passing is the point: 12 s of every type (and a drop) go to the spool.
            try await Task.sleep(for: .seconds(12))
            let up = Date().timeIntervalSince1970
            try await server.run("start")
            _ = try await waitFor(timeout: .seconds(60), what: "the breaker closed") {
                logLines(log, message: "database circuit breaker state changed").contains { $0["to"] as? String == "closed" } ? true : nil
            }
            // Two more drops after the outage, then the end of the stream.
            let connections = pipeline.lines("feed streaming").count
            try await pipeline.waitForLog("feed streaming", count: connections + 2, timeout: .seconds(60))
            try await pipeline.stopFeed()
            let connection = try PGConnection(conninfo: server.url)
            try Self.loadLedgers(trades: trades, stream: stream, events: events, into: connection)
            // The spool may still be replaying what came during and after the outage: the end is when every
            // table holds as many rows as its ledger has lines (or a minute has passed; the checks below say what is off).
            let caughtUp = try? await waitFor(timeout: .seconds(60), what: "every ledger's count in its table", every: .milliseconds(500)) {
                try connection.query(
                    """
                    SELECT (SELECT count(*) FROM options_trades) = (SELECT count(*) FROM ledger_trades)
                       AND (SELECT count(*) FROM options_aggregates) = (SELECT count(*) FROM ledger_bars)
                       AND (SELECT count(*) FROM options_quotes) = (SELECT count(*) FROM ledger_quotes)
                       AND (SELECT count(*) FROM options_fmv) = (SELECT count(*) FROM ledger_fmv)
                    """)[0][0] == "t" ? true : nil
            }
            #expect(caughtUp == true, "every table caught up with its ledger within a minute of the feed's end")
            let report = try await pipeline.ingester.requestHealthReport()
            #expect(try await pipeline.ingester.stop(timeout: .seconds(60)) == 0, "the ingester's exit")
            #expect(try DatabaseFaultTests.segments(in: directory.appendingPathComponent("spool").path).isEmpty, "the spool is empty")

            let breaker = logLines(log, message: "database circuit breaker state changed")
            #expect(breaker.contains { $0["to"] as? String == "open" }, "the outage opened the breaker")
            #expect(!pipeline.lines("spool segment replayed").isEmpty)
            let streamed = pipeline.lines("feed streaming").count
            #expect(streamed >= 3, "connections: \(streamed)")
            let stopped = try #require(pipeline.lines("stopped").first)
            #expect((stopped["spooled_trades"] as? Int ?? 0) > 0, "the outage went through the spool")
            let simTotals = try #require(
                pipeline.feed.stdout.split(separator: "\n").last.flatMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }, "feed-sim's exit line")

            let count = { (sql: String) throws -> Int in Int(try connection.query(sql)[0][0] ?? "") ?? -1 }
            // A ledger key twice would be an event feed-sim wrote twice (docs/feed-sim.md: `q` never repeats,
            // a bar goes once to the connection subscribed when it closes, fair value times strictly rise).
            #expect(try count("SELECT count(*) - count(DISTINCT (sym, t, q)) FROM ledger_trades") == 0)
            #expect(try count("SELECT count(*) - count(DISTINCT (ev, sym, s)) FROM ledger_bars") == 0)
            #expect(try count("SELECT count(*) - count(DISTINCT (sym, t, q)) FROM ledger_quotes") == 0)
            // The table keeps a fair value's time to the µs.
            #expect(try count("SELECT count(*) - count(DISTINCT (sym, t / 1000)) FROM ledger_fmv") == 0)
            #expect(try count("SELECT count(*) FROM ledger_trades WHERE valid <> 1") == 0)

            let comparisons = [
                try Self.compare(
                    "trades",
                    ledger: """
                        SELECT sym, t, q, p, s, x, '{' || replace(coalesce(c, ''), '|', ',') || '}' FROM ledger_trades
                        """,
                    stored: "SELECT sym, \(Self.ms("ts")), seq, price, size, exchange::int, conditions::text FROM options_trades",
                    on: connection),
                try Self.compare(
                    "bars",
                    ledger: """
                        SELECT CASE ev WHEN 'A' THEN 'second' ELSE 'minute' END, sym, s, e, o, h, l, c, v, vw, z::float8, av, op, a
                        FROM ledger_bars
                        """,
                    stored: """
                        SELECT period, sym, \(Self.ms("start_ts")), \(Self.ms("end_ts")), open, high, low, close, volume, vwap,
                               avg_size, day_volume, day_open, day_vwap
                        FROM options_aggregates
                        """,
                    on: connection),
                try Self.compare(
                    "quotes",
                    ledger: "SELECT sym, t, q, bx, bp, bs, ax, ap, asz FROM ledger_quotes",
                    stored: """
                        SELECT sym, \(Self.ms("ts")), seq, bid_exchange::int, bid_price, bid_size, ask_exchange::int, ask_price, ask_size
                        FROM options_quotes
                        """,
                    on: connection),
                try Self.compare(
                    "fmv",
                    ledger: "SELECT sym, t / 1000, fmv FROM ledger_fmv",
                    stored: "SELECT sym, (extract(epoch FROM ts) * 1000000)::bigint, fmv FROM options_fmv",
                    on: connection),
            ]
            for comparison in comparisons {
                #expect(comparison.missing == 0 && comparison.extra == 0 && comparison.ledger == comparison.stored, "\(comparison)")
                #expect(comparison.ledger > 0, "\(comparison.type): none written")
            }
            let byType = Dictionary(uniqueKeysWithValues: comparisons.map { ($0.type, $0.ledger) })
            #expect(byType["bars"] == simTotals["bars"] as? Int, "feed-sim's exit line counts the bars of its ledger")
            #expect(byType["quotes"] == simTotals["quotes"] as? Int)
            #expect(byType["fmv"] == simTotals["fmv"] as? Int)
            #expect(try count("SELECT count(*) FROM ledger_bars WHERE ev = 'AM'") >= 5, "minute bars")
            #expect(try count("SELECT count(DISTINCT sym) FROM ledger_quotes") == 2)
            #expect(try count("SELECT count(DISTINCT sym) FROM ledger_fmv") == 1)
            #expect(try count("SELECT count(*) FROM dead_letters") == 0)
            // Each type had rows received while Postgres was down: the outage was every type's, not the trades' alone.
            for table in ["options_trades", "options_aggregates", "options_quotes", "options_fmv"] {
                let during = try count("SELECT count(*) FROM \(table) WHERE received_at BETWEEN to_timestamp(\(down)) AND to_timestamp(\(up))")
                #expect(during > 0, "\(table): \(during) rows received during the outage")
            }

            // The counts the ingester gives: every event seen and accepted, none invalid or dropped;
            // written counts a row already there again (a batch retried after its commit), so at least the rows.
            let reportEvents = ((report["feed"] as? [String: Any])?["events"] as? [String: [String: Any]]) ?? [:]
            for (kind, type, prefix) in [("trade", "trades", "trades_"), ("aggregate", "bars", "aggregates_"), ("quote", "quotes", "quotes_"), ("fmv", "fmv", "fmvs_")] {
                let counts = reportEvents[kind] ?? [:]
                let ledger = byType[type] ?? -1
                #expect(counts["seen"] as? Int == ledger, "\(kind) seen: \(counts)")
                #expect(counts["accepted"] as? Int == ledger, "\(kind) accepted: \(counts)")
                #expect(counts["invalid"] as? Int == 0 && counts["dropped"] as? Int == 0, "\(kind): \(counts)")
                #expect((stopped[prefix + "written"] as? Int ?? -1) >= ledger, "\(prefix)written \(stopped[prefix + "written"] ?? "none") of \(ledger)")
                #expect(stopped[prefix + "dropped"] as? Int == 0, "\(prefix)dropped")
            }

            // Bars against the trades stored for the same contracts and periods.
            let minutes = try Self.barsAgainstTrades("minute", length: 60_000, on: connection)
            #expect(minutes.mismatched == 0 && minutes.unmatchedContracts == 0, "minute bars: \(minutes)")
            #expect(minutes.periods >= 2 && minutes.bars >= 2 * Self.symbols, "whole minutes compared: \(minutes)")
            let seconds = try Self.barsAgainstTrades("second", length: 1_000, on: connection)
            #expect(seconds.mismatched == 0 && seconds.unmatchedContracts == 0, "second bars: \(seconds)")
            #expect(seconds.periods >= 100, "whole seconds compared: \(seconds)")
            let skipped = try count("SELECT count(*) FROM stream_trades WHERE sent = 0")
            #expect(skipped > 0, "the drops skipped trades, so some periods are not whole")
            let summary = comparisons.map { "\($0.type) \($0.stored)" }.joined(separator: ", ")
            let counted = ["trades_written", "aggregates_written", "quotes_written", "fmvs_written", "spooled_trades"]
                .map { "\($0) \(stopped[$0] ?? "none")" }.joined(separator: ", ")
            print(
                "every event type: stored \(summary); \(counted); \(streamed) connections, \(skipped) trades skipped; compared \(minutes.bars) minute bars over \(minutes.periods) minutes, \(seconds.bars) second bars over \(seconds.periods) seconds"
            )
        }
    }
}

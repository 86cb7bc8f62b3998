import Foundation
import IngestDatabase
import IngestTestSupport
import OptionsFeed
import Testing

/// Gap backfill from feed-sim's REST API (docs/design.md §5.8.1,
/// docs/guarantees.md): with `BACKFILL=watched`, the trades the feed never
/// sent — while a dropped or stalled connection reconnected, or after a
/// `kill -9` — are fetched and merged, so that for the watched contracts the
/// table holds the whole stream of the run's range exactly once.
@Suite("Gap backfill end to end", .serialized, .temporaryDirectory("backfill"))
struct BackfillEndToEndTests {
    let directory: URL

    init() throws {
        directory = try TemporaryDirectory.required()
    }

    /// Watched: three underlyings, so the chain snapshot chooses the contracts.
    static let watchedUnderlyings = ["SPY", "QQQ", "AAPL"]

    /// A stored or streamed trade by content: what the merge matches on.
    struct Content: Hashable, CustomStringConvertible {
        var sym: String
        var t: Int64
        var priceMicros: Int64
        var size: Int64
        var exchange: Int

        var description: String { "\(sym)@\(t) \(priceMicros)µ×\(size) x\(exchange)" }
    }

    /// The valid trades of feed-sim's `--stream-ledger` (`sym,t,q,p,s,x,valid,c,sent,sip_timestamp`), sent or skipped.
    static func stream(_ path: String) throws -> [(content: Content, sent: Bool, notional: Double)] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst()
        return lines.compactMap { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 10, f[6] == "1", let t = Int64(f[1]), let price = Double(f[3]), let size = Int64(f[4]), let x = Int(f[5])
            else { return nil }
            return (Content(sym: f[0], t: t, priceMicros: Int64((price * 1e6).rounded()), size: size, exchange: x), f[8] == "1", price * Double(size) * 100)
        }
    }

    /// The stored rows of `symbols` with `t` in `range`, by content, and how many of them were backfilled (negative `seq`).
    static func stored(_ url: String, symbols: Set<String>, range: ClosedRange<Int64>) throws -> (rows: [Content], backfilled: Int) {
        let rows = try PGConnection(conninfo: url).query(
            """
            SELECT sym, (extract(epoch FROM ts) * 1000)::bigint, price, size, exchange, seq FROM options_trades
            WHERE ts BETWEEN to_timestamp(\(range.lowerBound) / 1000.0) AND to_timestamp(\(range.upperBound) / 1000.0)
            """)
        var contents: [Content] = []
        var backfilled = 0
        for row in rows {
            guard let sym = row[0], symbols.contains(sym), let t = row[1].flatMap({ Int64($0) }), let price = row[2].flatMap({ Double($0) }),
                let size = row[3].flatMap({ Int64($0) }), let x = row[4].flatMap({ Int($0) }), let seq = row[5].flatMap({ Int64($0) })
            else { continue }
            contents.append(Content(sym: sym, t: t, priceMicros: Int64((price * 1e6).rounded()), size: size, exchange: x))
            if seq < 0 { backfilled += 1 }
        }
        return (contents, backfilled)
    }

    static func counts(_ contents: [Content]) -> [Content: Int] {
        contents.reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }

    /// The `feed_gaps` rows still waiting for the backfill (pending, failed), and all of them.
    static func gaps(_ url: String) throws -> (waiting: Int, rows: [[String?]]) {
        let rows = try PGConnection(conninfo: url).query(
            "SELECT id, reason, from_t, to_t, backfill, backfill_rows, backfill_error FROM feed_gaps ORDER BY id")
        return (rows.count { $0[4] == "pending" || $0[4] == "failed" }, rows)
    }

    @Test(
        "drops, a stall, a Postgres outage and a kill -9: every trade of the watched contracts in the run's range is stored once, sent or not; a second backfill adds nothing",
        .timeLimit(.minutes(5)))
    func watchedContractsComplete() async throws {
        try await PrivatePostgres.with(database: "backfill") { server in
            let streamLedger = directory.appendingPathComponent("stream.csv").path
            let settings = DatabaseFaultTests.fast.merging([
                "BACKFILL": "watched", "WATCH_SYMBOLS": Self.watchedUnderlyings.joined(separator: ","),
                "BACKFILL_REQUESTS_PER_S": "200", "BACKFILL_MARGIN_MS": "500", "LOG_LEVEL": "debug",
                "WS_PING_INTERVAL_MS": "500", "WS_STALE_AFTER_MS": "1000", "WS_STALE_RECONNECT_AFTER_MS": "2000",
            ]) { $1 }
            let first = try await RunningPipeline.start(
                feed: ["--seed", "23", "--rate", "400", "--symbols", "40", "--invalid-fraction", "0.01", "--control", "--stream-ledger", streamLedger],
                databaseURL: server.url, log: "backfill-1.log", settings, spool: directory.appendingPathComponent("spool").path,
                directory: directory)
            let (feed, port) = (first.feed, first.port)
            try await first.waitUntilStreaming(timeout: .seconds(30))
            try await waitForTrades(in: server.url, atLeast: 200)

            // Time passing is the point in what follows: the stream goes on between the faults.
            for _ in 0..<3 {
                try await Task.sleep(for: .seconds(2))
                #expect(try HTTPProbe.post(port: port, "/control/fault/drop").status == 200)
            }
            try await Task.sleep(for: .seconds(2))
            #expect(try HTTPProbe.post(port: port, "/control/fault/stall").status == 200)
            try await first.waitForLog("feed streaming", count: 5, timeout: .seconds(30))
            try await server.run("stop")
            try await Task.sleep(for: .seconds(6))
            try await server.run("start")
            try await Task.sleep(for: .seconds(3))
            first.ingester.signal(SIGKILL)
            _ = try await first.ingester.waitForExit(timeout: .seconds(10))
            let second = try await first.withIngester(log: "backfill-2.log")
            try await second.waitUntilStreaming(timeout: .seconds(30))
            try await Task.sleep(for: .seconds(3))

            // Every gap backfilled while the feed still streams: none left pending or failed.
            let waited = try await waitFor(timeout: .seconds(120), what: "every gap backfilled") {
                let gaps = try? Self.gaps(server.url)
                return gaps.map { $0.waiting == 0 && $0.rows.count { $0[4] == "done" } >= 5 } == true ? gaps : nil
            }
            // The run's range: its first and last stored trade; stopping the ingester first leaves its shutdown gap beyond it.
            #expect(try await second.ingester.stop(timeout: .seconds(60)) == 0)
            let bounds = try PGConnection(conninfo: server.url).query(
                "SELECT (extract(epoch FROM min(ts)) * 1000)::bigint, (extract(epoch FROM max(ts)) * 1000)::bigint FROM options_trades WHERE seq >= 0")
            let low = try #require(bounds.first?[0].flatMap { Int64($0) })
            let high = try #require(bounds.first?[1].flatMap { Int64($0) })

            // By hand over the whole range, feed-sim still up: the merges find everything there already.
            let environment = second.environment.merging(["LOG_FILE": directory.appendingPathComponent("backfill-by-hand.log").path]) { $1 }
            let byHand = try await ManagedProcess(
                "ingest-options", ["backfill", "--from", "\(low)", "--to", "\(high)"], environment: environment, directory: directory)
            #expect(try await byHand.waitForExit(timeout: .seconds(120)) == 0, "\(byHand.stderr)")
            let summary = try #require(
                try JSONSerialization.jsonObject(with: Data(byHand.stdout.utf8)) as? [String: Any], "summary: \(byHand.stdout)")
            #expect(summary["rows"] as? Int == 0, "a second backfill of the range inserts nothing")
            #expect(summary["state"] as? String == "done")
            #expect((summary["to_t"] as? NSNumber)?.int64Value == high - 1, "the service committed within the minute: the window ends before its newest trade")
            #expect((summary["matched"] as? Int ?? 0) > 0)
            feed.signal(SIGTERM)
            _ = try await feed.waitForExit(timeout: .seconds(20))

            // The truth: feed-sim's whole stream, sent or skipped, of the watched contracts in the range, at the notional threshold.
            let stream = try Self.stream(streamLedger)
            let watched = Set(stream.map(\.content.sym).filter { Self.watchedUnderlyings.contains(OptionSymbol($0)?.underlying ?? "") })
            #expect(!watched.isEmpty)
            // Up to the newest stored millisecond, not into it: trades of one millisecond can span two frames, and the
            // graceful stop may come between them (feed-sim sent the second, the stopped reader never read it).
            let range = low...(high - 1)
            let expected = stream.filter { watched.contains($0.content.sym) && range.contains($0.content.t) && $0.notional >= 10_000 }
            #expect(expected.contains { !$0.sent }, "the faults made the feed skip watched trades")
            let (rows, backfilled) = try Self.stored(server.url, symbols: watched, range: range)
            let want = Self.counts(expected.map(\.content))
            let have = Self.counts(rows)
            let missing = want.filter { have[$0.key, default: 0] < $0.value }
            let extra = have.filter { want[$0.key, default: 0] < $0.value }
            #expect(missing.isEmpty, "missing \(missing.count): \(missing.keys.prefix(5)); gaps \(waited.rows)")
            #expect(extra.isEmpty, "doubled or unexpected \(extra.count): \(extra.keys.prefix(5))")
            #expect(rows.count == expected.count)
            #expect(backfilled > 0 && backfilled >= expected.count { !$0.sent }, "the skipped trades came from the backfill")
            // Debug logs of every REST request, and the by-hand run's output: none carries the key.
            let key = try #require(first.environment["POLYGON_API_KEY"])
            for name in ["backfill-1.log", "backfill-2.log", "backfill-by-hand.log"] {
                let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
                #expect(!text.isEmpty && !text.contains(key), "\(name) is written and carries no key")
            }
            #expect(!byHand.stdout.contains(key) && !byHand.stderr.contains(key))
            #expect(!(first.lines("contract backfilled") + second.lines("contract backfilled")).isEmpty, "the REST work was logged")
        }
    }
}

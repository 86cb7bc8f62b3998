import FeedSimulator
import Foundation
import IngestDatabase
import IngestPipeline
import IngestTestSupport
import OptionsFeed
import Testing

/// `--record` and `ingest-options replay` (docs/design.md §5.6) with a real Postgres,
/// a real feed-sim and the built binaries.
@Suite("Record and replay", .serialized, .temporaryDirectory("replay"))
struct RecordReplayTests {
    let directory: URL

    init() throws {
        directory = try TemporaryDirectory.required()
    }

    /// Every column of every stored trade, in key order: what "the same rows" means.
    static let everyColumn = """
        SELECT sym, ts::text, seq, underlying, expiry::text, option_type, strike::text, exchange, price, size, notional,
               conditions::text, received_at::text
        FROM options_trades ORDER BY sym, ts, seq
        """

    /// Expects two row sets to be equal, reporting a count and a few examples rather than every row.
    static func expectSameRows(_ actual: [[String?]], _ expected: [[String?]], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        func line(_ row: [String?]) -> String { row.map { $0 ?? "NULL" }.joined(separator: "|") }
        let actualLines = actual.map(line)
        let expectedLines = expected.map(line)
        guard actualLines != expectedLines else { return }
        let missing = Set(expectedLines).subtracting(actualLines)
        let extra = Set(actualLines).subtracting(expectedLines)
        Issue.record(
            "\(what): \(actual.count) rows, expected \(expected.count); \(missing.count) missing, e.g. \(missing.sorted().prefix(3)); \(extra.count) unexpected, e.g. \(extra.sorted().prefix(3))",
            sourceLocation: sourceLocation)
    }

    /// Runs `ingest-options replay` and returns its exit status, its summary line and its stderr.
    func replay(
        _ files: [String], into database: TestDatabase, tag: String, _ settings: [String: String] = [:]
    ) async throws -> (status: Int32, summary: [String: Any], stderr: String) {
        let process = try await ManagedProcess(
            "ingest-options", ["replay"] + files,
            environment: [
                "DATABASE_URL": database.url, "LOG_FILE": directory.appendingPathComponent("replay-\(tag).log").path,
                "MIGRATIONS_DIR": repositoryRoot.appendingPathComponent("migrations").path, "POLYGON_API_KEY": "",
            ].merging(settings) { $1 },
            directory: directory)
        let status = try await process.waitForExit(timeout: .seconds(120))
        let lines = process.stdout.split(separator: "\n")
        #expect(lines.count == 1, "stdout holds only the summary line: \(process.stdout.prefix(2000))")
        let summary = (lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }) ?? [:]
        if status != 0 { Issue.record("replay exited \(status): \(process.stderr.suffix(3000))") }
        return (status, summary, process.stderr)
    }

    @Test("a recorded feed-sim run replays into a fresh database as exactly the rows the live run wrote; again, it changes nothing")
    func recordThenReplay() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let live = try TestDatabase.create()
        defer { live.drop() }
        let replayed = try TestDatabase.create()
        defer { replayed.drop() }

        // The live run, recorded.
        let ledger = directory.appendingPathComponent("ledger.csv").path
        let recording = directory.appendingPathComponent("rec/feed.jsonl").path
        let pipeline = try await RunningPipeline.start(
            feed: ["--seed", "1010", "--rate", "0", "--count", "5000", "--symbols", "300", "--invalid-fraction", "0.01",
                   "--ledger", ledger, "--exit-after-count"],
            databaseURL: live.url, log: "live.log", arguments: ["--record", recording], directory: directory)
        try await pipeline.waitForFeedEnd(exitWithin: .seconds(120), endSeenWithin: .seconds(60))
        #expect(try await pipeline.ingester.stop(timeout: .seconds(60)) == 0)
        let closed = try #require(pipeline.lines("recording closed").first)
        #expect(closed["failed"] as? Bool == false)

        let (valid, invalid) = try EndToEndTests.readLedger(ledger)
        let expected = valid.filter { $0.notional >= 10_000 }
        let liveRows = try live.connect().query(Self.everyColumn)
        #expect(liveRows.count == expected.count)
        #expect(!liveRows.isEmpty)

        // Into a fresh database: the very same rows, received_at included.
        let first = try await replay([recording], into: replayed, tag: "1")
        #expect(first.status == 0)
        #expect(first.summary["trades"] as? Int == valid.count + invalid)
        #expect(first.summary["accepted"] as? Int == expected.count)
        #expect(first.summary["filtered"] as? Int == valid.count - expected.count)
        #expect(first.summary["invalid"] as? Int == invalid)
        #expect(first.summary["rows_written"] as? Int == expected.count)
        #expect(first.summary["dead_letters"] as? Int == invalid)
        #expect(first.summary["frames"] as? Int ?? 0 > 0)
        #expect(first.summary["corrupt_lines"] as? Int == 0)
        #expect(first.summary["complete"] as? Bool == true)
        for field in ["seconds", "rows_per_s"] { #expect(first.summary[field] is NSNumber, "\(field) missing") }
        let connection = try replayed.connect()
        let replayedRows = try connection.query(Self.everyColumn)
        Self.expectSameRows(replayedRows, liveRows, "the replay into a fresh database")
        #expect(try connection.query("SELECT count(*) FROM feed_gaps") == [["0"]], "a replay does not touch feed_gaps")

        // Again: nothing written, the table unchanged.
        let second = try await replay([recording], into: replayed, tag: "2")
        #expect(second.status == 0)
        #expect(second.summary["rows_written"] as? Int == 0)
        #expect(second.summary["accepted"] as? Int == expected.count)
        Self.expectSameRows(try connection.query(Self.everyColumn), liveRows, "the table after a second replay")

        // A copy with a corrupt middle line and its last line cut short: both counted and skipped, exit 0.
        let damagedDatabase = try TestDatabase.create()
        defer { damagedDatabase.drop() }
        var lines = try String(contentsOfFile: recording, encoding: .utf8).split(separator: "\n").map(String.init)
        let middle = lines.count / 2
        lines.insert(#"{"rx":17,"frame":"[{\"ev\":\"T\",\"sym\":"# + "\u{1}garbage", at: middle)
        let lastLine = lines.removeLast()
        let damaged = directory.appendingPathComponent("damaged.jsonl").path
        try (lines.joined(separator: "\n") + "\n" + lastLine.prefix(lastLine.count / 2)).write(toFile: damaged, atomically: false, encoding: .utf8)
        let third = try await replay([damaged], into: damagedDatabase, tag: "3")
        #expect(third.status == 0)
        #expect(third.summary["corrupt_lines"] as? Int == 1)
        #expect(third.summary["truncated_lines"] as? Int == 1)
        #expect(third.summary["lines"] as? Int == lines.count + 1)
        #expect(third.stderr.contains(#""line":\#(middle + 1)"#), "the corrupt line's number is logged")
        #expect(third.stderr.contains(#""line":\#(lines.count + 1)"#), "the truncated line's number is logged")
        // Every row but the trades of the lost last frame.
        let last = try RecordedFrameLine.decode(line: Array(lastLine.utf8))
        let lost = try FrameDecoder().decode(String(decoding: last.frame, as: UTF8.self), receivedAtMicros: last.receivedAtMicros)
            .trades.filter { $0.notional >= 10_000 }.count
        let damagedRows = try damagedDatabase.connect().query(Self.everyColumn)
        #expect(damagedRows.count == liveRows.count - lost)
        let unexpected = Set(damagedRows.map { $0.map { $0 ?? "NULL" }.joined(separator: "|") })
            .subtracting(liveRows.map { $0.map { $0 ?? "NULL" }.joined(separator: "|") })
        #expect(unexpected.isEmpty, "the damaged replay wrote \(unexpected.count) rows the live run did not, e.g. \(unexpected.sorted().prefix(3))")
    }

    /// Every column of every stored row of the other event types, in key order.
    static let everyEventColumn = [
        "options_aggregates": """
            SELECT sym, period, start_ts::text, end_ts::text, underlying, expiry::text, option_type, strike::text, open, high, low, close,
                   volume, vwap, day_volume, day_vwap, day_open, avg_size, received_at::text
            FROM options_aggregates ORDER BY sym, period, start_ts
            """,
        "options_quotes": """
            SELECT sym, ts::text, seq, bid_exchange, ask_exchange, bid_price, ask_price, bid_size, ask_size, received_at::text
            FROM options_quotes ORDER BY sym, ts, seq
            """,
        "options_fmv": "SELECT sym, ts::text, fmv, received_at::text FROM options_fmv ORDER BY sym, ts",
    ]

    @Test("a recording of every event type replays into a fresh database as exactly the rows of each table the live run wrote; again, it changes nothing")
    func recordThenReplayEveryType() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let live = try TestDatabase.create()
        defer { live.drop() }
        let replayed = try TestDatabase.create()
        defer { replayed.drop() }

        // feed-sim's own contracts for its seed: quotes and FMV take named contracts only. The seed starts
        // the stream 59 s into a minute (its feed clock moves ~1 ms a trade), so a minute's bars close early on.
        let contracts = TradeGenerator(seed: 59_000, contracts: 40, invalidFraction: 0).contracts.prefix(3)
        let subscriptions = ["T.*", "A.*", "AM.*"] + contracts.map { "Q." + $0 } + contracts.prefix(2).map { "FMV." + $0 }
        let events = directory.appendingPathComponent("events.csv").path
        let recording = directory.appendingPathComponent("rec-mixed/feed.jsonl").path
        let pipeline = try await RunningPipeline.start(
            feed: ["--seed", "59000", "--rate", "3000", "--count", "9000", "--symbols", "40", "--quote-rate", "300", "--fmv-rate", "60",
                   "--event-ledger", events, "--exit-after-count"],
            databaseURL: live.url, log: "live-mixed.log",
            ["POLYGON_SUBSCRIPTIONS": subscriptions.joined(separator: ","), "POLYGON_OPTION_TRADE_VALUE_THRESHOLD": "0"],
            arguments: ["--record", recording], directory: directory)
        try await pipeline.waitForFeedEnd(exitWithin: .seconds(120), endSeenWithin: .seconds(60))
        #expect(try await pipeline.ingester.stop(timeout: .seconds(60)) == 0)

        // What feed-sim wrote, by type: the live run stored each event once.
        let ledger = try String(contentsOfFile: events, encoding: .utf8).split(separator: "\n")
        let written = Dictionary(grouping: ledger, by: { String($0.prefix(while: { $0 != "," })) }).mapValues(\.count)
        let liveConnection = try live.connect()
        func count(_ sql: String) throws -> Int { Int(try liveConnection.query(sql).first?.first.flatMap { $0 } ?? "") ?? -1 }
        #expect(try count("SELECT count(*) FROM options_aggregates WHERE period = 'second'") == written["A"] ?? 0)
        #expect(try count("SELECT count(*) FROM options_aggregates WHERE period = 'minute'") == written["AM"] ?? 0)
        #expect(try count("SELECT count(*) FROM options_quotes") == written["Q"] ?? 0)
        #expect(try count("SELECT count(*) FROM options_fmv") == written["FMV"] ?? 0)
        for type in ["A", "AM", "Q", "FMV"] { #expect(written[type] ?? 0 > 0, "feed-sim wrote no \(type) event") }

        // Into a fresh database: the very same rows in every table, received_at included.
        let everyTrade = ["POLYGON_OPTION_TRADE_VALUE_THRESHOLD": "0"]
        let first = try await replay([recording], into: replayed, tag: "mixed-1", everyTrade)
        #expect(first.status == 0)
        #expect(first.summary["aggregates"] as? Int == (written["A"] ?? 0) + (written["AM"] ?? 0))
        #expect(first.summary["quotes"] as? Int == written["Q"])
        #expect(first.summary["fmv"] as? Int == written["FMV"])
        #expect(first.summary["complete"] as? Bool == true)
        let replayedConnection = try replayed.connect()
        for (table, query) in Self.everyEventColumn.sorted(by: { $0.key < $1.key }) + [("options_trades", Self.everyColumn)] {
            let liveRows = try liveConnection.query(query)
            #expect(!liveRows.isEmpty, "\(table) is empty")
            Self.expectSameRows(try replayedConnection.query(query), liveRows, "\(table) after the replay")
        }

        // Again: nothing written, every table unchanged.
        let second = try await replay([recording], into: replayed, tag: "mixed-2", everyTrade)
        #expect(second.status == 0)
        #expect(second.summary["rows_written"] as? Int == 0)
        for (table, query) in Self.everyEventColumn {
            Self.expectSameRows(try replayedConnection.query(query), try liveConnection.query(query), "\(table) after a second replay")
        }
    }

    @Test("replay needs no API key, refuses an unreadable file with exit 64, and reads gzip and standard input")
    func commandLine() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try TestDatabase.create()
        defer { database.drop() }
        let environment = [
            "DATABASE_URL": database.url, "LOG_FILE": "", "MIGRATIONS_DIR": repositoryRoot.appendingPathComponent("migrations").path,
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
        ]
        let missing = try await ManagedProcess(
            "ingest-options", ["replay", directory.appendingPathComponent("nope.jsonl").path], environment: environment,
            directory: directory, inheritEnvironment: false)
        #expect(try await missing.waitForExit(timeout: .seconds(30)) == 64)
        #expect(missing.stderr.contains("nope.jsonl"))

        let trade = #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":65.5,"s":20,"c":[209],"t":1764772200120,"q":1}"#
        let path = directory.appendingPathComponent("one.jsonl").path
        try String(decoding: RecordedFrameLine.encode(receivedAtMicros: 1_764_772_200_130_000, frame: "[\(trade)]"), as: UTF8.self)
            .write(toFile: path, atomically: false, encoding: .utf8)
        try await runTool("/usr/bin/env", ["gzip", "-k", path])
        let compressed = try await ManagedProcess(
            "ingest-options", ["replay", path + ".gz"], environment: environment, directory: directory, inheritEnvironment: false)
        #expect(try await compressed.waitForExit(timeout: .seconds(60)) == 0)
        #expect(compressed.stdout.contains(#""rows_written":1,"#))

        // Standard input, written by another process: `ingest-options replay - < FILE`.
        let (status, printed) = try await runBuilt(
            "ingest-options", ["replay", "-"], environment: environment, directory: directory,
            input: try String(contentsOfFile: path, encoding: .utf8))
        #expect(status == 0)
        #expect(printed.contains(#""frames":1,"#) && printed.contains(#""accepted":1,"#) && printed.contains(#""rows_written":0,"#))
    }
}

import Foundation
import IngestDatabase
import IngestTestSupport
import Testing

/// An ingester whose stdout is a pipe nobody reads (a log shipper that hung, a
/// terminal paused with Ctrl-S): the pipe fills, and trades must keep flowing
/// into the database and lines into LOG_FILE all the same.
@Suite("Stalled console", .serialized, .temporaryDirectory("console"))
struct ConsoleStallTests {
    let directory: URL

    init() throws {
        directory = try TemporaryDirectory.required()
    }

    static func bytesWaiting(in descriptor: Int32) -> Int32 {
        var count: Int32 = 0
        _ = ioctl(descriptor, UInt(FIONREAD), &count)
        return count
    }

    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0
    }

    static func rows(_ database: TestDatabase) throws -> Int {
        Int(try database.connect().query("SELECT count(*) FROM options_trades").first?.first.flatMap { $0 } ?? "") ?? 0
    }

    @Test("stdout a pipe nobody reads, debug logging: once the pipe is full, rows keep arriving in options_trades, LOG_FILE keeps growing, SIGUSR1 still reports, SIGTERM exits 0")
    func stalledStdout() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]) }
        // The smallest pipe Linux makes (one page): full after a dozen lines, not 64 KiB of them.
        let setPipeSize: Int32 = 1031  // F_SETPIPE_SZ
        _ = fcntl(ends[1], setPipeSize, 4096)
        let pipeline = try await RunningPipeline.start(
            feed: ["--seed", "7", "--rate", "500"], databaseURL: database.url, log: "stall.log",
            ["LOG_LEVEL": "debug", "FLUSH_INTERVAL_MS": "50", "POLYGON_OPTION_TRADE_VALUE_THRESHOLD": "0"], directory: directory,
            standardOutput: .descriptor(ends[1]))
        close(ends[1])
        let (ingester, log) = (pipeline.ingester, pipeline.log)

        try await pipeline.waitUntilStreaming(timeout: .seconds(30))
        // Full: bytes wait in the pipe and none have been added for 3 s (the process logs every 50 ms).
        var last = (bytes: Int32(-1), since: ContinuousClock.now)
        _ = try await waitFor(timeout: .seconds(60), what: "the stdout pipe to fill") { () -> Bool? in
            let bytes = Self.bytesWaiting(in: ends[0])
            if bytes != last.bytes { last = (bytes, .now) }
            return bytes > 0 && last.since.duration(to: .now) > .seconds(3) ? true : nil
        }

        let rowsAtFull = try Self.rows(database)
        let logAtFull = Self.fileSize(log)
        _ = try await waitFor(timeout: .seconds(30), what: "1000 more rows after the pipe filled (had \(rowsAtFull))") {
            try Self.rows(database) >= rowsAtFull + 1000 ? true : nil
        }
        #expect(Self.fileSize(log) > logAtFull, "LOG_FILE keeps growing")

        // The SIGUSR1 report goes to the same stalled stdout: it must not stop the health service.
        let reports = logLines(log, message: "HEALTH REPORT").count
        ingester.signal(SIGUSR1)
        _ = try await waitFor(timeout: .seconds(15), what: "the HEALTH REPORT line after SIGUSR1") {
            logLines(log, message: "HEALTH REPORT").count > reports ? true : nil
        }
        let rowsAfterReport = try Self.rows(database)
        _ = try await waitFor(timeout: .seconds(30), what: "rows still arriving after SIGUSR1") {
            try Self.rows(database) >= rowsAfterReport + 500 ? true : nil
        }
        #expect(Self.bytesWaiting(in: ends[0]) > 0, "the pipe was never read")

        #expect(try await ingester.stop(timeout: .seconds(30)) == 0)
        #expect(!logLines(log, message: "stopped").isEmpty)
        pipeline.feed.signal(SIGTERM)
    }
}

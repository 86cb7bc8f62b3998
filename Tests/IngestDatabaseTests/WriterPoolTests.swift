#if canImport(Glibc)
import Glibc
#endif
import IngestTestSupport
import Logging
import OptionsFeed
import Testing

@testable import IngestDatabase

/// The writer's connection pool against the real PostgreSQL server (docs/design.md §5.3).
@Suite("Writer connection pool", .serialized)
struct WriterPoolTests {
    static func batch(from first: Int64, count: Int) -> [OptionTrade] {
        (first..<(first + Int64(count))).map { q in
            OptionTrade(
                symbol: OptionSymbol("O:SPY251219C00650000")!, exchange: 7, price: 12.5, size: 20, conditions: [209],
                timestampMs: 1_764_772_200_000 + q, sequence: q, receivedAtMicros: 1_764_772_300_000_000)
        }
    }

    /// Connections of this writer, as the server sees them.
    static func writerConnections(_ database: TestDatabase) throws -> Int {
        let rows = try database.connect().query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ingest-options' AND pid <> pg_backend_pid()")
        return Int(rows.first?.first.flatMap { $0 } ?? "") ?? -1
    }

    @Test("two batches written at once use two connections, and every row lands once")
    func concurrentBatchesUseTwoConnections() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let writer = PostgresTradeWriter(conninfo: database.url, poolSize: 2, logger: Logger(label: "test"))
        async let left = writer.write(Self.batch(from: 0, count: 5000))
        async let right = writer.write(Self.batch(from: 5000, count: 5000))
        let results = try await [left, right]
        #expect(results.map(\.inserted) == [5000, 5000])
        #expect(try Self.writerConnections(database) == 2)
        let count = try database.connect().query("SELECT count(DISTINCT seq) FROM options_trades")
        #expect(count == [["10000"]])
        await writer.shutdown()
        // The server ends a backend a moment after the client's Terminate message.
        let closed = try await waitFor(timeout: .seconds(10), what: "the writer's connections to close") {
            try Self.writerConnections(database) == 0 ? true : nil
        }
        #expect(closed, "shutdown closes every connection")
    }

    @Test("the flusher's executor is the first connection's thread: a task that prefers it writes there, without a hop")
    func flushExecutorIsTheFirstConnectionsThread() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let writer = PostgresTradeWriter(conninfo: database.url, poolSize: 2, logger: Logger(label: "test"))
        let executor = try #require(writer.flushExecutor)
        let (before, after, inserted) = try await withTaskExecutorPreference(executor) {
            let before = Self.threadName()
            let result = try await writer.write(Self.batch(from: 0, count: 100))
            return (before, Self.threadName(), result.inserted)
        }
        #expect(before == "db-writer-0")
        #expect(after == "db-writer-0")
        #expect(inserted == 100)
        await writer.shutdown()
    }

    /// The calling thread's name, as `top -H` shows it.
    static func threadName() -> String {
        guard let file = fopen("/proc/thread-self/comm", "r") else { return "" }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 32)
        guard fgets(&buffer, 32, file) != nil else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    @Test("an idle connection killed on the server fails its health check and is replaced on the next write")
    func brokenIdleConnectionReplaced() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let writer = PostgresTradeWriter(conninfo: database.url, poolSize: 1, logger: Logger(label: "test"))
        _ = try await writer.write(Self.batch(from: 0, count: 10))
        let killed = try database.connect().query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ingest-options' AND pid <> pg_backend_pid()")
        #expect(killed == [["t"]])
        await writer.maintain(now: .now.advanced(by: .seconds(61)))
        _ = try await waitFor(timeout: .seconds(10), what: "the killed backend to go") { try Self.writerConnections(database) == 0 ? true : nil }
        let result = try await writer.write(Self.batch(from: 10, count: 10))
        #expect(result.inserted == 10, "the next write reconnects")
        #expect(try Self.writerConnections(database) == 1)
        await writer.shutdown()
    }

    @Test("after 30 idle minutes connections beyond the first are closed; the first stays")
    func idleConnectionsClosed() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let writer = PostgresTradeWriter(conninfo: database.url, poolSize: 3, logger: Logger(label: "test"))
        async let a = writer.write(Self.batch(from: 0, count: 3000))
        async let b = writer.write(Self.batch(from: 3000, count: 3000))
        async let c = writer.write(Self.batch(from: 6000, count: 3000))
        _ = try await [a, b, c]
        let opened = try Self.writerConnections(database)
        #expect(opened >= 2)
        await writer.maintain(now: .now.advanced(by: .seconds(1799)))
        #expect(try Self.writerConnections(database) == opened, "not idle long enough")
        await writer.maintain(now: .now.advanced(by: .seconds(1801)))
        let one = try await waitFor(timeout: .seconds(10), what: "idle connections to close") { try Self.writerConnections(database) == 1 ? true : nil }
        #expect(one)
        await writer.shutdown()
    }

    @Test("optimistic COPY: new rows go straight in; a batch with one duplicate is redone through the staging table, exactly once", arguments: [1, 2])
    func directCopyFallsBack(rounds: Int) async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let writer = PostgresTradeWriter(conninfo: database.url, poolSize: 1, logger: Logger(label: "test"))
        #expect(try await writer.write(Self.batch(from: 0, count: 100)).inserted == 100)
        for round in 0..<rounds {
            // One row already stored, 50 new: 23505 on the direct COPY, then ON CONFLICT DO NOTHING.
            let mixed = Self.batch(from: 99 + Int64(round) * 50, count: 51)
            #expect(try await writer.write(mixed).inserted == 50)
        }
        // Later batches (staging run, then direct again) still count right.
        for next in 0..<25 {
            #expect(try await writer.write(Self.batch(from: 10_000 + Int64(next) * 10, count: 10)).inserted == 10)
        }
        let count = try database.connect().query("SELECT count(*), count(DISTINCT (sym, ts, seq)) FROM options_trades")
        #expect(count == [[String(100 + rounds * 50 + 250), String(100 + rounds * 50 + 250)]])
        await writer.shutdown()
    }
}

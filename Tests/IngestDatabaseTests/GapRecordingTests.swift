import IngestTestSupport
import Logging
import OptionsFeed
import Testing

@testable import IngestDatabase

/// `feed_gaps` as the writer keeps it, against the real PostgreSQL of scripts/test.
@Suite("Gap recording", .serialized)
struct GapRecordingTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func gaps(_ database: TestDatabase) throws -> [String: (start: Int64, end: Int64?)] {
        var gaps: [String: (start: Int64, end: Int64?)] = [:]
        for row in try database.connect().query(
            """
            SELECT reason, (extract(epoch FROM started_at) * 1000000)::bigint, (extract(epoch FROM ended_at) * 1000000)::bigint FROM feed_gaps
            """)
        {
            gaps[row[0]!] = (Int64(row[1]!)!, row[2].flatMap { Int64($0) })
        }
        return gaps
    }

    /// The database's clock now (Unix µs).
    static func databaseNow(_ database: TestDatabase) throws -> Int64 {
        Int64(try database.connect().query("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")[0][0]!)!
    }

    /// A host clock an hour ahead of the database's, frozen: ages (this clock minus a time) are exact.
    static func hostAhead() -> (clock: WallClock, now: Int64) {
        let now = WallClock.system.nowMicros() + 3_600_000_000
        return (WallClock { now }, now)
    }

    /// Within `tolerance` µs (statements run a few milliseconds apart on the database's clock).
    static func near(_ value: Int64?, _ expected: Int64, tolerance: Int64 = 500_000) -> Bool {
        value.map { abs($0 - expected) <= tolerance } ?? false
    }

    @Test("a close ends only its own row, by id, whether opened in the same batch or an earlier one; left-open rows end only by their ids")
    func closeEndsItsOwnRow() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        // Rows another instance opened, one before and one after ours: no clock decides which row a close ends.
        let others = try database.connect().query(
            """
            INSERT INTO feed_gaps (started_at, reason) VALUES
              ('epoch'::timestamptz + 50 * interval '1 microsecond', 'other-early'),
              (clock_timestamp() + interval '1 hour', 'other-late')
            RETURNING id
            """
        ).compactMap { $0[0].flatMap { Int64($0) } }
        let host = Self.hostAhead()
        let writer = PostgresTradeWriter(conninfo: database.url, wallClock: host.clock, logger: Self.quiet)
        let second: Int64 = 1_000_000

        let same = GapRow(startedAtMicros: host.now - 20 * second, reason: "same-batch")
        try await writer.recordGaps(GapChanges([.opened(same), .closed(same, atMicros: host.now - 19 * second)]))
        #expect(same.id != nil, "the row learned its id once committed")

        let later = GapRow(startedAtMicros: host.now - 18 * second, reason: "later-batch")
        try await writer.recordGaps(GapChanges([.opened(later)]))
        try await writer.recordGaps(GapChanges([.closed(later, atMicros: host.now - 16 * second)]))

        // A close read before the open (times out of order): the gap ends where it started, never before.
        let skewed = GapRow(startedAtMicros: host.now - 10 * second, reason: "skewed")
        try await writer.recordGaps(GapChanges([.opened(skewed), .closed(skewed, atMicros: host.now - 12 * second)]))

        var gaps = try Self.gaps(database)
        let start = try #require(gaps["same-batch"]?.start)
        #expect(Self.near(gaps["same-batch"]?.end, start + second))
        #expect(Self.near(gaps["later-batch"].map { $0.start - start }, 2 * second))
        #expect(Self.near(gaps["later-batch"]?.end, start + 4 * second))
        #expect(gaps["skewed"].map { $0.end == $0.start } == true)
        #expect(gaps["other-early"].map { $0.end == nil } == true, "another instance's row stays open")
        #expect(gaps["other-late"].map { $0.end == nil } == true)

        try await writer.recordGaps(GapChanges([.closedLeftOpen(.ids([others[0]]), atMicros: host.now - 5 * second)]))
        gaps = try Self.gaps(database)
        #expect(Self.near(gaps["other-early"]?.end, start + 15 * second))
        #expect(gaps["other-late"].map { $0.end == nil } == true, "a row opened after the leader looked is not closed")

        try await writer.recordGaps(GapChanges([.closedLeftOpen(.every, atMicros: host.now)]))
        await writer.shutdown()
        gaps = try Self.gaps(database)
        #expect(gaps["other-late"].map { $0.end == $0.start } == true, "a row that starts later ends where it starts")
        #expect(Self.near(gaps["later-batch"]?.end, start + 4 * second), "a closed row is not closed again")
    }

    @Test("gap times are on the database's clock: a host an hour ahead writes the database's time minus each time's age on the host")
    func timesOnTheDatabaseClock() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let host = Self.hostAhead()
        let writer = PostgresTradeWriter(conninfo: database.url, wallClock: host.clock, logger: Self.quiet)
        let row = GapRow(startedAtMicros: host.now - 30_000_000, reason: "reconnect")
        try await writer.recordGaps(GapChanges([.opened(row), .closed(row, atMicros: host.now - 10_000_000)]))
        // A start read from the database (a failover's, from ingest_state) is written as it is.
        let failover = GapRow(startedAt: .database(try Self.databaseNow(database) - 60_000_000), reason: "failover")
        try await writer.recordGaps(GapChanges([.opened(failover), .closed(failover, atMicros: host.now - 5_000_000)]))
        await writer.shutdown()
        let now = try Self.databaseNow(database)
        let gaps = try Self.gaps(database)
        #expect(Self.near(gaps["reconnect"]?.start, now - 30_000_000), "\(String(describing: gaps["reconnect"])) vs database now \(now)")
        #expect(Self.near(gaps["reconnect"]?.end, now - 10_000_000))
        #expect(Self.near(gaps["failover"]?.start, now - 60_000_000))
        #expect(Self.near(gaps["failover"]?.end, now - 5_000_000), "the new leader's close, not the host's clock, ends the failover gap")
    }

    @Test("gap changes under an older leadership term are refused and write nothing; under the current term they are written")
    func fencedByTheLeadershipTerm() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let writer = PostgresTradeWriter(conninfo: database.url, logger: Self.quiet)
        let first = LeaderLock(conninfo: database.url, group: "fence-test", logger: Self.quiet)
        let term = try #require(try await first.tryAcquire())
        await first.release()
        let second = LeaderLock(conninfo: database.url, group: "fence-test", logger: Self.quiet)
        let next = try #require(try await second.tryAcquire(), "the lock is free again")
        #expect(next == term + 1, "each acquisition raises the term")

        let late = GapRow(startedAtMicros: WallClock.system.nowMicros() - 1_000_000, reason: "deposed")
        await #expect(throws: GapFenceError.self) {
            try await writer.recordGaps(GapChanges([.opened(late)], fence: term))
        }
        #expect(late.id == nil)
        let current = GapRow(startedAtMicros: WallClock.system.nowMicros(), reason: "leading")
        try await writer.recordGaps(GapChanges([.opened(current)], fence: next))
        #expect(try Self.gaps(database).keys.sorted() == ["leading"], "only the current leader's change is stored")
        await writer.shutdown()
        await first.close()
        await second.close()
    }

    @Test("a new leader's term raise waits for a gap transaction already past its check, so that change is in before the new leader looks")
    func termRaiseWaitsForAGapTransaction() async throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let old = LeaderLock(conninfo: database.url, group: "order-test", logger: Self.quiet)
        let term = try #require(try await old.tryAcquire())
        await old.release()
        // The deposed leader's gap transaction, past its fence check, not yet committed.
        let inFlight = try database.connect()
        try inFlight.execute("BEGIN")
        #expect(try inFlight.query(IngestState.leaderTermForShare) == [[String(term)]])
        try inFlight.execute("INSERT INTO feed_gaps (started_at, reason) VALUES (clock_timestamp(), 'in-flight')")

        let new = LeaderLock(conninfo: database.url, group: "order-test", logger: Self.quiet)
        let raise = Task { try await new.tryAcquire() }
        let observer = try database.connect()
        _ = try await waitFor(timeout: .seconds(10), what: "the term raise to wait on the gap transaction's row lock") {
            try observer.query(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = 'ingest-options-leader-lock' AND wait_event_type = 'Lock'"
            ).first
        }
        try inFlight.execute("COMMIT")
        #expect(try await raise.value == term + 1)
        #expect(try Self.gaps(database).keys.sorted() == ["in-flight"], "the change committed before the new term counts")
        await new.close()
        await old.close()
    }
}

import IngestTestSupport
import Logging
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
              ('epoch'::timestamptz + 5000 * interval '1 microsecond', 'other-late')
            RETURNING id
            """
        ).compactMap { $0[0].flatMap { Int64($0) } }
        let writer = PostgresTradeWriter(conninfo: database.url, logger: Self.quiet)

        let same = GapRow(startedAtMicros: 100, reason: "same-batch")
        try await writer.recordGaps([.opened(same), .closed(same, atMicros: 200)])
        #expect(same.id != nil, "the row learned its id once committed")

        let later = GapRow(startedAtMicros: 300, reason: "later-batch")
        try await writer.recordGaps([.opened(later)])
        try await writer.recordGaps([.closed(later, atMicros: 400)])

        // A host clock behind the one that wrote started_at: the gap ends where it started, never before.
        let skewed = GapRow(startedAtMicros: 600, reason: "skewed")
        try await writer.recordGaps([.opened(skewed), .closed(skewed, atMicros: 550)])

        var gaps = try Self.gaps(database)
        #expect(gaps["same-batch"]?.end == 200)
        #expect(gaps["later-batch"]?.end == 400)
        #expect(gaps["skewed"]?.end == 600)
        #expect(gaps["other-early"].map { $0.end == nil } == true, "another instance's row stays open")
        #expect(gaps["other-late"].map { $0.end == nil } == true)

        try await writer.recordGaps([.closedLeftOpen(.ids([others[0]]), atMicros: 700)])
        gaps = try Self.gaps(database)
        #expect(gaps["other-early"]?.end == 700)
        #expect(gaps["other-late"].map { $0.end == nil } == true, "a row opened after the leader looked is not closed")

        try await writer.recordGaps([.closedLeftOpen(.every, atMicros: 9000)])
        await writer.shutdown()
        #expect(try Self.gaps(database)["other-late"]?.end == 9000)
        #expect(try Self.gaps(database)["later-batch"]?.end == 400, "a closed row is not closed again")
    }
}

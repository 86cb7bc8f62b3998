import Foundation
import IngestTestSupport
import Testing

/// The short chaos run (docs/guarantees.md): `scripts/chaos` for 80 s of faults — feed
/// drops, resets, stalls and silences, a Postgres outage, a kill -9 and a
/// spool-full episode — then its verdict: nothing doubled, nothing missing
/// without a recorded reason, no crash; for the watched contracts, every trade
/// of the stream stored once after the backfill.
@Suite("Chaos", .serialized)
struct ChaosTests {
    @Test("a short seeded chaos run: no duplicates, no trade missing without a reason, no crash", .timeLimit(.minutes(6)))
    func shortChaosRun() async throws {
        let directory = repositoryRoot.appendingPathComponent(".data/chaos-test-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        // The verdict is the script's stdout, captured while it runs; nothing here blocks a cooperative thread.
        let process = try await ManagedProcess(
            path: repositoryRoot.appendingPathComponent("scripts/chaos").path, [],
            environment: [
                "CHAOS_SECONDS": "80", "CHAOS_SEED": "7", "CHAOS_DIR": directory.path,
                "INGEST_BIN_DIR": ManagedProcess.binDirectory.path, "CHAOS_PG_PORT": "",
            ],
            directory: repositoryRoot)
        let status: Int32
        do {
            status = try await process.waitForExit(timeout: .seconds(300))
        } catch {
            process.signal(SIGTERM)  // the script's trap stops everything it started
            try await process.waitForExit(timeout: .seconds(60))
            Issue.record("scripts/chaos did not finish within 5 minutes")
            return
        }
        let data = Data(process.stdout.utf8)

        let verdict = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "verdict: \(String(decoding: data, as: UTF8.self))")
        #expect(status == 0, "violations: \(verdict["violations"] ?? "?")")
        #expect(verdict["duplicates"] as? Int == 0)
        #expect(verdict["missing_without_reason"] as? Int == 0)
        #expect(verdict["unexpected_rows"] as? Int == 0)
        #expect(verdict["altered_rows"] as? Int == 0)
        #expect((verdict["rows"] as? Int ?? 0) > 5000, "the run wrote trades")
        let faults = try #require(verdict["faults"] as? [String: Any])
        let feedFaults = ["feed_drop", "feed_reset", "feed_stall", "feed_silence"].reduce(0) { $0 + (faults[$1] as? Int ?? 0) }
        #expect(feedFaults >= 8)
        #expect(faults["postgres_outages"] as? Int ?? 0 >= 2)
        #expect(faults["kill_9"] as? Int ?? 0 >= 1)
        #expect(faults["spool_full_episodes"] as? Int == 1)
        #expect((verdict["trades_dropped_counted"] as? Int ?? 0) > 0, "the spool-full episode dropped and counted trades")
        // Watched contracts (BACKFILL=watched): the whole stream of the run, sent or not, stored once; a second backfill adds nothing.
        let watched = try #require(verdict["watched"] as? [String: Any])
        #expect((watched["contracts"] as? Int ?? 0) > 0)
        #expect(watched["missing_without_reason"] as? Int == 0)
        #expect(watched["doubled_or_unexpected"] as? Int == 0)
        #expect((watched["backfilled_rows"] as? Int ?? 0) > 0, "the gaps' trades came from the REST API")
        // The service filled every gap, the spool-full drops included: the run by hand adds nothing.
        #expect(watched["second_backfill_rows"] as? Int == 0)
    }
}

import Foundation
import IngestTestSupport
import Testing

/// The short chaos run (issue 9): `scripts/chaos` for 80 s of faults — feed
/// drops, resets, stalls and silences, a Postgres outage, a kill -9 and a
/// spool-full episode — then its verdict: nothing doubled, nothing missing
/// without a recorded reason, no crash.
@Suite("Chaos", .serialized)
struct ChaosTests {
    @Test("a short seeded chaos run: no duplicates, no trade missing without a reason, no crash", .timeLimit(.minutes(6)))
    func shortChaosRun() async throws {
        let directory = repositoryRoot.appendingPathComponent(".data/chaos-test-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        let process = Process()
        process.executableURL = repositoryRoot.appendingPathComponent("scripts/chaos")
        process.currentDirectoryURL = repositoryRoot
        var environment = ProcessInfo.processInfo.environment
        environment["CHAOS_SECONDS"] = "80"
        environment["CHAOS_SEED"] = "7"
        environment["CHAOS_DIR"] = directory.path
        environment["INGEST_BIN_DIR"] = ManagedProcess.binDirectory.path
        environment.removeValue(forKey: "CHAOS_PG_PORT")
        process.environment = environment
        // Output to a file and a polling wait: a blocking read or waitUntilExit would hold one of
        // the few cooperative threads for the whole run and starve the tests running beside it.
        // Beside CHAOS_DIR, which the script empties when it starts.
        let outputPath = directory.path + ".out"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: outputPath)
        try process.run()
        let deadline = ContinuousClock.now.advanced(by: .seconds(300))
        while process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .seconds(1))
        }
        if process.isRunning {
            process.terminate()  // the script's trap stops everything it started
            while process.isRunning { try await Task.sleep(for: .milliseconds(200)) }
            Issue.record("scripts/chaos did not finish within 5 minutes")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: outputPath))

        let verdict = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "verdict: \(String(decoding: data, as: UTF8.self))")
        #expect(process.terminationStatus == 0, "violations: \(verdict["violations"] ?? "?")")
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
    }
}

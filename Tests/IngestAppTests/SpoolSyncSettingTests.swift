import Testing

@testable import IngestApp

@Suite("Configuration: SPOOL_SYNC_MS")
struct SpoolSyncSettingTests {
    func load(_ extra: [String: String]) throws(ConfigurationError) -> IngestConfiguration {
        try IngestConfiguration(sources: ConfigurationSources(flags: [:], environment: IngestConfigurationTests.minimal.merging(extra) { $1 }, dotEnv: [:]))
    }

    @Test("SPOOL_SYNC_MS defaults to 500 ms and reaches the spool; 0 means every record")
    func values() throws {
        #expect(try load([:]).spool?.syncInterval == .milliseconds(500))
        #expect(try load(["SPOOL_SYNC_MS": "0"]).spool?.syncInterval == .zero)
        #expect(try load(["SPOOL_SYNC_MS": "2000"]).spool?.syncInterval == .seconds(2))
    }

    @Test("a bad SPOOL_SYNC_MS names the variable", arguments: ["-1", "soon", "3600001"])
    func bad(_ value: String) {
        #expect {
            _ = try load(["SPOOL_SYNC_MS": value])
        } throws: { error in
            (error as? ConfigurationError)?.variable == "SPOOL_SYNC_MS"
        }
    }
}

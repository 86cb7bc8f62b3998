import Foundation
import IngestTestSupport
import Testing

@testable import IngestApp

/// Every setting is declared once, in `Setting.all`; these tests make sure each
/// declaration really reaches the configuration through its flag, its
/// environment variable and `.env`, and that `.env.example` and
/// `docs/configuration.md` say what the declarations say.
@Suite("Setting declarations")
struct SettingDeclarationTests {
    static let minimal = IngestConfigurationTests.minimal

    /// For each setting, a valid value that is not its default, and what else
    /// must be set for that value to matter (a QuestDB port only counts
    /// without DATABASE_URL, an HA timing only with HA_MODE=leader …).
    /// A setting missing here fails `everySettingChangesTheConfiguration`.
    static let probes: [String: (value: String, context: [String: String])] = [
        "POLYGON_API_KEY": ("other-key-0123456789", [:]),
        "POLYGON_WS_URL": ("wss://feed.example.com/options", [:]),
        "POLYGON_SUBSCRIPTIONS": ("T.O:SPY*", [:]),
        "POLYGON_OPTION_TRADE_VALUE_THRESHOLD": ("5", [:]),
        "DATABASE_URL": ("postgresql://u:pw@otherhost:5432/db", [:]),
        "DB_FLAVOR": ("postgres", [:]),
        "QUESTDB_HOST": ("qdb.example", ["DATABASE_URL": ""]),
        "QUESTDB_PORT": ("9000", ["DATABASE_URL": "", "QUESTDB_HOST": "qdb.example"]),
        "QUESTDB_USER": ("writer", ["DATABASE_URL": "", "QUESTDB_HOST": "qdb.example"]),
        "QUESTDB_PASSWORD": ("other-password", ["DATABASE_URL": "", "QUESTDB_HOST": "qdb.example"]),
        "QUESTDB_DB": ("trades", ["DATABASE_URL": "", "QUESTDB_HOST": "qdb.example"]),
        "WRITE_MODE": ("insert", [:]),
        "DB_POOL_SIZE": ("4", [:]),
        "DB_HEALTH_CHECK_MS": ("1000", [:]),
        "DB_IDLE_CLOSE_MS": ("5000", [:]),
        "MAX_RETRIES": ("5", [:]),
        "RETRY_DELAY_MS": ("250", [:]),
        "DB_START_MAX_ATTEMPTS": ("4", [:]),
        "DB_BREAKER_FAILURES": ("7", [:]),
        "DB_BREAKER_OPEN_MS": ("1000", [:]),
        "SPOOL_DIR": ("/tmp/other-spool", [:]),
        "SPOOL_MAX_BYTES": ("4096000", [:]),
        "SPOOL_SEGMENT_BYTES": ("65536", [:]),
        "SPOOL_SYNC_MS": ("0", [:]),
        "LOG_LEVEL": ("debug", [:]),
        "LOG_FORMAT": ("text", [:]),
        "LOG_FILE": ("", [:]),
        "FLUSH_INTERVAL_MS": ("1000", [:]),
        "FLUSH_MIN_BATCH": ("50", [:]),
        "FLUSH_MAX_BATCH": ("5000", [:]),
        "BUFFER_CAPACITY": ("50000", [:]),
        "WS_MAX_FRAME_BYTES": ("2048", [:]),
        "WS_PING_INTERVAL_MS": ("5000", [:]),
        "WS_READ_COALESCE_MS": ("5", [:]),
        "WS_MAX_RECONNECT_ATTEMPTS": ("3", [:]),
        "WS_BACKOFF_INITIAL_MS": ("500", [:]),
        "WS_BACKOFF_MAX_MS": ("20000", [:]),
        "WS_STABLE_AFTER_MS": ("1000", [:]),
        "WS_BREAKER_FAILURES": ("4", [:]),
        "WS_BREAKER_OPEN_MS": ("1000", [:]),
        "WS_CONNECT_TIMEOUT_MS": ("5000", [:]),
        "WS_AUTH_TIMEOUT_MS": ("5000", [:]),
        "WS_SUBSCRIBE_TIMEOUT_MS": ("5000", [:]),
        "WS_STALE_AFTER_MS": ("60000", [:]),
        "WS_STALE_RECONNECT_AFTER_MS": ("300000", [:]),
        "SHUTDOWN_TIMEOUT_MS": ("1000", [:]),
        "RECORD_FILE": ("feed.jsonl", [:]),
        "RECORD_MAX_BYTES": ("8192", ["RECORD_FILE": "feed.jsonl"]),
        "RECORD_KEEP": ("2", ["RECORD_FILE": "feed.jsonl"]),
        "MIGRATIONS_DIR": ("db/migrations", [:]),
        "PARTITIONS_AHEAD_DAYS": ("7", [:]),
        "RETENTION_DAYS": ("30", [:]),
        "SIDE_RETENTION_DAYS": ("90", [:]),
        "HEALTH_REPORT_INTERVAL_MS": ("60000", [:]),
        "WATCH_SYMBOLS": ("SPY,O:SPY251219C00650000", [:]),
        "MARKET_HOURS": ("always", [:]),
        "SYMBOL_DEGRADED_AFTER_MS": ("120000", [:]),
        "SYMBOL_STALE_AFTER_MS": ("240000", [:]),
        "SYMBOL_CRITICAL_AFTER_MS": ("7200000", [:]),
        "SYMBOL_EVICT_AFTER_MS": ("60000", [:]),
        "ALERT_FEED_DOWN_MS": ("60000", [:]),
        "ALERT_BUFFER_ITEMS": ("10", [:]),
        "ALERT_RSS_MB": ("100", [:]),
        "ALERT_ERRORS_PER_MINUTE": ("1", [:]),
        "ALERT_INVALID_TRADES_PERCENT": ("20", [:]),
        "ALERT_NO_MESSAGES_MS": ("60000", [:]),
        "BACKFILL": ("watched", ["WATCH_SYMBOLS": "SPY"]),
        "POLYGON_REST_URL": ("http://127.0.0.1:8081/rest", [:]),
        "BACKFILL_MARGIN_MS": ("500", [:]),
        "BACKFILL_REQUESTS_PER_S": ("50", [:]),
        "BACKFILL_MAX_CONTRACTS": ("20", [:]),
        "ALERT_BACKFILL_LAG_MS": ("60000", [:]),
        "STATUS_ADDR": ("127.0.0.1:9464", [:]),
        "STATUS_TOKEN": ("other-token", ["STATUS_ADDR": "127.0.0.1:9464"]),
        "STATUS_EVENTS_INTERVAL_MS": ("1000", ["STATUS_ADDR": "127.0.0.1:9464"]),
        "HA_MODE": ("leader", [:]),
        "HA_GROUP": ("prod", ["HA_MODE": "leader"]),
        "HA_RETRY_MS": ("250", ["HA_MODE": "leader"]),
        "HA_CHECK_MS": ("500", ["HA_MODE": "leader"]),
        "HA_LEASE_MS": ("4000", ["HA_MODE": "leader"]),
        "HA_KEEPALIVE_IDLE_S": ("6", ["HA_MODE": "leader"]),
    ]

    /// Everything the configuration holds, nested values included (it has no `==`).
    static func contents(_ configuration: IngestConfiguration) -> String {
        var text = ""
        dump(configuration, to: &text)
        return text
    }

    static func load(flags: [String] = [], env: [String: String], dotEnv: [String: String] = [:]) throws -> IngestConfiguration {
        let arguments = try Setting.split(arguments: flags)
        #expect(arguments.remaining.isEmpty, "not taken as a setting's flag: \(arguments.remaining)")
        return try IngestConfiguration(sources: ConfigurationSources(flags: arguments.values, environment: env, dotEnv: dotEnv))
    }

    @Test("every setting's flag (--flag value and --flag=value), environment variable and .env line changes the configuration", arguments: Setting.all)
    func everySettingChangesTheConfiguration(_ setting: Setting) throws {
        let probe = try #require(Self.probes[setting.name], "\(setting.name) has no probe value in SettingDeclarationTests.probes")
        #expect(probe.value != setting.defaultValue, "the probe for \(setting.name) is its default")
        let env = Self.minimal.merging(probe.context) { $1 }
        // Without it the configuration may be refused (QUESTDB_HOST in place of DATABASE_URL): a change too.
        let baseline = (try? Self.load(env: env)).map(Self.contents) ?? "refused"
        let viaEnvironment = Self.contents(try Self.load(env: env.merging([setting.name: probe.value]) { $1 }))
        #expect(viaEnvironment != baseline, "\(setting.name)=\(probe.value) in the environment did not change the configuration")
        for flags in setting.flags.flatMap({ [[$0, probe.value], ["\($0)=\(probe.value)"]] }) {
            let viaFlag = Self.contents(try Self.load(flags: flags, env: env))
            #expect(viaFlag == viaEnvironment, "\(flags.joined(separator: " ")) did not set \(setting.name)")
        }
        if probe.context[setting.name] == nil, Self.minimal[setting.name] == nil {
            // Only where the environment does not set it already: the environment wins over .env.
            let viaDotEnv = Self.contents(try Self.load(env: env, dotEnv: [setting.name: probe.value]))
            #expect(viaDotEnv == viaEnvironment, "\(setting.name)=\(probe.value) in .env did not set it")
        }
    }

    @Test("every probe belongs to a declared setting")
    func noStrayProbes() {
        let names = Set(Setting.all.map(\.name))
        #expect(Set(Self.probes.keys).subtracting(names).isEmpty)
    }

    @Test("names and flags are unique, and a flag is the name in lower case with dashes")
    func uniqueNames() {
        #expect(Set(Setting.all.map(\.name)).count == Setting.all.count)
        let flags = Setting.all.flatMap(\.flags)
        #expect(Set(flags).count == flags.count)
        #expect(Setting.flushMinBatch.flag == "--flush-min-batch")
        #expect(Setting.recordFile.flags == ["--record-file", "--record"])
    }

    @Test("a bad value given as a flag is refused naming its variable, exactly as from the environment")
    func badFlagValue() throws {
        #expect(throws: ConfigurationError(variable: "FLUSH_MIN_BATCH", reason: "\"lots\" is not a whole number")) {
            _ = try Self.load(flags: ["--flush-min-batch", "lots"], env: Self.minimal)
        }
        #expect(throws: ConfigurationError(variable: "FLUSH_MAX_BATCH", reason: "20000000 is outside 1…1000000")) {
            _ = try Self.load(flags: ["--flush-max-batch=20000000"], env: Self.minimal)
        }
    }

    @Test("splitting the command line: other arguments stay in order, the last value wins, -- ends the flags, a flag needs a value")
    func splitting() throws {
        let split = try Setting.split(
            arguments: ["replay", "--log-level", "debug", "--speed", "2", "a.jsonl", "--log-level=error", "--", "--log-level", "x"])
        #expect(split.values == ["LOG_LEVEL": "error"])
        #expect(split.remaining == ["replay", "--speed", "2", "a.jsonl", "--", "--log-level", "x"])
        #expect(try Setting.split(arguments: ["--status-token="]).values == ["STATUS_TOKEN": ""])
        #expect(throws: ConfigurationError(variable: "LOG_LEVEL", reason: "--log-level needs a value")) {
            _ = try Setting.split(arguments: ["--log-level"])
        }
        #expect(throws: ConfigurationError(variable: "LOG_LEVEL", reason: "--log-level needs a value")) {
            _ = try Setting.split(arguments: ["--log-level", "--no-migrate"])
        }
    }

    @Test("--help lists every flag with its variable, and no secret's default")
    func help() {
        for setting in Setting.all {
            #expect(Setting.helpText.contains("\(setting.flag) <\(setting.name)>"), "--help does not list \(setting.flag)")
        }
        #expect(!Setting.helpText.contains("quest)"))
    }

    /// `UPDATE_SETTING_DOCS=1` rewrites the file instead of failing.
    static func check(_ relativePath: String, expected: String) throws {
        let url = repositoryRoot.appendingPathComponent(relativePath)
        if ProcessInfo.processInfo.environment["UPDATE_SETTING_DOCS"] == "1" {
            try expected.write(to: url, atomically: true, encoding: .utf8)
        }
        let actual = try String(contentsOf: url, encoding: .utf8)
        #expect(actual == expected, "\(relativePath) differs from Setting.all: run the tests with UPDATE_SETTING_DOCS=1")
    }

    @Test(".env.example has a line with the default for every setting, and is what the declarations make")
    func envExample() throws {
        try Self.check(".env.example", expected: Setting.envExample)
        let example = try String(contentsOf: repositoryRoot.appendingPathComponent(".env.example"), encoding: .utf8)
        let documented = ConfigurationSources.parseDotEnv(example)
        for setting in Setting.all {
            #expect(documented[setting.name] == setting.defaultValue ?? "", "\(setting.name) missing from .env.example, or another default")
        }
    }

    @Test("docs/configuration.md has a row for every setting, and its table is what the declarations make; the README links there")
    func configurationDocument() throws {
        let url = repositoryRoot.appendingPathComponent("docs/configuration.md")
        var document = try String(contentsOf: url, encoding: .utf8)
        let markers = Setting.tableMarkers
        let begin = try #require(document.range(of: markers.begin + "\n"), "docs/configuration.md lacks \(markers.begin)")
        let end = try #require(document.range(of: markers.end, range: begin.upperBound..<document.endIndex))
        document.replaceSubrange(begin.upperBound..<end.lowerBound, with: Setting.markdownTable + "\n")
        try Self.check("docs/configuration.md", expected: document)
        for setting in Setting.all {
            #expect(document.contains("| `\(setting.name)` | `\(setting.flag)`"), "\(setting.name) has no row in docs/configuration.md")
        }
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("(docs/configuration.md)"))
    }
}

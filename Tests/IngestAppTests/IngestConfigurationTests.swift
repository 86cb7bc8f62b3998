import Foundation
import IngestTestSupport
import Logging
import Testing

@testable import IngestApp

@Suite("Configuration")
struct IngestConfigurationTests {
    static let minimal = ["POLYGON_API_KEY": "k3y-abcdefghijk", "DATABASE_URL": "postgresql://u:secretpw@localhost:5432/db"]

    func load(flags: [String: String] = [:], env: [String: String] = minimal, dotEnv: [String: String] = [:]) throws(ConfigurationError) -> IngestConfiguration {
        try IngestConfiguration(sources: ConfigurationSources(flags: flags, environment: env, dotEnv: dotEnv))
    }

    @Test("defaults are the ones docs/configuration.md and docs/design.md §5.2 give")
    func defaults() throws {
        let configuration = try load()
        #expect(configuration.wsURL == "wss://socket.polygon.io/options")
        #expect(configuration.subscriptions == ["T.*"])
        #expect(configuration.notionalThreshold == 10_000)
        #expect(configuration.maxRetries == 3)
        #expect(configuration.retryDelay == .seconds(1))
        #expect(configuration.logLevel == .info)
        #expect(configuration.logFormat == .json)
        #expect(configuration.logFile == "logs/app.log")
        #expect(configuration.flushInterval == .seconds(5))
        #expect(configuration.flushMinBatch == 100)
        #expect(configuration.flushMaxBatch == 10_000)
    }

    @Test("flags win over the environment, which wins over .env, which wins over defaults")
    func precedence() throws {
        let dotEnv = ["POLYGON_SUBSCRIPTIONS": "T.O:SPY*", "LOG_LEVEL": "debug", "MAX_RETRIES": "7", "FLUSH_MIN_BATCH": "50"]
        var env = Self.minimal
        env["LOG_LEVEL"] = "warning"
        env["MAX_RETRIES"] = "5"
        let configuration = try load(flags: ["MAX_RETRIES": "9"], env: env, dotEnv: dotEnv)
        #expect(configuration.maxRetries == 9)
        #expect(configuration.logLevel == .warning)
        #expect(configuration.subscriptions == ["T.O:SPY*"])
        #expect(configuration.flushMinBatch == 50)
        #expect(configuration.flushInterval == .seconds(5))
    }

    @Test(
        "a bad value names its variable",
        arguments: [
            ("POLYGON_OPTION_TRADE_VALUE_THRESHOLD", "abc"), ("POLYGON_OPTION_TRADE_VALUE_THRESHOLD", "-5"),
            ("DATABASE_URL", "postgresql://u:secretpw@localhost:notaport/db"), ("DATABASE_URL", "not a url at all"),
            ("POLYGON_API_KEY", ""), ("DATABASE_URL", ""), ("POLYGON_WS_URL", "http://example.com/options"),
            ("POLYGON_WS_URL", "socket.polygon.io"), ("MAX_RETRIES", "three"), ("LOG_LEVEL", "loud"), ("LOG_FORMAT", "xml"),
            ("FLUSH_INTERVAL_MS", "0"), ("FLUSH_MAX_BATCH", "10"), ("BUFFER_CAPACITY", "5"), ("POLYGON_SUBSCRIPTIONS", " , "),
        ])
    func badValues(_ variable: String, _ value: String) {
        var env = Self.minimal
        env[variable] = value
        #expect {
            _ = try load(env: env)
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.variable == variable && error.description.hasPrefix(variable + ":") && !error.description.contains("secretpw")
        }
    }

    @Test("a missing API key is an error; the migrate command does not need one")
    func missingKey() throws {
        #expect(throws: ConfigurationError(variable: "POLYGON_API_KEY", reason: "is required but not set")) {
            _ = try load(env: ["DATABASE_URL": "postgresql://localhost/db"])
        }
        let configuration = try IngestConfiguration(
            sources: ConfigurationSources(environment: ["DATABASE_URL": "postgresql://localhost/db"]), requireFeed: false)
        #expect(configuration.apiKey.isEmpty)
    }

    @Test(".env parsing: comments, export, quotes, inline comments, blank lines")
    func dotEnvParsing() {
        let parsed = ConfigurationSources.parseDotEnv(
            """
            # comment
            POLYGON_API_KEY=abc123

            export LOG_LEVEL = debug
            DATABASE_URL="postgresql://u:p#x@h/db"
            LOG_FILE='logs/my app.log'
            MAX_RETRIES=4 # four
            EMPTY=
            not a line
            """)
        #expect(parsed == [
            "POLYGON_API_KEY": "abc123", "LOG_LEVEL": "debug", "DATABASE_URL": "postgresql://u:p#x@h/db",
            "LOG_FILE": "logs/my app.log", "MAX_RETRIES": "4", "EMPTY": "",
        ])
    }

    @Test("secrets are masked for display")
    func masking() throws {
        #expect(maskSecret("abcdefghijklmnop") == "abc…nop")
        #expect(maskSecret("short") == "***")
        var env = Self.minimal
        env["POLYGON_WS_URL"] = "wss://user:pw@socket.example.com/options?apiKey=zzz"
        #expect(try load(env: env).maskedWSURL == "wss://socket.example.com/options?***")
    }

    @Test("HA is off by default; HA_MODE=leader reads the group and the timings, defaults retry 1 s, check 1 s, lease 5 s, keepalive 5 s")
    func highAvailability() throws {
        #expect(try load().highAvailability == nil)
        var env = Self.minimal
        env["HA_MODE"] = "leader"
        let ha = try #require(try load(env: env).highAvailability)
        #expect(ha.group == "ingest-options")
        #expect(ha.election == .init(retryInterval: .seconds(1), checkInterval: .seconds(1), lease: .seconds(5)))
        #expect(ha.keepalive == .init(idleSeconds: 5, intervalSeconds: 1, count: 3, userTimeoutMs: 5000))
        env["HA_GROUP"] = "prod"
        env["HA_RETRY_MS"] = "250"
        #expect(try load(env: env).highAvailability?.group == "prod")
        #expect(try load(env: env).highAvailability?.election.retryInterval == .milliseconds(250))
    }

    @Test("bad HA settings name their variable", arguments: [
        (["HA_MODE": "both"], "HA_MODE"),
        (["HA_MODE": "leader", "HA_GROUP": " "], "HA_GROUP"),
        (["HA_MODE": "leader", "HA_LEASE_MS": "9000"], "HA_LEASE_MS"),
        (["HA_MODE": "leader", "HA_LEASE_MS": "800", "HA_CHECK_MS": "1000"], "HA_LEASE_MS"),
        (["HA_MODE": "leader", "HA_RETRY_MS": "x"], "HA_RETRY_MS"),
    ])
    func badHighAvailability(_ extra: [String: String], _ variable: String) {
        #expect(throws: ConfigurationError.self) { try load(env: Self.minimal.merging(extra) { $1 }) }
        do {
            _ = try load(env: Self.minimal.merging(extra) { $1 })
        } catch {
            #expect(error.variable == variable)
        }
    }
}

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    @Test("a JSON line holds ts, level, logger, msg and the metadata, numbers as numbers")
    func jsonLine() throws {
        let line = JSONLogHandler.format(
            format: .json, timestamp: "2026-11-24T06:00:00.000Z", level: .warning, logger: "websocket",
            message: "feed \"disconnected\"\n", metadata: ["attempt": "3", "reason": "reset", "nested": ["a": "1"], "list": ["x", "2"]])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["ts"] as? String == "2026-11-24T06:00:00.000Z")
        #expect(object["level"] as? String == "warning")
        #expect(object["logger"] as? String == "websocket")
        #expect(object["msg"] as? String == "feed \"disconnected\"\n")
        #expect(object["attempt"] as? Int == 3)
        #expect(object["reason"] as? String == "reset")
        #expect((object["nested"] as? [String: Any])?["a"] as? Int == 1)
        #expect(!line.contains("\n"))
    }

    @Test("text lines are for people")
    func textLine() {
        let line = JSONLogHandler.format(
            format: .text, timestamp: "2026-11-24T06:00:00.000Z", level: .info, logger: "buffer", message: "flushed",
            metadata: ["rows": "10"])
        #expect(line == "2026-11-24T06:00:00.000Z INFO [buffer] flushed rows=10")
    }

    @Test("timestamps are UTC with milliseconds")
    func timestamp() {
        let stamp = JSONLogHandler.timestamp()
        #expect(stamp.count == 24)
        #expect(stamp.hasSuffix("Z"))
        #expect(stamp.dropFirst(10).first == "T")
    }

    @Test("the log file's directory is created and lines are appended")
    func logFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("logtest-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("nested/app.log").path
        let sink = try LogSink(format: .json, filePath: path)
        var logger = Logger(label: "system") { JSONLogHandler(label: $0, sink: sink, level: .info) }
        logger.logLevel = .info
        logger.info("hello", metadata: ["n": "1"])
        logger.debug("hidden")
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains(#""msg":"hello""#) == true)
    }
}

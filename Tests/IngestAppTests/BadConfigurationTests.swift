import Foundation
import IngestDatabase
import Testing

@testable import IngestApp

/// The configuration half of the bad-input table (docs/guarantees.md, "No crash
/// on any input"): a value of the wrong type stops the service at start with
/// one line naming the variable (exit 64), never a crash and never a silently
/// used default.
@Suite("Bad configuration values")
struct BadConfigurationTests {
    static let minimal = ["POLYGON_API_KEY": "k3y-abcdefghijk", "DATABASE_URL": "postgresql://u:secretpw@localhost:5432/db"]

    struct Case: Sendable, CustomTestStringConvertible {
        let variable: String
        let value: String
        var testDescription: String { "\(variable)=\(value)" }
        init(_ variable: String, _ value: String) {
            self.variable = variable
            self.value = value
        }
    }

    static let cases: [Case] = [
        // Numbers written as something else.
        .init("FLUSH_INTERVAL_MS", "5s"), .init("FLUSH_INTERVAL_MS", "1e3"), .init("FLUSH_INTERVAL_MS", "5000.5"),
        .init("FLUSH_INTERVAL_MS", "-1"), .init("FLUSH_INTERVAL_MS", ""), .init("FLUSH_INTERVAL_MS", "0x1388"),
        .init("FLUSH_INTERVAL_MS", "99999999999999999999999"), .init("FLUSH_MIN_BATCH", "true"),
        .init("BUFFER_CAPACITY", "lots"), .init("WS_MAX_FRAME_BYTES", "1MB"), .init("SPOOL_MAX_BYTES", "1GiB"),
        .init("SPOOL_MAX_BYTES", "-1"), .init("MAX_RETRIES", "3.0"), .init("RETRY_DELAY_MS", "[1000]"),
        .init("DB_POOL_SIZE", "0"), .init("DB_POOL_SIZE", "two"), .init("DB_START_MAX_ATTEMPTS", "-1"),
        .init("DB_START_MAX_ATTEMPTS", "forever"), .init("WS_MAX_RECONNECT_ATTEMPTS", "∞"),
        .init("POLYGON_OPTION_TRADE_VALUE_THRESHOLD", "nan"), .init("POLYGON_OPTION_TRADE_VALUE_THRESHOLD", "inf"),
        .init("POLYGON_OPTION_TRADE_VALUE_THRESHOLD", "10k"), .init("POLYGON_OPTION_TRADE_VALUE_THRESHOLD", "1,000"),
        .init("HEALTH_REPORT_INTERVAL_MS", "{\"ms\":1}"), .init("ALERT_RSS_MB", "500MB"),
        // Words outside their set.
        .init("LOG_LEVEL", "verbose"), .init("LOG_LEVEL", "1"), .init("LOG_FORMAT", "yaml"), .init("WRITE_MODE", "bulk"),
        .init("DB_FLAVOR", "mysql"), .init("DB_FLAVOR", "true"), .init("MARKET_HOURS", "sometimes"),
        // Text that is not what it claims.
        .init("POLYGON_WS_URL", "http://socket.polygon.io/options"), .init("POLYGON_WS_URL", "42"),
        .init("POLYGON_WS_URL", "wss://"), .init("DATABASE_URL", "host=localhost port"),
        .init("DATABASE_URL", "postgresql://u:secretpw@localhost:port/db"), .init("WATCH_SYMBOLS", "O:spy251219C00650000"),
        .init("POLYGON_SUBSCRIPTIONS", ",,,"),
        // Subscriptions the feed would refuse, checked before connecting.
        .init("POLYGON_SUBSCRIPTIONS", "T.*,Q.*"), .init("POLYGON_SUBSCRIPTIONS", "FMV.*"), .init("POLYGON_SUBSCRIPTIONS", "X.*"),
        .init("POLYGON_SUBSCRIPTIONS", "T*"), .init("POLYGON_SUBSCRIPTIONS", "Q.SPY"),
        .init("POLYGON_SUBSCRIPTIONS", (0...1000).map { "Q.O:SPY261219C\(String(format: "%08d", 100_000 + $0))" }.joined(separator: ",")),
    ]

    @Test("a value of the wrong type is refused with one line naming the variable, never its secret", arguments: cases)
    func wrongType(_ case_: Case) {
        var env = Self.minimal
        env[case_.variable] = case_.value
        #expect {
            _ = try IngestConfiguration(sources: ConfigurationSources(environment: env))
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.variable == case_.variable && error.description.hasPrefix(case_.variable + ": ")
                && !error.description.contains("\n") && !error.description.contains("secretpw")
        }
    }

    @Test("DB_START_MAX_ATTEMPTS defaults to waiting forever, with delays from RETRY_DELAY_MS")
    func startupDefaults() throws {
        let configuration = try IngestConfiguration(sources: ConfigurationSources(environment: Self.minimal))
        #expect(configuration.databaseStartup == DatabaseStartup.Policy(maxAttempts: 0, initialDelay: .seconds(1), maximumDelay: .seconds(30)))
        var env = Self.minimal
        env["DB_START_MAX_ATTEMPTS"] = "4"
        env["RETRY_DELAY_MS"] = "250"
        #expect(try IngestConfiguration(sources: ConfigurationSources(environment: env)).databaseStartup
            == DatabaseStartup.Policy(maxAttempts: 4, initialDelay: .milliseconds(250), maximumDelay: .seconds(30)))
    }
}

/// Waiting for the database at start (docs/design.md §5.7): which failures are waited
/// out, with what delays, and what each says in the log.
@Suite("Database at start")
struct DatabaseStartupTests {
    let unreachable = DatabaseError(kind: .connection, sqlState: nil, message: "connection to server at \"127.0.0.1\", port 1 failed: Connection refused")
    let wrongPassword = DatabaseError(kind: .auth, sqlState: nil, message: "FATAL:  password authentication failed for user \"ingest\"")

    @Test("an unreachable database is retried with doubling delays capped at 30 s, forever by default")
    func unreachableIsRetried() {
        let policy = DatabaseStartup.Policy(maxAttempts: 0, initialDelay: .seconds(1), maximumDelay: .seconds(30))
        let delays = (1...8).map { attempt -> Duration? in
            if case .retry(let delay, _) = policy.decide(after: unreachable, attempt: attempt) { return delay }
            return nil
        }
        #expect(delays == [1, 2, 4, 8, 16, 30, 30, 30].map { Duration.seconds($0) })
        #expect(policy.decide(after: unreachable, attempt: 10_000) == .retry(delay: .seconds(30), reason: "the database is not reachable; retrying"))
    }

    @Test("a wrong password is named as such and retried too (it may be fixed without a restart)")
    func wrongPasswordIsNamed() {
        let policy = DatabaseStartup.Policy()
        guard case .retry(_, let reason) = policy.decide(after: wrongPassword, attempt: 1) else {
            Issue.record("a wrong password must be retried")
            return
        }
        #expect(reason.contains("rejected the credentials") && reason.contains("DATABASE_URL"))
    }

    @Test("after DB_START_MAX_ATTEMPTS failed attempts it gives up with exit 75")
    func givesUp() {
        let policy = DatabaseStartup.Policy(maxAttempts: 3, initialDelay: .milliseconds(100))
        #expect(policy.decide(after: unreachable, attempt: 2) == .retry(delay: .milliseconds(200), reason: "the database is not reachable; retrying"))
        guard case .giveUp(let status, let reason) = policy.decide(after: wrongPassword, attempt: 3) else {
            Issue.record("must give up at the third attempt")
            return
        }
        #expect(status == .gaveUpReconnecting)
        #expect(reason.contains("giving up after 3 attempts"))
    }

    @Test("a failure waiting cannot fix (a migration's SQL, a missing folder) exits 70 at once")
    func notRetryable() {
        let policy = DatabaseStartup.Policy()
        let syntax = DatabaseError(kind: .other, sqlState: "42601", message: "syntax error")
        #expect(policy.decide(after: syntax, attempt: 1) == .giveUp(.internalError, reason: "migrations failed"))
        let missing = ConfigurationError(variable: "MIGRATIONS_DIR", reason: "folder not found")
        #expect(policy.decide(after: missing, attempt: 1) == .giveUp(.internalError, reason: "migrations failed"))
    }
}

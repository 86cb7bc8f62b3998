#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import IngestDatabase
import IngestPipeline
import Logging
import OptionsFeed
import UnixSignals

/// Getting the database ready at start (docs/design.md §5.7): find its flavor and apply
/// the migrations. A database that is down or refuses the password is not a
/// reason to exit: each failed attempt is logged with what is wrong, and it is
/// tried again with backoff (from `RETRY_DELAY_MS`, ×2, capped at 30 s) until
/// it answers, `DB_START_MAX_ATTEMPTS` is used up (exit 75) or SIGINT/SIGTERM
/// ends the wait (exit 0). Errors that waiting cannot fix (a migration's SQL
/// fails) still exit 70 at once. After the migrations the schema is checked
/// (`SchemaCheck`: the natural key of `options_trades`); a table without it
/// exits 64 with one line saying what is missing.
public enum DatabaseStartup {
    /// The tables of the other event types the subscriptions bring (docs/design.md §4.4), for `SchemaCheck`.
    static func eventTables(_ configuration: IngestConfiguration) -> [String] {
        let kinds = Set(configuration.subscriptions.compactMap { item in
            FeedSubscriptions.Channel(rawValue: String(item.prefix(while: { $0 != "." })))?.recordKind
        })
        return kinds.filter { $0 != .trade }.sorted().map(\.table)
    }

    /// What to do after a failed attempt: a value-type decision, unit-tested.
    public struct Policy: Sendable, Equatable {
        /// `DB_START_MAX_ATTEMPTS`; 0 = keep trying.
        public var maxAttempts: Int
        /// The reconnects' backoff without jitter (one process waits, no herd to
        /// spread): attempt 1 waits `initialDelay`, doubling up to `maximumDelay`.
        public var backoff: Backoff

        public init(maxAttempts: Int = 0, initialDelay: Duration = .seconds(1), maximumDelay: Duration = .seconds(30)) {
            self.maxAttempts = maxAttempts
            self.backoff = .withoutJitter(initial: initialDelay, maximum: maximumDelay)
        }

        public enum Decision: Sendable, Equatable {
            /// Try again after `delay`; `reason` is the log line's message.
            case retry(delay: Duration, reason: String)
            case giveUp(ExitStatus, reason: String)
        }

        /// After failed attempt number `attempt` (1-based) with `error`.
        public func decide(after error: any Error, attempt: Int) -> Decision {
            guard let error = error as? DatabaseError, error.kind == .connection || error.kind == .auth || error.kind == .timeout
            else { return .giveUp(.internalError, reason: "migrations failed") }
            let reason = error.kind == .auth
                ? "the database rejected the credentials (check the user and password in DATABASE_URL)"
                : "the database is not reachable"
            if maxAttempts > 0, attempt >= maxAttempts {
                return .giveUp(.gaveUpReconnecting, reason: reason + "; giving up after \(attempt) attempts (DB_START_MAX_ATTEMPTS)")
            }
            return .retry(delay: backoff.nominalDelay(afterFailures: attempt), reason: reason + "; retrying")
        }
    }

    /// How the wait ended.
    enum Outcome: Sendable, Equatable {
        /// The database answers and the migrations are applied.
        case ready(DatabaseFlavor)
        /// Exit with this status (given up, a fatal error, or SIGINT/SIGTERM: 0).
        case exit(ExitStatus)
    }

    /// Resolves the flavor and applies the migrations, waiting for the
    /// database as `policy` says.
    static func prepare(_ configuration: IngestConfiguration, policy: Policy, logger: Logger) async -> Outcome {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        return await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                for await signal in signals {
                    logger.notice("stopped while waiting for the database", metadata: ["signal": "\(signal)"])
                    return .exit(.clean)
                }
                return nil
            }
            group.addTask { await attempts(configuration, policy: policy, logger: logger) }
            while let result = await group.next() {
                guard let result else { continue }
                group.cancelAll()
                return result
            }
            return .exit(.internalError)
        }
    }

    /// A schema the writer cannot trust: one line on stderr, a critical log line, exit 64.
    static func refuse(schemaProblem problem: String, logger: Logger) -> ExitStatus {
        StandardStreams.error("error: database schema: \(problem)\n")
        logger.critical("the database schema is not what the writer needs", metadata: ["problem": "\(problem)"])
        return .badConfiguration
    }

    private static func attempts(_ configuration: IngestConfiguration, policy: Policy, logger: Logger) async -> Outcome {
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            do {
                // Blocking libpq calls, once per attempt at start (a connect fails within its 10 s timeout).
                let flavor = try configuration.databaseFlavor ?? DatabaseFlavor.detect(conninfo: configuration.databaseURL)
                let applied = try IngestApp.migrate(configuration, flavor: flavor)
                if attempt > 1 { logger.notice("the database answers", metadata: ["attempts": "\(attempt)"]) }
                logger.info("migrations up to date", metadata: ["applied_now": "\(applied.count)", "flavor": "\(flavor.rawValue)"])
                if flavor == .postgres, let problem = try SchemaCheck.problems(conninfo: configuration.databaseURL, tables: eventTables(configuration)).first {
                    // Not a reason to wait: the schema is a configuration the operator must fix.
                    return .exit(refuse(schemaProblem: problem, logger: logger))
                }
                return .ready(flavor)
            } catch {
                switch policy.decide(after: error, attempt: attempt) {
                case .giveUp(let status, let reason):
                    logger.critical("\(reason)", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                    return .exit(status)
                case .retry(let delay, let reason):
                    let fields: Logger.Metadata = [
                        "error": "\(error)", "attempt": "\(attempt)",
                        "retry_in_ms": "\(Int(delay / .milliseconds(1)))",
                        "db": "\(PGConnection.masked(conninfo: configuration.databaseURL))",
                    ]
                    if (error as? DatabaseError)?.kind == .auth {
                        logger.critical("\(reason)", metadata: fields)
                    } else {
                        logger.error("\(reason)", metadata: fields)
                    }
                    do {
                        try await Task.sleep(for: delay)
                    } catch {
                        return .exit(.clean)  // cancelled: a signal ended the wait
                    }
                }
            }
        }
        return .exit(.clean)
    }
}

import IngestPipeline
import Logging
import OptionsFeed
import ServiceLifecycle

/// Keeps the feed connected (docs/design.md §5.1): runs one session at a time and
/// lets the `FeedConnectionMachine` decide what follows each end: back off
/// (1 s ×2 up to 30 s, jittered; at the cap when another client took over;
/// the connect breaker's 60 s after 3 failed attempts), or give up (attempt
/// limit → exit 75, rejected key → exit 77). Every lost streaming connection
/// opens a `feed_gaps` row. Stops reading at graceful shutdown.
public struct FeedService: Service {
    let session: FeedSession
    let monitor: FeedMonitor
    let gaps: GapLedger
    let stats: IngestStats
    let errors: ErrorLog
    let logger: Logger

    public init(session: FeedSession, monitor: FeedMonitor, gaps: GapLedger, stats: IngestStats, errors: ErrorLog = .init(), logger: Logger) {
        self.errors = errors
        self.session = session
        self.monitor = monitor
        self.gaps = gaps
        self.stats = stats
        self.logger = logger
    }

    public func run() async throws {
        try await run(stopGapReason: { "shutdown" })
    }

    /// Streams until cancelled, graceful shutdown, or a fatal end (thrown).
    /// - Parameter stopGapReason: asked when it stops: the reason of the
    ///   `feed_gaps` row to open, or `nil` for none (a leader that lost its lock
    ///   leaves the gap to the next leader, docs/design.md §5.5).
    public func run(stopGapReason: @Sendable () -> String?) async throws {
        var action = monitor.withMachine { $0.start(now: .now) }
        defer {
            monitor.withMachine { $0.stop() }
            if let reason = stopGapReason() { gaps.open(atMicros: session.wallClock.nowMicros(), reason: reason) }
            logger.info("feed reader stopped")
        }
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            switch action {
            case .connect:
                let attempt = monitor.withMachine { $0.state }
                logger.info("feed connecting", metadata: ["url": "\(session.configuration.maskedURL)", "state": "\(attempt)"])
                let session = self.session
                // Graceful shutdown cancels the attempt, which shuts its event loop down.
                let outcome = await cancelWhenGracefulShutdown { await session.runAttempt() }
                guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
                if outcome.wasStreaming {
                    gaps.open(atMicros: session.wallClock.nowMicros(), reason: outcome.failure.reason)
                }
                stats.reconnects.add(1)
                action = monitor.withMachine { $0.failed(outcome.failure, now: .now, random: Double.random(in: 0..<1)) }
                logger.warning(
                    "feed disconnected",
                    metadata: ["reason": "\(outcome.failure.reason)", "was_streaming": "\(outcome.wasStreaming)"])
                switch outcome.failure {
                case .connection(let reason): errors.record(.network, message: reason)
                case .takenOver(let reason): errors.record(.rateLimit, message: "another client with this key took over: \(reason)")
                case .rejected(let reason): errors.record(.authentication, message: reason)
                }
                if case .rejected(let reason) = outcome.failure {
                    // An authentication error alerts at once (docs/design.md §5.4): the process is about to exit 77.
                    logger.alert(.authenticationError, .open, level: .critical, metadata: ["message": "\(errors.mask(reason))"])
                    logger.critical("the feed rejected the API key; not retrying", metadata: ["status": "\(reason)"])
                    throw FeedError.authenticationRejected(reason)
                }
            case .wait(let until):
                let (failures, breaker) = monitor.withMachine { ($0.failures, $0.breaker.state.name) }
                logger.info(
                    "feed reconnecting after backoff",
                    metadata: ["delay_ms": "\(ContinuousClock.now.duration(to: until).milliseconds)",
                               "consecutive_failures": "\(failures)", "breaker": "\(breaker)"])
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(until: until, clock: .continuous) }
                } catch {
                    return
                }
                action = monitor.withMachine { $0.waitElapsed(now: .now) }
            case .giveUp(let reason):
                logger.critical("feed: giving up", metadata: ["reason": "\(reason)"])
                throw FeedError.gaveUp(reason)
            case .none:
                action = monitor.withMachine { $0.start(now: .now) }
                if action == .none { return }
            }
        }
    }
}

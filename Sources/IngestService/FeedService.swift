import Logging
import ServiceLifecycle
import Synchronization

/// Keeps a feed session running: reconnects after any failure with capped
/// exponential backoff (SPEC §5.1: 1 s ×2 up to 30 s; reset after 30 s of
/// streaming). Stops reading at graceful shutdown. An authentication
/// rejection ends the service with `FeedError.authenticationRejected`.
public struct FeedService: Service {
    let session: FeedSession
    let stats: IngestStats
    let logger: Logger
    /// First reconnect delay (SPEC §5.1: 1 s).
    let initialBackoff: Duration = .seconds(1)
    /// Reconnect delay cap (SPEC §5.1: 30 s).
    let maximumBackoff: Duration = .seconds(30)
    /// Streaming this long resets the backoff (SPEC §5.1: 30 s).
    let stablePeriod: Duration = .seconds(30)

    public init(session: FeedSession, stats: IngestStats, logger: Logger) {
        self.session = session
        self.stats = stats
        self.logger = logger
    }

    public func run() async throws {
        var backoff = initialBackoff
        var attempt = 0
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            attempt += 1
            let streamingSince = Mutex<ContinuousClock.Instant?>(nil)
            logger.info("feed connecting", metadata: ["url": "\(session.url)", "attempt": "\(attempt)"])
            do {
                try await cancelWhenGracefulShutdown {
                    try await session.run(onStreaming: { streamingSince.withLock { $0 = .now } })
                }
            } catch let error as FeedError {
                if case .authenticationRejected = error {
                    logger.critical("\(error)")
                    throw error
                }
                logger.warning("feed disconnected", metadata: ["reason": "\(error)"])
            } catch {
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                logger.warning("feed disconnected", metadata: ["reason": "\(error)"])
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            if let since = streamingSince.withLock({ $0 }), ContinuousClock.now - since >= stablePeriod {
                backoff = initialBackoff
                attempt = 0
            }
            stats.reconnects.add(1)
            logger.info("feed reconnecting after backoff", metadata: ["delay_ms": "\(backoff.milliseconds)"])
            let delay = backoff
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
            } catch {
                break
            }
            backoff = min(backoff * 2, maximumBackoff)
        }
        logger.info("feed reader stopped")
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

import IngestPipeline
import OptionsFeed
import Synchronization

/// Errors by class for the health report (docs/design.md §5.4 `errors`: network,
/// rate_limit, authentication, data, database — count, per-minute rate over
/// the last minute, last time and last message). Messages are masked before
/// they are kept: no secret reaches a report.
public final class ErrorLog: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var count: Int
        public var perMinute: Int
        public var lastAtMicros: Int64?
        public var lastMessage: String?
    }

    private struct State {
        var rates = ErrorRates<ContinuousClock.Instant>()
        var lastAtMicros: [ErrorClass: Int64] = [:]
    }

    private let state = Mutex(State())
    private let secrets: SecretMask
    private let wallClock: WallClock

    /// - Parameters:
    ///   - secrets: values never to show (API key, database password); short ones are ignored.
    ///   - urls: URLs that may carry a secret (the feed URL): shown masked, their query values as `***`.
    ///   - wallClock: stamps each class's last time.
    public init(secrets: [String] = [], urls: [String] = [], wallClock: WallClock = .system) {
        self.secrets = SecretMask(secrets: secrets, urls: urls)
        self.wallClock = wallClock
    }

    /// `text` with every known secret replaced by `***`.
    public func mask(_ text: String) -> String {
        secrets(text)
    }

    public func record(_ errorClass: ErrorClass, count: Int = 1, message: String) {
        guard count > 0 else { return }
        let masked = mask(message)
        let now = ContinuousClock.now
        let micros = wallClock.nowMicros()
        state.withLock { state in
            state.rates.record(errorClass, count: count, message: masked, now: now)
            state.lastAtMicros[errorClass] = micros
        }
    }

    public func snapshot(now: ContinuousClock.Instant = .now) -> [ErrorClass: Snapshot] {
        state.withLock { state in
            let rates = state.rates.snapshot(now: now)
            var result: [ErrorClass: Snapshot] = [:]
            for errorClass in ErrorClass.allCases {
                let rate = rates[errorClass]
                result[errorClass] = Snapshot(
                    count: rate?.count ?? 0, perMinute: rate?.perMinute ?? 0, lastAtMicros: state.lastAtMicros[errorClass],
                    lastMessage: rate?.lastMessage)
            }
            return result
        }
    }

    public func totalPerMinute(now: ContinuousClock.Instant = .now) -> Int {
        state.withLock { $0.rates.totalPerMinute(now: now) }
    }

    /// The fault classes together, per minute: what `error_rate_high` counts (`ErrorClass.isFault`).
    public func faultsPerMinute(now: ContinuousClock.Instant = .now) -> Int {
        state.withLock { $0.rates.faultsPerMinute(now: now) }
    }
}

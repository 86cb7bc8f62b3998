/// Retry timing of batch writes (SPEC §5.3: `MAX_RETRIES` 3, from
/// `RETRY_DELAY_MS` 1 s, ×2, capped at 10 s).
public struct RetrySchedule: Sendable, Equatable {
    public var maxRetries: Int
    public var initialDelay: Duration
    public var maximumDelay: Duration

    public init(maxRetries: Int = 3, initialDelay: Duration = .seconds(1), maximumDelay: Duration = .seconds(10)) {
        self.maxRetries = maxRetries
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// Delay before retry number `retry` (0-based).
    public func delay(forRetry retry: Int) -> Duration {
        var delay = initialDelay
        for _ in 0..<min(retry, 30) where delay < maximumDelay { delay *= 2 }
        return min(delay, maximumDelay)
    }
}

/// Retry timing of batch writes (docs/design.md §5.3: `MAX_RETRIES` 3, from
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

    /// Delay before retry number `retry` (0-based): the one backoff of
    /// reconnects and start-up waits (`Backoff`), without jitter, never above `maximumDelay`.
    public func delay(forRetry retry: Int) -> Duration {
        Backoff(initial: min(initialDelay, maximumDelay), maximum: maximumDelay, jitter: 0).nominalDelay(afterFailures: retry + 1)
    }
}

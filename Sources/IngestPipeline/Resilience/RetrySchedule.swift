/// Retry timing of batch writes (docs/design.md §5.3: `MAX_RETRIES` 3, from
/// `RETRY_DELAY_MS` 1 s, ×2, capped at 10 s).
public struct RetrySchedule: Sendable, Equatable {
    public var maxRetries: Int
    /// The one backoff of reconnects and start-up waits, without jitter.
    public var backoff: Backoff

    public init(maxRetries: Int = 3, initialDelay: Duration = .seconds(1), maximumDelay: Duration = .seconds(10)) {
        self.maxRetries = maxRetries
        self.backoff = .withoutJitter(initial: initialDelay, maximum: maximumDelay)
    }

    /// Delay before retry number `retry` (0-based), never above `backoff.maximum`.
    public func delay(forRetry retry: Int) -> Duration {
        backoff.nominalDelay(afterFailures: retry + 1)
    }
}

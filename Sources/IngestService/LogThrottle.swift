import Synchronization

/// Lets a kind of log line through at most once per `period` (docs/design.md §5.1:
/// bad frames and trades are logged once per kind per minute), counting what
/// it held back so the next line can say how many.
public final class LogThrottle<Key: Hashable & Sendable>: Sendable {
    private let period: Duration
    private let last = Mutex<[Key: (at: ContinuousClock.Instant, suppressed: Int)]>([:])

    public init(period: Duration = .seconds(60)) {
        self.period = period
    }

    /// `nil` when the line should be held back, else how many were held back since the last one.
    public func admit(_ key: Key, now: ContinuousClock.Instant = .now) -> Int? {
        last.withLock { last in
            if let entry = last[key], now < entry.at.advanced(by: period) {
                last[key] = (entry.at, entry.suppressed + 1)
                return nil
            }
            let suppressed = last[key]?.suppressed ?? 0
            last[key] = (now, 0)
            return suppressed
        }
    }
}

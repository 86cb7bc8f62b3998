import OptionsFeed

/// Paces one connection's quotes or fair values by the clock: the k-th event
/// (from 0) is due at `start + k / rate`, so a connection that fell behind
/// catches up and the count over time is the rate. Pure value type: every
/// instant comes in as a parameter.
public struct EventPacer: Sendable, Equatable {
    /// Events per second (`--quote-rate`, `--fmv-rate`).
    public let rate: Double
    /// When event 0 was due; `nil` while stopped.
    public private(set) var start: ContinuousClock.Instant?
    /// Events made since `start`.
    public private(set) var made = 0

    public init(rate: Double) {
        self.rate = max(0, rate)
    }

    /// Starts the pace at `now`, unless it runs already.
    public mutating func begin(at now: ContinuousClock.Instant) {
        guard start == nil else { return }
        start = now
        made = 0
    }

    /// Stops the pace (nothing left to make events for); a later `begin` starts anew.
    public mutating func stop() {
        start = nil
        made = 0
    }

    /// When the next event is due; `nil` while stopped.
    public var nextDue: ContinuousClock.Instant? {
        guard rate > 0 else { return nil }
        return start?.advanced(by: .seconds(Double(made) / rate))
    }

    /// Events due by `now` and not made yet.
    public func dueCount(at now: ContinuousClock.Instant) -> Int {
        guard rate > 0, let start, start <= now else { return 0 }
        let total = (start.duration(to: now).seconds * rate + TradeSchedule.epsilon).rounded(.down) + 1
        // `Int(_:)` traps beyond Int's range: clamp first, as the trade schedule does.
        guard total < TradeSchedule.positionLimit else { return Int.max - made }
        return max(0, Int(total) - made)
    }

    public mutating func didMake(_ count: Int) {
        made += count
    }
}

/// Reconnect delays (docs/design.md §5.1): from `initial`, doubling per consecutive
/// failure, capped at `maximum`, with jitter that only ever shortens a delay
/// (by up to `jitter` of it), so the cap is a true upper bound and two
/// clients that failed together do not retry in lockstep.
public struct Backoff: Sendable, Equatable {
    /// First delay (docs/design.md §5.1: 1 s).
    public var initial: Duration
    /// Upper bound of any delay (docs/design.md §5.1: 30 s).
    public var maximum: Duration
    /// Share of a delay that jitter may take off, 0…1 (default 0.2: a delay lies in [0.8 d, d]).
    public var jitter: Double

    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(30), jitter: Double = 0.2) {
        self.initial = initial
        self.maximum = max(initial, maximum)
        self.jitter = min(1, max(0, jitter))
    }

    /// Delays without jitter, for waits where no herd retries together (batch
    /// retries, the wait for the database at start): `initial` clamped to `maximum`.
    public static func withoutJitter(initial: Duration, maximum: Duration) -> Backoff {
        Backoff(initial: min(initial, maximum), maximum: maximum, jitter: 0)
    }

    /// The nominal delay after `failures` consecutive failures (1 → `initial`).
    public func nominalDelay(afterFailures failures: Int) -> Duration {
        var delay = initial
        var step = 1
        while step < failures, delay < maximum {
            delay *= 2
            step += 1
        }
        return min(delay, maximum)
    }

    /// The delay to wait, given a uniform random number in [0, 1).
    public func delay(afterFailures failures: Int, random unit: Double) -> Duration {
        nominalDelay(afterFailures: failures) * (1 - jitter * min(max(unit, 0), 1))
    }
}

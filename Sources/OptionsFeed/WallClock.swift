#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The wall clock, in Unix microseconds: passed to what stamps or ages a
/// time, so that a test can run it skewed or frozen.
public struct WallClock: Sendable {
    public let nowMicros: @Sendable () -> Int64

    public init(nowMicros: @escaping @Sendable () -> Int64) {
        self.nowMicros = nowMicros
    }

    /// `CLOCK_REALTIME`.
    public static let system = WallClock {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec / 1000)
    }

    /// This clock moved by `micros` (a host whose clock is off).
    public func offset(by micros: Int64) -> WallClock {
        let base = nowMicros
        return WallClock { base() + micros }
    }
}

extension Duration {
    /// Whole milliseconds, truncated toward zero (log fields such as `delay_ms`).
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// The duration in seconds, with fractions (report fields, rates).
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// Whole microseconds, truncated toward zero: the unit of the wall clock's `nowMicros`.
    public var microseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
}

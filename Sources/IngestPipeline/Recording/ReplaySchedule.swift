import OptionsFeed

/// Which recorded frames a replay takes and when (docs/design.md §5.6: `--from`/`--to`
/// select a window of receive times; `--speed N` replays at N× the recorded
/// pace, for demos; without it a replay goes as fast as the database takes it).
///
/// A value type: it compares receive times and computes offsets; the replay
/// loop does the sleeping, on an injected clock.
public struct ReplaySchedule: Sendable, Equatable {
    /// Frames received before this (Unix µs) are skipped (`--from`, inclusive).
    public var from: Int64?
    /// Frames received at or after this (Unix µs) are skipped (`--to`, exclusive).
    public var to: Int64?
    /// Multiple of the recorded pace; `nil`: no pacing.
    public var speed: Double?

    public init(from: Int64? = nil, to: Int64? = nil, speed: Double? = nil) {
        self.from = from
        self.to = to
        self.speed = speed
    }

    /// Whether a frame received at `receivedAt` is in the window.
    public func includes(_ receivedAt: Int64) -> Bool {
        if let from, receivedAt < from { return false }
        if let to, receivedAt >= to { return false }
        return true
    }

    /// How long after the first replayed frame (received at `first`) the frame
    /// received at `receivedAt` is due; `nil` when not paced. A frame older
    /// than the first (files given out of order) is due at once.
    public func offset(of receivedAt: Int64, first: Int64) -> Duration? {
        guard let speed, speed > 0 else { return nil }
        // `receivedAt` comes from a file: neither the difference nor the scaled delay may trap.
        let (difference, overflow) = receivedAt.subtractingReportingOverflow(first)
        let micros = (overflow ? Double(receivedAt) - Double(first) : Double(max(0, difference))) / speed
        guard micros.isFinite, micros < Self.longestDelayMicros else { return .microseconds(Int64(Self.longestDelayMicros)) }
        return .microseconds(Int64(max(0, micros).rounded()))
    }

    /// The longest pacing delay of one frame (a year, in µs): a recording
    /// whose `rx` jumps by more, or a tiny `--speed`, waits this long at most.
    static let longestDelayMicros: Double = 365 * 86_400 * 1e6

    /// Reads a `--from`/`--to` value: Unix microseconds (as in a recording's
    /// `rx`), or UTC ISO 8601 `2026-11-24T14:30:00Z` (fractional seconds and
    /// a `±HH:MM` offset allowed; a bare date means its midnight UTC).
    public static func parseTime(_ text: String) -> Int64? {
        let text = text.trimmingWhitespace()
        if let micros = Int64(text) { return micros }
        return CivilTime.micros(iso: text)
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(self.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

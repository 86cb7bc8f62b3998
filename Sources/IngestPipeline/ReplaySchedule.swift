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
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + digits] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += digits
            return value
        }
        func take(_ byte: Character) -> Bool {
            guard index < bytes.count, bytes[index] == byte.asciiValue else { return false }
            index += 1
            return true
        }
        guard let year = number(4), take("-"), let month = number(2), take("-"), let day = number(2),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var seconds = Int64(daysFromCivil(year: year, month: month, day: day)) * 86_400
        var micros: Int64 = 0
        if index < bytes.count {
            guard take("T") || take(" "), let hour = number(2), take(":"), let minute = number(2), take(":"), let second = number(2),
                hour < 24, minute < 60, second < 61
            else { return nil }
            seconds += Int64(hour * 3600 + minute * 60 + second)
            if take(".") {
                var scale: Int64 = 100_000
                let fractionStart = index
                while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                    micros += Int64(bytes[index] - UInt8(ascii: "0")) * scale
                    scale /= 10
                    index += 1
                }
                guard index > fractionStart else { return nil }
            }
            if take("Z") {
            } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                let sign: Int64 = bytes[index] == UInt8(ascii: "+") ? 1 : -1
                index += 1
                guard let offsetHours = number(2) else { return nil }
                _ = take(":")
                guard let offsetMinutes = number(2) else { return nil }
                seconds -= sign * Int64(offsetHours * 3600 + offsetMinutes * 60)
            }
        }
        guard index == bytes.count else { return nil }
        return seconds * 1_000_000 + micros
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(self.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

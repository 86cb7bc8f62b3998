#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// When trades are expected, so that quiet hours are not taken for
/// staleness (docs/design.md §5.4 staleness is "since the last trade"; overnight
/// there are none).
///
/// `usOptions` is the US listed options regular session, 09:30–16:00
/// America/New_York, Monday to Friday, with daylight saving time followed
/// through the time zone database. Exchange holidays and early closes are
/// NOT modelled: on those days the tracker will see stale symbols during
/// what it thinks are regular hours. `always` treats every instant as open
/// (feeds that never sleep, simulators, tests).
public enum MarketHours: Sendable, Equatable {
    case usOptions
    case always

    /// Parses the setting's value: "us-options" or "always".
    public init?(setting: String) {
        switch setting {
        case "us-options": self = .usOptions
        case "always": self = .always
        default: return nil
        }
    }

    public func isOpen(at date: Date) -> Bool {
        switch self {
        case .always:
            return true
        case .usOptions:
            let parts = Self.newYork.dateComponents([.weekday, .hour, .minute], from: date)
            guard let weekday = parts.weekday, let hour = parts.hour, let minute = parts.minute else { return false }
            // Gregorian weekdays: 1 = Sunday … 7 = Saturday.
            guard (2...6).contains(weekday) else { return false }
            let minuteOfDay = hour * 60 + minute
            return minuteOfDay >= Self.opensAtMinute && minuteOfDay < Self.closesAtMinute
        }
    }

    /// 09:30, the regular session's opening (Cboe/NYSE options hours).
    private static let opensAtMinute = 9 * 60 + 30
    /// 16:00, the regular session's close for equity options.
    private static let closesAtMinute = 16 * 60

    private static let newYork: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        // The tz database ships with the Swift runtime's Foundation on Linux
        // (and /usr/share/zoneinfo); a fixed EST offset is only a fallback.
        calendar.timeZone = TimeZone(identifier: "America/New_York") ?? TimeZone(secondsFromGMT: -5 * 3600)!
        return calendar
    }()
}

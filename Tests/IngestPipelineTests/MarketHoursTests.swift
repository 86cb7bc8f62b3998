import Foundation
import Testing

@testable import IngestPipeline

/// US options regular session, 09:30–16:00 New York time, Monday–Friday.
@Suite("Market hours")
struct MarketHoursTests {
    static func utc(_ text: String) -> Date {
        // "2025-03-10T13:30:00Z"
        guard let date = ISO8601DateFormatter().date(from: text) else { fatalError("bad date \(text)") }
        return date
    }

    @Test(
        "the regular session follows New York time across daylight saving",
        arguments: [
            ("2025-03-10T13:29:00Z", false),  // Monday after the switch to EDT: 09:29
            ("2025-03-10T13:30:00Z", true),  // 09:30 EDT
            ("2025-03-10T19:59:59Z", true),  // 15:59:59 EDT
            ("2025-03-10T20:00:00Z", false),  // 16:00 EDT
            ("2025-03-07T14:29:00Z", false),  // Friday before, still EST: 09:29
            ("2025-03-07T14:30:00Z", true),  // 09:30 EST
            ("2025-12-03T14:29:00Z", false),  // Wednesday in EST: 09:29
            ("2025-12-03T14:30:00Z", true),  // 09:30 EST
            ("2025-12-03T20:59:00Z", true),  // 15:59 EST
            ("2025-12-03T21:00:00Z", false),  // 16:00 EST
            ("2025-12-06T15:00:00Z", false),  // Saturday 10:00
            ("2025-12-07T15:00:00Z", false),  // Sunday 10:00
            ("2025-11-03T14:30:00Z", true),  // Monday after the switch back to EST
            ("2025-11-03T13:30:00Z", false),  // 08:30 EST
        ])
    func usOptions(_ instant: String, _ open: Bool) {
        #expect(MarketHours.usOptions.isOpen(at: Self.utc(instant)) == open)
    }

    @Test("always is always open")
    func always() {
        #expect(MarketHours.always.isOpen(at: Self.utc("2025-12-06T03:00:00Z")))
    }

    @Test("the setting's values parse; anything else is rejected", arguments: [
        ("us-options", MarketHours?.some(.usOptions)), ("always", .some(.always)), ("nyse", nil), ("", nil),
    ])
    func setting(_ text: String, _ expected: MarketHours?) {
        #expect(MarketHours(setting: text) == expected)
    }
}

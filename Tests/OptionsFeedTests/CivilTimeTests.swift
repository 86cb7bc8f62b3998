import Testing

@testable import OptionsFeed

@Suite("Civil time")
struct CivilTimeTests {
    @Test("Unix microseconds print as ISO-8601 UTC, before and after the epoch", arguments: [
        (Int64(0), "1970-01-01T00:00:00.000000Z"), (946_684_800_000_000, "2000-01-01T00:00:00.000000Z"),
        (951_782_400_000_001, "2000-02-29T00:00:00.000001Z"), (-1, "1969-12-31T23:59:59.999999Z"),
        (4_102_444_799_999_999, "2099-12-31T23:59:59.999999Z"),
    ])
    func isoTimestamps(_ micros: Int64, _ text: String) {
        #expect(CivilTime.isoTimestamp(micros: micros) == text)
        #expect(CivilTime.micros(iso: text) == micros)
    }

    @Test("log timestamps show milliseconds, truncated not rounded")
    func milliseconds() {
        #expect(CivilTime.isoTimestamp(micros: 1_795_500_177_123_999, precision: .milliseconds) == "2026-11-24T06:02:57.123Z")
        #expect(CivilTime.isoTimestamp(micros: -1, precision: .milliseconds) == "1969-12-31T23:59:59.999Z")
    }

    @Test("days from civil and civil from days are inverses across eras", arguments: [
        (1970, 1, 1, 0), (2000, 3, 1, 11_017), (1969, 12, 31, -1), (1600, 2, 29, -135_081), (9999, 12, 31, 2_932_896),
    ])
    func civilDays(_ year: Int, _ month: Int, _ day: Int, _ days: Int) {
        #expect(CivilTime.daysFromCivil(year: year, month: month, day: day) == days)
        let date = CivilTime.civilFromDays(Int64(days))
        #expect(date == (Int64(year), Int64(month), Int64(day)))
    }

    @Test("every day of four hundred years round-trips")
    func everyDay() {
        let wrong = (Int64(-73_000)...Int64(73_000)).filter { days in
            let date = CivilTime.civilFromDays(days)
            return CivilTime.daysFromCivil(year: Int(date.year), month: Int(date.month), day: Int(date.day)) != Int(days)
        }
        #expect(wrong.isEmpty)
    }

    @Test("ISO text with an offset, a space, a fraction or a bare date reads as UTC microseconds", arguments: [
        ("2026-11-24T14:30:00Z", Int64(1_795_530_600_000_000)), ("2026-11-24 14:30:00.5Z", 1_795_530_600_500_000),
        ("2026-11-24T09:30:00-05:00", 1_795_530_600_000_000), ("2026-11-24", 1_795_478_400_000_000),
    ])
    func parses(_ text: String, _ micros: Int64) {
        #expect(CivilTime.micros(iso: text) == micros)
    }

    @Test("text that is not ISO 8601 reads as nothing", arguments: ["", "2026-13-01", "2026-11-24T25:00:00Z", "2026-11-24Tx", "yesterday"])
    func refuses(_ text: String) {
        #expect(CivilTime.micros(iso: text) == nil)
    }
}

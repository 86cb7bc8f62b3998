import Testing

import OptionsFeed

@Suite("Duration in units")
struct DurationUnitsTests {
    @Test("a duration in whole microseconds, truncated toward zero", arguments: [
        (Duration.zero, Int64(0)), (.nanoseconds(999), 0), (.nanoseconds(1_999), 1), (.milliseconds(1_500), 1_500_000),
        (.seconds(86_400) + .microseconds(7), 86_400_000_007), (.nanoseconds(-1_500), -1), (.milliseconds(-2_250), -2_250_000),
    ])
    func microseconds(_ duration: Duration, _ micros: Int64) {
        #expect(duration.microseconds == micros)
    }

    @Test("a duration in whole milliseconds, truncated toward zero", arguments: [
        (Duration.zero, Int64(0)), (.microseconds(999), 0), (.microseconds(1_999), 1), (.seconds(120), 120_000),
        (.seconds(3) + .nanoseconds(1), 3_000), (.microseconds(-1_500), -1), (.seconds(-2) - .milliseconds(250), -2_250),
    ])
    func milliseconds(_ duration: Duration, _ millis: Int64) {
        #expect(duration.milliseconds == millis)
    }

    @Test("a duration in seconds keeps its fraction", arguments: [
        (Duration.zero, 0.0), (.milliseconds(1_500), 1.5), (.microseconds(250), 0.000_25), (.seconds(-2) - .milliseconds(250), -2.25),
    ])
    func seconds(_ duration: Duration, _ seconds: Double) {
        #expect(abs(duration.seconds - seconds) < 1e-12)
    }
}

import Testing

@testable import IngestPipeline

@Suite("Replay schedule")
struct ReplayScheduleTests {
    @Test("--from is inclusive, --to exclusive; no bound keeps everything")
    func window() {
        let schedule = ReplaySchedule(from: 100, to: 200)
        #expect(!schedule.includes(99))
        #expect(schedule.includes(100))
        #expect(schedule.includes(199))
        #expect(!schedule.includes(200))
        #expect(ReplaySchedule().includes(.min) && ReplaySchedule().includes(.max))
    }

    @Test("without --speed nothing waits; with it, frames are due at recorded offsets divided by the speed")
    func pacing() {
        #expect(ReplaySchedule().offset(of: 5_000_000, first: 0) == nil)
        let realTime = ReplaySchedule(speed: 1)
        #expect(realTime.offset(of: 1_000_000, first: 1_000_000) == .zero)
        #expect(realTime.offset(of: 3_500_000, first: 1_000_000) == .milliseconds(2500))
        let fast = ReplaySchedule(speed: 10)
        #expect(fast.offset(of: 11_000_000, first: 1_000_000) == .seconds(1))
        #expect(fast.offset(of: 500, first: 1_000_000) == .zero, "a frame older than the first is due at once")
        #expect(ReplaySchedule(speed: 0.5).offset(of: 1_000_000, first: 0) == .seconds(2))
    }

    @Test(
        "times are Unix microseconds or UTC ISO 8601",
        arguments: [
            ("1764772200123456", Int64(1_764_772_200_123_456)), ("1970-01-01T00:00:00Z", 0),
            ("2025-12-03T14:30:00Z", 1_764_772_200_000_000), ("2025-12-03T14:30:00.123456Z", 1_764_772_200_123_456),
            ("2025-12-03T14:30:00.5Z", 1_764_772_200_500_000), ("2025-12-03T15:30:00+01:00", 1_764_772_200_000_000),
            ("2025-12-03T09:30:00-05:00", 1_764_772_200_000_000), ("2025-12-03 14:30:00", 1_764_772_200_000_000),
            ("2025-12-03", 1_764_720_000_000_000), ("2000-02-29T00:00:00Z", 951_782_400_000_000),
        ])
    func parsesTimes(_ text: String, _ micros: Int64) {
        #expect(ReplaySchedule.parseTime(text) == micros)
    }

    @Test("anything else is refused", arguments: ["", "yesterday", "2025-13-01", "2025-12-03T25:00:00Z", "2025-12-03T14:30Z", "2025-12-03T14:30:00.Z", "2025-12-03T14:30:00Zjunk"])
    func refusesOtherText(_ text: String) {
        #expect(ReplaySchedule.parseTime(text) == nil)
    }
}

@Suite("Replay schedule on hostile times")
struct ReplayScheduleHostileTests {
    @Test("rx values from a damaged file never trap the pacing: extreme differences wait a year at most", arguments: [
        (Int64.max, Int64.min), (Int64.min, Int64.max), (Int64.max, 0), (0, Int64.min), (253_402_300_799_000_000, 0),
    ] as [(Int64, Int64)])
    func extremes(receivedAt: Int64, first: Int64) {
        for speed in [1e-12, 0.5, 1, 1e12] {
            let delay = ReplaySchedule(speed: speed).offset(of: receivedAt, first: first)
            #expect(delay.map { $0 >= .zero && $0 <= .seconds(365 * 86_400) } == true, "speed \(speed): \(String(describing: delay))")
        }
    }
}

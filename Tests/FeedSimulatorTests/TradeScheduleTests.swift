import FeedSimulator
import Testing

@Suite("TradeSchedule: pacing by the clock, gaps while nobody is subscribed")
struct TradeScheduleTests {
    let t0 = ContinuousClock.now

    func at(_ seconds: Double) -> ContinuousClock.Instant { t0.advanced(by: .seconds(seconds)) }

    @Test("the first subscriber starts the clock; trade i is due at start + i / rate")
    func dueTimes() {
        var schedule = TradeSchedule(rate: 100)
        #expect(schedule.dueTime(of: 0) == nil)
        schedule.subscriberJoined(at: at(5))
        #expect(schedule.dueTime(of: 0) == at(5))
        #expect(schedule.dueTime(of: 250) == at(7.5))
        #expect(schedule.skipCount(at: 0) == 0)
    }

    @Test("a rate too large for Int positions is clamped, never a trap in the conversion")
    func hugeRateClamped() {
        var schedule = TradeSchedule(rate: 1e300)
        schedule.subscriberJoined(at: at(0))
        schedule.subscriberLeft(at: at(1))
        schedule.subscriberJoined(at: at(3))
        #expect(schedule.runLength(from: 0) == Int.max)
        #expect(schedule.pendingSkips == 0, "both ends clamp to the same position: an empty gap")
    }

    @Test("an idle span becomes a gap of exactly the trades due in it")
    func idleSpanIsGap() {
        var schedule = TradeSchedule(rate: 100)
        schedule.subscriberJoined(at: at(0))
        schedule.subscriberLeft(at: at(1))
        schedule.subscriberJoined(at: at(3))
        // Trades 100..<300 were due between 1 s and 3 s.
        #expect(schedule.pendingSkips == 200)
        #expect(schedule.runLength(from: 100) == 0)
        #expect(schedule.skipCount(at: 100) == 200)
        #expect(schedule.skipCount(at: 300) == 0)
        #expect(schedule.runLength(from: 300) == Int.max)
    }

    @Test("a backlog due before the idle span is still sent before the gap")
    func backlogBeforeGap() {
        var schedule = TradeSchedule(rate: 100)
        schedule.subscriberJoined(at: at(0))
        schedule.subscriberLeft(at: at(1))
        schedule.subscriberJoined(at: at(2))
        // The generator only reached 40: trades 40..<100 were due while a client was subscribed.
        #expect(schedule.skipCount(at: 40) == 0)
        #expect(schedule.runLength(from: 40) == 60)
        #expect(schedule.skipCount(at: 100) == 100)
    }

    @Test("while one of two subscribers still streams, nothing is skipped")
    func oneOfTwoLeaves() {
        var schedule = TradeSchedule(rate: 100)
        schedule.subscriberJoined(at: at(0))
        schedule.subscriberJoined(at: at(0.5))
        schedule.subscriberLeft(at: at(1))
        schedule.subscriberJoined(at: at(4))
        #expect(schedule.subscribers == 2)
        #expect(schedule.pendingSkips == 0)
    }

    @Test("gaps the generator already passed are dropped, overlapping ones merge")
    func gapsMergeAndExpire() {
        var schedule = TradeSchedule(rate: 10)
        schedule.subscriberJoined(at: at(0))
        schedule.subscriberLeft(at: at(1))
        schedule.subscriberJoined(at: at(2))  // gap 10..<20
        schedule.subscriberLeft(at: at(2))
        schedule.subscriberJoined(at: at(3))  // gap 20..<30, merged
        #expect(schedule.pendingSkips == 20)
        #expect(schedule.skipCount(at: 25) == 5)
        #expect(schedule.pendingSkips == 0)
    }

    @Test("unpaced (rate 0): nothing is ever due or skipped")
    func unpaced() {
        var schedule = TradeSchedule(rate: 0)
        schedule.subscriberJoined(at: at(0))
        schedule.subscriberLeft(at: at(1))
        schedule.subscriberJoined(at: at(100))
        #expect(schedule.dueTime(of: 10) == nil)
        #expect(schedule.skipCount(at: 0) == 0)
        #expect(schedule.runLength(from: 0) == Int.max)
    }
}

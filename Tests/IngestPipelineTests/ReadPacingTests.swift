import IngestPipeline
import Testing

@Suite("Read pacing")
struct ReadPacingTests {
    let t0 = ContinuousClock.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { t0.advanced(by: .milliseconds(milliseconds)) }

    /// A tick of `frames` frames that ends at `milliseconds`: the pause it asks for.
    func tick(_ pacing: inout ReadPacing, frames: Int, bytes: Int = 200, endingAt milliseconds: Int) -> Duration {
        var firsts = 0
        for _ in 0..<frames where pacing.frameHandled(bytes: bytes) { firsts += 1 }
        #expect(firsts == (pacing.configuration.interval > .zero && frames > 0 ? 1 : 0), "only a tick's first frame queues its end")
        return pacing.tickEnded(now: at(milliseconds))
    }

    @Test("a quiet feed is read at most once per interval: each small tick waits out the rest of it")
    func smallTicksArePaced() {
        var pacing = ReadPacing(configuration: .init(interval: .milliseconds(20), busyTick: 32))
        // The first tick after a long quiet is read at once.
        #expect(tick(&pacing, frames: 1, endingAt: 0) == .zero)
        // A frame 4 ms later: hold until 20 ms after the last read.
        #expect(tick(&pacing, frames: 1, endingAt: 4) == .milliseconds(16))
        // The next read (at 20 ms) brought the frames of 8…20 ms: hold until 40 ms.
        #expect(tick(&pacing, frames: 4, endingAt: 21) == .milliseconds(19))
        #expect(tick(&pacing, frames: 5, endingAt: 41) == .milliseconds(19))
    }

    @Test("a tick after more than an interval of quiet is not held, and restarts the interval")
    func quietFeedIsNotHeld() {
        var pacing = ReadPacing(configuration: .init(interval: .milliseconds(20)))
        #expect(tick(&pacing, frames: 2, endingAt: 0) == .zero)
        #expect(tick(&pacing, frames: 2, endingAt: 500) == .zero)
        #expect(tick(&pacing, frames: 1, endingAt: 505) == .milliseconds(15))
    }

    @Test("a busy tick (a fast feed) is never held, so pacing cannot limit throughput")
    func busyTicksAreNotHeld() {
        var pacing = ReadPacing(configuration: .init(interval: .milliseconds(20), busyTick: 32))
        #expect(tick(&pacing, frames: 1, endingAt: 0) == .zero)
        for step in 1...10 {
            #expect(tick(&pacing, frames: 32, endingAt: step) == .zero)
        }
        // Back to a trickle: the pause ends an interval after the last one did.
        #expect(tick(&pacing, frames: 3, endingAt: 12) == .milliseconds(8))
    }

    @Test("a fast feed gets short pauses: at the rate the last cycle measured, a pause lets at most budgetBytes pile up")
    func fastFeedPausesAreShort() throws {
        var pacing = ReadPacing(configuration: .init(interval: .milliseconds(50), busyTick: 32, budgetBytes: 32 << 10))
        #expect(tick(&pacing, frames: 1, endingAt: 0) == .zero)
        // A tick of a few large frames that brought a budget's worth of bytes is busy: read again at once.
        #expect(tick(&pacing, frames: 15, bytes: 33_000, endingAt: 1) == .zero)
        // Then a small tick ends a cycle of 50 ms that brought 500 000 bytes: 10 MB/s.
        #expect(tick(&pacing, frames: 1, bytes: 5_000, endingAt: 2) == .milliseconds(48))
        let rate = try #require(pacing.bytesPerSecond)
        #expect(abs(rate - 10_000_000) < 1)
        // At 10 MB/s, 32 KiB arrive in 3.3 ms: the next pause ends then, not 50 ms after the last.
        let pause = tick(&pacing, frames: 1, endingAt: 51)
        #expect(pause > .zero && pause < .microseconds(3300), "\(pause)")
        // A rate that falls back to a trickle gets the full interval again.
        _ = tick(&pacing, frames: 1, bytes: 100, endingAt: 60)
        #expect(tick(&pacing, frames: 1, bytes: 100, endingAt: 200) == .zero)
        #expect(tick(&pacing, frames: 1, bytes: 100, endingAt: 201) == .milliseconds(49))
    }

    @Test("an interval of zero reads every frame at once and queues no tick end")
    func zeroIntervalNeverPauses() {
        var pacing = ReadPacing(configuration: .init(interval: .zero))
        for step in 0..<5 {
            #expect(tick(&pacing, frames: 1, endingAt: step) == .zero)
        }
    }
}

import Testing

@testable import IngestPipeline

/// A gap's backfill window and its REST bounds (docs/design.md §5.8.1).
@Suite("Backfill window")
struct BackfillWindowTests {
    @Test("a gap's window is [fromT − margin, toT + margin] ms, queried as gte fromMs·10^6, lt (toMs+1)·10^6")
    func gapWindow() {
        let window = BackfillWindow(gapFromT: 1_764_685_800_000, toT: 1_764_685_860_000, marginMs: 2000)
        #expect(window.fromMs == 1_764_685_798_000)
        #expect(window.toMs == 1_764_685_862_000)
        #expect(window.timestampGteNs == 1_764_685_798_000_000_000)
        #expect(window.timestampLtNs == 1_764_685_862_001_000_000)
        #expect(window.contains(ms: 1_764_685_798_000) && window.contains(ms: 1_764_685_862_000), "both ends inclusive")
        #expect(!window.contains(ms: 1_764_685_797_999) && !window.contains(ms: 1_764_685_862_001))
        #expect(BackfillWindow(gapFromT: 10_000, toT: 20_000) == BackfillWindow(fromMs: 8000, toMs: 22_000), "default margin 2000")
    }

    @Test("an open gap has no end and no timestamp.lt")
    func openWindow() {
        let window = BackfillWindow(gapFromT: 5000, toT: nil, marginMs: 2000)
        #expect(window.toMs == nil)
        #expect(window.timestampLtNs == nil)
        #expect(window.contains(ms: BackfillWindow.latestMs))
        #expect(!window.contains(ms: 2999))
    }

    @Test("bounds clamp to 0 and to the last ms whose ns fit Int64; an end before the start is the start")
    func clamps() {
        #expect(BackfillWindow(gapFromT: 500, toT: 900, marginMs: 2000) == BackfillWindow(fromMs: 0, toMs: 2900))
        #expect(BackfillWindow(gapFromT: .min, toT: .max, marginMs: 2000) == BackfillWindow(fromMs: 0, toMs: BackfillWindow.latestMs))
        let far = BackfillWindow(fromMs: .max, toMs: .max)
        #expect(far.timestampLtNs == (BackfillWindow.latestMs + 1) * 1_000_000)
        #expect(BackfillWindow(fromMs: 100, toMs: 50) == BackfillWindow(fromMs: 100, toMs: 100))
        #expect(
            BackfillWindow(gapFromT: 100, toT: 200, marginMs: -5) == BackfillWindow(fromMs: 100, toMs: 200), "a negative margin is none")
    }
}

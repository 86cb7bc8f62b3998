import FeedSimulator
import Foundation
import Testing

@Suite("StreamSession: injected frames and the fault that ends a stream")
struct StreamSessionTests {
    let t0 = ContinuousClock.now

    func at(_ seconds: Double) -> ContinuousClock.Instant { t0.advanced(by: .seconds(seconds)) }

    /// The kinds of a stream's first `count` frames under `plan`.
    func frames(_ plan: FaultPlan, _ count: Int) -> [StreamSession.Frame] {
        var session = StreamSession(plan: plan, startedAt: t0)
        var kinds: [StreamSession.Frame] = []
        for _ in 0..<count {
            kinds.append(session.nextFrame)
            session.frameWritten()
        }
        return kinds
    }

    @Test("every Nth frame is garbage, else oversized where N divides, else trades")
    func injectedFrames() {
        var plan = FaultPlan()
        plan.garbageEvery = 3
        plan.oversizedEvery = 4
        let kinds = frames(plan, 12)
        #expect(kinds == [.trades, .trades, .garbage, .oversized, .trades, .garbage, .trades, .oversized, .garbage, .trades, .trades, .garbage])
    }

    @Test("hostile frames come every Nth frame where no garbage or oversized frame is due")
    func hostileFrames() {
        var plan = FaultPlan()
        plan.garbageEvery = 4
        plan.hostileEvery = 2
        #expect(frames(plan, 8) == [.trades, .hostile, .trades, .garbage, .trades, .hostile, .trades, .garbage])
    }

    @Test("without faults the stream is all trades and never ends")
    func noFaults() {
        var session = StreamSession(plan: FaultPlan(), startedAt: t0)
        for _ in 0..<100 {
            #expect(session.nextFrame == .trades)
            session.frameWritten()
        }
        #expect(session.ending == nil)
        #expect(session.ending(at: at(1e6)) == nil)
    }

    @Test("the earliest fault ends the stream, counted from its start", arguments: [
        (StreamSession.Ending.drop, 1.0), (.reset, 1.5), (.silence, 2.0), (.stall, 0.5),
    ])
    func earliestFaultEnds(kind: StreamSession.Ending, after: Double) {
        var plan = FaultPlan()
        plan.dropEvery = kind == .drop ? .seconds(after) : .seconds(10)
        plan.resetEvery = kind == .reset ? .seconds(after) : .seconds(11)
        plan.silenceAfter = kind == .silence ? .seconds(after) : .seconds(12)
        plan.stallAfter = kind == .stall ? .seconds(after) : .seconds(13)
        let session = StreamSession(plan: plan, startedAt: at(100))
        #expect(session.ending(at: at(100 + after - 0.001)) == nil)
        #expect(session.ending(at: at(100 + after)) == kind)
        #expect(session.ending?.at == at(100 + after))
    }

    @Test("faults due at the same instant rank reset, drop, silence, stall")
    func tiesRank() {
        var plan = FaultPlan()
        plan.stallAfter = .seconds(1)
        plan.dropEvery = .seconds(1)
        plan.resetEvery = .seconds(1)
        #expect(StreamSession(plan: plan, startedAt: t0).ending(at: at(1)) == .reset)
        plan.resetEvery = nil
        #expect(StreamSession(plan: plan, startedAt: t0).ending(at: at(1)) == .drop)
    }

    @Test("the garbage frame is not JSON; the oversized frame is valid JSON of about 1.5 MiB")
    func injectedFrameContents() throws {
        #expect((try? JSONSerialization.jsonObject(with: Data(StreamSession.garbageFrame.utf8))) == nil)
        let oversized = StreamSession.oversizedFrame
        #expect(oversized.utf8.count == 3 << 19)
        #expect(oversized.utf8.count > 1 << 20)
        let array = try #require(JSONSerialization.jsonObject(with: Data(oversized.utf8)) as? [[String: Any]])
        #expect(array.count == 1 && array[0]["ev"] as? String == "X")
    }
}

import Testing

@testable import FeedSimulator

@Suite("Fault switch (feed-sim --control)")
struct FaultSwitchTests {
    @Test("a fault triggered at run time ends the streams running then, not the ones that start later")
    func endsRunningStreamsOnly() {
        let faults = FaultSwitch()
        let before = faults.generation
        #expect(faults.fault(since: before) == nil)
        faults.trigger(.reset)
        #expect(faults.fault(since: before) == .reset)
        let after = faults.generation
        #expect(faults.fault(since: after) == nil)
        faults.trigger(.stall)
        #expect(faults.fault(since: after) == .stall)
        #expect(faults.fault(since: before) == .stall)
    }

    @Test("fault names as the control route takes them", arguments: [
        ("drop", StreamSession.Ending.drop), ("reset", .reset), ("stall", .stall), ("silence", .silence), ("no-pong", .silence),
    ])
    func names(_ name: String, _ kind: StreamSession.Ending) {
        #expect(FaultSwitch.kind(named: name) == kind)
    }

    @Test("unknown fault names are refused")
    func unknownNames() {
        #expect(FaultSwitch.kind(named: "explode") == nil)
        #expect(FaultSwitch.kind(named: "") == nil)
    }
}

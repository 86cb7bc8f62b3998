import Testing

@testable import IngestDatabase

/// The pool's maintenance decisions, driven by explicit instants (docs/design.md §1.4).
@Suite("Connection pool maintenance")
struct PoolMaintenanceTests {
    typealias Maintenance = PoolMaintenance<ContinuousClock.Instant>
    let start = ContinuousClock.now
    let maintenance = Maintenance(configuration: .init())

    func slot(busy: Bool = false, connected: Bool = true, usedAgo used: Int, checkedAgo checked: Int, now: ContinuousClock.Instant)
        -> Maintenance.Slot
    {
        .init(busy: busy, connected: connected, lastUsed: now.advanced(by: .seconds(-used)), lastChecked: now.advanced(by: .seconds(-checked)))
    }

    @Test("an idle connection gets a health query 60 s after its last check, not before")
    func healthCheckEvery60Seconds() {
        let now = start.advanced(by: .seconds(3600))
        #expect(maintenance.actions(for: [slot(usedAgo: 59, checkedAgo: 59, now: now)], now: now) == [])
        #expect(maintenance.actions(for: [slot(usedAgo: 60, checkedAgo: 60, now: now)], now: now) == [.check(0)])
        #expect(maintenance.actions(for: [slot(usedAgo: 600, checkedAgo: 10, now: now)], now: now) == [])
    }

    @Test("busy and unconnected slots are left alone")
    func busyAndClosedUntouched() {
        let now = start.advanced(by: .seconds(7200))
        let slots = [
            slot(busy: true, usedAgo: 4000, checkedAgo: 4000, now: now),
            slot(connected: false, usedAgo: 4000, checkedAgo: 4000, now: now),
        ]
        #expect(maintenance.actions(for: slots, now: now) == [])
    }

    @Test("connections idle for 30 min are closed beyond the minimum of one, highest slot first")
    func idleBeyondMinimumClosed() {
        let now = start.advanced(by: .seconds(7200))
        let idle = [
            slot(usedAgo: 1800, checkedAgo: 30, now: now), slot(usedAgo: 1800, checkedAgo: 30, now: now),
            slot(usedAgo: 1800, checkedAgo: 30, now: now),
        ]
        #expect(maintenance.actions(for: idle, now: now) == [.close(1), .close(2)])
        let recent = [slot(usedAgo: 1799, checkedAgo: 30, now: now), slot(usedAgo: 1799, checkedAgo: 30, now: now)]
        #expect(maintenance.actions(for: recent, now: now) == [])
        // The last open connection stays, and is checked instead.
        #expect(maintenance.actions(for: [slot(usedAgo: 5000, checkedAgo: 61, now: now)], now: now) == [.check(0)])
    }
}

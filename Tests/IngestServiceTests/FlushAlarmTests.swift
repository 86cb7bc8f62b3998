import Synchronization
import Testing

@testable import IngestService

/// The flusher's alarm on a manual clock: it wakes at the deadline asked for,
/// sleeps on when the deadline moved later, and refuses one earlier than
/// the time it sleeps until.
@Suite("Flush alarm")
struct FlushAlarmTests {
    final class Wakes: Sendable {
        let count = Atomic<Int>(0)
        var value: Int { count.load(ordering: .relaxed) }
    }

    /// Runs the alarm for the body, counting its wakes.
    func withAlarm(_ body: (ManualClock, FlushAlarm<ManualClock>, Wakes) async throws -> Void) async throws {
        let clock = ManualClock()
        let alarm = FlushAlarm(clock: clock)
        let wakes = Wakes()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await alarm.run { wakes.count.add(1, ordering: .relaxed) } }
            defer { group.cancelAll() }
            try await body(clock, alarm, wakes)
        }
    }

    @Test("a deadline wakes the flusher once, when the clock reaches it, and not before")
    func wakesAtTheDeadline() async throws {
        try await withAlarm { clock, alarm, wakes in
            #expect(alarm.set(ManualClock.Instant(offset: .seconds(5))))
            try await eventually { clock.deadlines == [.seconds(5)] }
            clock.advance(to: .seconds(4.9))
            await Task.yield()
            #expect(wakes.value == 0)
            clock.advance(to: .seconds(5))
            try await eventually { wakes.value == 1 }
            try await eventually { clock.deadlines.isEmpty }
        }
    }

    @Test("a deadline moved later while the alarm sleeps: no wake at the old one, one at the new")
    func movedLater() async throws {
        try await withAlarm { clock, alarm, wakes in
            #expect(alarm.set(ManualClock.Instant(offset: .seconds(5))))
            try await eventually { clock.deadlines == [.seconds(5)] }
            #expect(alarm.set(ManualClock.Instant(offset: .seconds(8))))
            clock.advance(to: .seconds(5))
            try await eventually { clock.deadlines == [.seconds(8)] }
            #expect(wakes.value == 0)
            clock.advance(to: .seconds(8))
            try await eventually { wakes.value == 1 }
        }
    }

    @Test("a deadline earlier than the one the alarm sleeps until is refused; the caller waits its own way")
    func refusesEarlier() async throws {
        try await withAlarm { clock, alarm, wakes in
            #expect(alarm.set(ManualClock.Instant(offset: .seconds(5))))
            try await eventually { clock.deadlines == [.seconds(5)] }
            #expect(!alarm.set(ManualClock.Instant(offset: .seconds(1))))
            clock.advance(to: .seconds(5))
            try await eventually { wakes.value == 1 }
            // Idle again: an early deadline is taken.
            try await eventually { clock.deadlines.isEmpty }
            #expect(alarm.set(ManualClock.Instant(offset: .seconds(6))))
            clock.advance(to: .seconds(6))
            try await eventually { wakes.value == 2 }
        }
    }
}

import IngestPipeline
import Synchronization

/// Wakes the flusher at the flush interval's deadline (docs/design.md §7): one
/// task for the service's life that sleeps until the latest deadline asked
/// for, instead of a task group with a sleeping task and a waiting task, and
/// their cancellation, for every wait. At a real day's rates the flusher
/// waits a few times a second and nearly every wait is ended by data, not by
/// the deadline.
///
/// Deadlines mostly move later (the last flush plus the interval). One that
/// comes earlier than the time the alarm already sleeps until is refused, and
/// the caller waits its own way (a drain's 100 ms steps).
final class FlushAlarm<C: Clock>: Sendable where C.Duration == Duration {
    private struct State: Sendable {
        /// When to wake the flusher; `nil`: not asked.
        var deadline: C.Instant?
        /// What the alarm's task sleeps until now; `nil`: it is not sleeping.
        var sleepingUntil: C.Instant?
    }

    private let state = Mutex(State())
    private let rearm = Wakeup()
    private let clock: C

    init(clock: C) {
        self.clock = clock
    }

    /// Asks to be woken at `deadline`; `false` when the alarm sleeps until a
    /// later time and cannot be brought forward.
    func set(_ deadline: C.Instant) -> Bool {
        let (accepted, idle) = state.withLock { state -> (Bool, Bool) in
            if let sleeping = state.sleepingUntil, sleeping > deadline { return (false, false) }
            state.deadline = deadline
            return (true, state.sleepingUntil == nil)
        }
        if accepted, idle { rearm.signal() }
        return accepted
    }

    /// Sleeps until each deadline asked for and calls `wake` when one is
    /// reached, until the task is cancelled. A deadline moved later while it
    /// slept is slept on again; `wake` may come for a deadline the caller no
    /// longer waits on (it then looks and waits again).
    func run(wake: @Sendable () -> Void) async {
        while !Task.isCancelled {
            let target = state.withLock { state -> C.Instant? in
                state.sleepingUntil = state.deadline
                return state.deadline
            }
            guard let target else {
                await rearm.wait()
                continue
            }
            do {
                try await clock.sleep(until: target, tolerance: nil)
            } catch {
                return
            }
            let due = state.withLock { state -> Bool in
                state.sleepingUntil = nil
                guard let deadline = state.deadline, deadline <= target else { return false }
                state.deadline = nil
                return true
            }
            if due { wake() }
        }
    }
}

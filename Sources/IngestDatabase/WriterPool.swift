#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import OptionsFeed
import Synchronization

/// The writer's connection pool (docs/design.md §5.3, "Connection pool";
/// `DB_POOL_SIZE`, default 2). libpq blocks: each `WriterSession` lives on a
/// thread of its own and is only touched there (docs/design.md §1.4). The
/// pool hands out the lowest idle session and queues callers when all are
/// busy; idle ones get a health query every 60 s and a broken one is
/// replaced on its next use; idle ones beyond the first are closed after
/// 30 min (`PoolMaintenance` decides, the pool performs). At the shutdown
/// deadline it cancels the statements in flight (docs/faults.md, "Shutdown").
final class WriterPool: Sendable {
    private let slots: [Slot]
    private let state: Mutex<State>
    private let maintenance: PoolMaintenance<ContinuousClock.Instant>
    private let maintenanceTask: Mutex<Task<Void, Never>?>
    private let logger: Logger

    /// One pooled connection: its thread and its session.
    private struct Slot: Sendable {
        let thread: ConnectionThread
        let session: WriterSession
    }

    /// Which slots are idle, who waits for one, and what maintenance needs to know.
    private struct State {
        var slots: [PoolMaintenance<ContinuousClock.Instant>.Slot]
        var waiters: [CheckedContinuation<Int, Never>] = []
    }

    /// Starts one thread per session; no connection is opened before its first use.
    init(sessions: [WriterSession], maintenance: PoolMaintenance<ContinuousClock.Instant>.Configuration, logger: Logger) {
        let now = ContinuousClock.now
        self.slots = sessions.indices.map { index in
            let thread = ConnectionThread(name: "db-writer-\(index)")
            thread.start()
            return Slot(thread: thread, session: sessions[index])
        }
        self.state = Mutex(State(slots: slots.map { _ in .init(connected: false, lastUsed: now, lastChecked: now) }))
        self.maintenance = PoolMaintenance(configuration: maintenance)
        self.maintenanceTask = Mutex(nil)
        self.logger = logger
    }

    /// Sessions in the pool: how many batches can be written at once.
    var size: Int { slots.count }

    /// The first session's thread, the one idle sessions are handed out
    /// from first: a task that prefers it as its executor (the flusher) runs
    /// its writes there without a hop to another thread (docs/design.md §7).
    var firstThread: any TaskExecutor { slots[0].thread }

    /// Runs `body` on an idle session's thread, waiting for one when all are busy.
    func withSession<R: Sendable>(_ body: @escaping @Sendable (WriterSession) throws -> R) async throws -> R {
        let index = await acquire()
        defer { release(index) }
        let session = slots[index].session
        return try await slots[index].thread.run { try body(session) }
    }

    private func acquire() async -> Int {
        await withCheckedContinuation { continuation in
            let ready: Int? = state.withLock { state in
                if let index = state.slots.firstIndex(where: { !$0.busy }) {
                    state.slots[index].busy = true
                    return index
                }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// - Parameter used: a write ran on it (a health check is not a use: it must not keep an idle connection open).
    private func release(_ index: Int, used: Bool = true) {
        let connected = slots[index].session.connection != nil
        let now = ContinuousClock.now
        let waiter: CheckedContinuation<Int, Never>? = state.withLock { state in
            state.slots[index].connected = connected
            if used { state.slots[index].lastUsed = now }
            state.slots[index].lastChecked = now
            guard !state.waiters.isEmpty else {
                state.slots[index].busy = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume(returning: index)
    }

    /// Health-checks and closes idle connections as `PoolMaintenance` says.
    func maintain(now: ContinuousClock.Instant) async {
        let actions: [PoolMaintenance<ContinuousClock.Instant>.Action] = state.withLock { state in
            let actions = maintenance.actions(for: state.slots, now: now)
            for action in actions {
                switch action {
                case .check(let index), .close(let index): state.slots[index].busy = true
                }
            }
            return actions
        }
        for action in actions {
            switch action {
            case .check(let index):
                let session = slots[index].session
                let healthy = (try? await slots[index].thread.run { () -> Bool in
                    guard let connection = session.connection else { return false }
                    if (try? connection.query("SELECT 1")) != nil { return true }
                    session.connection = nil
                    return false
                }) ?? false
                if !healthy {
                    logger.warning("idle database connection failed its health check; it is replaced on next use", metadata: ["slot": "\(index)"])
                }
                release(index, used: false)
            case .close(let index):
                let session = slots[index].session
                _ = try? await slots[index].thread.run { session.connection = nil }
                logger.info("idle database connection closed", metadata: ["slot": "\(index)"])
                release(index, used: false)
            }
        }
    }

    /// Runs `maintain` every `tick` until `shutdown`.
    func startMaintenance(tick: Duration) {
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                guard let self, !Task.isCancelled else { return }
                await self.maintain(now: .now)
            }
        }
        maintenanceTask.withLock { $0 = task }
    }

    /// Sends each busy session a cancel request and, after `grace`, shuts
    /// down the socket of any still busy; returns without waiting.
    func cancelInFlight(grace: Duration) {
        let busy: [Int] = state.withLock { state in state.slots.indices.filter { state.slots[$0].busy } }
        let handles = busy.compactMap { index in slots[index].session.cancelHandle.withLock { $0 }.map { (index, $0) } }
        guard !handles.isEmpty else { return }
        logger.warning("cancelling database statements in flight", metadata: ["connections": "\(handles.count)"])
        let graceMicros = UInt32(clamping: grace.microseconds)
        for (_, handle) in handles {
            // PQcancel connects to the server: it may block as long as the server does not answer.
            DetachedThread.start(name: "db-cancel") { handle.cancel() }
        }
        DetachedThread.start(name: "db-abort") { [self] in
            usleep(graceMicros)
            for (index, handle) in handles where state.withLock({ $0.slots[index].busy }) { handle.abort() }
        }
    }

    /// Stops maintenance, closes every connection (waiting for writes in flight) and stops the threads.
    func shutdown() async {
        maintenanceTask.withLock { $0?.cancel() }
        for index in slots.indices {
            let session = slots[index].session
            _ = try? await slots[index].thread.run { session.connection = nil }
            await slots[index].thread.shutdown()
        }
    }
}

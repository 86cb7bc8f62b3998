#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing

@testable import IngestDatabase

/// A writer connection's thread: blocking work and the jobs of the tasks
/// that prefer it, on one thread, in order (docs/design.md §7, "One thread a flush").
@Suite("Database connection thread")
struct ConnectionThreadTests {
    /// The calling thread.
    static func threadID() -> pthread_t { pthread_self() }

    @Test("work handed to it runs on its own thread, one item after the other, in order")
    func runsInOrderOnItsThread() async throws {
        let thread = ConnectionThread(name: "test-writer")
        #expect(thread.start())
        let caller = Self.threadID()
        let first = try await thread.run { Self.threadID() }
        #expect(first != caller)
        let order = Shared<[Int]>([])
        try await withThrowingTaskGroup(of: pthread_t.self) { group in
            for index in 0..<50 {
                group.addTask {
                    try await thread.run {
                        order.withLock { $0.append(index) }
                        return Self.threadID()
                    }
                }
            }
            for try await id in group { #expect(id == first, "every item runs on the one thread") }
        }
        #expect(order.withLock { $0.count } == 50)
        await thread.shutdown()
    }

    @Test("a task that prefers it runs there, and its own work runs at once, ahead of work queued before it")
    func preferringTaskRunsInline() async throws {
        let thread = ConnectionThread(name: "test-writer")
        thread.start()
        let own = try await thread.run { Self.threadID() }
        let order = Shared<[String]>([])
        let (task, inner, queued) = try await withTaskExecutorPreference(thread) {
            let task = Self.threadID()
            // Work from elsewhere, queued while this task holds the thread: it must wait for it.
            let queued = Task.detached { try await thread.run { order.withLock { $0.append("queued") } } }
            while thread.queuedForTests < 1 { usleep(1000) }
            let inner = try await thread.run {
                order.withLock { $0.append("own") }
                return Self.threadID()
            }
            return (task, inner, queued)
        }
        try await queued.value
        #expect(task == own, "the preferring task's code runs on the writer thread")
        #expect(inner == own)
        #expect(order.withLock { $0 } == ["own", "queued"], "its own work did not queue behind the other")
        await thread.shutdown()
    }

    @Test("after shutdown it refuses work, and a task that still prefers it runs elsewhere instead of never")
    func afterShutdown() async throws {
        let thread = ConnectionThread(name: "test-writer")
        thread.start()
        let own = try await thread.run { Self.threadID() }
        await thread.shutdown()
        await #expect(throws: ConnectionThread.Stopped.self) { try await thread.run { 1 } }
        let elsewhere = await withTaskExecutorPreference(thread) { Self.threadID() }
        #expect(elsewhere != own, "its jobs went to the global executor")
        await thread.shutdown()  // a second shutdown returns too
    }

    @Test("shutdown runs what was queued before it, then the thread ends")
    func shutdownDrainsQueue() async throws {
        let thread = ConnectionThread(name: "test-writer")
        let ran = Shared<Int>(0)
        // Queued before the thread starts: they wait for it.
        let pending = (0..<10).map { _ in Task { try await thread.run { ran.withLock { $0 += 1 } } } }
        while thread.queuedForTests < 10 { await Task.yield() }
        thread.start()
        await thread.shutdown()
        for task in pending { try await task.value }
        #expect(ran.withLock { $0 } == 10)
    }
}

/// A value the test's closures share, behind a lock.
private final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { value.withLock { body(&$0) } }
}

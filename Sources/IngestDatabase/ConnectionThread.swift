#if canImport(Glibc)
import Glibc
#endif
import OptionsFeed

/// A database connection's thread (docs/design.md §1.4: libpq blocks, so
/// each connection is used on a thread of its own): each writer connection
/// (§5.3, "Connection pool") and the leader lock's (§5.5). It runs, in the
/// order they come, the blocking work handed to it (`run`) and the jobs of
/// the tasks that prefer it as their executor: the flusher prefers the first
/// writer connection's thread, so that its write of a batch runs right there
/// instead of waking this thread, and then a pool thread to resume the
/// flusher (docs/design.md §7, "One thread a flush").
///
/// After `shutdown` it takes no more work (`run` throws
/// `ConnectionThread.Stopped`); a job of a task that still prefers it goes
/// to the global executor, so that no task is left without a thread.
final class ConnectionThread: TaskExecutor, @unchecked Sendable {
    /// `run` on a thread that was shut down.
    struct Stopped: Error, CustomStringConvertible {
        var description: String { "the database connection's thread has stopped" }
    }

    private enum Work {
        case job(UnownedJob)
        case body(() -> Void)
    }

    private let name: String
    private let condition = ConditionLock()
    /// Guarded by `condition`.
    private var queue: [Work] = []
    private var stopping = false
    private var ended = false
    private var thread: pthread_t?
    private var endWaiters: [CheckedContinuation<Void, Never>] = []

    init(name: String) {
        self.name = name
    }

    /// Starts the thread; false when the system will not make one.
    @discardableResult
    func start() -> Bool {
        if DetachedThread.start(name: name, { [self] in loop() }) { return true }
        condition.lock()
        ended = true
        condition.unlock()
        return false
    }

    /// Whether the caller runs on this thread.
    private var isCurrent: Bool {
        condition.lock()
        defer { condition.unlock() }
        guard let thread else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    /// Runs `body` on this thread and returns what it returns: at once when
    /// the caller already runs here (a task that prefers this thread), else
    /// after the work queued before it.
    func run<R: Sendable>(_ body: @escaping @Sendable () throws -> R) async throws -> R {
        if isCurrent { return try body() }
        return try await withCheckedThrowingContinuation { continuation in
            let queued = push(.body { continuation.resume(with: Result { try body() }) })
            if !queued { continuation.resume(throwing: Stopped()) }
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if !push(.job(job)) { globalConcurrentExecutor.enqueue(job) }
    }

    /// Takes no more work, runs what is queued, and returns once the thread has ended.
    func shutdown() async {
        await withCheckedContinuation { continuation in
            condition.lock()
            stopping = true
            let done = ended
            if !done { endWaiters.append(continuation) }
            condition.signal()
            condition.unlock()
            if done { continuation.resume() }
        }
    }

    /// Work queued and not yet taken by the thread.
    var queuedForTests: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count
    }

    /// Queues `work`; false when the thread takes no more.
    private func push(_ work: Work) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if ended { return false }
        if stopping, case .body = work { return false }
        queue.append(work)
        condition.signal()
        return true
    }

    private func loop() {
        condition.lock()
        thread = pthread_self()
        condition.unlock()
        let executor = asUnownedTaskExecutor()
        // Swapped with the queue each round: in steady state no round allocates.
        var work: [Work] = []
        while true {
            condition.lock()
            while queue.isEmpty, !stopping { condition.wait() }
            if queue.isEmpty {
                ended = true
                let waiters = endWaiters
                endWaiters = []
                condition.unlock()
                waiters.forEach { $0.resume() }
                return
            }
            swap(&work, &queue)
            condition.unlock()
            for item in work {
                switch item {
                case .job(let job): job.runSynchronously(on: executor)
                case .body(let body): body()
                }
            }
            work.removeAll(keepingCapacity: true)
        }
    }
}

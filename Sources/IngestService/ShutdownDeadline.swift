import Synchronization

/// When a graceful shutdown must be over (docs/faults.md, "Shutdown"): it
/// begins with the first SIGINT/SIGTERM and expires `SHUTDOWN_TIMEOUT_MS`
/// later, or at once on a second SIGINT. At expiry the flusher stops waiting
/// for the database: statements in flight are cancelled, and every trade not
/// yet committed (the buffer and the batches in flight) goes to the spool.
public final class ShutdownDeadline: Sendable {
    private let begun = Latch()
    private let expiredEarly = Latch()
    private let expired = Atomic<Bool>(false)

    public init() {}

    /// The shutdown began (the first signal); the timeout runs from now.
    public func begin() { begun.set() }

    /// Expire now, without waiting for the timeout (a second SIGINT).
    public func expireNow() {
        begun.set()
        expiredEarly.set()
    }

    /// The deadline passed: stop waiting for the database.
    public var isExpired: Bool { expired.load(ordering: .acquiring) }

    /// Waits for the shutdown to begin, then until the timeout passes or
    /// `expireNow`; marks the deadline expired. Returns early (not expired) when cancelled.
    func waitForExpiry<C: Clock>(timeout: Duration, clock: C) async where C.Duration == Duration {
        await begun.wait()
        guard !Task.isCancelled else { return }
        let deadline = clock.now.advanced(by: timeout)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(until: deadline, tolerance: nil) }
            group.addTask { [expiredEarly] in await expiredEarly.wait() }
            await group.next()
            group.cancelAll()
        }
        guard !Task.isCancelled else { return }
        expired.store(true, ordering: .releasing)
    }

    /// A one-way flag that tasks can wait on; waiting ends early when the waiting task is cancelled.
    final class Latch: Sendable {
        private let stream: AsyncStream<Void>
        private let continuation: AsyncStream<Void>.Continuation

        init() {
            (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        }

        func set() {
            continuation.yield()
            continuation.finish()
        }

        /// One waiter at a time (an `AsyncStream` has one consumer).
        func wait() async {
            for await _ in stream { return }
        }
    }
}

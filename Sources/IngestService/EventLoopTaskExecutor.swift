import NIOCore

/// Runs a task's jobs on one NIO event loop (docs/design.md §7): the feed
/// session reads a frame, decodes it and hands it to the buffer on the
/// thread that read it from the socket. Without it, every frame wakes a
/// Swift pool thread after the event loop's, and at a real day's rates
/// (small frames, far apart) those wake-ups are most of the CPU a trade costs.
///
/// A job enqueued after the loop has shut down is not run (NIO drops it): the
/// feed session only prefers this executor while the connection is open, and
/// an attempt whose client does not end is abandoned with its loop (§5.1).
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }
}

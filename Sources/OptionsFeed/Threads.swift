#if canImport(Glibc)
import Glibc
#endif

/// A thread of its own for work that blocks (a sync loop, a cancel request
/// to a server that may not answer), started detached: nothing joins it,
/// and it ends when `body` returns. Built on pthreads so that the service
/// needs only FoundationEssentials, not Foundation's `Thread`
/// (docs/design.md §1.4).
public enum DetachedThread {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts `body` on a new thread named `name` (what `top -H` and
    /// `/proc/PID/task/*/comm` show; the kernel keeps 15 bytes). Returns
    /// false, without running `body`, when the system will not make another thread.
    @discardableResult
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
        let context = Unmanaged.passRetained(Body {
            nameThisThread(name)
            body()
        }).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { context in
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        guard created == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            return false
        }
        pthread_detach(thread)
        return true
    }

    /// Names the calling thread through `/proc/thread-self/comm` (glibc's
    /// `pthread_setname_np` is not in Swift's Glibc module); a name that
    /// cannot be set leaves the process's own.
    static func nameThisThread(_ name: String) {
        let descriptor = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}

/// A mutex and its condition variable, for threads of their own that wait
/// for work (the console writer): `NSCondition`'s part the service uses,
/// on pthreads (docs/design.md §1.4). Timed waits run on
/// `CLOCK_MONOTONIC`, so a change of the wall clock does not move them.
public final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }
    /// Wakes one waiter.
    public func signal() { pthread_cond_signal(condition) }
    /// Wakes every waiter.
    public func broadcast() { pthread_cond_broadcast(condition) }

    /// With the lock held: releases it until woken (possibly spuriously), then holds it again.
    public func wait() { pthread_cond_wait(condition, mutex) }

    /// As `wait()`, for at most `timeout` (none if it is not positive);
    /// `false` when the time ran out.
    public func wait(timeout: Duration) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let wait = max(timeout, .zero).components
        let nanoseconds = Int64(now.tv_nsec) + wait.attoseconds / 1_000_000_000
        var deadline = timespec()
        deadline.tv_sec = now.tv_sec + Int(clamping: wait.seconds) + Int(nanoseconds / 1_000_000_000)
        deadline.tv_nsec = Int(nanoseconds % 1_000_000_000)
        return pthread_cond_timedwait(condition, mutex, &deadline) != ETIMEDOUT
    }
}

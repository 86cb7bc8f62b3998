import OptionsFeed

/// How often the feed connection's thread reads the socket (docs/design.md §7).
///
/// At a real day's rates the feed sends a small frame every few
/// milliseconds, and each one wakes the connection's thread from `epoll_wait`
/// on its own: the wake-up, the read and the cold caches after it cost far
/// more than decoding the frame. So after a *tick* of the event loop (a read
/// and everything it delivered) that brought only a few frames, the thread
/// holds off until `interval` has passed since its previous pause ended; the
/// frames that arrive meanwhile wait in the kernel's socket buffer and are
/// read, decoded and buffered together in the next tick.
///
/// Two rules keep pacing from limiting throughput:
/// - a tick of `busyTick` frames or more, or of `budgetBytes` bytes, is followed by another read at once;
/// - a pause is cut short so that, at the rate the last pause-to-pause cycle
///   measured, at most `budgetBytes` arrive during it: a fast feed gets short
///   pauses and can never fill the socket's receive buffer (Linux gives a
///   connection at least 128 KiB by default) and stall its sender.
///
/// The cost is latency: a frame waits at most `interval` before it is read
/// (its `received_at` is the time it was read). Pure: the time is a parameter.
/// Not generic over the clock: it is called once per frame from another module,
/// where an unspecialized generic would cost a metadata look-up each time.
public struct ReadPacing: Sendable {
    public typealias Instant = ContinuousClock.Instant

    public struct Configuration: Sendable, Equatable {
        /// The longest pause between two reads after a quiet tick (`WS_READ_COALESCE_MS`, 100 ms: at 500 trades/s
        /// a trade costs about two thirds of the CPU that 50 ms left, docs/performance.md); zero reads every frame
        /// at once.
        public var interval: Duration
        /// A tick with at least this many frames is busy: the next read follows at once (32).
        public var busyTick: Int
        /// The most bytes a pause lets pile up in the socket at the measured rate (32 KiB, a quarter of the
        /// smallest receive buffer Linux gives a TCP connection by default).
        public var budgetBytes: Int

        public init(interval: Duration = .milliseconds(100), busyTick: Int = 32, budgetBytes: Int = 32 << 10) {
            self.interval = interval
            self.busyTick = busyTick
            self.budgetBytes = budgetBytes
        }
    }

    public let configuration: Configuration
    /// Frames handled since the last tick ended, and their bytes.
    public private(set) var framesThisTick = 0
    private var bytesThisTick = 0
    /// Where the current cycle began: the end of the last pause (or the last read after a quiet spell).
    private var cycleStart: Instant?
    /// Bytes of the frames handled since `cycleStart`.
    private var cycleBytes = 0
    /// The feed's rate as the last cycle measured it, bytes per second; `nil` before a cycle ended.
    public private(set) var bytesPerSecond: Double?

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// A frame of `bytes` was handled. Returns `true` for the first frame of a
    /// tick: the caller then arranges for `tickEnded` to run when the tick's
    /// frames are handled (on an event loop: a task queued behind the frames).
    public mutating func frameHandled(bytes: Int) -> Bool {
        framesThisTick += 1
        bytesThisTick += bytes
        cycleBytes += bytes
        return framesThisTick == 1 && configuration.interval > .zero
    }

    /// Every frame of the tick is handled: how long to hold the thread before
    /// its next read (zero: read at once).
    public mutating func tickEnded(now: Instant) -> Duration {
        let (frames, bytes) = (framesThisTick, bytesThisTick)
        framesThisTick = 0
        bytesThisTick = 0
        guard configuration.interval > .zero else { return .zero }
        guard let start = cycleStart else {
            cycleStart = now
            cycleBytes = 0
            return .zero
        }
        // Busy: many frames, or a few large ones that brought a budget's worth of bytes.
        let busy = frames >= configuration.busyTick || bytes >= configuration.budgetBytes
        if busy && start.duration(to: now) < configuration.interval { return .zero }
        var longest = configuration.interval
        if let rate = bytesPerSecond, rate > 0 {
            longest = min(longest, .seconds(Double(configuration.budgetBytes) / rate))
        }
        let end = max(now, start.advanced(by: longest))
        let length = start.duration(to: end)
        if length > .zero {
            bytesPerSecond = Double(cycleBytes) / length.seconds
        }
        cycleStart = end
        cycleBytes = 0
        return now.duration(to: end)
    }
}

/// How often the feed connection's thread reads the socket (docs/design.md §7).
///
/// At a real day's rates the feed sends a small frame every few
/// milliseconds, and each one wakes the connection's thread from `epoll_wait`
/// on its own: the wake-up, the read and the cold caches after it cost far
/// more than decoding the frame. So after a *tick* of the event loop (a read
/// and everything it delivered) that brought only a few frames, the thread
/// holds off until `interval` has passed since the previous such pause ended;
/// the frames that arrive meanwhile wait in the kernel's socket buffer and are
/// read, decoded and buffered together in the next tick. A tick that brought
/// `busyTick` frames or more means the feed is fast enough that reads are
/// batched already: no pause, so pacing never limits throughput (a feed fast
/// enough to fill a tick within an interval gets no pauses at all).
///
/// The cost is latency: a frame waits at most `interval` before it is read
/// (its `received_at` is the time it was read). Pure: the time is a parameter.
/// Not generic over the clock: it is called once per frame from another module,
/// where an unspecialized generic would cost a metadata look-up each time.
public struct ReadPacing: Sendable {
    public typealias Instant = ContinuousClock.Instant

    public struct Configuration: Sendable, Equatable {
        /// The shortest time between two reads after a quiet tick (`WS_READ_COALESCE_MS`, 20 ms); zero reads every frame at once.
        public var interval: Duration
        /// A tick with at least this many frames is busy: no pause after it (32, a tenth of what a tick of full 64 KiB reads holds).
        public var busyTick: Int

        public init(interval: Duration = .milliseconds(20), busyTick: Int = 32) {
            self.interval = interval
            self.busyTick = busyTick
        }
    }

    public let configuration: Configuration
    /// Frames handled since the last tick ended.
    public private(set) var framesThisTick = 0
    /// When the last pause ended (or the last tick that needed none): the next pause lasts until `interval` after it.
    private var lastRead: Instant?

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// A frame was handled. Returns `true` for the first frame of a tick: the
    /// caller then arranges for `tickEnded` to run when the tick's frames are
    /// handled (on an event loop: a task queued behind the frames).
    public mutating func frameHandled() -> Bool {
        framesThisTick += 1
        return framesThisTick == 1 && configuration.interval > .zero
    }

    /// Every frame of the tick is handled: how long to hold the thread before
    /// its next read (zero: read at once).
    public mutating func tickEnded(now: Instant) -> Duration {
        let frames = framesThisTick
        framesThisTick = 0
        guard configuration.interval > .zero, frames < configuration.busyTick, let lastRead else {
            self.lastRead = now
            return .zero
        }
        let since = lastRead.duration(to: now)
        guard since < configuration.interval else {
            self.lastRead = now
            return .zero
        }
        let pause = configuration.interval - since
        self.lastRead = now.advanced(by: pause)
        return pause
    }
}

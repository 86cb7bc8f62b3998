/// One connection's streaming phase, from its `subscribe` to the fault that
/// ends it: decides which kind of frame comes next and when streaming stops.
///
/// Pure value type: the server's loop asks it what to do, performs the I/O,
/// and reports each frame written.
public struct StreamSession: Sendable {
    /// What the next frame of the stream is.
    public enum Frame: Sendable, Equatable {
        case trades
        /// Malformed JSON (`--garbage-every`).
        case garbage
        /// A text frame of about 1.5 MiB (`--oversized-every`).
        case oversized
        /// The next trades with the hostile events before them (`--hostile-every`).
        case hostile
    }

    /// How streaming ends when a fault comes due.
    public enum Ending: Sendable, Equatable, CaseIterable {
        /// TCP reset, no close frame (`--reset-every`).
        case reset
        /// Close frame 1001 goingAway (`--drop-every`).
        case drop
        /// No data, no pongs, socket no longer read (`--no-pong`).
        case silence
        /// No data, pongs still answered (`--stall-after`).
        case stall
    }

    public let plan: FaultPlan
    public let startedAt: ContinuousClock.Instant
    /// The `FaultSwitch` generation when this stream started: a fault
    /// triggered after it ends this stream.
    public var controlGeneration = 0
    /// Frames of this stream written so far (trades and injected ones).
    public private(set) var framesWritten = 0

    public init(plan: FaultPlan, startedAt: ContinuousClock.Instant) {
        self.plan = plan
        self.startedAt = startedAt
    }

    /// The first fault that ends this stream, and when; faults due at the same
    /// instant rank as `Ending.allCases` lists them.
    public var ending: (kind: Ending, at: ContinuousClock.Instant)? {
        var first: (kind: Ending, at: ContinuousClock.Instant)?
        for kind in Ending.allCases {
            let after: Duration? =
                switch kind {
                case .reset: plan.resetEvery
                case .drop: plan.dropEvery
                case .silence: plan.silenceAfter
                case .stall: plan.stallAfter
                }
            guard let after else { continue }
            let at = startedAt.advanced(by: after)
            if first == nil || at < first!.at { first = (kind, at) }
        }
        return first
    }

    /// The fault due at `now`, if any.
    public func ending(at now: ContinuousClock.Instant) -> Ending? {
        guard let ending, ending.at <= now else { return nil }
        return ending.kind
    }

    /// The kind of the next frame: the Nth frame is garbage when N is a multiple
    /// of `garbageEvery`, else oversized when a multiple of `oversizedEvery`,
    /// else hostile when a multiple of `hostileEvery`.
    public var nextFrame: Frame {
        let number = framesWritten + 1
        if let every = plan.garbageEvery, every > 0, number % every == 0 { return .garbage }
        if let every = plan.oversizedEvery, every > 0, number % every == 0 { return .oversized }
        if let every = plan.hostileEvery, every > 0, number % every == 0 { return .hostile }
        return .trades
    }

    public mutating func frameWritten() {
        framesWritten += 1
    }

    /// A trade frame cut off mid-event: not valid JSON, no complete trade.
    public static let garbageFrame = #"[{"ev":"T","sym":"O:SPY251219C00500000","x":301,"p":1.2"#

    /// Size of the oversized frame: 1.5 MiB, half again the 1 MiB limit a feed
    /// client sets (docs/feed-sim.md, "Why the faults look so").
    public static let oversizedFrameBytes = 3 << 19

    /// `[{"ev":"X","pad":"aaaa…"}]`, exactly `oversizedFrameBytes` long: valid
    /// JSON of an event type a client ignores, so only its size is at fault.
    public static let oversizedFrame: String = {
        let head = #"[{"ev":"X","pad":""#
        let tail = #""}]"#
        return head + String(repeating: "a", count: oversizedFrameBytes - head.utf8.count - tail.utf8.count) + tail
    }()
}

import OptionsFeed

/// Error counts and per-minute rates by class, for the report's `errors`
/// section and the `error_rate_high` alert (docs/design.md §5.4; the classes
/// it counts are `ErrorClass.isFault`, docs/operations.md §1). Pure: every call is
/// given the time.
///
/// Each class keeps its total since start and a list of `(instant, count)`
/// entries for the sliding window. Records that land within `window / 600`
/// (100 ms for the default 60 s) of the class's newest entry are folded into
/// it, so a burst of any size costs one entry and the rate's edges are at
/// most that much early. A class's entries older than the window are dropped
/// when it records again, and there are never more than `maxRemembered`
/// entries in all:
/// when full, the oldest entry of any class is dropped first, which can only
/// make the rate read low, never high. Totals are unaffected.
public struct ErrorRates<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public struct ClassSnapshot: Sendable, Equatable {
        /// Errors of this class since start.
        public var count: Int
        /// Errors within the last window, scaled to one minute.
        public var perMinute: Int
        public var lastAt: Instant?
        public var lastMessage: String?

        public init(count: Int, perMinute: Int, lastAt: Instant?, lastMessage: String?) {
            self.count = count
            self.perMinute = perMinute
            self.lastAt = lastAt
            self.lastMessage = lastMessage
        }
    }

    struct Entry: Sendable {
        var at: Instant
        var count: Int
    }

    struct ClassState: Sendable {
        var count = 0
        var lastAt: Instant?
        var lastMessage: String?
        /// `(instant, count)` in time order; live entries start at `head`.
        var entries: [Entry] = []
        var head = 0
    }

    /// How far back the rate looks (docs/design.md §5.4 rates are per minute: 60 s).
    public let window: Duration
    /// The most `(instant, count)` entries kept over all classes, so memory
    /// stays bounded whatever the error rate (default 10 000, a few hundred KB).
    public let maxRemembered: Int
    /// Records this close to a class's newest entry are folded into it.
    let foldWithin: Duration
    private var classes: [ClassState] = Array(repeating: ClassState(), count: ErrorClass.allCases.count)
    /// Entries held over all classes (never more than `maxRemembered`).
    private(set) var storedEntries = 0

    public init(window: Duration = .seconds(60), maxRemembered: Int = 10_000) {
        self.window = window
        self.maxRemembered = max(1, maxRemembered)
        self.foldWithin = window / 600
    }

    public mutating func record(_ errorClass: ErrorClass, message: String, now: Instant) {
        record(errorClass, count: 1, message: message, now: now)
    }

    /// Records `count` errors at once (e.g. 50 invalid trades in one frame):
    /// they add `count` to the total and to the rate, in one entry.
    public mutating func record(_ errorClass: ErrorClass, count: Int, message: String, now: Instant) {
        guard count > 0 else { return }
        let slot = errorClass.slot
        expire(slot, now: now)
        classes[slot].count += count
        classes[slot].lastAt = now
        classes[slot].lastMessage = message

        let newest = classes[slot].entries.count - 1
        if newest >= classes[slot].head {
            let age = classes[slot].entries[newest].at.duration(to: now)
            if age == .zero || (age > .zero && age < foldWithin) {
                classes[slot].entries[newest].count += count
                return
            }
        }
        if storedEntries >= maxRemembered { dropOldest() }
        classes[slot].entries.append(Entry(at: now, count: count))
        storedEntries += 1
    }

    /// Every class, with its total, rate, and last error.
    public func snapshot(now: Instant) -> [ErrorClass: ClassSnapshot] {
        var result: [ErrorClass: ClassSnapshot] = [:]
        for errorClass in ErrorClass.allCases {
            let state = classes[errorClass.slot]
            result[errorClass] = ClassSnapshot(
                count: state.count, perMinute: perMinute(inWindow: inWindow(state, now: now)),
                lastAt: state.lastAt, lastMessage: state.lastMessage)
        }
        return result
    }

    /// All classes together, per minute.
    public func totalPerMinute(now: Instant) -> Int {
        perMinute(inWindow: classes.reduce(0) { $0 + inWindow($1, now: now) })
    }

    /// The fault classes together (`ErrorClass.isFault`), per minute: what `error_rate_high` counts.
    public func faultsPerMinute(now: Instant) -> Int {
        perMinute(inWindow: ErrorClass.faults.reduce(0) { $0 + inWindow(classes[$1.slot], now: now) })
    }

    private func inWindow(_ state: ClassState, now: Instant) -> Int {
        var total = 0
        let cutoff = now.advanced(by: .zero - window)
        var position = state.entries.count - 1
        while position >= state.head, state.entries[position].at > cutoff {
            total += state.entries[position].count
            position -= 1
        }
        return total
    }

    private func perMinute(inWindow count: Int) -> Int {
        if window == .seconds(60) || count == 0 { return count }
        let windowSeconds = window.seconds
        guard windowSeconds > 0 else { return 0 }
        return Int((Double(count) * 60 / windowSeconds).rounded())
    }

    /// Drops the class's entries that have left the window. Other classes'
    /// expired entries wait for their next record; they are the oldest, so
    /// they are also the first to go when the cap is reached.
    private mutating func expire(_ slot: Int, now: Instant) {
        let cutoff = now.advanced(by: .zero - window)
        while classes[slot].head < classes[slot].entries.count, classes[slot].entries[classes[slot].head].at <= cutoff {
            removeFront(slot)
        }
    }

    /// Drops the oldest entry of any class, to stay within `maxRemembered`.
    private mutating func dropOldest() {
        var oldest: (slot: Int, at: Instant)?
        for slot in classes.indices where classes[slot].head < classes[slot].entries.count {
            let front = classes[slot].entries[classes[slot].head].at
            if let current = oldest, current.at <= front { continue }
            oldest = (slot, front)
        }
        if let oldest { removeFront(oldest.slot) }
    }

    private mutating func removeFront(_ slot: Int) {
        classes[slot].head += 1
        storedEntries -= 1
        // Reclaim the consumed prefix once it is most of the array.
        let head = classes[slot].head
        if head == classes[slot].entries.count {
            classes[slot].entries.removeAll(keepingCapacity: true)
            classes[slot].head = 0
        } else if head >= 32, head * 2 >= classes[slot].entries.count {
            classes[slot].entries.removeFirst(head)
            classes[slot].head = 0
        }
    }
}

extension ErrorClass {
    /// Whether errors of this class are a fault of the service or of what it
    /// depends on, and so count toward `error_rate_high` (docs/operations.md §1):
    /// network, rate limiting, authentication and database errors are; `data`
    /// is not. `data` is bad input (invalid trades and malformed frames from the
    /// feed's decoder, rows the database refuses as data, which become dead
    /// letters): the feed sends some all day, and invalid trades have their own
    /// alert, `invalid_trades_high` (`InvalidTradeShare`).
    public var isFault: Bool {
        switch self {
        case .network, .rateLimit, .authentication, .database: true
        case .data: false
        }
    }

    /// The classes whose per-minute rates `error_rate_high` adds up, in `allCases` order.
    public static var faults: [ErrorClass] { allCases.filter(\.isFault) }

    /// Position in `allCases`, the index of the class's state.
    fileprivate var slot: Int {
        switch self {
        case .network: 0
        case .rateLimit: 1
        case .authentication: 2
        case .data: 3
        case .database: 4
        }
    }
}

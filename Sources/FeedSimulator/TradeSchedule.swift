import OptionsFeed

/// When each trade of the shared stream is due, and which trades fall into a
/// gap because no client was subscribed when they were due.
///
/// Like the real feed, the stream runs on the clock, not on the clients: trade
/// `i` (0-based position in the generator's sequence) is due at
/// `start + i / rate`. Trades that come due while no client is subscribed are
/// never sent; the generator still moves past them, so `q` keeps rising and a
/// reconnecting client sees a gap, as it would on Polygon. Trades due while a
/// client *was* subscribed but not yet written (a slow client's backlog) are
/// not skipped: only the idle span is.
///
/// With `rate == 0` (flat out) nothing is due at any time and nothing is skipped.
/// Pure value type: every instant comes in as a parameter.
public struct TradeSchedule: Sendable {
    /// Trades per second over all clients; 0 = unpaced.
    public let rate: Double
    /// When trade 0 was due: the first time a client subscribed.
    public private(set) var start: ContinuousClock.Instant?
    /// Clients streaming right now.
    public private(set) var subscribers = 0
    /// When the last subscriber left; `nil` while someone is subscribed.
    private var idleSince: ContinuousClock.Instant?
    /// Positions still to be skipped, sorted and disjoint. A gap can lie ahead of
    /// the generator when a backlog from before the idle span is still unsent.
    private var gaps: [Range<Int>] = []

    /// Floating-point slack when mapping an instant back to a position, so that
    /// `position(dueAtOrAfter: dueTime(of: i)) == i` despite rounding.
    static let epsilon = 1e-9
    /// 2^62 as a Double: every position below it converts to `Int` exactly.
    static let positionLimit = Double(1 << 62)

    public init(rate: Double) {
        self.rate = max(0, rate)
    }

    /// A client started streaming at `now`; the first one starts the clock, and
    /// one ending an idle span turns that span into a gap.
    public mutating func subscriberJoined(at now: ContinuousClock.Instant) {
        defer { subscribers += 1 }
        guard rate > 0 else { return }
        guard let start else {
            start = now
            return
        }
        guard subscribers == 0, let idleSince else { return }
        self.idleSince = nil
        let gap = position(dueAtOrAfter: idleSince, start: start)..<position(dueAtOrAfter: now, start: start)
        guard !gap.isEmpty else { return }
        if let last = gaps.last, last.upperBound >= gap.lowerBound {
            gaps[gaps.count - 1] = last.lowerBound..<max(last.upperBound, gap.upperBound)
        } else {
            gaps.append(gap)
        }
    }

    /// Starts the clock at `now` with nobody subscribed to trades, unless it runs
    /// already: a connection that wants only other events (bars, quotes) needs
    /// the stream to run. The first trade subscriber then ends an idle span.
    public mutating func startClock(at now: ContinuousClock.Instant) {
        guard rate > 0, start == nil else { return }
        start = now
        if subscribers == 0 { idleSince = now }
    }

    /// How many positions (from 0) are due before `now`; 0 when unpaced or not started.
    public func positionsDue(before now: ContinuousClock.Instant) -> Int {
        guard rate > 0, let start else { return 0 }
        return position(dueAtOrAfter: now, start: start)
    }

    /// No client streams, and one did before (paced streams only): the next to join ends an idle span.
    public var isIdle: Bool { subscribers == 0 && idleSince != nil }

    /// A client stopped streaming at `now` (closed, reset, stalled, silenced or gone).
    public mutating func subscriberLeft(at now: ContinuousClock.Instant) {
        subscribers = max(0, subscribers - 1)
        if subscribers == 0, rate > 0, start != nil { idleSince = now }
    }

    /// How many trades to skip when the generator stands at `position`; the gap is consumed.
    public mutating func skipCount(at position: Int) -> Int {
        gaps.removeAll { $0.upperBound <= position }
        guard let gap = gaps.first, gap.lowerBound <= position else { return 0 }
        gaps.removeFirst()
        return gap.upperBound - position
    }

    /// Trades that may be handed out from `position` before the next gap begins.
    public func runLength(from position: Int) -> Int {
        guard let next = gaps.first(where: { $0.upperBound > position }) else { return Int.max }
        return max(0, next.lowerBound - position)
    }

    /// Trades still to be skipped (known gaps not yet reached).
    public var pendingSkips: Int { gaps.reduce(0) { $0 + $1.count } }

    /// When the trade at `position` is due; `nil` when unpaced or before the first subscriber.
    public func dueTime(of position: Int) -> ContinuousClock.Instant? {
        guard rate > 0, let start else { return nil }
        return start.advanced(by: .seconds(Double(position) / rate))
    }

    /// The first position due at or after `instant`.
    func position(dueAtOrAfter instant: ContinuousClock.Instant, start: ContinuousClock.Instant) -> Int {
        let elapsed = start.duration(to: instant)
        let seconds = elapsed.seconds
        let position = (seconds * rate - Self.epsilon).rounded(.up)
        // `Int(_:)` traps beyond Int's range (a huge rate, a long idle span): clamp first.
        guard position < Self.positionLimit else { return Int.max }
        return max(0, Int(position))
    }
}

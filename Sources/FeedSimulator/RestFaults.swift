/// The REST API's failures staged on purpose (docs/feed-sim.md, "REST faults"):
/// a seeded share of answers as HTTP 500 or as a truncated JSON body, every
/// answer delayed, and (`POST /control/rest/KIND`) the next N answers so.
/// Off by default. Pure value type: the server asks it once per answer.
public struct RestFaults: Sendable {
    /// The options' part: shares and a delay for every answer.
    public struct Plan: Sendable, Equatable {
        /// `--rest-error-fraction`: share of answers that are HTTP 500 (0…1).
        public var errorFraction: Double = 0
        /// `--rest-truncate-fraction`: share of answers whose JSON body is cut in half (0…1).
        public var truncateFraction: Double = 0
        /// `--rest-delay`: every answer waits this long first.
        public var delay: Duration?

        public init() {}
    }

    /// What to do with one answer.
    public enum Answer: Sendable, Equatable {
        case normal
        /// HTTP 500 with a JSON error.
        case error
        /// Status 200, but only the first half of the JSON body (Content-Length says so).
        case truncated
    }

    /// What can be injected at run time.
    public enum Kind: String, Sendable, CaseIterable {
        case error, truncate, slow
    }

    public let plan: Plan
    private var random: SeededRandom
    private var nextErrors = 0
    private var nextTruncated = 0
    private var nextSlow = 0
    private var slowDelay: Duration = .zero

    /// Mixed into the run's seed so the fault draws do not repeat the trade generator's.
    static let seedMask: UInt64 = 0x3C6E_F372_FE94_F82B

    public init(plan: Plan, seed: UInt64) {
        self.plan = plan
        self.random = SeededRandom(seed: seed ^ Self.seedMask)
    }

    /// The next `count` answers fail as `kind` (`slow`: each waits `delay`).
    public mutating func inject(_ kind: Kind, count: Int, delay: Duration = .seconds(1)) {
        switch kind {
        case .error: nextErrors += max(0, count)
        case .truncate: nextTruncated += max(0, count)
        case .slow:
            nextSlow += max(0, count)
            slowDelay = delay
        }
    }

    /// The fate of the next answer and how long it waits first.
    public mutating func next() -> (answer: Answer, delay: Duration?) {
        var delay = plan.delay
        if nextSlow > 0 {
            nextSlow -= 1
            delay = slowDelay
        }
        if nextErrors > 0 {
            nextErrors -= 1
            return (.error, delay)
        }
        if nextTruncated > 0 {
            nextTruncated -= 1
            return (.truncated, delay)
        }
        guard plan.errorFraction > 0 || plan.truncateFraction > 0 else { return (.normal, delay) }
        let draw = Double(random.next() % 1_000_000) / 1_000_000
        if draw < plan.errorFraction { return (.error, delay) }
        if draw < plan.errorFraction + plan.truncateFraction { return (.truncated, delay) }
        return (.normal, delay)
    }
}

/// The feed's invalid trades over the last minute, for the `invalid_trades_high`
/// alert (docs/operations.md §1). Invalid trades are bad data from the feed, not
/// a fault of the service, so they have their own rule apart from
/// `error_rate_high`: a share of the trades seen, because a fixed count per
/// minute means nothing across feeds from ten to ten thousand trades a second.
///
/// Pure: the health tick gives it the running totals of trades seen and
/// invalid (they only grow) with the time. It keeps one sample per tick that
/// is at least `window / 120` after the previous one, and only as far back as
/// the newest sample a full window old, so it holds at most about 120 samples
/// whatever the tick rate. `lastWindow` is what arrived since that sample (or
/// since the start, while the history is shorter than the window): at most one
/// tick more than the window, never less.
public struct InvalidTradeShare<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// Trades over a stretch of time.
    public struct Counts: Sendable, Equatable {
        public var seen: Int
        public var invalid: Int

        public init(seen: Int, invalid: Int) {
            self.seen = seen
            self.invalid = invalid
        }

        /// Invalid trades as a percentage of those seen (0 when none were seen).
        public var percent: Double { seen > 0 ? Double(invalid) * 100 / Double(seen) : 0 }
    }

    /// When the share is too high.
    public struct Threshold: Sendable, Equatable {
        /// More than this percentage of the minute's trades invalid opens the alert.
        /// `ALERT_INVALID_TRADES_PERCENT`, default 5: feed-sim's demo sends 0.5–1 %,
        /// and a feed whose format changed under the decoder reads 100 %.
        public var percent: Int
        /// …and at least this many invalid trades in the minute: below it, a
        /// quiet minute with one bad frame of a few trades is not a trend.
        public var minimumInvalid: Int

        public init(percent: Int = 5, minimumInvalid: Int = 10) {
            self.percent = percent
            self.minimumInvalid = minimumInvalid
        }

        /// Whether `counts` (one window's) open the alert.
        public func isExceeded(by counts: Counts) -> Bool {
            counts.invalid >= max(1, minimumInvalid) && counts.invalid * 100 > percent * counts.seen
        }
    }

    struct Sample: Sendable {
        var at: Instant
        var counts: Counts
    }

    /// How far back the share looks (one minute, like the error rates).
    public let window: Duration
    /// Samples closer than this to the previous one are not kept (only the latest totals are).
    let spacing: Duration
    /// Time order; `samples[0]` is the newest sample at or before `now - window`, once there is one.
    private var samples: [Sample] = []
    private var latest: Sample?

    public init(window: Duration = .seconds(60)) {
        self.window = window
        self.spacing = window / 120
    }

    /// Samples held (bounded by `window / spacing` plus two).
    var storedSamples: Int { samples.count }

    /// Notes the running totals at `now`.
    public mutating func record(seen: Int, invalid: Int, now: Instant) {
        let sample = Sample(at: now, counts: Counts(seen: seen, invalid: invalid))
        latest = sample
        if let newest = samples.last, newest.at.duration(to: now) < spacing {
            // Too close to keep: `latest` has the totals.
        } else {
            samples.append(sample)
        }
        let cutoff = now.advanced(by: .zero - window)
        // The oldest sample needed is the newest one at or before the cutoff.
        var drop = 0
        while drop + 1 < samples.count, samples[drop + 1].at <= cutoff { drop += 1 }
        if drop > 0 { samples.removeFirst(drop) }
    }

    /// Trades seen and invalid within the last window as of `now` (zero before any `record`).
    public func lastWindow(now: Instant) -> Counts {
        guard let latest else { return Counts(seen: 0, invalid: 0) }
        let cutoff = now.advanced(by: .zero - window)
        let base = samples.last(where: { $0.at <= cutoff })?.counts ?? Counts(seen: 0, invalid: 0)
        return Counts(seen: max(0, latest.counts.seen - base.seen), invalid: max(0, latest.counts.invalid - base.invalid))
    }
}

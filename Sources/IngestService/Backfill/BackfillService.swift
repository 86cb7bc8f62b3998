import IngestDatabase
import IngestPipeline
import Logging
import OptionsFeed
import ServiceLifecycle
import Synchronization

/// Fills the feed's gaps from the REST API (docs/design.md §5.8.1): reads the
/// `feed_gaps` rows marked `pending` (and `failed` ones due for a retry),
/// waits until every trade received before the gap ended, and within the
/// window's margin after it, is committed (`CommitWatermark`), then merges
/// each watched contract's window into `options_trades` and records the
/// outcome on the row. Runs only while this instance streams (alone, or as
/// the leader of a pair). A shutdown leaves an unfinished gap `pending`: the
/// next run resumes it, and the merge inserts nothing twice.
public final class BackfillService: Service, Sendable {
    /// The `BACKFILL*` settings.
    public struct Configuration: Sendable, Equatable {
        /// `POLYGON_REST_URL`.
        public var endpoint: RESTEndpoint
        /// `POLYGON_API_KEY`, sent as a bearer token only.
        public var apiKey: String
        /// `WATCH_SYMBOLS`: contracts (`O:…`) and underlyings.
        public var watched: [String]
        /// `BACKFILL_MARGIN_MS`.
        public var marginMs: Int64
        /// `BACKFILL_REQUESTS_PER_S`.
        public var requestsPerSecond: Double
        /// `BACKFILL_MAX_CONTRACTS`.
        public var maxContracts: Int
        /// `ALERT_BACKFILL_LAG_MS`.
        public var lagAlert: Duration
        /// `POLYGON_OPTION_TRADE_VALUE_THRESHOLD`: REST trades below it are left out, as the feed's are (0: none).
        public var notionalThreshold: Double = 0
        /// How often `feed_gaps` is asked for work (5 s).
        public var pollInterval: Duration = .seconds(5)
        /// Beyond the margin, how long after a gap was seen closed its window
        /// may still receive streamed trades (feed latency): 3 s.
        public var settleDelay: Duration = .seconds(3)
        /// A `failed` gap is tried again this long after its last attempt (10 min).
        public var retryFailedAfter: Duration = .seconds(600)

        public init(
            endpoint: RESTEndpoint, apiKey: String, watched: [String], marginMs: Int64 = BackfillWindow.defaultMarginMs,
            requestsPerSecond: Double = 10, maxContracts: Int = BackfillPlan.defaultMaxContracts, lagAlert: Duration = .seconds(900)
        ) {
            self.endpoint = endpoint
            self.apiKey = apiKey
            self.watched = watched
            self.marginMs = marginMs
            self.requestsPerSecond = requestsPerSecond
            self.maxContracts = maxContracts
            self.lagAlert = lagAlert
        }

        /// The contracts `WATCH_SYMBOLS` names.
        public var contracts: [String] { watched.filter { $0.hasPrefix("O:") } }
        /// The underlyings it names, whose chain snapshots add the contracts that traded.
        public var underlyings: [String] { watched.filter { !$0.hasPrefix("O:") } }
    }

    private let configuration: Configuration
    private let runner: BackfillRunner
    private let store: BackfillStore
    private let watermark: CommitWatermark
    private let role: InstanceRole
    private let progress: BackfillProgress
    private let errors: ErrorLog
    private let wallClock: WallClock
    private let logger: Logger

    public init(
        configuration: Configuration, store: BackfillStore, client: RESTClient, watermark: CommitWatermark, role: InstanceRole,
        progress: BackfillProgress, errors: ErrorLog, wallClock: WallClock = .system, logger: Logger
    ) {
        self.configuration = configuration
        self.runner = BackfillRunner(
            configuration: configuration, store: store, client: client, progress: progress, wallClock: wallClock, logger: logger)
        self.store = store
        self.watermark = watermark
        self.role = role
        self.progress = progress
        self.errors = errors
        self.wallClock = wallClock
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.loop() }
    }

    private func loop() async {
        // When each unfinished gap was first seen (Unix µs): its window may
        // still receive streamed trades until margin + settle after that.
        var firstSeen: [Int64: Int64] = [:]
        var lastReadFailure: String?
        while !Task.isCancelled {
            guard role.role != .standby else {
                progress.update { $0.state = .waiting }
                await sleep(configuration.pollInterval)
                continue
            }
            let gaps: [BackfillGap]
            do {
                gaps = try await store.pendingGaps(limit: 100, retryFailedAfter: configuration.retryFailedAfter)
                lastReadFailure = nil
            } catch {
                if lastReadFailure != "\(error)" {
                    logger.warning("backfill cannot read feed_gaps; trying again", metadata: ["error": "\(error)"])
                }
                lastReadFailure = "\(error)"
                await sleep(configuration.pollInterval)
                continue
            }
            let now = wallClock.nowMicros()
            for gap in gaps where firstSeen[gap.id] == nil { firstSeen[gap.id] = now }
            progress.update {
                $0.gapsWaiting = gaps.count
                $0.oldestWaitingSinceMicros = firstSeen.values.min()
                $0.state = gaps.isEmpty ? .idle : .waiting
            }
            var waitingOnCommits = false
            for gap in gaps {
                let due = firstSeen[gap.id, default: now] + configuration.marginMs * 1000 + configuration.settleDelay.microseconds
                guard let settled = watermark.settledBefore(nowMicros: wallClock.nowMicros()), settled >= due else {
                    // Oldest first: a later gap was seen no earlier, it waits too.
                    waitingOnCommits = true
                    break
                }
                progress.update { $0.state = .running }
                let window = Self.window(of: gap, marginMs: configuration.marginMs)
                let outcome = await runner.run(window: window, gap: gap.id)
                if Task.isCancelled {
                    // Left `pending`: the next run does it again, and inserts nothing twice.
                    logger.info("backfill interrupted by the shutdown; the gap stays pending", metadata: ["gap": "\(gap.id)"])
                    return
                }
                await record(outcome, of: gap)
                if outcome.state != .failed { firstSeen.removeValue(forKey: gap.id) }
                progress.update { $0.oldestWaitingSinceMicros = firstSeen.values.min() }
            }
            progress.update { $0.state = waitingOnCommits ? .waiting : .idle }
            await sleep(waitingOnCommits ? .milliseconds(500) : configuration.pollInterval)
        }
    }

    /// A gap's window in feed time: from the newest trade before it to the
    /// first after it, widened by the margin. A gap without feed times (a
    /// first run, a row from before they were recorded) falls back to its
    /// own times, on the database's clock, at the millisecond.
    static func window(of gap: BackfillGap, marginMs: Int64) -> BackfillWindow {
        BackfillWindow(
            gapFromT: gap.fromT ?? gap.startedAtMicros / 1000, toT: gap.toT ?? gap.endedAtMicros.map { $0 / 1000 }, marginMs: marginMs)
    }

    private func record(_ outcome: BackfillOutcome, of gap: BackfillGap) async {
        if let error = outcome.error { errors.record(outcome.errorClass ?? .network, message: "backfill: \(error)") }
        do {
            try await store.markGap(
                id: gap.id, state: outcome.state, rows: Int64(outcome.rows), requests: outcome.requests, error: outcome.error)
        } catch {
            // The row stays as it was (pending or failed): done again later, inserting nothing twice.
            logger.warning("backfill outcome could not be recorded; the gap will be done again", metadata: ["gap": "\(gap.id)", "error": "\(error)"])
            return
        }
        progress.update {
            switch outcome.state {
            case .done: $0.gapsDone += 1
            case .partial: $0.gapsPartial += 1
            case .failed: $0.gapsFailed += 1
            case .pending: break
            }
            if let error = outcome.error { $0.lastError = error }
        }
        let metadata: Logger.Metadata = [
            "gap": "\(gap.id)", "reason": "\(gap.reason)", "state": "\(outcome.state.rawValue)", "rows": "\(outcome.rows)",
            "requests": "\(outcome.requests)", "contracts": "\(outcome.contracts)", "window": "\(outcome.window)",
        ]
        if let error = outcome.error {
            logger.warning("gap backfill failed; it will be tried again", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        } else {
            logger.info("gap backfilled", metadata: metadata)
        }
    }

    private func sleep(_ duration: Duration) async {
        try? await Task.sleep(for: duration)
    }
}

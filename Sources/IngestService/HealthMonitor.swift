#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import IngestDatabase
import IngestPipeline
import IngestSpool
import Logging
import OptionsFeed
import Synchronization

/// Everything the health report is made of, read without stopping the hot
/// path: counters are atomics, the other parts are copied out under short
/// locks and no lock is held across I/O (docs/design.md §5.4). It also keeps the alert
/// book and the per-symbol staleness tracker, which `tick` advances.
public final class HealthMonitor: Sendable {
    public struct Configuration: Sendable {
        public var version: String
        public var maskedURL: String
        public var subscriptions: [String]
        public var rules: HealthRules
        public var alerts: AlertThresholds
        public var marketHours: MarketHours
        public var symbols: StalenessConfiguration

        public init(
            version: String, maskedURL: String, subscriptions: [String], rules: HealthRules = .init(), alerts: AlertThresholds = .init(),
            marketHours: MarketHours = .usOptions, symbols: StalenessConfiguration = .init()
        ) {
            self.version = version
            self.maskedURL = maskedURL
            self.subscriptions = subscriptions
            self.rules = rules
            self.alerts = alerts
            self.marketHours = marketHours
            self.symbols = symbols
        }
    }

    /// When each alert of docs/design.md §5.4 opens.
    public struct AlertThresholds: Sendable, Equatable {
        /// `feed_disconnected`: not streaming this long (docs/design.md §5.4: 2 min). `ALERT_FEED_DOWN_MS`.
        public var feedDownAfter: Duration = .seconds(120)
        /// `buffer_high`: more records waiting than this, in the buffer and the spool's trades behind it
        /// (docs/design.md §5.4: 1000). `ALERT_BUFFER_ITEMS`.
        public var bufferItems: Int = 1000
        /// `rss_high`: resident memory above this (docs/design.md §5.4: 500 MB). `ALERT_RSS_MB`.
        public var rssBytes: Int = 500 << 20
        /// `error_rate_high`: more errors than this in the last minute (docs/design.md §5.4: 10/min). `ALERT_ERRORS_PER_MINUTE`.
        /// Only faults count (`ErrorClass.isFault`: network, rate limit, authentication, database), not invalid feed data.
        public var errorsPerMinute: Int = 10
        /// `invalid_trades_high`: more than this percentage of the last minute's trades invalid, and at least
        /// `InvalidTradeShare.Threshold.minimumInvalid` (10) of them. `ALERT_INVALID_TRADES_PERCENT` (default 5:
        /// feed-sim's 0.5–1 % stays well below it, a feed format the decoder no longer reads goes far above).
        public var invalidTradesPercent: Int = 5
        /// `no_messages`: no frame at all this long (docs/design.md §5.4: 5 min). `ALERT_NO_MESSAGES_MS`.
        public var noMessagesAfter: Duration = .seconds(300)
        /// How long `trades_dropped` and `feed_slow_consumer` stay open after the last occurrence.
        public var recentWindow: Duration = .seconds(60)

        public init() {}
    }

    let configuration: Configuration
    let stats: IngestStats
    let buffer: RecordBuffer
    let spool: Spool?
    let feed: FeedMonitor
    public let database: DatabaseMonitor
    public let errors: ErrorLog
    let healthEvents: HealthEventQueue
    /// `state` events for the status server's `/events` clients.
    public let events = EventHub()
    /// `single`, or the instance's place in an active/standby pair (docs/design.md §5.5).
    public let role: InstanceRole
    let started = ContinuousClock.now
    let startedMicros: Int64
    /// The wall clock of the report's times (`ts`, `last_message_at`, the health tables' rows).
    let wallClock: WallClock

    /// A time on both clocks: the monotonic one that durations and alerts
    /// use, and the wall clock that reports and rows show. Read once per
    /// tick or report (`HealthMonitor.now()`); a test makes one and advances both.
    public struct Moment: Sendable {
        public var instant: ContinuousClock.Instant
        public var wallMicros: Int64

        public init(instant: ContinuousClock.Instant, wallMicros: Int64) {
            self.instant = instant
            self.wallMicros = wallMicros
        }

        public func advanced(by duration: Duration) -> Moment {
            Moment(instant: instant.advanced(by: duration), wallMicros: wallMicros + duration.microseconds)
        }

        /// The wall time as a `Date` (market hours).
        var date: Date { Date(timeIntervalSince1970: Double(wallMicros) / 1e6) }
    }

    /// Now, on both clocks.
    public func now() -> Moment { Moment(instant: .now, wallMicros: wallClock.nowMicros()) }

    private struct Trackers {
        var alerts = AlertBook<AlertName, ContinuousClock.Instant>()
        var lastSystem: (sample: SystemSample, at: ContinuousClock.Instant)
        var lastDropped = 0
        var lastDropAt: ContinuousClock.Instant?
        var lastSlowConsumer = 0
        var lastSlowConsumerAt: ContinuousClock.Instant?
        var lastSpoolFaults = 0
        var lastSpoolFaultAt: ContinuousClock.Instant?
        /// Trades seen and invalid over the last minute, for `invalid_trades_high`.
        var invalidTrades = InvalidTradeShare<ContinuousClock.Instant>()
        var cpuPercent = 0.0
        var lastBreaker = BreakerPhase.closed
    }

    /// Per-symbol staleness, on instants since `origin` (`ElapsedInstant`: per trade, a
    /// `ContinuousClock.Instant` costs more in the runtime than the tracker's own work).
    private let symbols: Mutex<StalenessTracker<ElapsedInstant>>
    private let origin = ContinuousClock.now
    private let trackers: Mutex<Trackers>
    private let gaps: GapLedger?
    private let deadLetters: DeadLetterQueue?
    /// The gap backfill's progress (docs/design.md §5.8.1); `nil` reads as `BACKFILL=off`.
    private let backfill: BackfillProgress?

    /// Side-table rows lost so far, by queue: overflow plus what the shutdown deadline left.
    public var pendingLosses: HealthReport.Pending {
        HealthReport.Pending(
            gapChangesDropped: (gaps?.dropped ?? 0) + stats.gapChangesLostAtShutdown.load(ordering: .relaxed),
            deadLettersDropped: (deadLetters?.dropped ?? 0) + stats.deadLettersLostAtShutdown.load(ordering: .relaxed),
            healthEventsDropped: healthEvents.dropped + stats.healthEventsLostAtShutdown.load(ordering: .relaxed))
    }

    public init(
        configuration: Configuration, stats: IngestStats, buffer: RecordBuffer, spool: Spool?, feed: FeedMonitor, database: DatabaseMonitor,
        errors: ErrorLog, healthEvents: HealthEventQueue, role: InstanceRole = InstanceRole(),
        gaps: GapLedger? = nil, deadLetters: DeadLetterQueue? = nil, backfill: BackfillProgress? = nil, wallClock: WallClock = .system
    ) {
        self.wallClock = wallClock
        self.startedMicros = wallClock.nowMicros()
        self.gaps = gaps
        self.deadLetters = deadLetters
        self.backfill = backfill
        self.role = role
        self.configuration = configuration
        self.stats = stats
        self.buffer = buffer
        self.spool = spool
        self.feed = feed
        self.database = database
        self.errors = errors
        self.healthEvents = healthEvents
        self.symbols = Mutex(StalenessTracker(configuration: configuration.symbols))
        self.trackers = Mutex(
            Trackers(lastSystem: (SystemSample.read(), .now)))
    }

    private func elapsed(_ instant: ContinuousClock.Instant) -> ElapsedInstant {
        ElapsedInstant(sinceOrigin: origin.duration(to: instant))
    }

    /// Hot path: notes the accepted trades of one frame for the staleness tracker (one short lock per frame).
    /// Here and in `recordsAccepted` the records are read in place, by index: a `for … in` would copy
    /// each (its symbol and other references retained).
    public func tradesAccepted(_ trades: [OptionTrade], now: ContinuousClock.Instant = .now) {
        guard !trades.isEmpty else { return }
        let now = elapsed(now)
        symbols.withLock { tracker in
            for index in trades.indices {
                tracker.record(contract: trades[index].symbol.raw, underlying: trades[index].symbol.underlying, now: now)
            }
        }
    }

    /// The bars, quotes or FMV values of one frame (docs/design.md §4.4, "Staleness"):
    /// a quote and an FMV value are prices of their contract, so each is a
    /// sign of life for it like a trade; a bar is not (it sums trades already
    /// counted, and comes up to a minute after them).
    public func recordsAccepted(_ batch: RecordBatch, now: ContinuousClock.Instant = .now) {
        let now = elapsed(now)
        switch batch {
        case .quotes(let quotes) where !quotes.isEmpty:
            symbols.withLock { tracker in
                for index in quotes.indices {
                    tracker.record(contract: quotes[index].symbol.raw, underlying: quotes[index].symbol.underlying, now: now)
                }
            }
        case .fairValues(let values) where !values.isEmpty:
            symbols.withLock { tracker in
                for index in values.indices {
                    tracker.record(contract: values[index].symbol.raw, underlying: values[index].symbol.underlying, now: now)
                }
            }
        default:
            return
        }
    }

    /// Advances alerts and staleness to `moment` (now by default): logs ALERT
    /// open/resolve lines, queues staleness transitions and feed state changes for the health tables.
    public func tick(at moment: Moment? = nil, logger: Logger) {
        let moment = moment ?? now()
        let (now, nowMicros, date) = (moment.instant, moment.wallMicros, moment.date)
        for change in feed.drainChanges() {
            publishState(["kind": "feed", "from": change.from, "to": change.to, "at": CivilTime.isoTimestamp(micros: change.atMicros)])
            healthEvents.append(
                .connection(
                    atMicros: change.atMicros, component: "websocket", message: "feed \(change.from) -> \(change.to)", statusCode: nil,
                    metadataJSON: Self.jsonObject(["from": change.from, "to": change.to].merging(change.detail.map { ["detail": errors.mask($0)] } ?? [:]) { $1 })))
        }
        let marketOpen = configuration.marketHours.isOpen(at: date)
        // A standby reads no trades: its symbols say nothing about the market.
        let transitions = role.role == .standby ? [] : symbols.withLock { $0.evaluate(now: elapsed(now), marketOpen: marketOpen) }
        for transition in transitions {
            let seconds = transition.staleness.seconds
            healthEvents.append(
                .symbolHealth(
                    symbol: transition.symbol, atMicros: nowMicros, status: transition.to.rawValue, stalenessSeconds: seconds,
                    updateCount: transition.updateCount))
            switch transition.to {
            case .stale, .critical:
                healthEvents.append(
                    .stalenessAlert(
                        symbol: transition.symbol, atMicros: nowMicros, stalenessSeconds: seconds,
                        level: transition.to == .critical ? "critical" : "warning"))
            case .healthy:
                healthEvents.append(.stalenessResolved(symbol: transition.symbol, atMicros: nowMicros))
            case .degraded:
                break
            }
            logger.notice(
                "symbol staleness changed",
                metadata: ["symbol": "\(transition.symbol)", "from": "\(transition.from.rawValue)", "to": "\(transition.to.rawValue)",
                           "staleness_s": "\(Int(seconds))"])
        }
        let breaker = database.breakerAndLastError.breaker
        let breakerChanged: BreakerPhase? = trackers.withLock { trackers in
            defer { trackers.lastBreaker = breaker }
            return trackers.lastBreaker != breaker ? trackers.lastBreaker : nil
        }
        if let previous = breakerChanged {
            publishState(["kind": "database_breaker", "from": previous.rawValue, "to": breaker.rawValue, "at": CivilTime.isoTimestamp(micros: nowMicros)])
        }
        for (name, event) in alertEvents(now: now, nowMicros: nowMicros) {
            let (state, level, time, values): (AlertState, Logger.Level, Logger.Metadata, [String: String]) = switch event {
            case .opened(_, _, let values): (.open, .error, ["since": "\(CivilTime.isoTimestamp(micros: nowMicros))"], values)
            case .resolved(_, let since, let values): (.resolved, .notice, ["open_s": "\(Int(since.duration(to: now).seconds))"], values)
            }
            var metadata = time
            for (key, value) in values { metadata[key] = "\(value)" }
            publishState(["kind": "alert", "alert": name.rawValue, "state": state.rawValue])
            logger.alert(name, state, level: level, metadata: metadata)
        }
    }

    /// A `state` event for `/events` (no-op without clients).
    private func publishState(_ fields: [String: String]) {
        guard events.clientCount > 0 else { return }
        events.publish(EventHub.format(event: "state", data: Self.jsonObject(fields)))
    }

    /// A flat JSON object of strings, keys sorted.
    static func jsonObject(_ fields: [String: String]) -> String {
        "{" + fields.keys.sorted().map { "\(JSONString.quoted($0)):\(JSONString.quoted(fields[$0]!))" }
            .joined(separator: ",") + "}"
    }

    /// The alert conditions of docs/design.md §5.4, fed to the alert book.
    private func alertEvents(now: ContinuousClock.Instant, nowMicros: Int64) -> [(AlertName, AlertBook<AlertName, ContinuousClock.Instant>.Event)] {
        let thresholds = configuration.alerts
        let (machine, since) = feed.snapshot
        let feedDown = machine.state.phase != .streaming ? since.duration(to: now) : nil
        let databaseState = database.breakerAndLastError
        let spoolState = spool?.snapshot
        // Trades waiting for the database: in the buffer, and in the spool behind it (a live feed's frames follow a
        // spool backlog there, so in overload the buffer itself is nearly empty; docs/design.md §5.2.1).
        let (buffered, spooled) = (buffer.count, spoolState?.trades ?? 0)
        let waiting = buffered + spooled
        let errorsNow = errors.snapshot(now: now)
        // Faults only: invalid feed data (`data`) has its own alert, `invalid_trades_high`.
        let faultsPerMinute = errors.faultsPerMinute(now: now)
        // Invalid first: the intake adds to `seen` before `invalid`, so `seen` read second is never behind it.
        let invalidTotal = stats.tradesInvalid.load(ordering: .relaxed)
        let seenTotal = stats.tradesSeen.load(ordering: .relaxed)
        let invalidThreshold = InvalidTradeShare<ContinuousClock.Instant>.Threshold(percent: thresholds.invalidTradesPercent)
        let lastMessage = stats.lastMessageAtMicros.load(ordering: .relaxed)
        let (currentRole, roleSince) = role.snapshot
        let standby = currentRole == .standby
        // Silence counts from the last frame, or from when this instance started (or began leading).
        let silentFrom = max(lastMessage, startedMicros, currentRole == .leader ? roleSince : 0)
        let silentSeconds = Double(nowMicros - silentFrom) / 1e6
        let dropped = stats.tradesDropped.load(ordering: .relaxed)
        let slow = stats.slowConsumerWarnings.load(ordering: .relaxed)
        let spoolFaults = spoolState.map { $0.writeFailures + $0.syncFailures + $0.quarantinedSegments + $0.vanishedSegments } ?? 0
        let sample = SystemSample.read()
        let backfillState = backfill?.snapshot
        // A gap waiting past ALERT_BACKFILL_LAG_MS (`lagAlert`, nil with BACKFILL=off). A standby's backfill waits for the
        // leader role on purpose: the leader, which does the backfill, raises the alert.
        let lagAlert = backfill?.lagAlert
        let backfillLag = Duration.microseconds(backfillState?.lagMicros(nowMicros: nowMicros) ?? 0)
        let backfillLagging = !standby && (lagAlert.map { backfillLag > $0 } ?? false)
        return trackers.withLock { trackers in
            if spoolFaults > trackers.lastSpoolFaults { trackers.lastSpoolFaultAt = now }
            trackers.lastSpoolFaults = spoolFaults
            if dropped > trackers.lastDropped { trackers.lastDropAt = now }
            trackers.lastDropped = dropped
            if slow > trackers.lastSlowConsumer { trackers.lastSlowConsumerAt = now }
            trackers.lastSlowConsumer = slow
            trackers.invalidTrades.record(seen: seenTotal, invalid: invalidTotal, now: now)
            let invalidCounts = trackers.invalidTrades.lastWindow(now: now)
            let wall = trackers.lastSystem.at.duration(to: now).seconds
            if wall >= 1 {
                trackers.cpuPercent = SystemSample.cpuPercent(from: trackers.lastSystem.sample, to: sample, wallSeconds: wall)
                trackers.lastSystem = (sample, now)
            }
            func recent(_ at: ContinuousClock.Instant?) -> Bool { at.map { $0.duration(to: now) < thresholds.recentWindow } ?? false }
            // Each alert's values (the ALERT line's fields) are built only for an alert that is or was
            // open: building them every second for every alert cost more than the rest of the tick.
            let conditions: [(AlertName, Bool, () -> [String: String])] = [
                // `feed_state`, not `state`: the ALERT line's `state` is the alert's own (open/resolved).
                (.feedDisconnected, !standby && (feedDown ?? .zero) > thresholds.feedDownAfter,
                 { ["feed_state": machine.state.name, "down_s": "\(Int((feedDown ?? .zero).seconds))"] }),
                (.dbConnectionLost, databaseState.breaker != .closed,
                 { ["breaker": databaseState.breaker.rawValue, "error": databaseState.lastError?.message ?? ""] }),
                (.bufferHigh, waiting > thresholds.bufferItems,
                 { ["items": "\(waiting)", "buffered": "\(buffered)", "spooled": "\(spooled)", "threshold": "\(thresholds.bufferItems)"] }),
                (.rssHigh, sample.rssBytes > thresholds.rssBytes, { ["rss_bytes": "\(sample.rssBytes)"] }),
                (.errorRateHigh, faultsPerMinute > thresholds.errorsPerMinute,
                 { ["per_minute": "\(faultsPerMinute)", "threshold": "\(thresholds.errorsPerMinute)"] }),
                (.invalidTradesHigh, invalidThreshold.isExceeded(by: invalidCounts),
                 { ["invalid": "\(invalidCounts.invalid)", "seen": "\(invalidCounts.seen)",
                    "percent": "\((invalidCounts.percent * 10).rounded() / 10)", "threshold_percent": "\(invalidThreshold.percent)"] }),
                (.noMessages, !standby && silentSeconds > thresholds.noMessagesAfter.seconds, { ["silent_s": "\(Int(silentSeconds))"] }),
                (.authenticationError, (errorsNow[.authentication]?.perMinute ?? 0) > 0,
                 { ["message": errorsNow[.authentication]?.lastMessage ?? ""] }),
                (.tradesDropped, recent(trackers.lastDropAt), { ["dropped_total": "\(dropped)"] }),
                (.feedSlowConsumer, recent(trackers.lastSlowConsumerAt), { ["warnings_total": "\(slow)"] }),
                // A failed spool write or sync, or a segment that could not be read back (quarantined or vanished).
                (.spoolFailing, recent(trackers.lastSpoolFaultAt),
                 { ["write_failures": "\(spoolState?.writeFailures ?? 0)", "sync_failures": "\(spoolState?.syncFailures ?? 0)",
                  "quarantined_segments": "\(spoolState?.quarantinedSegments ?? 0)", "vanished_segments": "\(spoolState?.vanishedSegments ?? 0)"] }),
                (.backfillLagging, backfillLagging,
                 { ["lag_s": "\(Int(backfillLag.seconds))", "threshold_s": "\(Int((lagAlert ?? .zero).seconds))",
                    "gaps_waiting": "\(backfillState?.gapsWaiting ?? 0)", "gaps_failed": "\(backfillState?.gapsFailed ?? 0)"] }),
            ]
            return conditions.compactMap { name, active, values in
                guard active || trackers.alerts.active[name] != nil else { return nil }
                return trackers.alerts.update(name, isActive: active, values: values(), now: now).map { (name, $0) }
            }
        }
    }

    /// The report as of `now` (docs/design.md §5.4).
    public func report(at moment: Moment? = nil) -> HealthReport {
        let moment = moment ?? now()
        let (now, nowMicros, date) = (moment.instant, moment.wallMicros, moment.date)
        func iso(_ micros: Int64) -> String { CivilTime.isoTimestamp(micros: micros) }
        func wall(_ instant: ContinuousClock.Instant) -> String { iso(nowMicros - Int64(instant.duration(to: now).seconds * 1e6)) }

        let (machine, since) = feed.snapshot
        let currentRole = role.role
        let streaming: ContinuousClock.Instant? = if case .streaming(let start) = machine.state { start } else { nil }
        let lastMessage = stats.lastMessageAtMicros.load(ordering: .relaxed)
        let databaseState = database.snapshot
        let bufferState = buffer.snapshot
        let spoolState = spool?.snapshot
        let errorsNow = errors.snapshot(now: now)
        let sample = SystemSample.read()
        let marketOpen = configuration.marketHours.isOpen(at: date)
        let (watched, counts, tracked) = symbols.withLock { [now = elapsed(now)] in ($0.watchedEntries(now: now), $0.counts(now: now), $0.trackedCount) }
        let (alerts, cpu, lastDropAt) = trackers.withLock { ($0.alerts.activeAlerts, $0.cpuPercent, $0.lastDropAt) }

        let conditions = HealthConditions(
            feedStreaming: streaming != nil, feedNotStreamingFor: streaming == nil ? since.duration(to: now) : nil,
            feedReconnecting: streaming == nil, databaseBreaker: databaseState.breaker,
            databaseBreakerOpenFor: databaseState.breaker == .closed ? nil : databaseState.breakerSince.duration(to: now),
            tradesDroppedRecently: lastDropAt.map { $0.duration(to: now) < configuration.alerts.recentWindow } ?? false,
            bufferItems: bufferState.items,
            staleWatchedSymbols: marketOpen && currentRole != .standby ? (counts[.stale] ?? 0) + (counts[.critical] ?? 0) : 0,
            rssBytes: sample.rssBytes, standby: currentRole == .standby)
        let (status, reasons) = configuration.rules.evaluate(conditions)

        return HealthReport(
            status: status, role: currentRole, reasons: reasons, ts: iso(nowMicros), uptimeS: started.duration(to: now).seconds,
            version: configuration.version, pid: ProcessInfo.processInfo.processIdentifier,
            feed: .init(
                state: machine.state.phase, url: configuration.maskedURL, connectedSince: streaming.map(wall),
                lastMessageAt: lastMessage > 0 ? iso(lastMessage) : nil,
                secondsSinceMessage: lastMessage > 0 ? Double(nowMicros - lastMessage) / 1e6 : nil,
                reconnects: machine.reconnects, attempt: machine.failures, subscriptions: configuration.subscriptions,
                messages: stats.frames.load(ordering: .relaxed),
                trades: .init(
                    seen: stats.tradesSeen.load(ordering: .relaxed), accepted: stats.tradesAccepted.load(ordering: .relaxed),
                    filtered: stats.tradesFiltered.load(ordering: .relaxed), invalid: stats.tradesInvalid.load(ordering: .relaxed),
                    dropped: stats.tradesDropped.load(ordering: .relaxed)),
                breaker: machine.breaker.state.phase,
                events: .init(
                    trade: stats.counts(.trade), aggregate: stats.counts(.aggregate), quote: stats.counts(.quote), fmv: stats.counts(.fmv))),
            buffer: .init(
                items: bufferState.items, capacity: bufferState.capacity, highWater: bufferState.highWater,
                flushes: stats.batchesWritten.load(ordering: .relaxed), lastFlushSize: databaseState.lastBatchTrades,
                lastFlushMs: databaseState.lastBatchSeconds.map { $0 * 1000 }),
            spool: .init(
                enabled: spool != nil, bytes: spoolState?.bytes ?? 0, records: spoolState?.records ?? 0, trades: spoolState?.trades ?? 0,
                segments: spoolState?.segments ?? 0,
                oldest: spoolState?.oldestSegmentTime.map { iso(Int64($0 * 1e6)) }, corruptRecords: spoolState?.corruptRecords ?? 0,
                writeFailures: spoolState?.writeFailures ?? 0, syncFailures: spoolState?.syncFailures ?? 0,
                quarantinedSegments: spoolState?.quarantinedSegments ?? 0, vanishedSegments: spoolState?.vanishedSegments ?? 0),
            pending: pendingLosses,
            database: .init(
                flavor: databaseState.flavor, state: .init(breaker: databaseState.breaker), breaker: databaseState.breaker,
                breakerSinceS: databaseState.breakerSince.duration(to: now).seconds,
                rowsWritten: stats.rowsInserted.load(ordering: .relaxed), batchesOk: stats.batchesWritten.load(ordering: .relaxed),
                batchesFailed: stats.batchesFailed.load(ordering: .relaxed), retries: stats.retries.load(ordering: .relaxed),
                deadLetters: stats.deadLetters.load(ordering: .relaxed),
                lastError: databaseState.lastError.map {
                    .init(errorClass: $0.errorClass, sqlstate: $0.sqlState, message: $0.message, at: iso($0.atMicros))
                },
                writeLatencyP50Ms: databaseState.latencyP50.map { $0 * 1000 }, writeLatencyP99Ms: databaseState.latencyP99.map { $0 * 1000 },
                commitLagP50Ms: databaseState.commitLagP50.map { $0 * 1000 }, commitLagP99Ms: databaseState.commitLagP99.map { $0 * 1000 }),
            backfill: backfill.map { HealthReport.Backfill($0.snapshot, nowMicros: nowMicros, mask: errors.mask) } ?? .off,
            symbols: .init(
                tracked: tracked, watched: watched.count, marketOpen: marketOpen, healthy: counts[.healthy] ?? 0,
                degraded: counts[.degraded] ?? 0, stale: counts[.stale] ?? 0, critical: counts[.critical] ?? 0,
                worst: watched.prefix(5).map { .init(symbol: $0.symbol, state: $0.state, stalenessS: $0.staleness.seconds, updates: $0.updateCount) }),
            errors: errorsNow.mapValues { info in
                HealthReport.ErrorInfo(count: info.count, perMinute: info.perMinute, lastAt: info.lastAtMicros.map(iso), lastMessage: info.lastMessage)
            },
            system: .init(rssBytes: sample.rssBytes, cpuPercent: cpu, threads: sample.threads, openFds: sample.openFDs),
            alerts: alerts.map { .init(alert: $0.name, since: wall($0.since), values: $0.values) })
    }
}

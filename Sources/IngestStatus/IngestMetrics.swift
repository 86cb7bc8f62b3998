import CoreMetrics
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import IngestPipeline
import OptionsFeed
import IngestService
import Prometheus
import Synchronization

/// The `/metrics` exposition (Prometheus text format, docs/design.md §5.4): totals and
/// gauges are taken from the health report at scrape time (counters advance by
/// what changed since the last scrape); the database write latency is a
/// histogram fed by the flusher as batches commit. swift-metrics is
/// bootstrapped onto the same registry. (The write histogram is registered
/// here, with its help text, rather than through a swift-metrics `Timer`:
/// the factory registers timers without help, which `promtool check metrics` rejects.)
public final class IngestMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// Buckets of `ingest_db_write_seconds`: 1 ms to 60 s (the bulk statement timeout, docs/design.md §5.3).
    public static let writeBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]
    public static let writeHistogramName = "ingest_db_write_seconds"

    private let lastTotals = Mutex<[String: Int]>([:])
    /// `ingest_db_write_seconds`: one observation per committed batch.
    public let dbWriteSeconds: DurationHistogram

    public init() {
        dbWriteSeconds = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(metricName: Self.writeHistogramName, unitName: "", helpText: "Duration of one committed batch write (one transaction)."),
            labels: [], buckets: Self.writeBuckets)
    }

    /// Makes swift-metrics report into this registry (once per process), so
    /// metrics of any library that uses swift-metrics appear at `/metrics` too.
    public func bootstrap() {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    /// One counter per value of `label`, all with the same name and help.
    static func byLabel(_ name: String, _ help: String, _ label: String, _ values: [(String, Int)]) -> [(String, String, [(String, String)], Int)] {
        values.map { (name, help, [(label, $0.0)], $0.1) }
    }

    /// The exposition text for `report` (plus the status server's own client counts).
    public func exposition(for report: HealthReport, sseClients: Int, sseDropped: Int) -> String {
        let totals: [(String, String, [(String, String)], Int)] = [
            ("ingest_trades_received_total", "Trades decoded from the feed (valid or not).", [], report.feed.trades.seen),
            ("ingest_trades_accepted_total", "Trades at or above the notional threshold, on their way to the table.", [], report.feed.trades.accepted),
            ("ingest_trades_filtered_total", "Trades below the notional threshold.", [], report.feed.trades.filtered),
            ("ingest_trades_invalid_total", "Trades rejected by the decoder (dead-lettered).", [], report.feed.trades.invalid),
            ("ingest_trades_dropped_total", "Trades dropped because the spool was full.", [], report.feed.trades.dropped),
            ("ingest_rows_written_total", "Rows newly inserted into options_trades.", [], report.database.rowsWritten),
            ("ingest_batches_total", "Batch writes by result.", [("result", "ok")], report.database.batchesOk),
            ("ingest_batches_total", "Batch writes by result.", [("result", "failed")], report.database.batchesFailed),
            ("ingest_db_retries_total", "Batch write retries.", [], report.database.retries),
            ("ingest_dead_letters_total", "Rows stored in dead_letters.", [], report.database.deadLetters),
            ("ingest_frames_total", "WebSocket frames received.", [], report.feed.messages),
            ("ingest_reconnects_total", "Feed connections lost and retried.", [], report.feed.reconnects),
            ("ingest_status_sse_clients_dropped_total", "/events clients dropped for not keeping up.", [], sseDropped),
            ("ingest_backfill_contracts_merged_total", "Contracts whose gap window the backfill merged.", [],
             report.backfill.contractsMerged),
            ("ingest_backfill_rows_inserted_total", "Rows the backfill inserted: trades the feed never delivered.", [],
             report.backfill.rowsInserted),
            ("ingest_backfill_requests_total", "Backfill REST requests sent, retries included.", [], report.backfill.requests),
            ("ingest_backfill_rate_limited_total", "Backfill REST requests answered 429 (rate limited).", [], report.backfill.rateLimited),
        ] + RecordKind.allCases.flatMap { kind in
            let counts = report.feed.events[kind]
            let help = "Feed events by type (trade, aggregate, quote, fmv) and outcome: seen in frames, accepted, invalid, written, dropped."
            return [("seen", counts.seen), ("accepted", counts.accepted), ("invalid", counts.invalid), ("written", counts.written),
                    ("dropped", counts.dropped)].map { outcome, value in
                ("ingest_events_total", help, [("type", kind.name), ("outcome", outcome)], value)
            }
        } + Self.byLabel(
            "ingest_backfill_gaps_total", "Gaps the backfill finished, by outcome.", "outcome",
            [("done", report.backfill.gapsDone), ("partial", report.backfill.gapsPartial), ("failed", report.backfill.gapsFailed)]
        ) + Self.byLabel(
            "ingest_spool_faults_total", "Spool writes and syncs that failed, and segments that could not be read back.", "kind",
            [("write", report.spool.writeFailures), ("sync", report.spool.syncFailures),
             ("quarantined", report.spool.quarantinedSegments), ("vanished", report.spool.vanishedSegments)]
        ) + Self.byLabel(
            "ingest_pending_rows_dropped_total", "Side-table rows lost before reaching the database, by queue.", "queue",
            [("feed_gaps", report.pending.gapChangesDropped), ("dead_letters", report.pending.deadLettersDropped),
             ("health_events", report.pending.healthEventsDropped)]
        ) + report.errors.sorted { $0.key.rawValue < $1.key.rawValue }.map { errorClass, info in
            ("ingest_errors_total", "Errors by class.", [("class", errorClass.rawValue)], info.count)
        }
        lastTotals.withLock { last in
            for (name, help, labels, value) in totals {
                let key = name + labels.map { "\($0.0)=\($0.1)" }.joined()
                let delta = value - last[key, default: 0]
                let counter = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
                if delta > 0 { counter.increment(by: Int64(delta)) }
                last[key] = max(value, last[key, default: 0])
            }
        }
        func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = [], _ value: Double) {
            registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels).set(to: value)
        }
        gauge("ingest_buffer_items", "Trades waiting in the in-memory buffer.", [], Double(report.buffer.items))
        gauge("ingest_buffer_capacity", "Trades the buffer holds at most.", [], Double(report.buffer.capacity))
        gauge("ingest_spool_bytes", "Bytes waiting in the disk spool.", [], Double(report.spool.bytes))
        gauge("ingest_spool_records", "Batches waiting in the disk spool.", [], Double(report.spool.records))
        gauge("ingest_spool_trades", "Trades this process spooled and has not yet replayed.", [], Double(report.spool.trades))
        gauge("ingest_seconds_since_message", "Seconds since the last frame from the feed.", [], report.feed.secondsSinceMessage ?? -1)
        for state in FeedMonitor.Machine.Phase.allCases {
            gauge("ingest_feed_state", "1 for the feed connection's current state.", [("state", state.rawValue)], report.feed.state == state ? 1 : 0)
        }
        for state in BreakerPhase.allCases {
            gauge("ingest_db_breaker_state", "1 for the database circuit breaker's current state.", [("state", state.rawValue)],
                  report.database.breaker == state ? 1 : 0)
            gauge("ingest_feed_breaker_state", "1 for the feed connect breaker's current state.", [("state", state.rawValue)],
                  report.feed.breaker == state ? 1 : 0)
        }
        for status in HealthStatus.allCases {
            gauge("ingest_health_status", "1 for the current health status.", [("status", status.rawValue)], report.status == status ? 1 : 0)
        }
        for role in InstanceRole.Role.allCases {
            gauge("ingest_role", "1 for this instance's role: single, or leader/standby in an active/standby pair.", [("role", role.rawValue)],
                  report.role == role ? 1 : 0)
        }
        gauge("ingest_backfill_gaps_waiting", "Gaps waiting for their backfill.", [], Double(report.backfill.gapsWaiting))
        gauge("ingest_backfill_lag_seconds", "How long the oldest gap waiting for its backfill has waited (0 when none waits).", [],
              report.backfill.lagMs / 1000)
        for state in HealthReport.Backfill.State.allCases {
            gauge("ingest_backfill_state", "1 for the gap backfill's current state (off with BACKFILL=off).", [("state", state.rawValue)],
                  report.backfill.state == state ? 1 : 0)
        }
        gauge("ingest_alerts_active", "Alerts open now.", [], Double(report.alerts.count))
        gauge("ingest_symbols_stale", "Watched symbols stale or critical.", [], Double(report.symbols.stale + report.symbols.critical))
        gauge("ingest_status_sse_clients", "Connected /events clients.", [], Double(sseClients))
        gauge("process_resident_memory_bytes", "Resident memory size in bytes.", [], Double(report.system.rssBytes))
        gauge("process_open_fds", "Open file descriptors.", [], Double(report.system.openFds))
        gauge("process_threads", "Threads of the process.", [], Double(report.system.threads))
        return registry.emitToString()
    }
}

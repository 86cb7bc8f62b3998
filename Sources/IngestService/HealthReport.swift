#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import IngestDatabase
import IngestPipeline
import OptionsFeed

/// The health report (docs/design.md §5.4): printed on SIGUSR1, logged every
/// `HEALTH_REPORT_INTERVAL_MS`, served at `/health`. Encoded with snake_case
/// keys (`JSONEncoder.health`); its JSON shape is
/// `docs/health-report.schema.json`; times are ISO-8601 UTC strings, durations
/// seconds. Never holds a secret: the URL is masked, error messages are masked.
/// States are the pipeline's enums; their raw values are what the JSON shows.
public struct HealthReport: Sendable, Codable, Equatable {
    public var status: HealthStatus
    /// `single` (`HA_MODE=off`), `leader` or `standby` (docs/design.md §5.5).
    public var role: InstanceRole.Role
    /// Which rules made the status (empty when healthy).
    public var reasons: [String]
    public var ts: String
    public var uptimeS: Double
    public var version: String
    public var pid: Int32
    public var feed: Feed
    public var buffer: Buffer
    public var spool: SpoolInfo
    /// Side-table rows lost before they reached the database, by queue.
    public var pending: Pending
    public var database: Database
    /// The gap backfill (docs/design.md §5.8.1); `off` with `BACKFILL=off`.
    public var backfill: Backfill
    public var symbols: Symbols
    public var errors: [ErrorClass: ErrorInfo]
    public var system: System
    public var alerts: [Alert]

    public struct Feed: Sendable, Codable, Equatable {
        public var state: FeedMonitor.Machine.Phase
        public var url: String
        public var connectedSince: String?
        public var lastMessageAt: String?
        public var secondsSinceMessage: Double?
        public var reconnects: Int
        /// Consecutive failed connection attempts now.
        public var attempt: Int
        public var subscriptions: [String]
        /// Frames received.
        public var messages: Int
        public var trades: Trades
        /// The connect circuit breaker: closed, open or half_open.
        public var breaker: BreakerPhase
        /// Every event type's counts (docs/design.md §4.4): trades again, bars, quotes, FMV values.
        public var events: Events = .init()
    }

    /// Per event type: events seen in frames (valid or not), accepted into
    /// the buffer, invalid (dead-lettered with their type), written to the
    /// type's table (new or already there), dropped (the spool full).
    public struct Events: Sendable, Codable, Equatable {
        public var trade = EventCounts()
        public var aggregate = EventCounts()
        public var quote = EventCounts()
        public var fmv = EventCounts()

        public init(trade: EventCounts = .init(), aggregate: EventCounts = .init(), quote: EventCounts = .init(), fmv: EventCounts = .init()) {
            self.trade = trade
            self.aggregate = aggregate
            self.quote = quote
            self.fmv = fmv
        }

        public subscript(kind: RecordKind) -> EventCounts {
            switch kind {
            case .trade: trade
            case .aggregate: aggregate
            case .quote: quote
            case .fmv: fmv
            }
        }
    }

    /// One type's counts: what `IngestStats` holds.
    public typealias EventCounts = RecordCounts

    public struct Trades: Sendable, Codable, Equatable {
        public var seen: Int
        public var accepted: Int
        public var filtered: Int
        public var invalid: Int
        public var dropped: Int
    }

    public struct Buffer: Sendable, Codable, Equatable {
        public var items: Int
        public var capacity: Int
        public var highWater: Int
        public var flushes: Int
        public var lastFlushSize: Int?
        public var lastFlushMs: Double?
    }

    public struct SpoolInfo: Sendable, Codable, Equatable {
        public var enabled: Bool
        public var bytes: Int64
        public var records: Int
        /// Trades this process spooled and has not yet replayed: with the
        /// buffer's items, what `buffer_high` counts (segments found at start
        /// count once they are read).
        public var trades: Int
        public var segments: Int
        public var oldest: String?
        public var corruptRecords: Int
        /// Appends that failed (ENOSPC, EIO): the record was cut back, its batch kept in memory.
        public var writeFailures: Int
        /// Group-commit fdatasyncs that failed.
        public var syncFailures: Int
        /// Segments that could not be read back after repeated tries, renamed `quarantine-…`.
        public var quarantinedSegments: Int
        /// Segments that disappeared from the directory before they were replayed.
        public var vanishedSegments: Int
    }

    /// Rows for the side tables that waited in memory and were lost: the
    /// queue overflowed while the database was away, or the shutdown deadline
    /// passed before they were written. Every loss is counted here, at
    /// `/metrics` and in the `stopped` log line.
    public struct Pending: Sendable, Codable, Equatable {
        public var gapChangesDropped: Int
        public var deadLettersDropped: Int
        public var healthEventsDropped: Int

        /// As log metadata (the `stopped` line).
        public var summary: [String: Int] {
            ["gap_changes_dropped": gapChangesDropped, "dead_letters_dropped": deadLettersDropped, "health_events_dropped": healthEventsDropped]
        }
    }

    public struct Database: Sendable, Codable, Equatable {
        public var flavor: String
        public var state: State
        public var breaker: BreakerPhase
        public var breakerSinceS: Double
        public var rowsWritten: Int
        public var batchesOk: Int
        public var batchesFailed: Int
        public var retries: Int
        public var deadLetters: Int
        public var lastError: LastError?
        public var writeLatencyP50Ms: Double?
        public var writeLatencyP99Ms: Double?
        /// From a trade's receipt to the commit of its batch, over all trades since the start (docs/performance.md).
        public var commitLagP50Ms: Double?
        public var commitLagP99Ms: Double?

        /// The database as its breaker sees it: connected (breaker closed),
        /// degraded (half-open) or disconnected (open).
        public enum State: String, Sendable, Codable, CaseIterable {
            case connected, degraded, disconnected

            public init(breaker: BreakerPhase) {
                self = switch breaker {
                case .closed: .connected
                case .halfOpen: .degraded
                case .open: .disconnected
                }
            }
        }
    }

    /// What the gap backfill has done since the start and what waits (docs/design.md §5.8.1),
    /// from `BackfillProgress`. Counts are this process's; `lag_ms` is how long the
    /// oldest gap still to be backfilled has waited (0 when none waits).
    public struct Backfill: Sendable, Codable, Equatable {
        public var state: State
        /// Gaps left to backfill at the last look (pending, and failed ones due for a retry).
        public var gapsWaiting: Int
        public var gapsDone: Int
        /// Gaps backfilled only in part (contracts cut at `BACKFILL_MAX_CONTRACTS`, or a contract given up).
        public var gapsPartial: Int
        public var gapsFailed: Int
        public var contractsMerged: Int
        /// Rows the merges inserted: trades the feed never delivered.
        public var rowsInserted: Int
        /// REST requests sent, retries included.
        public var requests: Int
        /// HTTP 429 answers.
        public var rateLimited: Int
        /// How long the oldest gap not yet backfilled (a failed one included) has waited; `backfill_lagging` opens past `ALERT_BACKFILL_LAG_MS`.
        public var lagMs: Double
        /// The last failure's reason, masked.
        public var lastError: String?

        /// The backfill's states (`BackfillProgress.State`).
        public typealias State = BackfillProgress.State

        /// With the backfill off: nothing done, nothing waiting.
        public static let off = Backfill(.init(state: .off), nowMicros: 0)

        /// The section for `progress` at `nowMicros` (the wall clock `BackfillProgress` uses), its error masked by `mask`.
        public init(_ progress: BackfillProgress.Snapshot, nowMicros: Int64, mask: (String) -> String = { $0 }) {
            self.state = progress.state
            self.gapsWaiting = progress.gapsWaiting
            self.gapsDone = progress.gapsDone
            self.gapsPartial = progress.gapsPartial
            self.gapsFailed = progress.gapsFailed
            self.contractsMerged = progress.contractsMerged
            self.rowsInserted = progress.rowsInserted
            self.requests = progress.requests
            self.rateLimited = progress.rateLimited
            self.lagMs = Double(progress.lagMicros(nowMicros: nowMicros)) / 1000
            self.lastError = progress.lastError.map(mask)
        }
    }

    public struct LastError: Sendable, Codable, Equatable {
        public var errorClass: DatabaseError.Kind
        public var sqlstate: String?
        public var message: String
        public var at: String
    }

    public struct Symbols: Sendable, Codable, Equatable {
        public var tracked: Int
        public var watched: Int
        public var marketOpen: Bool
        public var healthy: Int
        public var degraded: Int
        public var stale: Int
        public var critical: Int
        public var worst: [SymbolInfo]
    }

    public struct SymbolInfo: Sendable, Codable, Equatable {
        public var symbol: String
        public var state: StalenessState
        public var stalenessS: Double
        public var updates: Int
    }

    public struct ErrorInfo: Sendable, Codable, Equatable {
        public var count: Int
        public var perMinute: Int
        public var lastAt: String?
        public var lastMessage: String?
    }

    public struct System: Sendable, Codable, Equatable {
        public var rssBytes: Int
        public var cpuPercent: Double
        public var threads: Int
        public var openFds: Int
    }

    public struct Alert: Sendable, Codable, Equatable {
        public var alert: AlertName
        public var since: String
        public var values: [String: String]
    }
}

extension JSONEncoder {
    /// The encoder of health reports: snake_case keys, sorted, one line.
    public static var health: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

import Histogram
import IngestDatabase
import IngestPipeline
import OptionsFeed
import Synchronization

/// What the health report says about the database (docs/design.md §5.4 `database`):
/// the breaker's state and since when, the last error, and the write latency
/// of recent batches. The flusher writes it; the reporter reads a copy.
public final class DatabaseMonitor: Sendable {
    /// Batch write latencies kept for the percentiles: the last 1024 batches
    /// (bounded, and recent enough to say how the database is doing now).
    public static let latencyWindow = 1024
    /// The longest receive-to-commit lag told apart, µs: one hour. Longer ones
    /// (a spool drained after a long outage, a replay of an old recording) count as one hour.
    public static let commitLagCeilingMicros: UInt64 = 3_600_000_000

    public struct LastError: Sendable, Equatable {
        public var errorClass: DatabaseError.Kind
        public var sqlState: String?
        /// Already masked: never holds a password.
        public var message: String
        public var atMicros: Int64
    }

    public struct Snapshot: Sendable, Equatable {
        public var flavor: String
        public var breaker: BreakerPhase
        public var breakerSince: ContinuousClock.Instant
        public var lastError: LastError?
        public var lastSuccessMicros: Int64?
        /// Seconds; `nil` before the first batch.
        public var latencyP50: Double?
        public var latencyP99: Double?
        public var lastBatchTrades: Int?
        public var lastBatchSeconds: Double?
        /// Receive to commit, per trade, over every trade committed since the start; seconds.
        public var commitLagP50: Double?
        public var commitLagP99: Double?
    }

    private struct State {
        var breaker = BreakerPhase.closed
        var breakerSince = ContinuousClock.now
        var lastError: LastError?
        var lastSuccessMicros: Int64?
        var latencies: [Double] = []
        var lastBatchTrades: Int?
        var next = 0
        /// Per trade, µs, 2 significant digits (1 % resolution), a few kB.
        var commitLag = Histogram<UInt64>(
            highestTrackableValue: DatabaseMonitor.commitLagCeilingMicros, numberOfSignificantValueDigits: .two)
    }

    private let state = Mutex(State())
    public let flavor: String
    /// Told each committed batch's duration: the status server's `/metrics`
    /// write latency histogram; `nil` without a status server.
    let writeObserver: (@Sendable (Duration) -> Void)?

    public init(flavor: String, writeObserver: (@Sendable (Duration) -> Void)? = nil) {
        self.flavor = flavor
        self.writeObserver = writeObserver
    }

    public func breakerChanged(to phase: BreakerPhase, now: ContinuousClock.Instant = .now) {
        state.withLock { state in
            state.breaker = phase
            state.breakerSince = now
        }
    }

    /// Records each record's lag from its receipt (`receivedAtMicros`) to `commitMicros`, whatever its type.
    public func committed(receivedAtMicros: [Int64], atMicros commitMicros: Int64) {
        state.withLock { state in
            for received in receivedAtMicros {
                let lag = UInt64(clamping: max(0, commitMicros - received))
                _ = state.commitLag.record(min(lag, Self.commitLagCeilingMicros))
            }
        }
    }

    /// `committed(receivedAtMicros:atMicros:)` of trades.
    public func committed(_ batch: some Sequence<OptionTrade>, atMicros commitMicros: Int64) {
        committed(receivedAtMicros: batch.map(\.receivedAtMicros), atMicros: commitMicros)
    }

    public func batchWritten(trades: Int, duration: Duration, atMicros: Int64) {
        writeObserver?(duration)
        let seconds = duration.seconds
        state.withLock { state in
            if state.latencies.count < Self.latencyWindow {
                state.latencies.append(seconds)
            } else {
                state.latencies[state.next] = seconds
            }
            state.next = (state.next + 1) % Self.latencyWindow
            state.lastSuccessMicros = atMicros
            state.lastBatchTrades = trades
        }
    }

    public func failed(_ error: any Error, masked: (String) -> String, atMicros: Int64) {
        let databaseError = error as? DatabaseError
        let last = LastError(
            errorClass: databaseError?.kind ?? .other, sqlState: databaseError?.sqlState,
            message: masked(databaseError?.message ?? "\(error)"), atMicros: atMicros)
        state.withLock { $0.lastError = last }
    }

    /// The breaker's phase and the last error, without sorting latencies or
    /// reading percentiles: what the once-a-second health tick needs.
    public var breakerAndLastError: (breaker: BreakerPhase, lastError: LastError?) {
        state.withLock { ($0.breaker, $0.lastError) }
    }

    public var snapshot: Snapshot {
        let state = self.state.withLock { $0 }
        let sorted = state.latencies.sorted()
        /// Nearest-rank percentile.
        func percentile(_ p: Double) -> Double? {
            guard !sorted.isEmpty else { return nil }
            let rank = Int((p * Double(sorted.count)).rounded(.up))
            return sorted[max(0, min(sorted.count, rank) - 1)]
        }
        let lag = state.commitLag
        func lagPercentile(_ p: Double) -> Double? {
            lag.totalCount == 0 ? nil : Double(lag.valueAtPercentile(p)) / 1e6
        }
        return Snapshot(
            flavor: flavor, breaker: state.breaker, breakerSince: state.breakerSince, lastError: state.lastError,
            lastSuccessMicros: state.lastSuccessMicros, latencyP50: percentile(0.5), latencyP99: percentile(0.99),
            lastBatchTrades: state.lastBatchTrades,
            lastBatchSeconds: state.latencies.isEmpty ? nil : state.latencies[(state.next + Self.latencyWindow - 1) % Self.latencyWindow % state.latencies.count],
            commitLagP50: lagPercentile(50), commitLagP99: lagPercentile(99))
    }
}

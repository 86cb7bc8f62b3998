import Foundation
import Synchronization

/// The shared trade stream of a `feed-sim` run: hands batches to connected
/// clients, paces them to the configured rate, and keeps the ledger of
/// every trade actually written to a client.
public final class FeedSimulator: Sendable {
    public struct Configuration: Sendable {
        public var seed: UInt64 = 1
        /// Trades per second over all clients; 0 = as fast as the clients read.
        public var rate: Double = 1000
        /// Stop sending after this many trades (clients stay connected); `nil` = no limit.
        public var count: Int?
        /// Distinct option contracts in the stream.
        public var symbols: Int = 200
        /// Share of deliberately invalid trades (0…1).
        public var invalidFraction: Double = 0
        /// Most events in one frame.
        public var frameSize: Int = 100
        /// A client authenticating with this key gets `auth_failed`.
        public var rejectKey: String?
        /// CSV of every trade written to a client.
        public var ledgerPath: String?

        public init() {}
    }

    /// What was written to clients so far.
    public struct Totals: Sendable, Equatable {
        public var sent = 0
        public var valid = 0
        public var invalid = 0

        /// `{"sent":…,"valid":…,"invalid":…}`
        public var json: String { #"{"sent":\#(sent),"valid":\#(valid),"invalid":\#(invalid)}"# }
    }

    private struct State {
        var generator: TradeGenerator
        var generated = 0
        /// Batches reserved by a client whose write failed: sent first to the next one.
        var pending: [[SimTrade]] = []
        var totals = Totals()
        var ledger: UnsafeMutablePointer<FILE>?
        var paceStart: ContinuousClock.Instant?
        var allSentWaiters: [CheckedContinuation<Void, Never>] = []
    }

    public let configuration: Configuration
    private let state: Mutex<State>

    public init(configuration: Configuration) throws {
        self.configuration = configuration
        var ledger: UnsafeMutablePointer<FILE>?
        if let path = configuration.ledgerPath {
            guard let file = fopen(path, "w") else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
            fputs(TradeGenerator.ledgerHeader + "\n", file)
            ledger = file
        }
        self.state = Mutex(
            State(
                generator: TradeGenerator(
                    seed: configuration.seed, contracts: configuration.symbols, invalidFraction: configuration.invalidFraction),
                ledger: ledger))
    }

    public var totals: Totals { state.withLock { $0.totals } }

    /// Events per frame: at a set rate about 100 frames a second, else full frames.
    var batchSize: Int {
        guard configuration.rate > 0 else { return configuration.frameSize }
        return max(1, min(configuration.frameSize, Int(configuration.rate / 100)))
    }

    /// The next batch for a client and when it may be sent; `nil` once `count` trades were handed out.
    public func reserveBatch() -> (trades: [SimTrade], sendAt: ContinuousClock.Instant?)? {
        state.withLock { state in
            if !state.pending.isEmpty { return (state.pending.removeFirst(), nil) }
            var size = batchSize
            if let count = configuration.count {
                size = min(size, count - state.generated)
                if size <= 0 { return nil }
            }
            var trades: [SimTrade] = []
            trades.reserveCapacity(size)
            for _ in 0..<size { trades.append(state.generator.next()) }
            var sendAt: ContinuousClock.Instant?
            if configuration.rate > 0 {
                let start = state.paceStart ?? .now
                state.paceStart = start
                sendAt = start.advanced(by: .seconds(Double(state.generated) / configuration.rate))
            }
            state.generated += size
            return (trades, sendAt)
        }
    }

    /// The batch reached the client: count it and write it to the ledger.
    public func recordSent(_ trades: [SimTrade]) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.totals.sent += trades.count
            let valid = trades.count(where: \.isValid)
            state.totals.valid += valid
            state.totals.invalid += trades.count - valid
            if let ledger = state.ledger {
                var lines = ""
                for trade in trades {
                    lines += trade.ledgerLine
                    lines += "\n"
                }
                fputs(lines, ledger)
            }
            guard let count = configuration.count, state.totals.sent >= count else { return [] }
            defer { state.allSentWaiters.removeAll() }
            return state.allSentWaiters
        }
        waiters.forEach { $0.resume() }
    }

    /// The batch could not be written (client gone): the next client sends it.
    public func returnUnsent(_ trades: [SimTrade]) {
        state.withLock { $0.pending.append(trades) }
    }

    /// Returns once `count` trades were written to clients (never without a count).
    public func waitUntilAllSent() async {
        guard let count = configuration.count else {
            await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }
            return
        }
        await withCheckedContinuation { continuation in
            let done: Bool = state.withLock { state in
                if state.totals.sent >= count { return true }
                state.allSentWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Flushes and closes the ledger.
    public func closeLedger() {
        state.withLock { state in
            if let ledger = state.ledger {
                fflush(ledger)
                fclose(ledger)
                state.ledger = nil
            }
        }
    }
}

import Foundation
import Synchronization

/// The shared trade stream of a `feed-sim` run: hands batches to connected
/// clients, paces them to the configured rate, skips the trades that come due
/// while no client is subscribed (see `TradeSchedule`), and keeps the ledger
/// of every trade actually written to a client.
public final class FeedSimulator: Sendable {
    public struct Configuration: Sendable {
        public var seed: UInt64 = 1
        /// Trades per second over all clients; 0 = as fast as the clients read.
        public var rate: Double = 1000
        /// Stop after this many trades were written to clients (clients stay
        /// connected); skipped trades do not count. `nil` = no limit.
        public var count: Int?
        /// Distinct option contracts in the stream.
        public var symbols: Int = 200
        /// Share of deliberately invalid trades (0…1).
        public var invalidFraction: Double = 0
        /// Most events in one frame.
        public var frameSize: Int = 100
        /// Fewest events in one frame: each frame then carries a seeded number
        /// of trades between this and the frame's full size, as a real feed's
        /// frames vary at a low rate (docs/performance.md, "CPU per trade across
        /// rates"). `nil` = every frame full; the trades and their due times are
        /// the same either way, only their split into frames differs.
        public var minFrameSize: Int?
        /// A client authenticating with this key gets `auth_failed`.
        public var rejectKey: String?
        /// CSV of every trade written to a client.
        public var ledgerPath: String?
        /// Failures to stage on purpose; none by default.
        public var faults = FaultPlan()
        /// Serve `POST /control/fault/KIND` (`--control`): faults injected at run time.
        public var control = false

        public init() {}
    }

    /// What was written to clients so far.
    public struct Totals: Sendable, Equatable {
        public var sent = 0
        public var valid = 0
        public var invalid = 0
        /// WebSocket connections accepted.
        public var connections = 0
        /// Trades that came due while no client was subscribed: never sent.
        public var skipped = 0
        /// `HostileTrades` events written (`--hostile-every`): not trades of
        /// the stream, so in none of the counts above and not in the ledger.
        public var hostile = 0

        /// `{"sent":…,"valid":…,"invalid":…,"connections":…,"skipped":…,"hostile":…}`: the
        /// first three keys are what scripts and tests read; new keys go after them.
        public var json: String {
            #"{"sent":\#(sent),"valid":\#(valid),"invalid":\#(invalid),"connections":\#(connections),"skipped":\#(skipped),"hostile":\#(hostile)}"#
        }
    }

    /// Trades handed to one client for one frame, and when they are due.
    public struct Batch: Sendable, Equatable {
        public var trades: [SimTrade]
        /// `nil` = send at once (unpaced, or before the clock started).
        public var sendAt: ContinuousClock.Instant?
    }

    private struct State {
        var generator: TradeGenerator
        var schedule: TradeSchedule
        /// Draws the frame sizes under `minFrameSize`; apart from the trades'
        /// generator, so the trade stream is the same with or without it.
        var frameSizes: SeededRandom
        /// Trades taken from the generator: sent, in flight, pending or skipped.
        var position = 0
        /// Batches reserved by a client that could not write them: sent first to the next one.
        var pending: [Batch] = []
        var totals = Totals()
        /// `q` of the next hostile event.
        var hostileSequence = HostileTrades.firstSequence
        var ledger: UnsafeMutablePointer<FILE>?
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
            fflush(file)
            ledger = file
        }
        self.state = Mutex(
            State(
                generator: TradeGenerator(
                    seed: configuration.seed, contracts: configuration.symbols, invalidFraction: configuration.invalidFraction),
                schedule: TradeSchedule(rate: configuration.rate),
                frameSizes: SeededRandom(seed: configuration.seed ^ Self.frameSizeSeedMask),
                ledger: ledger))
    }

    public var totals: Totals { state.withLock { $0.totals } }

    /// Mixed into the seed for the frame sizes' generator, so that it does not
    /// repeat the trade generator's draws.
    static let frameSizeSeedMask: UInt64 = 0xF5A3_E5D1_2C6B_9A47

    /// Events per frame: at a set rate about 100 frames a second, else full frames.
    var batchSize: Int {
        guard configuration.rate > 0 else { return configuration.frameSize }
        // Compared as a Double first: `Int(_:)` of a huge or infinite rate would trap.
        let perFrame = configuration.rate / 100
        guard perFrame < Double(configuration.frameSize) else { return max(1, configuration.frameSize) }
        return max(1, Int(perFrame))
    }

    /// A client started streaming at `now`: starts the clock on the first one,
    /// and turns an idle span (no subscriber) into a gap of skipped trades.
    public func subscriberJoined(at now: ContinuousClock.Instant) {
        state.withLock { $0.schedule.subscriberJoined(at: now) }
    }

    /// A client stopped streaming at `now`; if it was the last, trades due from
    /// now on are skipped until the next one joins.
    public func subscriberLeft(at now: ContinuousClock.Instant) {
        state.withLock { $0.schedule.subscriberLeft(at: now) }
    }

    /// A WebSocket connection was accepted.
    public func connectionOpened() {
        state.withLock { $0.totals.connections += 1 }
    }

    /// The next batch for a client and when it is due; `nil` once `count`
    /// trades were handed out (sent, in flight or waiting for the next client).
    /// Steps the generator over any gap first, so `q` keeps rising across it.
    public func reserveBatch() -> Batch? {
        state.withLock { state in
            if !state.pending.isEmpty { return state.pending.removeFirst() }
            let skip = state.schedule.skipCount(at: state.position)
            if skip > 0 {
                for _ in 0..<skip { _ = state.generator.next() }
                state.position += skip
                state.totals.skipped += skip
            }
            var size = batchSize
            if let fewest = configuration.minFrameSize, fewest < size {
                size = Int.random(in: max(1, fewest)...size, using: &state.frameSizes)
            }
            size = min(size, state.schedule.runLength(from: state.position))
            if let count = configuration.count {
                let handedOut = state.position - state.totals.skipped
                size = min(size, count - handedOut)
                if size <= 0 { return nil }
            }
            var trades: [SimTrade] = []
            trades.reserveCapacity(size)
            for _ in 0..<size { trades.append(state.generator.next()) }
            let sendAt = state.schedule.dueTime(of: state.position)
            state.position += size
            return Batch(trades: trades, sendAt: sendAt)
        }
    }

    /// The `q` of the first of the next hostile events (`HostileTrades.events(from:)`);
    /// numbers are not reused, even when the frame is not written.
    public func reserveHostile() -> Int64 {
        state.withLock { state in
            defer { state.hostileSequence += Int64(HostileTrades.Kind.allCases.count) }
            return state.hostileSequence
        }
    }

    /// The batch reached the client (with `hostile` hostile events before it):
    /// count it and write it to the ledger, flushed, so that a reader of the
    /// file sees every batch sent so far while the simulator runs.
    public func recordSent(_ trades: [SimTrade], hostile: Int = 0) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.totals.hostile += hostile
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
                fflush(ledger)
            }
            guard let count = configuration.count, state.totals.sent >= count else { return [] }
            defer { state.allSentWaiters.removeAll() }
            return state.allSentWaiters
        }
        waiters.forEach { $0.resume() }
    }

    /// The batch could not be written (client gone, or streaming ended first):
    /// the next client sends it, in order, before any new trade.
    public func returnUnsent(_ batch: Batch) {
        state.withLock { state in
            state.pending.append(batch)
            state.pending.sort { ($0.trades.first?.q ?? 0) < ($1.trades.first?.q ?? 0) }
        }
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

import Foundation
import Synchronization

/// The shared trade stream of a `feed-sim` run: hands batches to connected
/// clients, paces them to the configured rate, skips the trades that come due
/// while no client is subscribed (see `TradeSchedule`), keeps the ledger
/// of every trade actually written to a client, and archives every valid trade
/// of the stream, sent or skipped, for the REST API (`StreamArchive`).
///
/// Besides trades it keeps each connection's subscription (`Subscriber`): the
/// `A`/`AM` bars of the stream's own trades (`BarAggregator`), published to
/// every connection that wants them, and per connection quotes and fair
/// values paced by the clock (docs/feed-sim.md, "Other event types").
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
        /// CSV of the whole stream, sent or skipped (`--stream-ledger`): the ledger's
        /// columns plus `sent` (1/0) and `sip_timestamp` (the REST API's ns).
        public var streamLedgerPath: String?
        /// Most trades the REST API's archive holds; past it the oldest are forgotten.
        public var archiveCapacity = StreamArchive.defaultCapacity
        /// The REST API's key (`--api-key`); `nil` = any key but `rejectKey`.
        public var apiKey: String?
        /// REST requests per second (`--rest-rate-limit`); `nil` = unlimited.
        public var restRateLimit: Double?
        /// The REST API's staged failures; none by default.
        public var restFaults = RestFaults.Plan()
        /// Failures to stage on purpose; none by default.
        public var faults = FaultPlan()
        /// Serve `POST /control/fault/KIND` (`--control`): faults injected at run time.
        public var control = false
        /// Quotes per second per connection over its quote contracts (`--quote-rate`): 100
        /// keeps a quote writer busy without burying the trades of the default 1000/s.
        public var quoteRate: Double = 100
        /// Fair values per second per connection over its `FMV` contracts (`--fmv-rate`):
        /// 10, a few a second as the business feed sends them.
        public var fairValueRate: Double = 10
        /// CSV of every bar, quote and fair value written to a client (`--event-ledger`,
        /// docs/feed-sim.md, "The event ledger").
        public var eventLedgerPath: String?

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
        /// Valid trades the REST archive forgot because it was full.
        public var forgotten = 0
        /// REST requests answered (every status).
        public var restRequests = 0
        /// REST requests answered 429 (`--rest-rate-limit`).
        public var restThrottled = 0
        /// REST answers failed on purpose: HTTP 500 or truncated (`RestFaults`).
        public var restFaults = 0
        /// `A` and `AM` bars written to clients (one bar to two clients counts twice).
        public var bars = 0
        /// Quotes written to clients.
        public var quotes = 0
        /// Fair values written to clients.
        public var fairValues = 0

        /// `{"sent":…,"valid":…,"invalid":…,"connections":…,"skipped":…,"hostile":…,"forgotten":…,
        /// "rest_requests":…,"rest_throttled":…,"rest_faults":…,"bars":…,"quotes":…,"fmv":…}`: the
        /// first three keys are what scripts and tests read; new keys go after them.
        public var json: String {
            #"{"sent":\#(sent),"valid":\#(valid),"invalid":\#(invalid),"connections":\#(connections),"skipped":\#(skipped),"hostile":\#(hostile),"#
                + #""forgotten":\#(forgotten),"rest_requests":\#(restRequests),"rest_throttled":\#(restThrottled),"rest_faults":\#(restFaults),"#
                + #""bars":\#(bars),"quotes":\#(quotes),"fmv":\#(fairValues)}"#
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
        var streamLedger: UnsafeMutablePointer<FILE>?
        var archive: StreamArchive
        var allSentWaiters: [CheckedContinuation<Void, Never>] = []
        /// The bars of every trade drawn, and the prices and time quotes are made from.
        var bars: BarAggregator
        /// Bars the last trade closed, until published.
        var closedBars: [SimBar] = []
        /// The subscription of every connection that subscribed, by connection id.
        var subscribers: [Int: Subscriber] = [:]
        var numbering = Subscriber.EventNumbering()
        var eventLedger: UnsafeMutablePointer<FILE>?
    }

    public let configuration: Configuration
    private let state: Mutex<State>

    public init(configuration: Configuration) throws {
        self.configuration = configuration
        let ledger = try configuration.ledgerPath.map { try Self.openLedger($0, header: TradeGenerator.ledgerHeader) }
        let streamLedger = try configuration.streamLedgerPath.map {
            try Self.openLedger($0, header: Self.streamLedgerHeader)
        }
        let eventLedger = try configuration.eventLedgerPath.map { try Self.openLedger($0, header: nil) }
        let generator = TradeGenerator(
            seed: configuration.seed, contracts: configuration.symbols, invalidFraction: configuration.invalidFraction)
        self.state = Mutex(
            State(
                generator: generator,
                schedule: TradeSchedule(rate: configuration.rate),
                frameSizes: SeededRandom(seed: configuration.seed ^ Self.frameSizeSeedMask),
                ledger: ledger, streamLedger: streamLedger, archive: StreamArchive(capacity: configuration.archiveCapacity),
                bars: BarAggregator(startMs: generator.timestampMs), eventLedger: eventLedger))
    }

    /// The stream ledger's header: the ledger's columns, then `sent` and `sip_timestamp`.
    public static let streamLedgerHeader = TradeGenerator.ledgerHeader + ",sent,sip_timestamp"

    /// Opens a ledger for writing; `header`, if any, is its first line.
    static func openLedger(_ path: String, header: String?) throws -> UnsafeMutablePointer<FILE> {
        guard let file = fopen(path, "w") else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        if let header { fputs(header + "\n", file) }
        fflush(file)
        return file
    }

    /// Draws the next `count` trades of the stream as skipped (written to
    /// nobody, as in a gap): counted into the bars and settled 4096 at a time.
    private static func skip(_ count: Int, in state: inout State) {
        var skipped: [SimTrade] = []
        skipped.reserveCapacity(min(count, 4096))
        for offset in 0..<count {
            let trade = state.generator.next()
            aggregate(trade, dueWith: state.position + offset, in: &state)
            skipped.append(trade)
            if skipped.count == 4096 {
                settle(skipped, sent: false, in: &state)
                skipped.removeAll(keepingCapacity: true)
            }
        }
        settle(skipped, sent: false, in: &state)
        state.position += count
        state.totals.skipped += count
    }

    /// Counts a trade just drawn into the bars; the bars it closes are owed to
    /// every connection that wants them, due with the trade: when the trade at
    /// `position` is due (the first of the batch it went into, or itself in a gap).
    private static func aggregate(_ trade: SimTrade, dueWith position: Int, in state: inout State) {
        var wanted = (seconds: false, minutes: false)
        for subscriber in state.subscribers.values {
            wanted.seconds = wanted.seconds || !subscriber.subscription.secondBars.isEmpty
            wanted.minutes = wanted.minutes || !subscriber.subscription.minuteBars.isEmpty
        }
        state.bars.add(trade, closing: &state.closedBars, wanted: wanted)
        guard !state.closedBars.isEmpty else { return }
        let closed = state.closedBars
        state.closedBars.removeAll(keepingCapacity: true)
        guard !state.subscribers.isEmpty else { return }
        let due = state.schedule.dueTime(of: position)
        var index = state.subscribers.startIndex
        while index != state.subscribers.endIndex {
            for bar in closed { state.subscribers.values[index].offer(bar, due: due) }
            state.subscribers.formIndex(after: &index)
        }
    }

    /// Archives the trades whose fate is now known (written, or skipped in a gap)
    /// and lists them in the stream ledger, flushed.
    private static func settle(_ trades: some Sequence<SimTrade>, sent: Bool, in state: inout State) {
        var lines = ""
        for trade in trades {
            state.archive.append(trade)
            guard state.streamLedger != nil else { continue }
            lines += trade.ledgerLine
            lines += sent ? ",1," : ",0,"
            if trade.isValid { lines += String(ArchivedTrade(trade).sipTimestamp) }
            lines += "\n"
        }
        state.totals.forgotten = state.archive.forgotten
        if let file = state.streamLedger {
            fputs(lines, file)
            fflush(file)
        }
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
    ///
    /// Batches handed back by the clients that left (`returnUnsent`) fell due
    /// before the idle span: a real feed sends a client that connects live
    /// trades only, never those of an earlier connection, so they are skipped
    /// too (in the archive, `sent` 0), not sent late ahead of the gap.
    public func subscriberJoined(at now: ContinuousClock.Instant) {
        state.withLock { state in
            let endsIdleSpan = state.schedule.isIdle
            state.schedule.subscriberJoined(at: now)
            guard endsIdleSpan, !state.pending.isEmpty else { return }
            for batch in state.pending {
                Self.settle(batch.trades, sent: false, in: &state)
                state.totals.skipped += batch.trades.count
            }
            state.pending.removeAll()
        }
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
                // The same draws as if they were sent, so each keeps the `t` and `q` it was due with.
                Self.skip(skip, in: &state)
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
            let sendAt = state.schedule.dueTime(of: state.position)
            for _ in 0..<size {
                let trade = state.generator.next()
                Self.aggregate(trade, dueWith: state.position, in: &state)
                trades.append(trade)
            }
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
    /// `unsubscribed` are the batch's trades the client did not subscribe to
    /// (`T.O:…`): written to nobody, so skipped, as trades due while no client
    /// is subscribed are.
    public func recordSent(_ trades: [SimTrade], hostile: Int = 0, unsubscribed: [SimTrade] = []) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            if !unsubscribed.isEmpty {
                Self.settle(unsubscribed, sent: false, in: &state)
                state.totals.skipped += unsubscribed.count
            }
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
            Self.settle(trades, sent: true, in: &state)
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

    /// One page of a contract's archived trades (`GET /v3/trades/{optionsTicker}`).
    public func trades(of ticker: String, _ query: TradesQuery) -> (page: [ArchivedTrade], more: Bool) {
        state.withLock {
            $0.archive.trades(
                of: ticker, lower: query.lower, upper: query.upper, ascending: query.ascending, after: query.after,
                limit: query.limit)
        }
    }

    /// One page of an underlying's contracts (`GET /v3/snapshot/options/{underlying}`).
    public func snapshot(of underlying: String, _ query: SnapshotQuery) -> (page: [ContractSummary], more: Bool) {
        state.withLock { $0.archive.snapshot(of: underlying, after: query.after, limit: query.limit) }
    }

    /// A REST request was answered: throttled (429) and/or failed on purpose.
    public func countRestRequest(throttled: Bool = false, fault: Bool = false) {
        state.withLock { state in
            state.totals.restRequests += 1
            if throttled { state.totals.restThrottled += 1 }
            if fault { state.totals.restFaults += 1 }
        }
    }

    /// Flushes and closes the ledger, the stream ledger and the event ledger.
    public func closeLedger() {
        state.withLock { state in
            for file in [state.ledger, state.streamLedger, state.eventLedger].compactMap({ $0 }) {
                fflush(file)
                fclose(file)
            }
            state.ledger = nil
            state.streamLedger = nil
            state.eventLedger = nil
        }
    }

    // MARK: Events besides trades (docs/feed-sim.md, "Other event types")

    /// Most trades one `advanceWithoutTradeSubscribers` call draws: at a huge
    /// `--rate` the stream then lags the clock rather than holding the lock long.
    static let mostTradesPerAdvance = 100_000

    /// Adds a subscribe message's items to the connection's subscription at
    /// `now`; a refused message (`Q.*`, more than 1 000 quote contracts)
    /// changes nothing and returns why.
    public func subscribe(connection id: Int, params: String, at now: ContinuousClock.Instant) -> FeedSubscription.Refusal? {
        state.withLock { state in
            var subscriber =
                state.subscribers[id]
                ?? Subscriber(
                    since: now, quoteRate: configuration.quoteRate, fairValueRate: configuration.fairValueRate,
                    seed: configuration.seed)
            do throws(FeedSubscription.Refusal) {
                try subscriber.subscribe(params, at: now, contracts: state.generator.contracts)
            } catch {
                return error
            }
            state.subscribers[id] = subscriber
            return nil
        }
    }

    /// Removes an unsubscribe message's items from the connection's subscription.
    public func unsubscribe(connection id: Int, params: String, at now: ContinuousClock.Instant) {
        state.withLock { state in
            state.subscribers[id]?.unsubscribe(params, at: now, contracts: state.generator.contracts)
        }
    }

    /// The connection's subscription; empty before its first subscribe.
    public func subscription(of id: Int) -> FeedSubscription {
        state.withLock { $0.subscribers[id]?.subscription ?? FeedSubscription() }
    }

    /// The connection is gone: nothing more is owed to it.
    public func connectionClosed(_ id: Int) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: id) }
    }

    /// Runs the stream on the clock while no client streams trades, so that a
    /// connection subscribed to bars only still gets them: the trades due
    /// before `now` are drawn and skipped (written to nobody, as in a gap),
    /// their bars closed. Does nothing while a client streams trades (it draws
    /// them) or unpaced (`--rate 0`: nothing is ever due).
    public func advanceWithoutTradeSubscribers(to now: ContinuousClock.Instant) {
        state.withLock { state in
            guard configuration.rate > 0, state.schedule.subscribers == 0 else { return }
            state.schedule.startClock(at: now)
            let due = state.schedule.positionsDue(before: now)
            let target = due - state.position > Self.mostTradesPerAdvance ? state.position + Self.mostTradesPerAdvance : due
            guard target > state.position else { return }
            // Batches handed back by clients that left fell due before: skipped, as when the next client joins.
            for batch in state.pending {
                Self.settle(batch.trades, sent: false, in: &state)
                state.totals.skipped += batch.trades.count
            }
            state.pending.removeAll()
            Self.skip(target - state.position, in: &state)
        }
    }

    /// When the connection's next bar, quote or fair value is due; `nil` = none owed.
    public func nextEventDue(for id: Int, now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        state.withLock { $0.subscribers[id]?.nextDue(now: now) }
    }

    /// The connection's bars, quotes and fair values due by `now`, at most `limit`.
    public func events(for id: Int, at now: ContinuousClock.Instant, limit: Int) -> [SimEvent] {
        guard limit > 0 else { return [] }
        return state.withLock { state in
            // In place: a copy of the subscriber would copy its owed bars on every call.
            state.subscribers[id]?.events(at: now, limit: limit, market: state.bars, numbering: &state.numbering) ?? []
        }
    }

    /// The events reached a client: count them and write them to the event ledger, flushed.
    public func recordSent(events: [SimEvent]) {
        guard !events.isEmpty else { return }
        state.withLock { state in
            var lines = ""
            for event in events {
                switch event {
                case .bar: state.totals.bars += 1
                case .quote: state.totals.quotes += 1
                case .fairValue: state.totals.fairValues += 1
                }
                guard state.eventLedger != nil else { continue }
                lines += event.ledgerLine
                lines += "\n"
            }
            if let file = state.eventLedger {
                fputs(lines, file)
                fflush(file)
            }
        }
    }
}

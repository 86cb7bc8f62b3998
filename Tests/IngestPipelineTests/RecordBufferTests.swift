import OptionsFeed
import Testing

@testable import IngestPipeline

/// The buffer holds every record type (docs/design.md §5.2): one capacity and
/// one flush threshold over all of them, a batch of one type, taken oldest type first.
@Suite("Buffer: every record type")
struct RecordBufferTests {
    static let symbol = OptionSymbol("O:SPY251219C00650000")!

    static func trade(_ received: Int64) -> OptionTrade {
        OptionTrade(symbol: symbol, exchange: 1, price: 1, size: 1, conditions: [], timestampMs: received, sequence: received, receivedAtMicros: received)
    }

    static func bar(_ received: Int64) -> OptionAggregate {
        OptionAggregate(
            symbol: symbol, period: .minute, startMs: received, endMs: received + 60_000, open: 1, high: 1, low: 1, close: 1, volume: 1, vwap: 1,
            receivedAtMicros: received)
    }

    static func quote(_ received: Int64) -> OptionQuote {
        OptionQuote(
            symbol: symbol, bidExchange: 1, askExchange: 1, bidPrice: 1, askPrice: 2, bidSize: 1, askSize: 1, timestampMs: received, sequence: received,
            receivedAtMicros: received)
    }

    static func fmv(_ received: Int64) -> OptionFMV {
        OptionFMV(symbol: symbol, fmv: 1.5, timestampNanos: received * 1_000_000, receivedAtMicros: received)
    }

    @Test("the capacity is shared: records of every type count against it, and an append takes only what fits")
    func sharedCapacity() {
        let buffer = RecordBuffer(capacity: 10, flushThreshold: 100)
        #expect(buffer.append(contentsOf: (1...4).map(Self.trade)) == 4)
        #expect(buffer.append(.quotes((5...8).map(Self.quote))) == 4)
        #expect(buffer.append(.aggregates((9...12).map(Self.bar))) == 2)
        #expect(buffer.append(contentsOf: [Self.trade(13)]) == 0)
        #expect(buffer.append(.fairValues([Self.fmv(14)])) == 0)
        #expect(buffer.count == 10)
        #expect(buffer.counts == [.trade: 4, .quote: 4, .aggregate: 2, .fmv: 0])
        #expect(buffer.snapshot.highWater == 10)
    }

    @Test("a batch holds one type, and the type whose oldest record waits longest goes first")
    func oldestTypeFirst() {
        let buffer = RecordBuffer(capacity: 100, flushThreshold: 100)
        _ = buffer.append(.quotes([Self.quote(5), Self.quote(6)]))
        _ = buffer.append(contentsOf: [Self.trade(7), Self.trade(8)])
        _ = buffer.append(.fairValues([Self.fmv(3)]))
        _ = buffer.append(.aggregates([Self.bar(9)]))
        #expect(buffer.oldestReceivedAtMicros == 3)
        #expect(buffer.take(upTo: 10) == .fairValues([Self.fmv(3)]))
        #expect(buffer.take(upTo: 1) == .quotes([Self.quote(5)]))
        #expect(buffer.take(upTo: 10) == .quotes([Self.quote(6)]))
        #expect(buffer.take(upTo: 10) == .trades([Self.trade(7), Self.trade(8)]))
        #expect(buffer.take(upTo: 10) == .aggregates([Self.bar(9)]))
        #expect(buffer.take(upTo: 10).isEmpty)
        #expect(buffer.oldestReceivedAtMicros == nil)
    }

    @Test("a batch handed back goes to the front of its own type, past the capacity, and is taken again first")
    func putBack() {
        let buffer = RecordBuffer(capacity: 3, flushThreshold: 100)
        _ = buffer.append(.quotes([Self.quote(1), Self.quote(2)]))
        _ = buffer.append(contentsOf: [Self.trade(3)])
        let taken = buffer.take(upTo: 10)
        #expect(taken == .quotes([Self.quote(1), Self.quote(2)]))
        _ = buffer.append(.aggregates([Self.bar(4), Self.bar(5)]))
        buffer.putBack(taken)
        #expect(buffer.count == 5)
        #expect(buffer.take(upTo: 10) == taken)
        #expect(buffer.takeAll() == [.trades([Self.trade(3)]), .aggregates([Self.bar(4), Self.bar(5)])])
    }

    @Test("the flush threshold counts every type: quotes alone wake the flusher")
    func thresholdCountsEveryType() async {
        let buffer = RecordBuffer(capacity: 100, flushThreshold: 3)
        let woken = Task { await buffer.waitForData() }
        _ = buffer.append(.quotes([Self.quote(1)]))
        _ = buffer.append(.aggregates([Self.bar(2), Self.bar(3)]))
        await woken.value
        #expect(buffer.count == 3)
    }

    @Test("appendWaiting of another type waits for room the trades free, then takes the rest")
    func appendWaitingOtherType() async {
        let buffer = RecordBuffer(capacity: 2, flushThreshold: 100)
        _ = buffer.append(contentsOf: [Self.trade(1), Self.trade(2)])
        let writer = Task { await buffer.appendWaiting(.quotes([Self.quote(3), Self.quote(4)])) }
        #expect(buffer.take(upTo: 2) == .trades([Self.trade(1), Self.trade(2)]))
        #expect(await writer.value == 2)
        #expect(buffer.take(upTo: 10) == .quotes([Self.quote(3), Self.quote(4)]))
    }
}

import FeedSimulator
import Foundation
import Testing

@Suite("FeedSimulator: the shared stream, the count and the ledger")
struct FeedSimulatorTests {
    let t0 = ContinuousClock.now

    func at(_ seconds: Double) -> ContinuousClock.Instant { t0.advanced(by: .seconds(seconds)) }

    static func simulator(
        rate: Double, count: Int? = nil, frameSize: Int = 100, minFrameSize: Int? = nil, ledger: String? = nil
    ) throws -> FeedSimulator {
        var configuration = FeedSimulator.Configuration()
        configuration.seed = 9
        configuration.rate = rate
        configuration.count = count
        configuration.frameSize = frameSize
        configuration.minFrameSize = minFrameSize
        configuration.ledgerPath = ledger
        return try FeedSimulator(configuration: configuration)
    }

    /// Reserves and records batches until the generator passes `position` (or the count stops it).
    static func send(_ simulator: FeedSimulator, through q: Int64) -> [SimTrade] {
        var sent: [SimTrade] = []
        while let batch = simulator.reserveBatch() {
            simulator.recordSent(batch.trades)
            sent += batch.trades
            if batch.trades.last!.q >= q { break }
        }
        return sent
    }

    @Test("an enormous rate sends full frames instead of trapping in the frame-size conversion", arguments: [1e300, Double.infinity])
    func hugeRate(_ rate: Double) throws {
        let simulator = try Self.simulator(rate: rate, frameSize: 40)
        #expect(try #require(simulator.reserveBatch()).trades.count == 40)
    }

    @Test("with a fewest frame size, frames vary between it and the full size; trades and due times stay those of full frames")
    func framesVaryInSize() throws {
        let varied = try Self.simulator(rate: 500, frameSize: 3, minFrameSize: 1)
        let full = try Self.simulator(rate: 500, frameSize: 3)
        varied.subscriberJoined(at: t0)
        full.subscriberJoined(at: t0)
        var sizes: [Int: Int] = [:]
        var trades: [SimTrade] = []
        while trades.count < 3000 {
            let batch = try #require(varied.reserveBatch())
            sizes[batch.trades.count, default: 0] += 1
            // Trade q (1-based) of a 500/s stream is due at (q − 1) / 500 s.
            #expect(batch.sendAt == at(Double(batch.trades[0].q - 1) / 500))
            trades += batch.trades
        }
        #expect(Set(sizes.keys) == [1, 2, 3])
        var reference: [SimTrade] = []
        while reference.count < trades.count {
            let batch = try #require(full.reserveBatch())
            #expect(batch.trades.count == 3)
            reference += batch.trades
        }
        #expect(trades == Array(reference.prefix(trades.count)))
    }

    @Test("a fewest frame size at or above the full size changes nothing: frames stay full")
    func fewestAtFullSize() throws {
        let simulator = try Self.simulator(rate: 100, frameSize: 3, minFrameSize: 3)
        simulator.subscriberJoined(at: t0)
        // At 100 trades/s a full frame is one trade (100 frames a second).
        for _ in 0..<20 { #expect(try #require(simulator.reserveBatch()).trades.count == 1) }
    }

    @Test("the count limits trades handed out and sent; returned batches still count towards it")
    func countLimitsSent() throws {
        let simulator = try Self.simulator(rate: 0, count: 250)
        let first = try #require(simulator.reserveBatch())
        #expect(first.trades.count == 100 && first.sendAt == nil)
        simulator.returnUnsent(first)
        let again = try #require(simulator.reserveBatch())
        #expect(again == first)
        simulator.recordSent(again.trades)
        let second = try #require(simulator.reserveBatch())
        let third = try #require(simulator.reserveBatch())
        #expect(second.trades.count == 100 && third.trades.count == 50)
        #expect(simulator.reserveBatch() == nil)
        simulator.recordSent(second.trades)
        simulator.recordSent(third.trades)
        #expect(simulator.totals.sent == 250)
        #expect(third.trades.last?.q == 250)
    }

    @Test("returned batches go out first, in sequence order, with their due time")
    func returnedBatchesFirst() throws {
        let simulator = try Self.simulator(rate: 1000)
        simulator.subscriberJoined(at: t0)
        let a = try #require(simulator.reserveBatch())
        let b = try #require(simulator.reserveBatch())
        #expect(a.trades.count == 10 && a.sendAt == t0 && b.sendAt == at(0.01))
        simulator.returnUnsent(b)
        simulator.returnUnsent(a)
        #expect(simulator.reserveBatch() == a)
        #expect(simulator.reserveBatch() == b)
        #expect(simulator.reserveBatch()?.trades.first?.q == 21)
    }

    @Test("batches a client left unsent are skipped when the next client ends an idle span, as a real feed sends live trades only")
    func unsentBatchesSkippedAfterIdleSpan() throws {
        let simulator = try Self.simulator(rate: 1000)
        simulator.subscriberJoined(at: t0)
        let a = try #require(simulator.reserveBatch())
        simulator.recordSent(a.trades)
        let b = try #require(simulator.reserveBatch())
        simulator.returnUnsent(b)
        simulator.subscriberLeft(at: at(0.02))
        simulator.subscriberJoined(at: at(1.02))
        let next = try #require(simulator.reserveBatch())
        #expect(next != b, "the earlier connection's batch is not sent")
        #expect((next.trades.first?.q ?? 0) > (b.trades.last?.q ?? .max))
        #expect(simulator.totals.skipped >= b.trades.count + 1000 - 20)
        // While a client streams (no idle span), a handed-back batch still goes out first.
        simulator.returnUnsent(next)
        simulator.subscriberJoined(at: at(1.03))
        #expect(simulator.reserveBatch() == next)
    }

    @Test("trades due while no client is subscribed are skipped; the sequence goes on from the gap")
    func gapAdvancesSequence() throws {
        let simulator = try Self.simulator(rate: 1000)
        simulator.subscriberJoined(at: t0)
        let before = Self.send(simulator, through: 1000)
        simulator.subscriberLeft(at: at(1))
        simulator.subscriberJoined(at: at(3))
        let next = try #require(simulator.reserveBatch())
        #expect(before.last?.q == 1000)
        #expect(next.trades.first?.q == 3001)
        #expect(next.sendAt == at(3))
        #expect(simulator.totals.skipped == 2000)
        // The gap steps the generator exactly as generating would: same seed, same trade 3001.
        var reference = TradeGenerator(seed: 9, contracts: 200, invalidFraction: 0)
        for _ in 0..<3000 { _ = reference.next() }
        #expect(next.trades.first == reference.next())
    }

    @Test("with --rate 0 nothing is skipped, however long nobody is subscribed")
    func flatOutSkipsNothing() throws {
        let simulator = try Self.simulator(rate: 0)
        simulator.subscriberJoined(at: t0)
        _ = Self.send(simulator, through: 300)
        simulator.subscriberLeft(at: at(1))
        simulator.subscriberJoined(at: at(60))
        #expect(simulator.reserveBatch()?.trades.first?.q == 301)
        #expect(simulator.totals.skipped == 0)
    }

    @Test("skipped trades do not count towards --count")
    func countIgnoresSkipped() throws {
        let simulator = try Self.simulator(rate: 1000, count: 30)
        simulator.subscriberJoined(at: t0)
        let first = try #require(simulator.reserveBatch())
        simulator.recordSent(first.trades)
        simulator.subscriberLeft(at: at(0.005))
        simulator.subscriberJoined(at: at(1))
        let rest = Self.send(simulator, through: .max)
        #expect(rest.count == 20)
        #expect(rest.first?.q == 1001)
        #expect(simulator.totals.sent == 30)
        #expect(simulator.totals.skipped == 990)
    }

    @Test("the ledger lists exactly the trades recorded as sent, after its header")
    func ledgerIsExact() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("feed-sim-ledger-\(UUID()).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let simulator = try Self.simulator(rate: 0, frameSize: 10, ledger: path)
        let sent = try #require(simulator.reserveBatch())
        let unsent = try #require(simulator.reserveBatch())
        simulator.recordSent(sent.trades)
        simulator.returnUnsent(unsent)
        simulator.closeLedger()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines == [TradeGenerator.ledgerHeader] + sent.trades.map(\.ledgerLine))
    }

    @Test("the ledger is flushed after every batch: a reader sees each one while the simulator runs")
    func ledgerFlushedPerBatch() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("feed-sim-ledger-\(UUID()).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let simulator = try Self.simulator(rate: 0, frameSize: 3, ledger: path)
        defer { simulator.closeLedger() }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == TradeGenerator.ledgerHeader + "\n")
        var sent: [SimTrade] = []
        for _ in 0..<3 {
            let batch = try #require(simulator.reserveBatch())
            simulator.recordSent(batch.trades)
            sent += batch.trades
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(lines == [TradeGenerator.ledgerHeader] + sent.map(\.ledgerLine))
        }
    }

    @Test("hostile events are counted apart: not sent, valid or invalid trades, not in the ledger")
    func hostileCountedApart() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("feed-sim-ledger-\(UUID()).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let simulator = try Self.simulator(rate: 0, frameSize: 10, ledger: path)
        let batch = try #require(simulator.reserveBatch())
        let first = simulator.reserveHostile()
        #expect(first == HostileTrades.firstSequence)
        #expect(simulator.reserveHostile() == first + Int64(HostileTrades.Kind.allCases.count), "numbers are not reused")
        simulator.recordSent(batch.trades, hostile: HostileTrades.Kind.allCases.count)
        simulator.closeLedger()
        #expect(simulator.totals.sent == 10 && simulator.totals.valid + simulator.totals.invalid == 10)
        #expect(simulator.totals.hostile == 6)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines == [TradeGenerator.ledgerHeader] + batch.trades.map(\.ledgerLine))
    }

    @Test("the exit line keeps sent, valid, invalid first and adds connections, skipped, hostile, forgotten, the REST counts and the other events")
    func totalsJSON() throws {
        let simulator = try Self.simulator(rate: 0)
        simulator.connectionOpened()
        let batch = try #require(simulator.reserveBatch())
        simulator.recordSent(batch.trades)
        #expect(
            simulator.totals.json
                == #"{"sent":100,"valid":100,"invalid":0,"connections":1,"skipped":0,"hostile":0,"forgotten":0,"#
                + #""rest_requests":0,"rest_throttled":0,"rest_faults":0,"bars":0,"quotes":0,"fmv":0}"#)
    }

    @Test("waiting for all sent returns once the count was written")
    func waitUntilAllSent() async throws {
        let simulator = try Self.simulator(rate: 0, count: 150)
        async let done: Void = simulator.waitUntilAllSent()
        _ = Self.send(simulator, through: .max)
        await done
        #expect(simulator.totals.sent == 150)
    }
}

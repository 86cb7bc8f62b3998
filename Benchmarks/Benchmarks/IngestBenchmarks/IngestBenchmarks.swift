import Benchmark
import Foundation
import IngestDatabase
import IngestPipeline
import Logging
import OptionsFeed

// The hot path, stage by stage (docs/performance.md): frame decoder, option-symbol parser,
// COPY binary encoder, and the flush path (buffer → batch → COPY bytes), plus
// the same flush into a real Postgres when BENCH_DATABASE_URL is set.
//
// Every benchmark runs 1000 "scaled iterations" per sample (`.kilo`) and makes
// one iteration one trade (or one row, or one symbol), so "Throughput (# / s)"
// reads as trades per second and the malloc counts are per 1000 trades.
// Targets (docs/performance.md): decoder ≥ 3M trades/s on one core with 0 allocations per
// trade in steady state; encoder ≥ 5M rows/s.

/// 2000 distinct contracts spread like feed-sim's: 14 underlyings, 7 expiries, calls and puts.
let contracts: [String] = {
    let underlyings = ["SPY", "QQQ", "AAPL", "TSLA", "NVDA", "AMZN", "MSFT", "META", "IWM", "AMD", "SPXW", "GOOGL", "BRK.B", "NFLX"]
    let expiries = ["251219", "260116", "260220", "260320", "260618", "261218", "270115"]
    return (0..<2000).map { index in
        let underlying = underlyings[index % underlyings.count]
        let expiry = expiries[(index / underlyings.count) % expiries.count]
        let type = index % 2 == 0 ? "C" : "P"
        let strike = String(100_000 + (index / 98) * 5_000)
        return "O:\(underlying)\(expiry)\(type)\(String(repeating: "0", count: 8 - strike.count))\(strike)"
    }
}()

/// One Polygon trade event as the feed sends it (docs/design.md §5.1).
func tradeJSON(_ index: Int) -> String {
    let conditions = [[227], [209], [], [219, 227], [232]][index % 5]
    let c = conditions.isEmpty ? "" : #","c":[\#(conditions.map(String.init).joined(separator: ","))]"#
    let price = ["1.25", "0.05", "12.4", "3.85", "250.1"][index % 5]
    return #"{"ev":"T","sym":"\#(contracts[index % contracts.count])","x":\#(300 + index % 20),"p":\#(price),"s":\#(1 + index % 50)\#(c),"t":\#(1_764_614_400_000 + index),"q":\#(index)}"#
}

/// One Polygon per-minute bar (`AM`) as the feed sends it (docs/design.md §4.4).
func minuteBarJSON(_ index: Int) -> String {
    let low = 100 + index % 50, start = 1_764_614_400_000 + index / contracts.count * 60_000
    return #"{"ev":"AM","sym":"\#(contracts[index % contracts.count])","v":\#(1 + index % 300),"av":\#(5000 + index),"op":\#(low + 1).25,"vw":\#(low + 1).0125,"o":\#(low + 1).1,"c":\#(low + 1).2,"h":\#(low + 2).5,"l":\#(low).9,"a":\#(low + 1).98,"z":\#(1 + index % 9),"s":\#(start),"e":\#(start + 60_000)}"#
}

/// Frames of `tradesPerFrame` trades, 1000 trades in all.
func frames(tradesPerFrame: Int) -> [[UInt8]] {
    stride(from: 0, to: 1000, by: tradesPerFrame).map { first in
        Array(("[" + (first..<first + tradesPerFrame).map(tradeJSON).joined(separator: ",") + "]").utf8)
    }
}

/// The trades those frames hold, decoded once.
func sampleTrades(_ count: Int) -> [OptionTrade] {
    let decoder = FrameDecoder()
    var frame = DecodedFrame()
    let bytes = Array(("[" + (0..<count).map(tradeJSON).joined(separator: ",") + "]").utf8)
    bytes.withUnsafeBytes { try! decoder.decode($0, receivedAtMicros: 1_764_614_400_000_000, into: &frame) }
    return frame.trades
}

/// Decodes `input` once to reach the steady state (every contract seen, the output's storage
/// grown), then measures decoding it again; `events` counts what one frame decoded.
func decodeFrames(_ input: [[UInt8]], _ benchmark: Benchmark, events: (DecodedFrame) -> Int) {
    let decoder = FrameDecoder()
    var output = DecodedFrame()
    for frame in input {
        output.removeAll()
        frame.withUnsafeBytes { try! decoder.decode($0, receivedAtMicros: 1, into: &output) }
    }
    var decoded = 0
    benchmark.startMeasurement()
    for frame in input {
        output.removeAll()
        frame.withUnsafeBytes { try! decoder.decode($0, receivedAtMicros: 1, into: &output) }
        decoded += events(output)
    }
    benchmark.stopMeasurement()
    precondition(decoded == benchmark.scaledIterations.count)
    blackHole(output)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal, .instructions],
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 100_000
    )

    for tradesPerFrame in [1, 100] {
        Benchmark("FrameDecoder: frames of \(tradesPerFrame) trade\(tradesPerFrame == 1 ? "" : "s")") { benchmark in
            decodeFrames(frames(tradesPerFrame: tradesPerFrame), benchmark) { $0.trades.count }
        }
    }

    // Targets (docs/performance.md): ≥ 2M bars/s on one core, 0 allocations per bar in steady state.
    Benchmark("FrameDecoder: frames of 100 minute bars") { benchmark in
        let input = stride(from: 0, to: 1000, by: 100).map { first in
            Array(("[" + (first..<first + 100).map(minuteBarJSON).joined(separator: ",") + "]").utf8)
        }
        decodeFrames(input, benchmark) { $0.aggregates.count }
    }

    Benchmark("OptionSymbol: parse") { benchmark in
        let symbols = (0..<1000).map { Array(contracts[$0 % contracts.count].utf8) }
        benchmark.startMeasurement()
        for symbol in symbols {
            blackHole(symbol.withUnsafeBytes { OptionSymbol(utf8: $0) })
        }
    }

    Benchmark("TradeCopyEncoder: rows") { benchmark in
        let trades = sampleTrades(1000)
        let encoder = TradeCopyEncoder()
        var bytes: [UInt8] = []
        encoder.encode(trades, into: &bytes)
        benchmark.startMeasurement()
        encoder.encode(trades, into: &bytes)
        benchmark.stopMeasurement()
        blackHole(bytes)
    }

    Benchmark("Flush path: buffer → batch → COPY bytes") { benchmark in
        // What the writer's thread gets per trade, without the database: frames of
        // 100 trades appended to the buffer, one 1000-trade batch taken and encoded.
        let trades = sampleTrades(1000)
        let buffer = RecordBuffer(capacity: 100_000, flushThreshold: 1000)
        let encoder = TradeCopyEncoder()
        var bytes: [UInt8] = []
        encoder.encode(trades, into: &bytes)
        benchmark.startMeasurement()
        for first in stride(from: 0, to: 1000, by: 100) {
            _ = buffer.append(contentsOf: trades[first..<first + 100])
        }
        let batch = buffer.take(upTo: 1000).trades
        encoder.encode(batch, into: &bytes)
        benchmark.stopMeasurement()
        precondition(batch.count == 1000)
        blackHole(bytes)
    }

    if let url = ProcessInfo.processInfo.environment["BENCH_DATABASE_URL"], !url.isEmpty {
        Benchmark(
            "Flush path: 1000-row batches into Postgres",
            configuration: .init(
                metrics: [.throughput, .wallClock, .mallocCountTotal], scalingFactor: .kilo,
                maxDuration: .seconds(10), maxIterations: 500)
        ) { benchmark in
            // One sample is one batch: the writer's direct COPY of 1000 fresh rows in one transaction.
            let logger = Logger(label: "bench")
            let migrations = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../../migrations").standardizedFileURL.path
            _ = try Migrator(directory: migrations).apply(conninfo: url, logger: logger)
            let writer = PostgresTradeWriter(conninfo: url, poolSize: 1, logger: logger)
            var rows = sampleTrades(1000)
            // Sequences no earlier run used: the rows are new, so no batch falls back to staging.
            let base = Int64(Date().timeIntervalSince1970 * 1_000_000) * 1000
            for index in rows.indices { rows[index].sequence = base + Int64(index) }
            var warm = rows[0]
            warm.sequence = base - 1
            _ = try await writer.write([warm])  // connects outside the measurement
            benchmark.startMeasurement()
            let result = try await writer.write(rows)
            benchmark.stopMeasurement()
            precondition(result.inserted == rows.count)
            await writer.shutdown()
        }
    }
}

import Foundation
import IngestPipeline
import IngestTestSupport
import OptionsFeed
import Synchronization
import Testing

@testable import IngestService

/// The replay reader without a database: recorded lines in, trades in the buffer out.
@Suite("Replay reader")
struct ReplayServiceTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString)")

    struct Pipeline {
        let buffer = RecordBuffer(capacity: 100_000, flushThreshold: 100)
        let stats = IngestStats()
        let deadLetters = DeadLetterQueue()
        let gaps = GapLedger(startsOpen: false)
        let counters = ReplayCounters()
        let logs = CapturedLogs()

        func run(_ inputs: [String], schedule: ReplaySchedule = .init(), clock: some Clock<Duration> = ContinuousClock()) async throws {
            let intake = FeedIntake(
                buffer: buffer, stats: stats, gaps: gaps, deadLetters: deadLetters, spool: nil, notionalThreshold: 0,
                logger: logs.logger("replay"))
            let service = ReplayService(
                inputs: inputs, schedule: schedule, intake: intake, counters: counters, clock: clock, logger: logs.logger("replay"))
            try await service.run()
        }

        var trades: [OptionTrade] { buffer.take(upTo: Int.max).trades }
    }

    static func trade(q: Int, t: Int64 = 1_764_772_200_120) -> String {
        #"{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":6.5,"s":20,"c":[209],"t":\#(t),"q":\#(q)}"#
    }

    static func line(_ rx: Int64, _ frame: String) -> String {
        String(decoding: RecordedFrameLine.encode(receivedAtMicros: rx, frame: frame), as: UTF8.self)
    }

    func write(_ name: String, _ text: String) throws -> String {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    @Test("recorded frames come back as the live feed decoded them, with the recorded receive time")
    func replaysFrames() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try write(
            "feed.jsonl",
            Self.line(1_000, "[\(Self.trade(q: 1)),\(Self.trade(q: 2))]") + Self.line(2_000, #"[{"ev":"status","status":"success","message":"subscribed to: T.*"}]"#)
                + Self.line(3_000, "[\(Self.trade(q: 3))]"))
        let pipeline = Pipeline()
        try await pipeline.run([path])
        let trades = pipeline.trades
        #expect(trades.map(\.sequence) == [1, 2, 3])
        #expect(trades.map(\.receivedAtMicros) == [1_000, 1_000, 3_000])
        #expect(pipeline.stats.frames.load(ordering: .relaxed) == 3)
        #expect(pipeline.counters.lines.load(ordering: .relaxed) == 3)
        #expect(pipeline.counters.finished)
        #expect(pipeline.gaps.isEmpty, "a replay neither opens nor closes feed gaps")
    }

    @Test("a corrupt middle line and a truncated last line are counted, logged with their line numbers, and skipped")
    func badLines() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let torn = Self.line(5_000, "[\(Self.trade(q: 5))]").dropLast(20)
        let path = try write(
            "feed.jsonl",
            Self.line(1_000, "[\(Self.trade(q: 1))]") + Self.line(2_000, "[\(Self.trade(q: 2))]") + "this is not a recorded frame\n"
                + "\n" + Self.line(4_000, "[\(Self.trade(q: 4))]") + torn)
        let pipeline = Pipeline()
        try await pipeline.run([path])
        #expect(pipeline.trades.map(\.sequence) == [1, 2, 4])
        #expect(pipeline.counters.corruptLines.load(ordering: .relaxed) == 1)
        #expect(pipeline.counters.truncatedLines.load(ordering: .relaxed) == 1)
        #expect(pipeline.counters.finished)
        let corrupt = pipeline.logs.all.filter { $0.message == "corrupt line skipped" }
        #expect(corrupt.map { $0.metadata["line"] } == ["3"])
        #expect(corrupt.first?.metadata["file"] == path)
        let truncated = pipeline.logs.all.filter { $0.message == "truncated last line skipped" }
        #expect(truncated.map { $0.metadata["line"] } == ["6"])
    }

    @Test("malformed frames, unknown events and invalid events of any type are counted the way the live feed counts them")
    func badFrames() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let invalid = #"{"ev":"T","sym":"BAD","x":4,"p":6.5,"s":20,"t":1764772200120,"q":9}"#
        let path = try write(
            "feed.jsonl",
            Self.line(1, "[\(Self.trade(q: 1)),{\"ev\":\"T\",\"sym\":") + Self.line(2, #"[{"ev":"LULD","sym":"O:SPY251219C00650000"},{"ev":"Q","sym":"O:SPY251219C00650000"}]"#)
                + Self.line(3, "[\(invalid)]"))
        let pipeline = Pipeline()
        try await pipeline.run([path])
        // As live: the events before the fault in a malformed frame are kept.
        #expect(pipeline.trades.map(\.sequence) == [1])
        #expect(pipeline.stats.badFrames.count(.malformed) == 1)
        #expect(pipeline.stats.badFrames.count(.unknownEvent) == 1)
        #expect(pipeline.stats.tradesInvalid.load(ordering: .relaxed) == 1)
        // The quote without its fields is an invalid quote, dead-lettered with its type, not an unknown event.
        #expect(pipeline.stats.quotes.invalid.load(ordering: .relaxed) == 1)
        let letters = pipeline.deadLetters.drain()
        #expect(letters.map(\.eventType) == ["Q", "T"])
        #expect(letters.map(\.reason) == ["missing_field", "bad_symbol"])
        #expect(pipeline.counters.corruptLines.load(ordering: .relaxed) == 0)
    }

    @Test("--from and --to keep the frames received inside the window")
    func window() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try write("feed.jsonl", (1...10).map { Self.line(Int64($0) * 1_000, "[\(Self.trade(q: $0))]") }.joined())
        let pipeline = Pipeline()
        try await pipeline.run([path], schedule: ReplaySchedule(from: 3_000, to: 7_000))
        #expect(pipeline.trades.map(\.sequence) == [3, 4, 5, 6])
        #expect(pipeline.counters.outsideWindow.load(ordering: .relaxed) == 6)
    }

    @Test("a gzip recording is read transparently, and files are read in the order given")
    func gzipAndOrder() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let older = try write("feed.jsonl.1", Self.line(1_000, "[\(Self.trade(q: 1))]") + Self.line(2_000, "[\(Self.trade(q: 2))]"))
        let newer = try write("feed.jsonl", Self.line(3_000, "[\(Self.trade(q: 3))]"))
        try await runTool("/usr/bin/env", ["gzip", older])
        let pipeline = Pipeline()
        try await pipeline.run([older + ".gz", newer])
        #expect(pipeline.trades.map(\.sequence) == [1, 2, 3])
        #expect(pipeline.counters.inputErrors.load(ordering: .relaxed) == 0)
    }

    @Test("a truncated gzip file yields the lines before the damage and counts an input error")
    func truncatedGzip() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try write("feed.jsonl", (1...2000).map { Self.line(Int64($0), "[\(Self.trade(q: $0))]") }.joined())
        try await runTool("/usr/bin/env", ["gzip", path])
        let compressed = try Data(contentsOf: URL(fileURLWithPath: path + ".gz"))
        try compressed.prefix(compressed.count / 2).write(to: URL(fileURLWithPath: path + ".gz"))
        let pipeline = Pipeline()
        try await pipeline.run([path + ".gz"])
        let sequences = pipeline.trades.map(\.sequence)
        #expect(!sequences.isEmpty && sequences.count < 2000)
        #expect(sequences == Array(1...Int64(sequences.count)))
        #expect(pipeline.counters.inputErrors.load(ordering: .relaxed) == 1)
    }

    @Test("--speed hands frames over at recorded offsets divided by the speed; without it nothing waits")
    func speed() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try write("feed.jsonl", [0, 100_000, 100_000, 350_000].enumerated().map { Self.line(5_000_000 + $0.element, "[\(Self.trade(q: $0.offset))]") }.joined())
        let paced = Pipeline()
        let clock = VirtualClock()
        try await paced.run([path], schedule: ReplaySchedule(speed: 10), clock: clock)
        #expect(clock.sleeps == [.zero, .milliseconds(10), .milliseconds(10), .milliseconds(35)])
        #expect(paced.trades.count == 4)

        let unpaced = Pipeline()
        let idle = VirtualClock()
        try await unpaced.run([path], clock: idle)
        #expect(idle.sleeps.isEmpty)
    }
}

/// A clock whose sleeps return at once, moving its time to the deadline and
/// noting it: pacing is checked without waiting.
final class VirtualClock: Clock, Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private let state = Mutex<(now: Instant, sleeps: [Duration])>((Instant(offset: .zero), []))

    var now: Instant { state.withLock { $0.now } }
    var minimumResolution: Duration { .zero }
    /// Each sleep's deadline, as an offset from the clock's start.
    var sleeps: [Duration] { state.withLock { $0.sleeps } }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        state.withLock { state in
            state.sleeps.append(deadline.offset)
            state.now = max(state.now, deadline)
        }
    }
}

extension ReplayCounters {
    var finished: Bool { finishedReading.load(ordering: .relaxed) }
}

import IngestPipeline
import Logging
import OptionsFeed
import ServiceLifecycle

/// Feeds recorded frames (docs/design.md §5.6 `ingest-options replay FILE…`) into the
/// pipeline the live feed uses: the same `FrameDecoder`, the same
/// `FeedIntake` (threshold filter, dead letters) and so the same buffer,
/// flusher and writer, with each frame's recorded receive time, so a replay
/// of a recording writes exactly the rows the live run wrote.
///
/// Inputs are read in the order given. A line that is not a recorded frame
/// (corrupt, or the torn last line of a recording cut off mid-write) is
/// counted and logged with its line number and skipped: never fatal. Without
/// `--speed` it reads as fast as the database takes the trades (it waits for
/// room in the buffer rather than spilling to the spool); with it, frames
/// are handed over at that multiple of the recorded pace. Stops reading at
/// graceful shutdown; the flusher then drains what was read.
public struct ReplayService<C: Clock>: Service where C.Duration == Duration {
    let inputs: [String]
    let schedule: ReplaySchedule
    let intake: FeedIntake
    let counters: ReplayCounters
    let clock: C
    let logger: Logger
    let badFrameLog = LogThrottle<BadFrameKind>()
    /// Bad lines logged one by one per input; beyond this only counted (a
    /// binary file given by mistake must not produce a million log lines).
    static var badLinesLoggedPerInput: Int { 20 }

    public init(inputs: [String], schedule: ReplaySchedule, intake: FeedIntake, counters: ReplayCounters, clock: C, logger: Logger) {
        self.inputs = inputs
        self.schedule = schedule
        self.intake = intake
        self.counters = counters
        self.clock = clock
        self.logger = logger
    }

    /// Where the pacing of `--speed` started: the first frame's receive time and the clock then.
    private struct PaceOrigin {
        var receivedAt: Int64
        var instant: C.Instant
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                var origin: PaceOrigin?
                for input in inputs {
                    try await replay(input, origin: &origin)
                }
            }
            counters.finishedReading.store(true, ordering: .relaxed)
        } catch is CancellationError {
            logger.notice("replay stopped before the end of its input", metadata: ["lines": "\(counters.lines.load(ordering: .relaxed))"])
        }
    }

    private func replay(_ input: String, origin: inout PaceOrigin?) async throws {
        let source: RecordingSource
        do {
            source = try RecordingSource(input)
        } catch {
            counters.inputErrors.add(1)
            logger.error("replay input skipped", metadata: ["file": "\(input)", "error": "\(error)"])
            return
        }
        logger.info("replaying", metadata: ["file": "\(input)", "gzip": "\(source.isCompressed)"])
        var splitter = RecordingLineSplitter()
        var reader = LineReader(input: input)
        while true {
            try Task.checkCancellation()
            let chunk: [UInt8]?
            do {
                chunk = try await source.read()
            } catch {
                counters.inputErrors.add(1)
                logger.error("replay input could not be read to its end", metadata: ["file": "\(input)", "error": "\(error)"])
                splitter.finish()
                try await drainLines(&splitter, &reader, origin: &origin)
                return
            }
            guard let chunk else { break }
            splitter.append(chunk)
            try await drainLines(&splitter, &reader, origin: &origin)
        }
        splitter.finish()
        try await drainLines(&splitter, &reader, origin: &origin)
        do {
            try source.finish()
        } catch {
            counters.inputErrors.add(1)
            logger.error("replay input could not be read to its end", metadata: ["file": "\(input)", "error": "\(error)"])
        }
        if reader.badLines > Self.badLinesLoggedPerInput {
            logger.warning(
                "more bad lines than were logged one by one",
                metadata: ["file": "\(input)", "bad_lines": "\(reader.badLines)", "logged": "\(Self.badLinesLoggedPerInput)"])
        }
        logger.info("replayed", metadata: ["file": "\(input)", "lines": "\(splitter.lineCount)"])
    }

    /// The per-input state of line decoding: reused buffers and bad-line counts.
    private struct LineReader {
        let input: String
        let decoder = FrameDecoder()
        var frameBytes: [UInt8] = []
        var frame = DecodedFrame()
        var badLines = 0
    }

    /// Hands every complete line to the pipeline.
    private func drainLines(_ splitter: inout RecordingLineSplitter, _ reader: inout LineReader, origin: inout PaceOrigin?) async throws {
        while let line = splitter.nextLine() {
            counters.lines.add(1)
            guard let receivedAt = decode(line, &reader) else { continue }
            guard reader.frame.hasRecords else { continue }
            if let offset = schedule.offset(of: receivedAt, first: origin?.receivedAt ?? receivedAt) {
                let start = origin ?? PaceOrigin(receivedAt: receivedAt, instant: clock.now)
                origin = start
                try await clock.sleep(until: start.instant.advanced(by: offset), tolerance: nil)
            }
            try await intake.buffer.waitForRoom(for: reader.frame.recordCount)
            await intake.take(reader.frame, receivedAtMicros: receivedAt)
        }
    }

    /// Reads a line into `reader.frame` and returns its receive time; `nil`
    /// when the line carries nothing to ingest (bad, blank, outside the window).
    private func decode(_ line: RecordingLineSplitter.Line, _ reader: inout LineReader) -> Int64? {
        if line.oversized {
            badLine(line, &reader, reason: "longer than \(RecordingLineSplitter.defaultMaximumLineBytes) bytes")
            return nil
        }
        if line.bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return nil }
        let parsed: Result<Int64, RecordedLineError> = line.bytes.withUnsafeBytes { bytes in
            do throws(RecordedLineError) {
                return .success(try RecordedFrameLine.decode(bytes, frame: &reader.frameBytes))
            } catch {
                return .failure(error)
            }
        }
        let receivedAt: Int64
        switch parsed {
        case .success(let time) where RecordedFrameLine.receiveTimeRange.contains(time):
            receivedAt = time
        case .success(let time):
            badLine(line, &reader, reason: "rx \(time) is outside 1970…9999 (Unix µs)")
            return nil
        case .failure(let error):
            badLine(line, &reader, reason: error.description)
            return nil
        }
        guard schedule.includes(receivedAt) else {
            counters.outsideWindow.add(1)
            return nil
        }
        // From here on, exactly what the live session does with a text frame.
        intake.stats.frames.add(1)
        reader.frame.removeAll()
        let frameBytes = reader.frameBytes
        let decoder = reader.decoder
        let fault: FrameError? = frameBytes.withUnsafeBytes { bytes in
            do throws(FrameError) {
                try decoder.decode(bytes, receivedAtMicros: receivedAt, into: &reader.frame)
                return nil
            } catch {
                return error
            }
        }
        if let error = fault {
            intake.stats.badFrames.add(.malformed)
            if let suppressed = badFrameLog.admit(.malformed) {
                logger.warning(
                    "bad frame skipped",
                    metadata: ["kind": "malformed", "reason": "\(error.reason)", "offset": "\(error.offset)", "file": "\(reader.input)",
                               "line": "\(line.number)", "suppressed": "\(suppressed)"])
            }
        }
        let unknown = reader.frame.unknownEvents
        if unknown > 0 {
            intake.stats.badFrames.add(.unknownEvent, unknown)
        }
        return receivedAt
    }

    private func badLine(_ line: RecordingLineSplitter.Line, _ reader: inout LineReader, reason: String) {
        let truncated = !line.terminated
        if truncated {
            counters.truncatedLines.add(1)
        } else {
            counters.corruptLines.add(1)
        }
        reader.badLines += 1
        guard reader.badLines <= Self.badLinesLoggedPerInput else { return }
        logger.warning(
            truncated ? "truncated last line skipped" : "corrupt line skipped",
            metadata: ["file": "\(reader.input)", "line": "\(line.number)", "reason": "\(reason)", "bytes": "\(line.bytes.count)"])
    }
}

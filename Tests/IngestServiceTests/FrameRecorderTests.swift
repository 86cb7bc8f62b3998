import Foundation
import IngestPipeline
import NIOCore
import Testing

@testable import IngestService

@Suite("Frame recorder")
struct FrameRecorderTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recorder-\(UUID().uuidString)").path

    static func frame(_ index: Int) -> String {
        #"[{"ev":"T","sym":"O:SPY251219C00650000","x":4,"p":6.5,"s":\#(index + 1),"c":[209],"t":1764772200120,"q":\#(index)}]"#
    }

    /// The lines of a recording file, decoded.
    static func read(_ path: String) throws -> [(rx: Int64, frame: String)] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let decoded = try RecordedFrameLine.decode(line: Array(line.utf8))
            return (decoded.receivedAtMicros, String(decoding: decoded.frame, as: UTF8.self))
        }
    }

    @Test("every frame lands as one line with its receive time, in order, and close() leaves it all on disk")
    func recordsEveryFrame() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/nested/feed.jsonl"
        let logs = CapturedLogs()
        let recorder = try FrameRecorder(configuration: .init(path: path, writeChunkBytes: 4096), logger: logs.logger("system"))
        let frames = (0..<2000).map(Self.frame) + ["not json at all", "unicode é 🚀 and \"quotes\" \\ \n"]
        for (index, frame) in frames.enumerated() {
            recorder.record(ByteBuffer(string: frame), receivedAtMicros: 1_764_772_200_000_000 + Int64(index))
        }
        recorder.close()
        recorder.close()
        #expect(recorder.recordedFrames == frames.count)
        #expect(recorder.failure == nil)
        #expect(!recorder.isRecording)
        let lines = try Self.read(path)
        #expect(lines.map(\.frame) == frames)
        #expect(lines.map(\.rx) == frames.indices.map { 1_764_772_200_000_000 + Int64($0) })
        // After close, frames are ignored, not written.
        recorder.record(ByteBuffer(string: "late"), receivedAtMicros: 1)
        #expect(try Self.read(path).count == frames.count)
    }

    @Test("the file rotates before it passes RECORD_MAX_BYTES and keeps RECORD_KEEP sealed files, newest as FILE.1")
    func rotates() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/feed.jsonl"
        let recorder = try FrameRecorder(
            configuration: .init(path: path, rotation: .init(maxBytes: 1000, keep: 2), writeChunkBytes: 300), logger: CapturedLogs().logger("system"))
        let frames = (0..<100).map(Self.frame)
        for (index, frame) in frames.enumerated() {
            recorder.record(ByteBuffer(string: frame), receivedAtMicros: Int64(index))
        }
        recorder.close()
        #expect(recorder.rotations > 2)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(files == ["feed.jsonl", "feed.jsonl.1", "feed.jsonl.2"])
        for file in files {
            let size = try #require(try FileManager.default.attributesOfItem(atPath: directory + "/" + file)[.size] as? NSNumber)
            #expect(size.intValue <= 1000)
        }
        // Oldest first, the kept files hold the newest frames without a gap or a repeat.
        let kept = try RecordingRotation.filesOldestFirst(path: path, keep: 2).flatMap(Self.read)
        #expect(kept.map(\.rx) == Array(Int64(100 - kept.count)..<100))
        #expect(kept.map(\.frame) == Array(frames.suffix(kept.count)))
    }

    @Test("appending to a recording whose last line was torn ends that line first, so the new lines stay whole")
    func appendsAfterATornLine() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/feed.jsonl"
        let earlier = String(decoding: RecordedFrameLine.encode(receivedAtMicros: 1, frame: "[]"), as: UTF8.self)
        try (earlier + #"{"rx":2,"frame":"[{\"ev"#).write(toFile: path, atomically: false, encoding: .utf8)
        let recorder = try FrameRecorder(configuration: .init(path: path), logger: CapturedLogs().logger("system"))
        recorder.record(ByteBuffer(string: Self.frame(7)), receivedAtMicros: 3)
        recorder.close()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 4)
        #expect(lines[1] == #"{"rx":2,"frame":"[{\"ev"#)
        #expect(lines[2] == Substring(String(decoding: RecordedFrameLine.encode(receivedAtMicros: 3, frame: Self.frame(7)).dropLast(), as: UTF8.self)))
        #expect(lines[3].isEmpty)
    }

    @Test(
        "a full disk turns recording off with one recording_failed ALERT; recording more is harmless",
        .enabled(if: FileManager.default.fileExists(atPath: "/dev/full")))
    func fullDisk() throws {
        let logs = CapturedLogs()
        // /dev/full answers every write with ENOSPC; as a device it is never rotated.
        let recorder = try FrameRecorder(configuration: .init(path: "/dev/full"), logger: logs.logger("system"))
        recorder.record(ByteBuffer(string: Self.frame(1)), receivedAtMicros: 1)
        recorder.close()
        #expect(!recorder.isRecording)
        let failure = try #require(recorder.failure)
        #expect(failure.contains("ENOSPC") || failure.contains("No space left"), "\(failure)")
        recorder.record(ByteBuffer(string: Self.frame(2)), receivedAtMicros: 2)
        let alerts = logs.all.filter { $0.message == "ALERT" }
        #expect(alerts.count == 1)
        #expect(alerts.first?.metadata["alert"] == "recording_failed")
        #expect(alerts.first?.metadata["state"] == "open")
        #expect(alerts.first?.level == .error)
    }

    @Test("a recording file that cannot be opened is an error at start, not a surprise later")
    func unopenable() {
        #expect(throws: FrameRecorder.RecorderError.self) {
            _ = try FrameRecorder(configuration: .init(path: "/proc/no-such-dir/feed.jsonl"), logger: CapturedLogs().logger("system"))
        }
    }
}

import Foundation
import IngestPipeline
import NIOCore
import Testing

@testable import IngestService

@Suite("Frame recorder: private files")
struct FrameRecorderFileModeTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recorder-mode-\(UUID().uuidString)").path

    static func mode(_ path: String) throws -> mode_t {
        var status = stat()
        try #require(stat(path, &status) == 0)
        return status.st_mode & 0o7777
    }

    @Test("a recording file is created 0600, a rotated one too, and one left 0644 by an earlier run becomes 0600")
    func privateRecording() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fresh = directory + "/fresh.jsonl"
        let rotated = directory + "/rotated.jsonl"
        let old = directory + "/old.jsonl"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: old, contents: Data("{}\n".utf8), attributes: [.posixPermissions: 0o644]))
        let logs = CapturedLogs()
        for path in [fresh, old] {
            let recorder = try FrameRecorder(configuration: .init(path: path), logger: logs.logger("system"))
            recorder.record(ByteBuffer(string: "[]"), receivedAtMicros: 1_764_772_200_000_000)
            recorder.close()
        }
        let recorder = try FrameRecorder(
            configuration: .init(path: rotated, rotation: .init(maxBytes: 64, keep: 2), writeChunkBytes: 1), logger: logs.logger("system"))
        for index in 0..<10 { recorder.record(ByteBuffer(string: FrameRecorderTests.frame(index)), receivedAtMicros: 1_764_772_200_000_000) }
        recorder.close()
        #expect(recorder.rotations > 0)
        for path in [fresh, old, rotated, rotated + ".1", rotated + ".2"] {
            #expect(try Self.mode(path) & 0o077 == 0, "\(path) is readable by others")
        }
    }
}

import Foundation
import Testing

@testable import IngestSpool

@Suite("Disk spool: private files")
struct SpoolFileModeTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-mode-\(UUID().uuidString)").path

    static func mode(_ path: String) throws -> mode_t {
        var status = stat()
        try #require(stat(path, &status) == 0)
        return status.st_mode & 0o7777
    }

    @Test("segments and the lock file are created 0600, whatever the umask, and an old 0644 lock becomes 0600")
    func privateFiles() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // A lock file as an earlier release left it.
        #expect(FileManager.default.createFile(atPath: directory + "/.lock", contents: nil, attributes: [.posixPermissions: 0o644]))
        #expect(try Self.mode(directory + "/.lock") == 0o644)
        let spool = try Spool(configuration: .init(directory: directory, segmentBytes: 1024))
        for start in [0, 100] { #expect(try spool.append(SpoolTests.trades(start..<start + 100))) }
        try spool.close()
        let segments = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".spool") }
        #expect(segments.count == 2)
        for name in segments + [".lock"] {
            #expect(try Self.mode(directory + "/" + name) & 0o077 == 0, "\(name) is readable by others")
        }
    }

    @Test("a spool directory the spool creates is private to its owner")
    func privateDirectory() throws {
        let parent = directory
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let spool = try Spool(configuration: .init(directory: parent + "/spool"))
        #expect(try Self.mode(parent + "/spool") & 0o077 == 0)
        try spool.close()
    }
}

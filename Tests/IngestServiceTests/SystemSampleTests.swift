import Foundation
import Testing

@testable import IngestService

@Suite("System sample")
struct SystemSampleTests {
    @Test("reads this process's RSS, CPU time, threads and descriptors from /proc")
    func readsTheProcess() throws {
        let descriptor = open("/dev/null", O_RDONLY)
        defer { close(descriptor) }
        let sample = SystemSample.read()
        #expect(sample.rssBytes > 1 << 20, "a Swift test process has more than 1 MiB resident")
        #expect(sample.threads >= 1)
        #expect(sample.openFDs >= 4, "stdin, stdout, stderr and /dev/null at least")
        // CPU time only grows: burn a little and read again.
        var spin = 0
        while SystemSample.read().cpuSeconds <= sample.cpuSeconds, spin < 10_000_000 { spin += 1 }
        #expect(SystemSample.read().cpuSeconds > sample.cpuSeconds)
        // The descriptor count follows what is open.
        let more = (0..<8).map { _ in open("/dev/null", O_RDONLY) }
        defer { more.forEach { close($0) } }
        #expect(SystemSample.read().openFDs >= sample.openFDs + 8)
    }

    @Test("fields are the space-separated numbers of a /proc line", arguments: [
        ("1 2 3\n", 0, 1), ("1 2 3\n", 2, 3), ("  10   20 ", 1, 20), ("S 42", 1, 42),
    ] as [(String, Int, Int)])
    func fields(line: String, index: Int, value: Int) {
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBufferPointer { buffer in
            #expect(SystemSample.field(index, of: buffer[...]) == value)
        }
    }

    @Test("a missing or non-numeric field is nil")
    func missingFields() {
        for (line, index) in [("1 2", 2), ("S 42", 0), ("", 0), ("99999999999999999999999", 0)] {
            var bytes = Array(line.utf8)
            bytes.withUnsafeMutableBufferPointer { buffer in
                if line.hasPrefix("9") {
                    // Longer than 18 digits: cut, never an overflow trap.
                    #expect(SystemSample.field(index, of: buffer[...]) != nil)
                } else {
                    #expect(SystemSample.field(index, of: buffer[...]) == nil, "\(line) [\(index)]")
                }
            }
        }
    }
}

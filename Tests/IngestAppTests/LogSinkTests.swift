import Foundation
import Testing

@testable import IngestApp

/// The log sink under a console that stops reading: logging never waits for
/// the console, the file keeps every line, and what the console missed is
/// counted and reported once it reads again.
@Suite("Log sink")
struct LogSinkTests {
    /// Runs `body` on a thread of its own (it may block for good on old code);
    /// `true` when it returned within `limit`, a bound on a hang, not a speed target.
    static func returns(within limit: Duration, _ body: @escaping @Sendable () -> Void) async -> Bool {
        let (done, signal) = AsyncStream<Bool>.makeStream()
        Thread {
            body()
            signal.yield(true)
        }.start()
        let timeout = Task {
            try? await Task.sleep(for: limit)
            signal.yield(false)
        }
        defer { timeout.cancel() }
        for await finished in done { return finished }
        return false
    }

    /// Reads what is in the pipe now, without waiting.
    static func drain(_ descriptor: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            guard count > 0 else { return out }
            out.append(contentsOf: buffer[..<count])
        }
    }

    @Test("100 000 lines into a sink whose console pipe nobody reads: the writes return, the file has every line in order, the console's drops are counted and reported once it reads")
    func stalledConsole() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("logsink-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("app.log").path
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer {
            close(ends[0])
            close(ends[1])
        }
        let sink = try LogSink(format: .json, filePath: path, console: ends[1], consoleCapacityBytes: 64 << 10)
        let count = 100_000
        let returned = await Self.returns(within: .seconds(120)) {
            for index in 0..<count {
                sink.write(#"{"msg":"line","n":\#(index)}"#)
            }
        }
        // The console pipe holds 64 KiB and is never read while the lines are written.
        #expect(returned, "writing to the sink blocked on the console")
        let dropped = sink.consoleLinesDropped
        #expect(dropped > 0)

        // Now the console reads: what was queued comes out, then the summary of what was not.
        _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
        var console: [UInt8] = []
        for _ in 0..<1000 where !sink.flushConsole(timeout: .milliseconds(20)) {
            console += Self.drain(ends[0])
        }
        #expect(sink.flushConsole(timeout: .seconds(5)))
        console += Self.drain(ends[0])
        let consoleLines = String(decoding: console, as: UTF8.self).split(separator: "\n").map {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let summaries = consoleLines.compactMap { $0?["console_lines_dropped"] as? Int }
        #expect(summaries.reduce(0, +) == dropped, "the summaries account for every dropped line")
        #expect(consoleLines.last??["msg"] as? String == "\(summaries.last ?? 0) console lines dropped", "the last line is a summary")
        #expect(consoleLines.count - summaries.count == count - dropped, "every line not dropped reached the console")

        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == count)
        #expect(lines.enumerated().allSatisfy { $0.element == #"{"msg":"line","n":\#($0.offset)}"# }, "every line, in order")
    }

    @Test("the log file is created 0640 whatever the umask, and an existing one loses access beyond 0640")
    func fileMode() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("logmode-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let fresh = directory.appendingPathComponent("fresh.log").path
        // A stricter umask than the mode (a looser one would loosen files other tests make meanwhile).
        let previous = umask(0o077)
        _ = try LogSink(format: .json, filePath: fresh, console: STDERR_FILENO)
        umask(previous)
        #expect(try FileManager.default.attributesOfItem(atPath: fresh)[.posixPermissions] as? Int == 0o640)

        let open = directory.appendingPathComponent("open.log").path
        #expect(FileManager.default.createFile(atPath: open, contents: Data("old\n".utf8), attributes: [.posixPermissions: 0o666]))
        let sink = try LogSink(format: .json, filePath: open, console: STDERR_FILENO)
        sink.write("new")
        #expect(try FileManager.default.attributesOfItem(atPath: open)[.posixPermissions] as? Int == 0o640)
        #expect(try String(contentsOfFile: open, encoding: .utf8) == "old\nnew\n", "appended")
    }

    @Test("a log file that cannot be opened is an error naming the file and the reason")
    func unopenableFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("logopen-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        // A directory where the file should be: open(2) refuses it with EISDIR, even as root.
        let path = directory.appendingPathComponent("taken.log").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        #expect {
            try LogSink(format: .json, filePath: path, console: STDERR_FILENO)
        } throws: { error in
            "\(error)" == "cannot open the log file \(path): \(String(cString: strerror(EISDIR))) (errno \(EISDIR))"
        }
    }

    @Test("the console backlog drops what does not fit, counts it, and queues one summary after the console took a write")
    func backlog() {
        var backlog = ConsoleBacklog(capacityBytes: 10)
        let fits = backlog.offer(Array("12345\n".utf8))
        let overflows = backlog.offer(Array("67890\n".utf8))
        #expect(fits && !overflows)
        #expect(backlog.droppedTotal == 1)
        #expect(backlog.takeAll().count == 1)
        #expect(backlog.isEmpty)
        backlog.offer(Array("abc\n".utf8))
        let reported = backlog.consoleAcceptedWrites { Array("\($0) dropped\n".utf8) }
        #expect(reported == 1)
        let queued = backlog.takeAll()
        #expect(queued == [Array("abc\n".utf8), Array("1 dropped\n".utf8)], "the summary after the lines that came before the drops")
        let again = backlog.consoleAcceptedWrites { _ in [] }
        #expect(again == nil, "reported once")
        backlog.countDropped(3)
        #expect(backlog.droppedTotal == 4)
        let failed = backlog.consoleAcceptedWrites { Array("\($0)\n".utf8) }
        #expect(failed == 3)
    }
}

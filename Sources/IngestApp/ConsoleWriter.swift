#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import IngestPipeline
import IngestSpool
import OptionsFeed

/// Writes lines to one console descriptor (stdout or stderr) from a thread
/// of its own, so that no logging thread ever waits for the console: a write
/// to a pipe whose reader has stopped blocks for as long as it stops, and
/// only this thread waits then. Lines queue in a `ConsoleBacklog`; when it is
/// full they are dropped and counted (`dropped`), and a summary line follows
/// once the console takes writes again.
final class ConsoleWriter: @unchecked Sendable {
    let descriptor: Int32
    /// Guards `backlog` and `writing`; signalled when lines arrive and when a batch is done.
    private let condition = ConditionLock()
    private var backlog: ConsoleBacklog
    private var writing = false
    private let summary: @Sendable (Int) -> [UInt8]

    /// - Parameters:
    ///   - capacityBytes: what may wait for the console; the default 1 MiB is a few thousand log
    ///     lines, minutes of a busy service's output, and little memory.
    ///   - summary: the line (with its newline) that reports `count` dropped lines.
    init(descriptor: Int32, capacityBytes: Int, summary: @escaping @Sendable (Int) -> [UInt8]) {
        self.descriptor = descriptor
        self.backlog = ConsoleBacklog(capacityBytes: capacityBytes)
        self.summary = summary
        // The thread holds the writer for the life of the process, as the process's sink does.
        // Without its thread the console takes no lines: nothing else can show why, so it is fatal.
        guard DetachedThread.start(name: "console-\(descriptor)", { self.run() }) else { fatalError("cannot start the console's writer thread") }
    }

    /// Queues a line (ending in a newline); never waits for the console.
    func enqueue(_ line: [UInt8]) {
        condition.lock()
        if backlog.offer(line) { condition.signal() }
        condition.unlock()
    }

    /// Lines dropped so far: the backlog was full, or the console refused them.
    var dropped: Int {
        condition.lock()
        defer { condition.unlock() }
        return backlog.droppedTotal
    }

    /// Waits until every queued line is written, at most until `deadline`; `false` when the console did not take them in time.
    func flush(until deadline: ContinuousClock.Instant) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !backlog.isEmpty || writing {
            if !condition.wait(timeout: deadline - .now) { return backlog.isEmpty && !writing }
        }
        return true
    }

    private func run() {
        var chunk: [UInt8] = []
        while true {
            condition.lock()
            while backlog.isEmpty { condition.wait() }
            let batch = backlog.takeAll()
            writing = true
            condition.unlock()

            chunk.removeAll(keepingCapacity: true)
            for line in batch { chunk.append(contentsOf: line) }
            var failed = 0
            do throws(DescriptorWrite.Failure) {
                try DescriptorWrite.all(chunk, to: descriptor)
            } catch {
                // Closed or broken console: the lines that did not get out are lost to it (the file has them).
                var written = error.written
                var whole = 0
                for line in batch {
                    guard written >= line.count else { break }
                    written -= line.count
                    whole += 1
                }
                failed = batch.count - whole
            }
            if chunk.capacity > 4 << 20 { chunk = [] }

            condition.lock()
            writing = false
            if failed > 0 {
                backlog.countDropped(failed)
            } else {
                _ = backlog.consoleAcceptedWrites(summary: summary)
            }
            condition.broadcast()
            condition.unlock()
        }
    }
}

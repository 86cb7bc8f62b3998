/// The console lines waiting for the console's writer thread, bounded in
/// bytes. A console that stops reading (a pipe nobody drains, a stuck
/// terminal) must never stop ingestion: when the backlog is full, new lines
/// are dropped and counted, and once the console takes writes again one
/// summary line says how many it missed. Pure value: the writer thread
/// (`ConsoleWriter`) holds it under its lock.
public struct ConsoleBacklog: Sendable {
    /// Bytes the backlog holds at most (besides the batch being written).
    public let capacityBytes: Int
    public private(set) var lines: [[UInt8]] = []
    public private(set) var bytes = 0
    /// Lines dropped since the start: the backlog was full, or the console refused the write.
    public private(set) var droppedTotal = 0
    /// Dropped lines no summary has mentioned yet.
    public private(set) var droppedUnreported = 0

    public init(capacityBytes: Int) {
        self.capacityBytes = capacityBytes
    }

    public var isEmpty: Bool { lines.isEmpty }

    /// Queues a line (with its newline); `false`, counted, when it does not fit.
    @discardableResult
    public mutating func offer(_ line: [UInt8]) -> Bool {
        guard bytes + line.count <= capacityBytes else {
            countDropped(1)
            return false
        }
        lines.append(line)
        bytes += line.count
        return true
    }

    /// Everything queued, oldest first, for one write; the backlog is empty after.
    public mutating func takeAll() -> [[UInt8]] {
        defer {
            lines = []
            bytes = 0
        }
        return lines
    }

    /// The writer could not write `count` lines it had taken (the console is closed or broken).
    public mutating func countDropped(_ count: Int) {
        droppedTotal += count
        droppedUnreported += count
    }

    /// After a batch reached the console: how many lines were dropped since
    /// the last summary (`nil` for none), with `summary(count)` queued after
    /// what waits (those lines came before the drops) whatever the capacity:
    /// it is one short line.
    public mutating func consoleAcceptedWrites(summary: (Int) -> [UInt8]) -> Int? {
        guard droppedUnreported > 0 else { return nil }
        let count = droppedUnreported
        droppedUnreported = 0
        let line = summary(count)
        lines.append(line)
        bytes += line.count
        return count
    }
}

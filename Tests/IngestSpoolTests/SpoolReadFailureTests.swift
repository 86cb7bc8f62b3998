import Foundation
import OptionsFeed
import Synchronization
import Testing

@testable import IngestSpool

@Suite("Disk spool: unreadable segments")
struct SpoolReadFailureTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-read-\(UUID().uuidString)").path

    /// A spool of three sealed segments of one record each (records are larger than the 1 KiB segment size).
    func threeSegments(files: SpoolFileLayer = .system) throws -> (Spool, Spool.Segment) {
        do {
            let spool = try Spool(configuration: .init(directory: directory, segmentBytes: 1024), files: files)
            for start in [0, 100, 200] { #expect(try spool.append(SpoolTests.trades(start..<start + 100))) }
            try spool.close()
        }
        let spool = try Spool(configuration: .init(directory: directory, segmentBytes: 1024), files: files)
        #expect(spool.snapshot.segments == 3)
        let first = try #require(try spool.oldestSegment())
        return (spool, first)
    }

    /// What the flusher does with the head segment: read it whole, or report the failure.
    static func replayHead(_ spool: Spool) throws -> (trades: [OptionTrade]?, failure: Spool.ReadFailure?) {
        guard let segment = try spool.oldestSegment() else { return (nil, nil) }
        do {
            let trades = try spool.reader(for: segment).readAll().batches.flatMap(\.trades)
            spool.commit(segment)
            return (trades, nil)
        } catch {
            return (nil, spool.readFailed(segment, error: error))
        }
    }

    @Test("a segment deleted behind the spool's back leaves the queue at once and the next one is served")
    func deleted() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (spool, first) = try threeSegments()
        #expect(unlink(first.path) == 0)
        #expect(try Self.replayHead(spool).failure == .vanished)
        #expect(spool.snapshot.vanishedSegments == 1)
        #expect(spool.snapshot.segments == 2)
        #expect(try Self.replayHead(spool).trades == SpoolTests.trades(100..<200))
        #expect(try Self.replayHead(spool).trades == SpoolTests.trades(200..<300))
        #expect(try spool.oldestSegment() == nil)
    }

    @Test("a segment that cannot be read (a directory in its place) is quarantined after 3 tries and the next one is served")
    func unreadableIsQuarantined() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (spool, first) = try threeSegments()
        // Root reads a chmod 000 file all the same; a directory fails every read (EISDIR).
        #expect(unlink(first.path) == 0)
        #expect(mkdir(first.path, 0o700) == 0)
        #expect(try Self.replayHead(spool).failure == .willRetry(attempt: 1))
        #expect(try Self.replayHead(spool).failure == .willRetry(attempt: 2))
        let name = URL(fileURLWithPath: first.path).lastPathComponent
        let quarantined = directory + "/quarantine-" + name
        let third = try Self.replayHead(spool).failure
        #expect(third == .quarantined(path: quarantined))
        #expect(third?.gaveUp == true)
        #expect(spool.snapshot.quarantinedSegments == 1)
        #expect(FileManager.default.fileExists(atPath: quarantined))
        #expect(!FileManager.default.fileExists(atPath: first.path))
        #expect(try Self.replayHead(spool).trades == SpoolTests.trades(100..<200))
        #expect(try Self.replayHead(spool).trades == SpoolTests.trades(200..<300))
        try spool.close()
        // A restart does not pick the quarantined file up again.
        let reopened = try Spool(configuration: .init(directory: directory))
        #expect(reopened.snapshot.segments == 0)
        #expect(try reopened.oldestSegment() == nil)
    }

    @Test("an I/O error reading a segment is retried, then quarantined; one that heals in time is replayed")
    func ioError() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let failing = Mutex<Set<String>>([])
        let failuresLeft = Mutex<[String: Int]>([:])
        var layer = SpoolFileLayer.system
        layer.open = { path, flags, mode in
            let fail = failing.withLock { $0.contains(path) } || failuresLeft.withLock { left in
                guard let count = left[path], count > 0 else { return false }
                left[path] = count - 1
                return true
            }
            return fail ? -EIO : SpoolFileLayer.system.open(path, flags, mode)
        }
        let (spool, first) = try threeSegments(files: layer)
        failing.withLock { _ = $0.insert(first.path) }
        for attempt in 1...2 { #expect(try Self.replayHead(spool).failure == .willRetry(attempt: attempt)) }
        #expect(try Self.replayHead(spool).failure?.gaveUp == true)
        // The next segment fails twice, then reads: its trades are replayed.
        let second = try #require(try spool.oldestSegment())
        failuresLeft.withLock { $0[second.path] = 2 }
        #expect(try Self.replayHead(spool).failure == .willRetry(attempt: 1))
        #expect(try Self.replayHead(spool).failure == .willRetry(attempt: 2))
        #expect(try Self.replayHead(spool).trades == SpoolTests.trades(100..<200))
        #expect(try Self.replayHead(spool).trades == SpoolTests.trades(200..<300))
        #expect(spool.snapshot.quarantinedSegments == 1)
        #expect(spool.snapshot.vanishedSegments == 0)
    }
}

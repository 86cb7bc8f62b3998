import Foundation
import OptionsFeed
import Synchronization
import Testing

@testable import IngestSpool

/// A point on a virtual time line, for the sync schedule's table tests.
struct VirtualInstant: InstantProtocol {
    var offset: Duration
    static func ms(_ value: Int) -> VirtualInstant { VirtualInstant(offset: .milliseconds(value)) }
    func advanced(by duration: Duration) -> VirtualInstant { VirtualInstant(offset: offset + duration) }
    func duration(to other: VirtualInstant) -> Duration { other.offset - offset }
    static func < (lhs: VirtualInstant, rhs: VirtualInstant) -> Bool { lhs.offset < rhs.offset }
}

@Suite("Disk spool: group commit")
struct SpoolSyncTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-sync-\(UUID().uuidString)").path

    @Test("a record written at t is due for its sync at t + interval, and one sync covers every record before it")
    func schedule() {
        var schedule = SpoolSyncSchedule<VirtualInstant>(interval: .milliseconds(500))
        #expect(schedule.deadline == nil)
        #expect(!schedule.isDue(at: .ms(10_000)))
        #expect(schedule.written(at: .ms(1000)) == false)
        #expect(schedule.deadline == .ms(1500))
        // Later records share the first one's deadline: group commit.
        #expect(schedule.written(at: .ms(1200)) == false)
        #expect(schedule.written(at: .ms(1499)) == false)
        #expect(schedule.deadline == .ms(1500))
        #expect(!schedule.isDue(at: .ms(1499)))
        #expect(schedule.isDue(at: .ms(1500)))
        // A record written after the deadline with no sync yet: the append syncs.
        #expect(schedule.written(at: .ms(1600)) == true)
        schedule.synced()
        #expect(schedule.deadline == nil)
        #expect(!schedule.isDue(at: .ms(99_999)))
        #expect(schedule.written(at: .ms(2000)) == false)
        #expect(schedule.deadline == .ms(2500))
    }

    @Test("an interval of zero syncs every record before its append returns")
    func zeroInterval() {
        var schedule = SpoolSyncSchedule<VirtualInstant>(interval: .zero)
        #expect(schedule.written(at: .ms(0)) == true)
        schedule.synced()
        #expect(schedule.written(at: .ms(0)) == true)
    }

    @Test("a failed sync is tried again one interval later, not at once")
    func failedSync() {
        var schedule = SpoolSyncSchedule<VirtualInstant>(interval: .milliseconds(500))
        _ = schedule.written(at: .ms(0))
        #expect(schedule.isDue(at: .ms(500)))
        schedule.syncFailed(at: .ms(500))
        #expect(!schedule.isDue(at: .ms(999)))
        #expect(schedule.deadline == .ms(1000))
        // Nothing unsynced: a failure report changes nothing.
        schedule.synced()
        schedule.syncFailed(at: .ms(2000))
        #expect(schedule.deadline == nil)
    }

    /// A clock the test moves by hand.
    final class HandClock: Sendable {
        let start = ContinuousClock.now
        let elapsed = Mutex<Duration>(.zero)
        func advance(_ duration: Duration) { elapsed.withLock { $0 += duration } }
        var now: @Sendable () -> ContinuousClock.Instant { { [self] in start + elapsed.withLock { $0 } } }
    }

    @Test("the spool fdatasyncs within SPOOL_SYNC_MS of a write, without any append to do it")
    func spoolSyncsOnDeadline() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = FillingDisk()
        let clock = HandClock()
        let spool = try Spool(
            configuration: .init(directory: directory, syncInterval: .milliseconds(500)), files: disk.layer, now: clock.now,
            syncThread: false)
        #expect(spool.syncIfDue() == .idle)
        #expect(try spool.append(SpoolTests.trades(0..<10)))
        clock.advance(.milliseconds(200))
        #expect(try spool.append(SpoolTests.trades(10..<20)))
        #expect(disk.syncs.load(ordering: .relaxed) == 0)
        #expect(spool.syncIfDue() == .wait(.milliseconds(300)))
        clock.advance(.milliseconds(299))
        #expect(spool.syncIfDue() == .wait(.milliseconds(1)))
        #expect(disk.syncs.load(ordering: .relaxed) == 0)
        clock.advance(.milliseconds(1))
        #expect(spool.syncIfDue() == .idle)
        #expect(disk.syncs.load(ordering: .relaxed) == 1)
        // Nothing new: no more syncs, however long.
        clock.advance(.seconds(60))
        #expect(spool.syncIfDue() == .idle)
        #expect(disk.syncs.load(ordering: .relaxed) == 1)
        // An append after a missed deadline syncs itself before returning.
        #expect(try spool.append(SpoolTests.trades(20..<30)))
        clock.advance(.seconds(1))
        #expect(try spool.append(SpoolTests.trades(30..<40)))
        #expect(disk.syncs.load(ordering: .relaxed) == 2)
        try spool.close()
        #expect(spool.syncIfDue() == .stop)
    }

    @Test("SPOOL_SYNC_MS=0 fdatasyncs every record before append returns")
    func syncEveryRecord() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = FillingDisk()
        let spool = try Spool(configuration: .init(directory: directory, syncInterval: .zero), files: disk.layer)
        for round in 1...3 {
            #expect(try spool.append(SpoolTests.trades(0..<5)))
            #expect(disk.syncs.load(ordering: .relaxed) == round)
        }
    }

    @Test("a failed fdatasync where the append must sync refuses the batch and cuts its record back")
    func failedSyncOnAppend() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = FillingDisk()
        var layer = disk.layer
        let failSync = Atomic<Bool>(false)
        layer.syncData = { descriptor in failSync.load(ordering: .relaxed) ? EIO : SpoolFileLayer.system.syncData(descriptor) }
        let spool = try Spool(configuration: .init(directory: directory, syncInterval: .zero), files: layer)
        #expect(try spool.append(SpoolTests.trades(0..<5)))
        failSync.store(true, ordering: .relaxed)
        #expect(throws: Spool.SpoolError.self) { try spool.append(SpoolTests.trades(5..<10)) }
        #expect(spool.snapshot.syncFailures == 1)
        #expect(spool.snapshot.writeFailures == 1)
        failSync.store(false, ordering: .relaxed)
        #expect(try spool.append(SpoolTests.trades(10..<15)))
        let read = try spool.reader(for: try #require(try spool.oldestSegment())).readAll()
        #expect(read.batches == [.trades(SpoolTests.trades(0..<5)), .trades(SpoolTests.trades(10..<15))])
        #expect(read.corrupt == 0)
    }

    @Test("the spool's own thread syncs a record when nobody appends or flushes after it")
    func syncThread() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let synced = DispatchSemaphore(value: 0)
        var layer = SpoolFileLayer.system
        layer.syncData = { descriptor in
            defer { synced.signal() }
            return SpoolFileLayer.system.syncData(descriptor)
        }
        let spool = try Spool(configuration: .init(directory: directory, syncInterval: .milliseconds(20)), files: layer)
        #expect(try spool.append(SpoolTests.trades(0..<10)))
        // Waits for the event itself (bounded), not for a guessed time.
        #expect(synced.wait(timeout: .now() + 10) == .success)
        try spool.close()
    }

    @Test("creating and deleting a segment fsyncs the spool directory")
    func directorySync() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let directorySyncs = Atomic<Int>(0)
        var layer = SpoolFileLayer.system
        layer.sync = { descriptor in
            var status = stat()
            if fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFDIR { directorySyncs.add(1, ordering: .relaxed) }
            return SpoolFileLayer.system.sync(descriptor)
        }
        let spool = try Spool(configuration: .init(directory: directory), files: layer)
        #expect(try spool.append(SpoolTests.trades(0..<10)))
        #expect(directorySyncs.load(ordering: .relaxed) == 1)
        let segment = try #require(try spool.oldestSegment())
        spool.commit(segment)
        #expect(directorySyncs.load(ordering: .relaxed) == 2)
    }
}

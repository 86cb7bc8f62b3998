import IngestPipeline
import IngestSpool
import Synchronization

/// How far the commits have come, by receive time: the backfill's ordering
/// rule (docs/design.md §5.8.1) waits on it, so that no streamed trade of a
/// window is committed after the window's backfill.
///
/// Only the flusher moves trades between the buffer, its batches in flight and
/// the spool, so the watermark is read only while the flusher waits for work:
/// then no batch is in flight and no spool segment is open, and the flusher
/// cannot leave the wait while a read holds the lock. The feed reader adds to
/// the spool only what it has just received: a full buffer's overflow, and
/// frames behind a backlog, which the spool takes only while it holds one,
/// decided under the lock its commits take (`Spool.appendBehindBacklog`), so
/// no frame lands behind a backlog the flusher saw drain. With the spool empty,
/// every trade that is not in the buffer has been committed (or refused and
/// dead-lettered, or counted as lost), and the buffer is in receive order from
/// its front (a batch handed back goes to the front). So every trade received
/// before the front's `received_at` is settled; with the buffer empty, every
/// trade received more than `appendSlack` ago (a frame is stamped, decoded and
/// appended in well under that).
public final class CommitWatermark: Sendable {
    /// How long a received frame may take to reach the buffer (1 s).
    public static let appendSlackMicros: Int64 = 1_000_000

    private let idle = Mutex(false)
    private let buffer: RecordBuffer
    private let spool: Spool?

    public init(buffer: RecordBuffer, spool: Spool?) {
        self.buffer = buffer
        self.spool = spool
    }

    /// The flusher starts (`true`) or stops (`false`) waiting for work.
    func flusherWaiting(_ waiting: Bool) {
        idle.withLock { $0 = waiting }
    }

    /// Every trade received before this time (Unix µs, this process's clock,
    /// the trades' `received_at`) is settled; `nil` while the flusher is busy
    /// or the spool holds trades (nothing can be said then: ask again later).
    public func settledBefore(nowMicros: Int64) -> Int64? {
        idle.withLock { waiting in
            guard waiting, spool?.isEmpty ?? true else { return nil }
            return buffer.oldestReceivedAtMicros ?? nowMicros - Self.appendSlackMicros
        }
    }
}

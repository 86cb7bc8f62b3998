#if canImport(Glibc)
import Glibc
#endif

/// Writing bytes to a file descriptor in full: the log sink, the spool and the
/// frame recorder all go through here, so short writes and `EINTR` are
/// handled in one place.
public enum DescriptorWrite {
    /// A write that stopped before every byte was written.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// `errno` of the failing `write(2)` (`EAGAIN` for a non-blocking descriptor that is full).
        public var code: Int32
        /// Bytes that did reach the descriptor before the failure.
        public var written: Int

        public init(code: Int32, written: Int) {
            self.code = code
            self.written = written
        }

        public var description: String { "write failed after \(written) bytes: errno \(code)" }
    }

    /// Writes every byte of `bytes` to `descriptor`, retrying short writes and
    /// `EINTR`; throws on any other error with how much was written.
    public static func all(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                let code = errno
                if code == EINTR { continue }
                throw Failure(code: code, written: offset)
            }
            if written == 0 { throw Failure(code: EIO, written: offset) }
            offset += written
        }
    }

    /// `all(_:to:)` for an array of bytes.
    public static func all(_ bytes: [UInt8], to descriptor: Int32) throws(Failure) {
        var failure: Failure?
        bytes.withUnsafeBytes { buffer in
            do throws(Failure) { try all(buffer, to: descriptor) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// The file operations of the spool, as closures: the real ones (`system`)
/// go to the kernel, through `DescriptorWrite` for writes; tests put in a
/// layer that fails where a full or failing disk would (after K bytes of a
/// write, at `ftruncate`, at `fdatasync`, at a read) to check that the spool
/// keeps its promises when the disk does not.
///
/// Every call reports failure as an `errno` value (0 = success), so a test
/// layer needs no global state.
package struct SpoolFileLayer: Sendable {
    /// Opens `path` with `flags` (`O_CLOEXEC` added) and `mode`: a descriptor, or `-errno`.
    package var open: @Sendable (_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32
    /// Writes every byte or throws how many reached the file.
    package var write: @Sendable (_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) throws(DescriptorWrite.Failure) -> Void
    /// Reads up to `buffer.count` bytes: how many (0 at the end), or `-errno`.
    package var read: @Sendable (_ descriptor: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Int
    /// `ftruncate(2)`: 0 or `errno`.
    package var truncate: @Sendable (_ descriptor: Int32, _ length: Int64) -> Int32
    /// `fdatasync(2)`: 0 or `errno`.
    package var syncData: @Sendable (_ descriptor: Int32) -> Int32
    /// `fsync(2)`: 0 or `errno`.
    package var sync: @Sendable (_ descriptor: Int32) -> Int32
    package var close: @Sendable (_ descriptor: Int32) -> Void
    /// `rename(2)`: 0 or `errno`.
    package var rename: @Sendable (_ from: String, _ to: String) -> Int32
    /// `unlink(2)`: 0 or `errno`.
    package var unlink: @Sendable (_ path: String) -> Int32

    /// The kernel's calls.
    package static let system = SpoolFileLayer(
        open: { path, flags, mode in
            let descriptor = Glibc.open(path, flags | O_CLOEXEC, mode)
            return descriptor >= 0 ? descriptor : -errno
        },
        write: { descriptor, bytes throws(DescriptorWrite.Failure) in try DescriptorWrite.all(bytes, to: descriptor) },
        read: { descriptor, buffer in
            while true {
                let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
                if count >= 0 { return count }
                if errno != EINTR { return -Int(errno) }
            }
        },
        truncate: { descriptor, length in
            while ftruncate(descriptor, off_t(length)) != 0 {
                if errno != EINTR { return errno }
            }
            return 0
        },
        syncData: { descriptor in fdatasync(descriptor) == 0 ? 0 : errno },
        sync: { descriptor in fsync(descriptor) == 0 ? 0 : errno },
        close: { descriptor in _ = Glibc.close(descriptor) },
        rename: { from, to in Glibc.rename(from, to) == 0 ? 0 : errno },
        unlink: { path in Glibc.unlink(path) == 0 ? 0 : errno })

    /// fsyncs the directory `path`, so that a file created, renamed or
    /// deleted in it stays so after a power loss: 0 or `errno`.
    func syncDirectory(_ path: String) -> Int32 {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY, 0)
        guard descriptor >= 0 else { return -descriptor }
        defer { close(descriptor) }
        return sync(descriptor)
    }
}

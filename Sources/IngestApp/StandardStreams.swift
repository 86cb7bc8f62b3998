#if canImport(Glibc)
import Glibc
#endif
import IngestSpool

/// Lines for a person or a script on the standard streams: one-line errors,
/// summaries, progress. Written straight to the descriptor, whole (a
/// partial write is continued); a stream that refuses it (a closed pipe)
/// loses the text, and the process goes on.
public enum StandardStreams {
    /// `text` to standard error.
    public static func error(_ text: String) { write(text, to: STDERR_FILENO) }

    /// `text` to standard output.
    public static func output(_ text: String) { write(text, to: STDOUT_FILENO) }

    static func write(_ text: String, to descriptor: Int32) {
        var text = text
        text.withUTF8 { bytes in try? DescriptorWrite.all(UnsafeRawBufferPointer(bytes), to: descriptor) }
    }
}

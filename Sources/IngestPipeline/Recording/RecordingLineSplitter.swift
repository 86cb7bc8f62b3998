/// Cuts the bytes of a recording, as they arrive in chunks of any size, into
/// numbered lines (docs/design.md §5.6: a bad line is reported with its line number).
///
/// No I/O: the replay reader appends what it read and takes lines until
/// none is complete; at the end of the input `finish()` turns what is left
/// into a last, unterminated line: a recording cut off mid-write (a crash, a
/// full disk, a copy still in progress) ends that way. A line longer than
/// `maximumLineBytes` is not buffered whole: it is reported as oversized and
/// skipped up to its newline, so one damaged stretch cannot exhaust memory.
public struct RecordingLineSplitter: Sendable {
    public struct Line: Sendable, Equatable {
        /// 1-based line number in the input.
        public var number: Int
        /// The bytes, without the newline (empty for an oversized line).
        public var bytes: ArraySlice<UInt8>
        /// `false` for the last line of an input that does not end with a newline.
        public var terminated: Bool
        /// The line was longer than `maximumLineBytes` and was skipped.
        public var oversized: Bool
    }

    /// Longest line kept; a recorded frame is at most `WS_MAX_FRAME_BYTES`
    /// (1 MiB by default), six times that when every byte is escaped.
    public let maximumLineBytes: Int
    /// 64 MiB: ten times the longest line a default-sized frame can make.
    public static let defaultMaximumLineBytes = 64 << 20
    private var buffer: [UInt8] = []
    /// Where the next line starts in `buffer`.
    private var start = 0
    /// Where the search for the next newline resumes.
    private var scanned = 0
    private var linesSeen = 0
    /// Inside an oversized line: bytes are dropped until its newline.
    private var skipping = false
    private var finished = false

    public init(maximumLineBytes: Int = defaultMaximumLineBytes) {
        self.maximumLineBytes = max(1, maximumLineBytes)
    }

    /// Lines handed out so far.
    public var lineCount: Int { linesSeen }

    /// Adds the next bytes of the input.
    public mutating func append(_ chunk: some Collection<UInt8>) {
        precondition(!finished, "append after finish")
        if start > 0, start >= buffer.count / 2 {
            // Drop what was handed out before growing: the buffer stays about one chunk plus one line.
            buffer.removeSubrange(0..<start)
            scanned -= start
            start = 0
        }
        buffer.append(contentsOf: chunk)
    }

    /// The input is over: the bytes after the last newline, if any, become the last line.
    public mutating func finish() {
        finished = true
    }

    /// The next complete line, or `nil` when more input (or `finish()`) is needed.
    public mutating func nextLine() -> Line? {
        if let newline = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
            let bytes = buffer[start..<newline]
            start = newline + 1
            scanned = start
            linesSeen += 1
            if skipping {
                skipping = false
                return Line(number: linesSeen, bytes: [], terminated: true, oversized: true)
            }
            return Line(number: linesSeen, bytes: bytes, terminated: true, oversized: false)
        }
        scanned = buffer.count
        if buffer.count - start > maximumLineBytes {
            // Too long to be a recorded frame: stop keeping it, report it once its newline comes.
            skipping = true
            buffer.removeSubrange(start...)
            scanned = start
        }
        guard finished, start < buffer.count || skipping else { return nil }
        let bytes = buffer[start...]
        start = buffer.count
        scanned = start
        linesSeen += 1
        let oversized = skipping
        skipping = false
        return Line(number: linesSeen, bytes: oversized ? [] : bytes, terminated: false, oversized: oversized)
    }
}

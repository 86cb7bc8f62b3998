/// When a feed recording rotates and what the rotation renames (docs/design.md §5.6:
/// `RECORD_MAX_BYTES`, `RECORD_KEEP`). A recording left running for weeks
/// must not fill the disk: the file being written (`FILE`) is sealed when the
/// next line would take it past `maxBytes`, and renamed the way logrotate
/// does it: `FILE` → `FILE.1`, `FILE.1` → `FILE.2`, …, so `FILE.1` is always
/// the newest sealed file and at most `keep` of them stay on disk.
///
/// A value type with no I/O: the recorder asks it about every line and
/// carries out the plan it returns.
public struct RecordingRotation: Sendable, Equatable {
    public struct Configuration: Sendable, Equatable {
        /// A file is sealed before a line would take it past this size
        /// (`RECORD_MAX_BYTES`, default 256 MiB). A line longer than this
        /// still goes whole into a file of its own: lines are never split.
        public var maxBytes: Int64
        /// Sealed files kept beside the one being written (`RECORD_KEEP`,
        /// default 5): disk use stays below `(keep + 1) × maxBytes`.
        public var keep: Int

        public init(maxBytes: Int64 = 256 << 20, keep: Int = 5) {
            self.maxBytes = max(1, maxBytes)
            self.keep = max(1, keep)
        }
    }

    /// What to do with the next line.
    public enum Decision: Sendable, Equatable {
        /// Append it to the file being written.
        case append
        /// Seal the file (fsync), carry out `plan`, start a fresh file, then append.
        case rotateFirst
    }

    /// The file operations of one rotation, in the order to perform them.
    public struct Plan: Sendable, Equatable {
        /// The oldest sealed file, which falls out of the kept set (it may not exist).
        public var delete: String
        /// Renames, oldest first, so that no rename overwrites a file still to be moved.
        public var renames: [Rename]
    }

    public struct Rename: Sendable, Equatable {
        public var from: String
        public var to: String
    }

    public let configuration: Configuration
    /// Bytes in the file being written.
    public private(set) var currentBytes: Int64

    /// `currentBytes`: the size of the file when recording starts (recording appends).
    public init(configuration: Configuration, currentBytes: Int64 = 0) {
        self.configuration = configuration
        self.currentBytes = max(0, currentBytes)
    }

    /// Decides where a line of `lineBytes` bytes goes and counts it there.
    public mutating func admit(lineBytes: Int) -> Decision {
        let size = Int64(lineBytes)
        if currentBytes > 0, currentBytes + size > configuration.maxBytes {
            currentBytes = size
            return .rotateFirst
        }
        currentBytes += size
        return .append
    }

    /// The renames that seal `path`, keeping `keep` sealed files.
    public static func plan(path: String, keep: Int) -> Plan {
        let keep = max(1, keep)
        var renames: [Rename] = []
        for number in stride(from: keep - 1, through: 1, by: -1) {
            renames.append(Rename(from: "\(path).\(number)", to: "\(path).\(number + 1)"))
        }
        renames.append(Rename(from: path, to: "\(path).1"))
        return Plan(delete: "\(path).\(keep)", renames: renames)
    }

    /// The files of a recording, oldest first: the order to replay them in.
    public static func filesOldestFirst(path: String, keep: Int) -> [String] {
        stride(from: max(1, keep), through: 1, by: -1).map { "\(path).\($0)" } + [path]
    }
}

/// The trade-condition lists the decoder has met, shared between trades: a
/// feed repeats a handful of lists (`[227]`, `[209]`, `[219, 227]` …), so a
/// trade reuses the stored array instead of allocating its own (docs/performance.md).
/// Lists of up to three codes are kept, keyed by the codes packed in 64 bits;
/// longer ones are rare and get their own array.
public struct ConditionLists: Sendable {
    /// Distinct lists kept before the table starts over (bounded memory).
    public static let defaultCapacity = 4096
    /// The longest list kept.
    static let maximumShared = 3

    private var lists: [UInt64: [Int16]] = [:]
    public let capacity: Int

    public init(capacity: Int = ConditionLists.defaultCapacity) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { lists.count }

    /// The list for codes collected in `codes`: the shared one for up to
    /// three, its own array for more.
    public mutating func list(_ codes: Codes) -> [Int16] {
        codes.long ?? list(codes.key)
    }

    /// The list of `count` (≤ 3) codes packed in `key` by `Key`.
    mutating func list(_ key: Key) -> [Int16] {
        if key.count == 0 { return [] }
        if let list = lists[key.packed] { return list }
        if lists.count >= capacity { lists.removeAll(keepingCapacity: true) }
        let list = key.codes
        lists[key.packed] = list
        return list
    }

    /// The codes of one list as a decoder reads them, one at a time: packed in
    /// a `Key` while they fit, in an array of their own once there are more.
    /// The feed decoder's two paths and the spool's decoder collect with it.
    public struct Codes: Sendable {
        var key = Key()
        var long: [Int16]?

        public init() {}

        /// How many codes were collected.
        public var count: Int { long?.count ?? key.count }

        @inline(__always)
        public mutating func append(_ code: Int16) {
            if long != nil {
                long!.append(code)
            } else if !key.append(code) {
                long = key.codes + [code]
            }
        }
    }

    /// Up to three codes and how many there are, in one word: a list's identity.
    struct Key: Sendable {
        /// Codes in the low 48 bits, 16 each; their count in the top 16.
        private(set) var packed: UInt64 = 0

        var count: Int { Int(packed >> 48) }

        /// Adds a code; `false` when the key is full (the caller keeps its own array).
        @inline(__always)
        mutating func append(_ code: Int16) -> Bool {
            let count = self.count
            guard count < ConditionLists.maximumShared else { return false }
            packed |= UInt64(UInt16(bitPattern: code)) << (16 * UInt64(count))
            packed = (packed & 0x0000_FFFF_FFFF_FFFF) | (UInt64(count + 1) << 48)
            return true
        }

        var codes: [Int16] {
            (0..<count).map { Int16(bitPattern: UInt16(truncatingIfNeeded: packed >> (16 * UInt64($0)))) }
        }
    }
}

/// The contracts the decoder has met, so that a trade on a known contract
/// reuses its parsed `OptionSymbol` (and its strings) instead of parsing and
/// allocating them again: in steady state decoding a trade allocates nothing
/// (issue 8). An open-addressing table keyed by the symbol's bytes.
///
/// Bounded: at `capacity` contracts it starts over empty, so a feed of ever
/// new contracts costs a re-parse now and then, never unbounded memory.
public struct SymbolTable: Sendable {
    /// Contracts kept before the table starts over. A busy options day trades
    /// some tens of thousands of contracts; 32 768 hold them in ~4 MB.
    public static let defaultCapacity = 32_768

    private struct Entry: Sendable {
        var hash: UInt64
        var symbol: OptionSymbol
    }

    private var slots: [Entry?]
    private var mask: Int
    public private(set) var count = 0
    public let capacity: Int

    public init(capacity: Int = SymbolTable.defaultCapacity) {
        self.capacity = max(1, capacity)
        // Below half full: probes stay short.
        var size = 16
        while size < 2 * self.capacity { size *= 2 }
        slots = []
        mask = size - 1
    }

    /// The symbol for these bytes: the one met before, or a freshly parsed one
    /// (remembered); `nil` when the bytes are no option symbol.
    public mutating func symbol(utf8 bytes: UnsafeRawBufferPointer) -> OptionSymbol? {
        if slots.isEmpty { slots = Array(repeating: nil, count: mask + 1) }
        let hash = Self.hash(bytes)
        var index = Int(truncatingIfNeeded: hash) & mask
        while let entry = slots[index] {
            if entry.hash == hash, Self.equal(entry.symbol.raw, bytes) { return entry.symbol }
            index = (index + 1) & mask
        }
        guard let parsed = OptionSymbol(utf8: bytes) else { return nil }
        if count == capacity {
            removeAll()
            return symbol(utf8: bytes)
        }
        slots[index] = Entry(hash: hash, symbol: parsed)
        count += 1
        return parsed
    }

    /// Forgets every contract (keeps the slots' storage).
    public mutating func removeAll() {
        for index in slots.indices { slots[index] = nil }
        count = 0
    }

    /// FNV-1a, 64 bit: a few cycles per byte, and symbols are ~20 bytes.
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    @inline(__always)
    static func equal(_ text: String, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var text = text
        return text.withUTF8 { utf8 in
            utf8.count == bytes.count && (utf8.isEmpty || memcmpEqual(utf8.baseAddress!, bytes.baseAddress!, utf8.count))
        }
    }

    @inline(__always)
    private static func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        let b = b.assumingMemoryBound(to: UInt8.self)
        for index in 0..<count where a[index] != b[index] { return false }
        return true
    }
}

/// The contracts the decoder has met, so that a trade on a known contract
/// reuses its parsed `OptionSymbol` (and its strings) instead of parsing and
/// allocating them again: in steady state decoding a trade allocates nothing
/// (docs/performance.md). An open-addressing table keyed by the symbol's bytes.
///
/// Bounded in entries and in bytes: at `capacity` contracts it starts over
/// empty, so a feed of ever new contracts costs a re-parse now and then, never
/// unbounded memory; and only option symbols are kept, which are at most
/// `OptionSymbol.maximumLength` (27) bytes (longer bytes are refused before
/// they are hashed). So the symbol text held is at most
/// `capacity × OptionSymbol.maximumLength` bytes (≈ 885 KB at the default),
/// besides the fixed cost per entry (slot arrays, one `Parts` object and the
/// underlying's string) — see `maximumTextBytes`.
public struct SymbolTable: Sendable {
    /// Contracts kept before the table starts over. A busy options day trades
    /// some tens of thousands of contracts; 32 768 hold them in ~4 MB.
    public static let defaultCapacity = 32_768

    /// The most bytes of symbol text the table holds: `capacity` symbols of at
    /// most `OptionSymbol.maximumLength` bytes each.
    public var maximumTextBytes: Int { capacity * OptionSymbol.maximumLength }

    /// Bytes of symbol text held now (the raw symbols' UTF-8).
    public var textBytes: Int {
        symbols.reduce(0) { $0 + ($1?.raw.utf8.count ?? 0) }
    }

    /// Open addressing over two parallel arrays: the probe compares hashes
    /// (0 = empty slot) and touches a symbol only on a hash match.
    private var hashes: [UInt64]
    private var symbols: [OptionSymbol?]
    private var mask: Int
    public private(set) var count = 0
    public let capacity: Int

    public init(capacity: Int = SymbolTable.defaultCapacity) {
        self.capacity = max(1, capacity)
        hashes = []
        symbols = []
        mask = -1
    }

    /// The symbol for these bytes: the one met before, or a freshly parsed one
    /// (remembered); `nil` when the bytes are no option symbol.
    public mutating func symbol(utf8 bytes: UnsafeRawBufferPointer) -> OptionSymbol? {
        // No option symbol is longer: a 70 000-byte one is not even hashed.
        guard bytes.count <= OptionSymbol.maximumLength else { return nil }
        let hash = Self.hash(bytes)
        var index = Int(truncatingIfNeeded: hash) & mask
        if !hashes.isEmpty {
            while hashes[index] != 0 {
                if hashes[index] == hash, let symbol = symbols[index], Self.equal(symbol.raw, bytes) { return symbol }
                index = (index + 1) & mask
            }
        }
        guard let parsed = OptionSymbol(utf8: bytes) else { return nil }
        if count == capacity { removeAll() }
        // Below half full, probes stay short. The table starts small and doubles, so a
        // decoder that meets few contracts (a test, a fuzz input) costs little memory.
        if 2 * (count + 1) > hashes.count {
            grow()
            index = Int(truncatingIfNeeded: hash) & mask
        }
        while hashes[index] != 0 { index = (index + 1) & mask }
        hashes[index] = hash
        symbols[index] = parsed
        count += 1
        return parsed
    }

    private mutating func grow() {
        let size = max(64, 2 * hashes.count)
        let oldHashes = hashes
        let oldSymbols = symbols
        hashes = Array(repeating: 0, count: size)
        symbols = Array(repeating: nil, count: size)
        mask = size - 1
        for (hash, symbol) in zip(oldHashes, oldSymbols) where hash != 0 {
            var index = Int(truncatingIfNeeded: hash) & mask
            while hashes[index] != 0 { index = (index + 1) & mask }
            hashes[index] = hash
            symbols[index] = symbol
        }
    }

    /// Forgets every contract (keeps the slots' storage).
    public mutating func removeAll() {
        for index in hashes.indices {
            hashes[index] = 0
            symbols[index] = nil
        }
        count = 0
    }

    /// 8 bytes at a time with a multiply-xorshift mix (a symbol is ~20 bytes:
    /// three rounds, not twenty); never 0, the empty slot.
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
        var offset = 0
        while offset + 8 <= bytes.count {
            hash = mix(hash ^ bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset += 8
        }
        if offset < bytes.count {
            var tail: UInt64 = 0
            for index in offset..<bytes.count { tail = tail << 8 | UInt64(bytes[index]) }
            hash = mix(hash ^ tail)
        }
        return hash | 1
    }

    @inline(__always)
    private static func mix(_ value: UInt64) -> UInt64 {
        var value = value &* 0xBF58_476D_1CE4_E5B9
        value ^= value >> 31
        value = value &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 29)
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

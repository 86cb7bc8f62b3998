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

    /// Open addressing over parallel arrays: the probe compares hashes (0 =
    /// empty slot), then the symbol's bytes kept in the slot itself (`keys`,
    /// `Key.words` words a slot), and touches the `OptionSymbol` only on a
    /// match: the symbol's own object and string are not read to find it.
    private var hashes: [UInt64]
    private var keys: [UInt64]
    private var symbols: [OptionSymbol?]
    private var mask: Int
    public private(set) var count = 0
    public let capacity: Int

    public init(capacity: Int = SymbolTable.defaultCapacity) {
        precondition(OptionSymbol.maximumLength < Key.words * 8, "a key holds a symbol's bytes and, in its last byte, their count")
        self.capacity = max(1, capacity)
        hashes = []
        keys = []
        symbols = []
        mask = -1
    }

    /// A symbol's bytes as four words, zero-padded, its length in the last
    /// word's top byte (an option symbol is at most 27 bytes), and their hash.
    struct Key {
        static let words = 4
        var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

        init(_ w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64) {
            (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
        }

        /// At most `OptionSymbol.maximumLength` bytes.
        @inline(__always)
        init(_ bytes: UnsafeRawBufferPointer) {
            var words = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: bytes) }
            (w0, w1, w2, w3) = words
            w3 |= UInt64(bytes.count) << 56
        }

        /// Never 0, the empty slot.
        @inline(__always)
        var hash: UInt64 {
            var hash: UInt64 = 0x9E37_79B9_7F4A_7C15
            hash = SymbolTable.mix(hash ^ w0)
            hash = SymbolTable.mix(hash ^ w1)
            hash = SymbolTable.mix(hash ^ w2)
            hash = SymbolTable.mix(hash ^ w3)
            return hash | 1
        }
    }

    /// The symbol for these bytes: the one met before, or a freshly parsed one
    /// (remembered); `nil` when the bytes are no option symbol.
    public mutating func symbol(utf8 bytes: UnsafeRawBufferPointer) -> OptionSymbol? {
        // No option symbol is longer: a 70 000-byte one is not even read.
        guard bytes.count <= OptionSymbol.maximumLength else { return nil }
        let key = Key(bytes)
        let hash = key.hash
        var index = Int(truncatingIfNeeded: hash) & mask
        if !hashes.isEmpty {
            while true {
                let slotHash = hashes[index]
                if slotHash == 0 { break }
                if slotHash == hash, matches(key, at: index) { return symbols[index] }
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
        store(hash, key, parsed, at: index)
        count += 1
        return parsed
    }

    @inline(__always)
    private func matches(_ key: Key, at index: Int) -> Bool {
        keys.withUnsafeBufferPointer { keys in
            let base = index &* Key.words
            return keys[base] == key.w0 && keys[base &+ 1] == key.w1 && keys[base &+ 2] == key.w2 && keys[base &+ 3] == key.w3
        }
    }

    private mutating func store(_ hash: UInt64, _ key: Key, _ symbol: OptionSymbol?, at index: Int) {
        hashes[index] = hash
        let base = index * Key.words
        (keys[base], keys[base + 1], keys[base + 2], keys[base + 3]) = (key.w0, key.w1, key.w2, key.w3)
        symbols[index] = symbol
    }

    private mutating func grow() {
        let size = max(64, 2 * hashes.count)
        let (oldHashes, oldKeys, oldSymbols) = (hashes, keys, symbols)
        hashes = Array(repeating: 0, count: size)
        keys = Array(repeating: 0, count: size * Key.words)
        symbols = Array(repeating: nil, count: size)
        mask = size - 1
        for slot in oldHashes.indices where oldHashes[slot] != 0 {
            let base = slot * Key.words
            let key = Key(oldKeys[base], oldKeys[base + 1], oldKeys[base + 2], oldKeys[base + 3])
            var index = Int(truncatingIfNeeded: oldHashes[slot]) & mask
            while hashes[index] != 0 { index = (index + 1) & mask }
            store(oldHashes[slot], key, oldSymbols[slot], at: index)
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

    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var value = value &* 0xBF58_476D_1CE4_E5B9
        value ^= value >> 31
        value = value &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 29)
    }
}

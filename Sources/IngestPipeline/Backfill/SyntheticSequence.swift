/// The `seq` of a backfilled row (docs/design.md §5.8.1). The REST API gives
/// a trade no sequence number, and the table's key is `(sym, ts, seq)`, so a
/// backfilled row gets a negative one worked out from its content and its
/// rank among identical trades of its millisecond:
/// `seq = −(1 + (h << 10 | rank))`, h the 52-bit FNV-1a hash of the price's
/// bit pattern, size, exchange and conditions.
///
/// Negative, so it never meets a streamed row's `q` (≥ 0) and a reader tells
/// backfilled rows by `seq < 0`; deterministic, so a second backfill of a
/// window computes the same keys and `ON CONFLICT DO NOTHING` holds even if
/// the multiset merge did not. Two different contents in one millisecond share
/// a key only if their hashes collide in 52 bits at the same rank.
public enum SyntheticSequence {
    /// Ranks per content and millisecond: 1024 (10 bits). More identical
    /// trades than this in one millisecond are not backfilled, only counted.
    public static let rankLimit = 1024

    /// Bits of the content hash: 52, so `h << 10 | rank` stays below 2^62.
    public static let hashBits = 52

    /// The sequence of the trade of this content with this rank; `nil` when `rank` ≥ `rankLimit`.
    public static func sequence(price: Double, size: Int64, exchange: Int16, conditions: [Int16], rank: Int) -> Int64? {
        guard rank >= 0, rank < rankLimit else { return nil }
        let hash = contentHash(price: price, size: size, exchange: exchange, conditions: conditions)
        return -(1 + Int64(bitPattern: hash << 10 | UInt64(rank)))
    }

    /// Whether a stored row came from backfill.
    public static func isSynthetic(_ sequence: Int64) -> Bool { sequence < 0 }

    /// 64-bit FNV-1a over the content's bytes, little-endian: price bits (8),
    /// size (8), exchange (2), the number of conditions (2) and each code (2);
    /// folded to `hashBits` by xor of the high bits into the low ones.
    public static func contentHash(price: Double, size: Int64, exchange: Int16, conditions: [Int16]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ value: UInt64, bytes: Int) {
            for shift in stride(from: 0, to: bytes * 8, by: 8) {
                hash ^= (value >> UInt64(shift)) & 0xFF
                hash = hash &* 0x0000_0100_0000_01B3
            }
        }
        mix(price.bitPattern, bytes: 8)
        mix(UInt64(bitPattern: size), bytes: 8)
        mix(UInt64(UInt16(bitPattern: exchange)), bytes: 2)
        mix(UInt64(conditions.count), bytes: 2)
        for code in conditions { mix(UInt64(UInt16(bitPattern: code)), bytes: 2) }
        let mask: UInt64 = (1 << UInt64(hashBits)) - 1
        return (hash >> UInt64(hashBits)) ^ (hash & mask)
    }
}

import OptionsFeed
import Testing

@testable import IngestPipeline

/// The multiset merge and the synthetic seq (docs/design.md §5.8.1): each
/// trade stored once, however often a window is backfilled.
@Suite("Backfill merge")
struct BackfillMergeTests {
    static let ticker = "O:SPY251219C00650000"
    let symbol = OptionSymbol(BackfillMergeTests.ticker)!
    let window = BackfillWindow(fromMs: 1_000, toMs: 2_000)
    let now: Int64 = 1_764_685_900_000_000

    func rest(_ ms: Int64, _ price: Double = 1.25, size: Int64 = 1, exchange: Int16 = 312, conditions: [Int16] = [209], ns: Int64 = 0)
        -> RESTTrade
    {
        RESTTrade(sipTimestampNs: ms * 1_000_000 + ns, price: price, size: size, exchange: exchange, conditions: conditions)
    }

    func streamed(_ ms: Int64, _ price: Double = 1.25, size: Int64 = 1, exchange: Int16 = 312, conditions: [Int16] = [209], seq: Int64)
        -> OptionTrade
    {
        OptionTrade(symbol: symbol, exchange: exchange, price: price, size: size, conditions: conditions, timestampMs: ms, sequence: seq)
    }

    func merge(stored: [OptionTrade], rest: [RESTTrade]) -> BackfillMerge {
        BackfillMerge(symbol: symbol, window: window, stored: stored, rest: rest, receivedAtMicros: now)
    }

    @Test("three identical trades in one millisecond, none stored: three rows, ranks 0, 1, 2, all seq < 0")
    func identicalInOneMillisecond() {
        let result = merge(stored: [], rest: [rest(1500, ns: 1), rest(1500, ns: 2), rest(1500, ns: 999_999)])
        #expect(result.inserted == 3)
        let expected = (0..<3).map {
            SyntheticSequence.sequence(price: 1.25, size: 1, exchange: 312, conditions: [209], rank: $0)!
        }
        #expect(Set(result.inserts.map(\.sequence)) == Set(expected))
        #expect(
            result.inserts.allSatisfy { $0.sequence < 0 && $0.timestampMs == 1500 && $0.receivedAtMicros == now && $0.symbol == symbol })
    }

    @Test("trades at the edges that the feed stored too are matched, the missed ones in between inserted")
    func edgesInBothSources() {
        let stored = [streamed(1000, seq: 7), streamed(2000, 2.5, seq: 9)]
        let result = merge(stored: stored, rest: [rest(1000), rest(1400, 1.3), rest(1600, 1.4, conditions: []), rest(2000, 2.5)])
        #expect(result.matched == 2)
        #expect(result.inserts.map(\.timestampMs) == [1400, 1600])
        #expect(result.inserts[1].conditions == [])
        #expect(result.restTrades == 4 && result.outsideWindow == 0 && result.overRankLimit == 0)
    }

    @Test("two identical trades stored, three from REST: one row, rank 2")
    func surplusRanks() {
        let result = merge(stored: [streamed(1500, seq: 1), streamed(1500, seq: 2)], rest: [rest(1500), rest(1500), rest(1500)])
        #expect(result.matched == 2)
        #expect(
            result.inserts.map(\.sequence) == [SyntheticSequence.sequence(price: 1.25, size: 1, exchange: 312, conditions: [209], rank: 2)!]
        )
    }

    @Test("a window backfilled twice: the second merge over stored + inserted rows inserts nothing")
    func backfilledTwice() {
        let stored = [streamed(1200, seq: 3)]
        let trades = [rest(1200), rest(1200), rest(1300, 1.5), rest(1300, 1.5, size: 2), rest(1999, 0.05, exchange: 301)]
        let first = merge(stored: stored, rest: trades)
        #expect(first.inserted == 4)
        let second = merge(stored: stored + first.inserts, rest: trades)
        #expect(second.inserted == 0)
        #expect(second.matched == trades.count)
        // One more identical trade from a later, wider fetch adds just that one, with the next rank.
        let third = merge(stored: stored + first.inserts, rest: trades + [rest(1200)])
        #expect(
            third.inserts.map(\.sequence) == [SyntheticSequence.sequence(price: 1.25, size: 1, exchange: 312, conditions: [209], rank: 2)!])
    }

    @Test("pages in any order give the same inserts")
    func orderIndependent() {
        let pages = [
            [rest(1100), rest(1100), rest(1200, 2.0)],
            [rest(1300, 1.0, size: 3), rest(1100, conditions: [])],
            [rest(1900, 3.0, exchange: 5), rest(1100)],
        ]
        let stored = [streamed(1100, seq: 1)]
        let forward = merge(stored: stored, rest: pages.flatMap { $0 })
        let backward = merge(stored: stored, rest: pages.reversed().flatMap { $0.reversed() })
        #expect(forward == backward)
        #expect(forward.inserted == 6, "2 more of 1100 [209], 1100 [], 1200, 1300, 1900")
    }

    @Test("more than 1024 identical trades in one millisecond: 1024 rows, the excess counted")
    func overRankLimit() {
        let trades = Array(repeating: rest(1500), count: 1030)
        let result = merge(stored: [streamed(1500, seq: 4)], rest: trades)
        #expect(result.inserted == SyntheticSequence.rankLimit - 1)
        #expect(result.matched == 1)
        #expect(result.overRankLimit == 6)
        #expect(Set(result.inserts.map(\.sequence)).count == result.inserted, "distinct keys")
        #expect(result.restTrades == result.outsideWindow + result.matched + result.inserted + result.overRankLimit)
    }

    @Test("REST trades outside the window and stored rows of other contracts or times are not counted")
    func outsideIgnored() {
        let other = OptionTrade(
            symbol: OptionSymbol("O:SPY251219P00650000")!, exchange: 312, price: 1.25, size: 1, conditions: [209], timestampMs: 1500,
            sequence: 1)
        let result = merge(
            stored: [other, streamed(2001, seq: 2)], rest: [rest(999, ns: 999_999), rest(2001), rest(1500), rest(2000, ns: 999_999)])
        #expect(result.outsideWindow == 2)
        #expect(result.inserts.map(\.timestampMs) == [1500, 2000])
    }

    @Test("trades differing only in price bits, size, exchange or conditions are different keys")
    func keyFields() {
        let base = rest(1500)
        let result = merge(
            stored: [streamed(1500, seq: 1)],
            rest: [
                base, rest(1500, 1.25.nextUp), rest(1500, size: 2), rest(1500, exchange: 313), rest(1500, conditions: [209, 219]),
                rest(1500, conditions: [219, 209]),
            ])
        #expect(result.matched == 1)
        #expect(result.inserted == 5)
    }

    @Test("a rank whose seq a stored row of that millisecond already holds is passed over for the next")
    func takenRankSkipped() {
        let rank1 = SyntheticSequence.sequence(price: 1.25, size: 1, exchange: 312, conditions: [209], rank: 1)!
        let rank2 = SyntheticSequence.sequence(price: 1.25, size: 1, exchange: 312, conditions: [209], rank: 2)!
        // One backfilled row at rank 1 (its rank-0 sibling gone): m = 1, n = 2, rank 1 is taken, so rank 2.
        let result = merge(stored: [streamed(1500, seq: rank1)], rest: [rest(1500), rest(1500)])
        #expect(result.inserts.map(\.sequence) == [rank2])
        #expect(result.matched == 1)
    }

    @Test("a ticker that is no option symbol is an error")
    func badTicker() {
        #expect(throws: BackfillMerge.BadTicker(ticker: "SPY")) {
            try BackfillMerge(ticker: "SPY", window: window, stored: [], rest: [rest(1500)], receivedAtMicros: now)
        }
        let parsed = try? BackfillMerge(ticker: Self.ticker, window: window, stored: [], rest: [rest(1500)], receivedAtMicros: now)
        #expect(parsed?.inserted == 1)
    }

    @Test("the synthetic seq: negative, 52-bit hash above a 10-bit rank, deterministic; none from rank 1024")
    func syntheticSequence() {
        let hash = SyntheticSequence.contentHash(price: 1.25, size: 1, exchange: 312, conditions: [209])
        #expect(hash < 1 << 52)
        #expect(SyntheticSequence.sequence(price: 1.25, size: 1, exchange: 312, conditions: [209], rank: 5) == -(1 + Int64(hash << 10 | 5)))
        #expect(SyntheticSequence.sequence(price: 1.25, size: 1, exchange: 312, conditions: [209], rank: 1024) == nil)
        #expect(SyntheticSequence.contentHash(price: 1.25, size: 1, exchange: 312, conditions: []) != hash)
        #expect(SyntheticSequence.contentHash(price: 1.25, size: 1, exchange: 312, conditions: [209, 0]) != hash)
        let extreme = SyntheticSequence.sequence(
            price: .greatestFiniteMagnitude, size: .max, exchange: .max, conditions: [.min], rank: 1023)
        #expect(extreme.map { $0 < 0 } == true)
        #expect(SyntheticSequence.isSynthetic(-1) && !SyntheticSequence.isSynthetic(0))
        // Fixed value: a change of the hash would give rows already backfilled new keys.
        #expect(
            SyntheticSequence.contentHash(price: 1.0, size: 1, exchange: 0, conditions: [])
                == Self.fnv52(of: [0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
    }

    /// FNV-1a 64 over `bytes`, xor-folded to 52 bits: the reference the hash is checked against.
    static func fnv52(of bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        return (hash >> 52) ^ (hash & (1 << 52 - 1))
    }
}

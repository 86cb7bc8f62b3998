import FeedSimulator
import Testing

@Suite("BarAggregator: A and AM bars of the stream's own valid trades")
struct BarAggregatorTests {
    static func trade(_ sym: String, _ t: Int64, _ cents: Int64, _ size: Int64, fault: SimTrade.Fault? = nil) -> SimTrade {
        SimTrade(sym: sym, t: t, q: t, priceCents: cents, size: size, x: 300, conditions: [], fault: fault)
    }

    @Test("a bar closes when the first valid trade at or after its end arrives, seconds before minutes, contracts by first trade")
    func closing() {
        var bars = BarAggregator(startMs: 0)
        var closed: [SimBar] = []
        for trade in [
            Self.trade("X", 59_000, 120, 2), Self.trade("X", 59_500, 100, 1), Self.trade("Y", 59_999, 50, 4),
            Self.trade("X", 60_100, 999, 9, fault: .zeroPrice), Self.trade("X", 60_200, 1, 1, fault: .badSymbol),
        ] {
            bars.add(trade, closing: &closed)
        }
        #expect(closed.isEmpty, "invalid trades are no trades: they neither count nor close a bar")
        bars.add(Self.trade("X", 60_300, 130, 3), closing: &closed)
        #expect(closed.map(\.period) == [.second, .second, .minute, .minute])
        #expect(closed.map(\.sym) == ["X", "Y", "X", "Y"])
        let x = closed[0]
        #expect((x.start, x.end) == (59_000, 60_000))
        #expect((x.openCents, x.highCents, x.lowCents, x.closeCents, x.volume, x.tradeCount) == (120, 120, 100, 100, 3, 2))
        #expect(x.vwapTicks == 11_333, "340 cents × contracts over 3 contracts: 1.1333")
        #expect(x.averageSize == 2, "3 contracts in 2 trades: 1.5, rounded half up")
        #expect((x.dayVolume, x.dayOpenCents) == (3, 120))
        #expect(closed[2].start == 0 && closed[2].end == 60_000 && closed[2].volume == 3)
        #expect(bars.lastPriceCents(of: "X") == 130 && bars.lastPriceCents(of: "Z") == nil)
        #expect(bars.newestT == 60_300)
        closed.removeAll()
        bars.add(Self.trade("Y", 61_000, 60, 1), closing: &closed)
        #expect(closed.count == 1 && closed[0].sym == "X" && closed[0].dayVolume == 6 && closed[0].dayOpenCents == 120)
        #expect(closed[0].dayVWAPTicks == 12_167, "the day's VWAP counts every trade so far: 730 over 6 contracts, 1.21666… rounded half up")
    }

    @Test("bars nobody wants are closed without being built; the next one wanted holds its own period's trades and the day so far")
    func unwantedBarsAreNotBuilt() {
        var bars = BarAggregator(startMs: 0)
        var closed: [SimBar] = []
        for t in stride(from: Int64(0), to: 3_000, by: 250) { bars.add(Self.trade("X", t, 100 + t / 250, 1), closing: &closed, wanted: (false, false)) }
        #expect(closed.isEmpty)
        bars.add(Self.trade("X", 3_000, 200, 2), closing: &closed, wanted: (seconds: true, minutes: false))
        #expect(closed.map(\.period) == [.second], "only the per-second bar that closed while wanted")
        #expect((closed[0].start, closed[0].openCents, closed[0].closeCents, closed[0].volume) == (2_000, 108, 111, 4))
        #expect(closed[0].dayVolume == 12, "the day counts every trade, built bars or not")
        closed.removeAll()
        bars.add(Self.trade("X", 60_000, 300, 1), closing: &closed, wanted: (false, true))
        #expect(closed.map(\.period) == [.minute])
        #expect((closed[0].openCents, closed[0].closeCents, closed[0].volume) == (100, 200, 14), "a minute bar holds the whole minute")
    }

    @Test("the bar's JSON has the feed's keys, prices as the trades write them, vw and a to four places")
    func json() {
        var bars = BarAggregator(startMs: 0)
        var closed: [SimBar] = []
        bars.add(Self.trade("O:SPY251219C00650000", 1_000, 120, 2), closing: &closed)
        bars.add(Self.trade("O:SPY251219C00650000", 1_500, 100, 1), closing: &closed)
        bars.add(Self.trade("O:SPY251219C00650000", 2_000, 100, 1), closing: &closed)
        #expect(
            closed.first?.json
                == #"{"ev":"A","sym":"O:SPY251219C00650000","v":3,"av":3,"op":1.20,"vw":1.1333,"o":1.20,"c":1.00,"h":1.20,"l":1.00,"a":1.1333,"z":2,"s":1000,"e":2000}"#
        )
        #expect(closed.first?.ledgerLine == "A,O:SPY251219C00650000,1000,2000,1.20,1.20,1.00,1.00,3,1.1333,2,3,1.20,1.1333")
        #expect(SimBar.decimalText(ticks: 5) == "0.0005" && SimBar.decimalText(ticks: 12_345) == "1.2345")
    }
}

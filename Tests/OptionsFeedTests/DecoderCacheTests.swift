import Testing

@testable import OptionsFeed

/// The decoder's memory of contracts and condition lists (docs/performance.md): a known
/// contract or list is reused, never confused with another, and the memory
/// stays bounded.
@Suite("Decoder caches")
struct DecoderCacheTests {
    func symbol(_ table: inout SymbolTable, _ text: String) -> OptionSymbol? {
        var text = text
        return text.withUTF8 { table.symbol(utf8: UnsafeRawBufferPointer($0)) }
    }

    @Test func aKnownContractIsReusedAndADifferentOneIsNot() throws {
        var table = SymbolTable(capacity: 8)
        let first = try #require(symbol(&table, "O:SPY251219C00650000"))
        let again = try #require(symbol(&table, "O:SPY251219C00650000"))
        let other = try #require(symbol(&table, "O:SPY251219P00650000"))
        #expect(first == again)
        #expect(other.type == .put)
        #expect(other != first)
        #expect(table.count == 2)
        #expect(first == OptionSymbol("O:SPY251219C00650000"))
    }

    @Test("a known contract's bytes followed by NUL bytes are not taken for it, and underlyings of every length keep apart: the key holds the length")
    func theLengthIsPartOfTheKey() throws {
        var table = SymbolTable(capacity: 16)
        let known = try #require(symbol(&table, "O:SPY251219C00650000"))
        // The same bytes padded with zeros, as the table's key pads them: only the length tells them apart.
        #expect(symbol(&table, "O:SPY251219C00650000\0") == nil)
        #expect(symbol(&table, "O:SPY251219C00650000\0\0\0\0") == nil)
        #expect(symbol(&table, "O:SPY251219C00650000") == known)
        let texts = (1...6).map { "O:" + String("ABCDEF".prefix($0)) + "251219C00650000" }
        let parsed = try texts.map { try #require(symbol(&table, $0)) }
        #expect(Set(parsed.map(\.raw)).count == texts.count)
        for (text, symbol) in zip(texts, parsed) { #expect(self.symbol(&table, text) == symbol) }
        #expect(table.count == 7)
    }

    @Test func aBadSymbolIsNotRemembered() {
        var table = SymbolTable(capacity: 8)
        #expect(symbol(&table, "O:SPY251219X00650000") == nil)
        #expect(symbol(&table, "") == nil)
        #expect(table.count == 0)
    }

    @Test func aFullTableStartsOverAndStillAnswersRight() throws {
        var table = SymbolTable(capacity: 4)
        let texts = (0..<10).map { "O:AAPL260116C\(10_000_000 + $0 * 5000)" }
        for text in texts {
            let parsed = try #require(symbol(&table, text))
            #expect(parsed.raw == text)
            #expect(table.count <= 4)
        }
        for text in texts.reversed() {
            #expect(try #require(symbol(&table, text)).raw == text)
        }
    }

    @Test("100 000 distinct contracts and huge invalid symbols keep the decoder's table within its count and bytes")
    func symbolTableBoundedInBytes() throws {
        let decoder = FrameDecoder()
        var frame = DecodedFrame()
        let huge = #"{"ev":"T","sym":"O:"# + String(repeating: "A", count: 69_985) + #"251219C00650000","x":4,"p":1.25,"s":10,"t":1764614400000,"q":1}"#
        var most = 0
        var startedOver = false
        for chunk in 0..<100 {
            var events: [String] = []
            for number in chunk * 1000..<(chunk + 1) * 1000 {
                // Ten-character underlyings: the longest accepted, so the largest symbols (27 bytes).
                let strike = String(number)
                events.append(
                    #"{"ev":"T","sym":"O:ABCDEFGHIJ251219C"# + String(repeating: "0", count: 8 - strike.count) + strike
                        + #"","x":4,"p":1.25,"s":10,"t":1764614400000,"q":\#(number)}"#)
            }
            events.append(huge)
            var bytes = Array(("[" + events.joined(separator: ",") + "]").utf8)
            try bytes.withUnsafeMutableBytes { try decoder.decode(UnsafeRawBufferPointer($0), receivedAtMicros: 0, into: &frame) }
            #expect(frame.trades.count == 1000 && frame.invalid.map(\.reason) == [.underlyingTooLong])
            #expect(frame.symbols.count <= SymbolTable.defaultCapacity)
            #expect(frame.symbols.textBytes <= frame.symbols.maximumTextBytes)
            startedOver = startedOver || frame.symbols.count < most
            most = max(most, frame.symbols.count)
            frame.removeAll()
        }
        #expect(startedOver && most > SymbolTable.defaultCapacity - 1000, "the table filled up and started over")
        #expect(SymbolTable().maximumTextBytes == 32_768 * 27)
    }

    @Test func conditionListsAreSharedByContentAndKeepOrder() {
        var lists = ConditionLists(capacity: 16)
        func list(_ codes: [Int16]) -> [Int16] {
            var key = ConditionLists.Key()
            for code in codes {
                let appended = key.append(code)
                #expect(appended)
            }
            return lists.list(key)
        }
        #expect(list([]) == [])
        #expect(list([0]) == [0])
        #expect(list([0, 0]) == [0, 0])
        #expect(list([219, 227]) == [219, 227])
        #expect(list([227, 219]) == [227, 219])
        #expect(list([-1, 32767, -32768]) == [-1, 32767, -32768])
        #expect(lists.count == 5)
        _ = list([219, 227])
        #expect(lists.count == 5)
    }

    @Test func aKeyHoldsThreeCodes() {
        var key = ConditionLists.Key()
        let three = key.append(1) && key.append(2) && key.append(3)
        let fourth = key.append(4)
        #expect(three)
        #expect(!fourth)
        #expect(key.codes == [1, 2, 3])
    }

    @Test func theDecoderKeepsLongListsWholeAndRemembersContractsAcrossFrames() throws {
        let decoder = FrameDecoder()
        var frame = DecodedFrame()
        let text = #"[{"ev":"T","sym":"O:SPY251219C00650000","p":1.5,"s":2,"c":[1,2,3,4,5],"t":1764614400000,"q":1},"#
            + #"{"ev":"T","sym":"O:SPY251219C00650000","p":1.5,"s":2,"c":[227],"t":1764614400000,"q":2}]"#
        var bytes = Array(text.utf8)
        try bytes.withUnsafeBytes { try decoder.decode($0, receivedAtMicros: 0, into: &frame) }
        #expect(frame.trades.map(\.conditions) == [[1, 2, 3, 4, 5], [227]])
        frame.removeAll()
        bytes = Array(text.utf8)
        try bytes.withUnsafeBytes { try decoder.decode($0, receivedAtMicros: 0, into: &frame) }
        #expect(frame.trades.count == 2)
        #expect(frame.symbols.count == 1)
        #expect(frame.conditionLists.count == 1)
    }
}

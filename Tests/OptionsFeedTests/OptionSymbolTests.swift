import Testing

@testable import OptionsFeed

@Suite("Option symbols")
struct OptionSymbolTests {
    struct Valid: Sendable, CustomTestStringConvertible {
        let raw: String
        let underlying: String
        let expiry: String
        let type: OptionType
        let strikeThousandths: Int64
        var testDescription: String { raw }
    }

    static let valid: [Valid] = [
        .init(raw: "O:SPY251219C00650000", underlying: "SPY", expiry: "2025-12-19", type: .call, strikeThousandths: 650_000),
        .init(raw: "O:AAPL240119P00185500", underlying: "AAPL", expiry: "2024-01-19", type: .put, strikeThousandths: 185_500),
        .init(raw: "O:BRK.B260320C00500000", underlying: "BRK.B", expiry: "2026-03-20", type: .call, strikeThousandths: 500_000),
        .init(raw: "O:SPXW241231P04500000", underlying: "SPXW", expiry: "2024-12-31", type: .put, strikeThousandths: 4_500_000),
        .init(raw: "O:AMD1250117C00000500", underlying: "AMD1", expiry: "2025-01-17", type: .call, strikeThousandths: 500),
        .init(raw: "O:X240229C99999999", underlying: "X", expiry: "2024-02-29", type: .call, strikeThousandths: 99_999_999),
        .init(raw: "O:ABCDEFGHIJ251219C00650000", underlying: "ABCDEFGHIJ", expiry: "2025-12-19", type: .call, strikeThousandths: 650_000),
    ]

    @Test("a valid OCC symbol parses into underlying, expiry, type and exact strike", arguments: valid)
    func parsesValid(_ case_: Valid) throws {
        let symbol = try #require(OptionSymbol(case_.raw))
        #expect(symbol.raw == case_.raw)
        #expect(symbol.underlying == case_.underlying)
        #expect(symbol.expiry.description == case_.expiry)
        #expect(symbol.type == case_.type)
        #expect(symbol.strikeThousandths == case_.strikeThousandths)
    }

    @Test(
        "a symbol that does not match ^O:([A-Z0-9.]+)(\\d{6})([CP])(\\d{8})$ is rejected",
        arguments: [
            "", "O:", "SPY251219C00650000", "X:SPY251219C00650000", "O:251219C00650000",
            "O:spy251219C00650000", "O:SPY251219X00650000", "O:SPY251219C0065000", "O:SPY251219C006500000x",
            "O:SPY25121C00650000", "O:SPY251319C00650000", "O:SPY250230C00650000", "O:SPY251200C00650000",
            "O:SP Y251219C00650000", "O:SPY251219C0065000A", "O:SPY-251219C00650000",
        ])
    func rejectsInvalid(_ raw: String) {
        #expect(OptionSymbol(raw) == nil)
    }

    @Test("an underlying past 10 characters is rejected even where the pattern matches, and said to be too long")
    func rejectsLongUnderlying() {
        for raw in ["O:ABCDEFGHIJK251219C00650000", "O:" + String(repeating: "Z", count: 70_000) + "251219P00000500"] {
            #expect(OptionSymbol(raw) == nil)
            var text = raw
            #expect(text.withUTF8 { OptionSymbol.rejection(utf8: UnsafeRawBufferPointer($0)) } == .underlyingTooLong)
        }
        var other = "O:ABCDEFGHIJK251219X00650000"
        #expect(other.withUTF8 { OptionSymbol.rejection(utf8: UnsafeRawBufferPointer($0)) } == .badSymbol)
    }

    @Test("expiry converts to days since 2000-01-01 as PostgreSQL's binary date", arguments: [
        (2000, 1, 1, Int32(0)), (2000, 3, 1, Int32(60)), (2025, 12, 19, Int32(9484)), (1999, 12, 31, Int32(-1)),
    ])
    func expiryDays(_ year: Int, _ month: Int, _ day: Int, _ days: Int32) throws {
        let date = try #require(ExpiryDate(year: year, month: month, day: day))
        #expect(date.daysSince2000 == days)
    }

    @Test("an expiry outside years 1…9999 or on a day that does not exist is no date")
    func expiryRange() {
        #expect(ExpiryDate(year: 0, month: 1, day: 1) == nil)
        #expect(ExpiryDate(year: 10_000, month: 1, day: 1) == nil)
        #expect(ExpiryDate(year: 2023, month: 2, day: 29) == nil)
        #expect(ExpiryDate(year: 2024, month: 2, day: 29)?.description == "2024-02-29")
    }

    @Test("a symbol is one shared reference: a trade is 64 bytes, and copies of a symbol compare by their text")
    func compactTrade() throws {
        #expect(MemoryLayout<OptionSymbol>.size == 8)
        #expect(MemoryLayout<OptionTrade>.stride == 64)
        let parsed = try #require(OptionSymbol("O:SPY251219C00650000"))
        let again = try #require(OptionSymbol("O:SPY251219C00650000"))
        let other = try #require(OptionSymbol("O:SPY251219P00650000"))
        #expect(parsed == again && parsed.hashValue == again.hashValue)
        #expect(parsed != other)
        #expect(Set([parsed, again, other]).count == 2)
    }
}

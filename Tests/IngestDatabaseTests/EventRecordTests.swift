import Foundation
import IngestTestSupport
import OptionsFeed
import Testing

@testable import IngestDatabase

/// The other event types as stored records (docs/design.md §4.4): their COPY
/// rows and bound INSERTs against the real PostgreSQL server that scripts/test
/// starts, read back column by column; the QuestDB statements by their shape
/// (no QuestDB server runs here).
@Suite("Event records")
struct EventRecordTests {
    /// 2025-12-03T14:30:00Z; the fixtures lie on that day and the next.
    static let base: Int64 = 1_764_772_200_000
    static let dayMs: Int64 = 86_400_000
    static let call = OptionSymbol("O:SPY251219C00650500")!
    static let put = OptionSymbol("O:SPXW251219P99999999")!

    static let aggregates = [
        OptionAggregate(
            symbol: call, period: .second, startMs: base, endMs: base + 1000, open: 1.25, high: 1.5, low: 1.0, close: 1.375,
            volume: 3, vwap: 1.3, dayVolume: 9_000_000_000_000_000_000, dayVWAP: 1.2875, dayOpen: 1.1, averageSize: 2.5,
            receivedAtMicros: base * 1000 + 456_789),
        // Same contract and start, the other period: another key.
        OptionAggregate(
            symbol: call, period: .minute, startMs: base, endMs: base + 60_000, open: 123_456.789, high: 1e15, low: 1e-9, close: 0.1 + 0.2,
            volume: Int64.max, vwap: 42, receivedAtMicros: base * 1000 + 60_000_001),
        OptionAggregate(
            symbol: put, period: .second, startMs: base + dayMs + 5, endMs: base + dayMs + 1005, open: 5, high: 6, low: 4, close: 5.5,
            volume: 1, vwap: 5.25, dayVolume: 0, dayOpen: 5.5, receivedAtMicros: (base + dayMs) * 1000 + 7),
    ]

    static let quotes = [
        OptionQuote(
            symbol: call, bidExchange: 7, askExchange: 65, bidPrice: 0, askPrice: 1.25, bidSize: 0, askSize: 10, timestampMs: base + 123,
            sequence: 42, receivedAtMicros: base * 1000 + 123_456),
        OptionQuote(
            symbol: call, bidExchange: 32767, askExchange: 0, bidPrice: 0.1 + 0.2, askPrice: 98_765.4321, bidSize: Int64.max,
            askSize: 9_000_000_000, timestampMs: base + 123, sequence: 43, receivedAtMicros: base * 1000 + 123_457),
        OptionQuote(
            symbol: put, bidExchange: 1, askExchange: 2, bidPrice: 3.5, askPrice: 3.75, bidSize: 5, askSize: 6, timestampMs: base + dayMs,
            sequence: 0, receivedAtMicros: (base + dayMs) * 1000 + 1),
    ]

    static let fairValues = [
        // ns cut to the µs: ts is …123456 µs.
        OptionFMV(symbol: call, fmv: 1.2345, timestampNanos: base * 1_000_000 + 123_456_789, receivedAtMicros: base * 1000 + 200_000),
        OptionFMV(symbol: call, fmv: 0, timestampNanos: base * 1_000_000 + 123_457_000, receivedAtMicros: base * 1000 + 200_001),
        OptionFMV(symbol: put, fmv: 98_765.4321e6, timestampNanos: (base + dayMs) * 1_000_000 + 999, receivedAtMicros: (base + dayMs) * 1000),
    ]

    // MARK: Expected rows, worked out here, not by the encoder

    /// A `timestamptz` read back as Unix µs.
    static func micros(_ column: String) -> String { "(extract(epoch FROM \(column)) * 1000000)::bigint::text" }
    /// A `double precision` read back as its 8 bytes in hex: exact, whatever the server's float output.
    static func bits(_ column: String) -> String { "encode(float8send(\(column)), 'hex')" }
    static func bits(_ value: Double?) -> String? {
        value.map { String(repeating: "0", count: 16 - String($0.bitPattern, radix: 16).count) + String($0.bitPattern, radix: 16) }
    }

    /// `tableoid` (the partition the server chose) and the contract's columns.
    static let contractSelect = "tableoid::regclass::text, sym, underlying, to_char(expiry, 'YYYY-MM-DD'), option_type, strike::text"

    static func contract(_ table: String, _ symbol: OptionSymbol, partitionMs: Int64) -> [String?] {
        func pad(_ value: some BinaryInteger, _ width: Int) -> String {
            String(repeating: "0", count: max(0, width - String(value).count)) + String(value)
        }
        let (year, month, day) = CivilTime.civilFromDays(partitionMs / dayMs)  // fixtures are after 1970
        let expiry = symbol.expiry
        return [
            "\(table)_p\(pad(year, 4))\(pad(month, 2))\(pad(day, 2))", symbol.raw, symbol.underlying,
            "\(pad(expiry.year, 4))-\(pad(expiry.month, 2))-\(pad(expiry.day, 2))",
            symbol.type == .call ? "C" : "P", String(format: "%.3f", Double(symbol.strikeThousandths) / 1000),
        ]
    }

    static let aggregateSelect = """
        SELECT \(contractSelect), period, \(micros("start_ts")), \(micros("end_ts")), \(bits("open")), \(bits("high")), \(bits("low")),
               \(bits("close")), volume::text, \(bits("vwap")), day_volume::text, \(bits("day_vwap")), \(bits("day_open")),
               \(bits("avg_size")), \(micros("received_at"))
        FROM options_aggregates
        """

    static func expected(_ bar: OptionAggregate) -> [String?] {
        contract("options_aggregates", bar.symbol, partitionMs: bar.startMs) + [
            bar.period == .second ? "second" : "minute", String(bar.startMs * 1000), String(bar.endMs * 1000), bits(bar.open),
            bits(bar.high), bits(bar.low), bits(bar.close), String(bar.volume), bits(bar.vwap), bar.dayVolume.map { String($0) },
            bits(bar.dayVWAP), bits(bar.dayOpen), bits(bar.averageSize), String(bar.receivedAtMicros),
        ]
    }

    static let quoteSelect = """
        SELECT \(contractSelect), bid_exchange::text, ask_exchange::text, \(bits("bid_price")), \(bits("ask_price")), bid_size::text,
               ask_size::text, \(micros("ts")), seq::text, \(micros("received_at"))
        FROM options_quotes
        """

    static func expected(_ quote: OptionQuote) -> [String?] {
        contract("options_quotes", quote.symbol, partitionMs: quote.timestampMs) + [
            String(quote.bidExchange), String(quote.askExchange), bits(quote.bidPrice), bits(quote.askPrice), String(quote.bidSize),
            String(quote.askSize), String(quote.timestampMs * 1000), String(quote.sequence), String(quote.receivedAtMicros),
        ]
    }

    static let fmvSelect = "SELECT \(contractSelect), \(bits("fmv")), \(micros("ts")), \(micros("received_at")) FROM options_fmv"

    static func expected(_ value: OptionFMV) -> [String?] {
        contract("options_fmv", value.symbol, partitionMs: value.timestampNanos / 1_000_000) + [
            bits(value.fmv), String(value.timestampNanos / 1000), String(value.receivedAtMicros),
        ]
    }

    // MARK: Against PostgreSQL

    /// Rows in an order of their own, so that a comparison does not depend on the order the server returns them in.
    static func sorted(_ rows: [[String?]]) -> [[String?]] {
        rows.sorted { "\($0)" < "\($1)" }
    }

    /// Writes `rows` into a fresh migrated database by COPY, reads them back; then
    /// empties the table and writes them by the bound INSERT, twice.
    static func storeAndReadBack<Record: EventRecord>(
        _ rows: [Record], select: String, expected: (Record) -> [String?]
    ) throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let connection = try database.connect()
        let table = Record.kind.table
        _ = try connection.query("SELECT ingest_ensure_partitions('\(table)'::regclass, date '2025-12-03', date '2025-12-04')")
        let want = sorted(rows.map(expected))

        var stream: [UInt8] = [0xAA]  // replaced, not appended to
        Record.encodeCopy(rows[...], into: &stream)
        let copy = "COPY \(table) (\(Record.columns.joined(separator: ", "))) FROM STDIN (FORMAT binary)"
        try stream.withUnsafeBytes { try connection.copyIn(copy, data: $0) }
        #expect(sorted(try connection.query(select)) == want, "COPY")
        // The key is the table's: the same rows copied again are refused as duplicates.
        let duplicate = #expect(throws: DatabaseError.self) {
            try stream.withUnsafeBytes { try connection.copyIn(copy, data: $0) }
        }
        #expect(duplicate?.sqlState == "23505")

        try connection.execute("TRUNCATE \(table)")
        let insert = Record.insertStatement(rows: rows.count, flavor: .postgres)
        let parameters = Record.insertParameters(rows[...], flavor: .postgres)
        #expect(parameters.count == rows.count * Record.columns.count)
        #expect(try connection.executeCounting(insert, parameters) == rows.count)
        #expect(sorted(try connection.query(select)) == want, "INSERT")
        #expect(try connection.executeCounting(insert, parameters) == 0, "ON CONFLICT \(Record.conflictKey) DO NOTHING")
        #expect(try connection.query("SELECT count(*) FROM \(table)") == [[String(rows.count)]])
    }

    @Test("aggregates: COPY and the bound INSERT store every column as sent, NULL where the bar leaves a day field out; written again, none")
    func aggregatesRoundTrip() throws {
        try Self.storeAndReadBack(Self.aggregates, select: Self.aggregateSelect, expected: Self.expected)
    }

    @Test("quotes: COPY and the bound INSERT store every column as sent (a bid of 0, sizes up to Int64.max); written again, none")
    func quotesRoundTrip() throws {
        try Self.storeAndReadBack(Self.quotes, select: Self.quoteSelect, expected: Self.expected)
    }

    @Test("FMV: COPY and the bound INSERT store every column as sent, the ns time cut to the µs; written again, none")
    func fairValuesRoundTrip() throws {
        try Self.storeAndReadBack(Self.fairValues, select: Self.fmvSelect, expected: Self.expected)
    }

    @Test("a full statement of rowsPerStatement quotes (the cached one) inserts them all, and its parameters stay below 65 535")
    func fullStatement() throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let connection = try database.connect()
        _ = try connection.query("SELECT ingest_ensure_partitions('options_quotes'::regclass, date '2025-12-03', date '2025-12-03')")
        let rows = (0..<OptionQuote.rowsPerStatement).map { index in
            var quote = Self.quotes[0]
            quote.sequence = Int64(index)
            return quote
        }
        let parameters = OptionQuote.insertParameters(rows[...], flavor: .postgres)
        #expect(parameters.count < 65_535)
        let sql = OptionQuote.insertStatement(rows: rows.count, flavor: .postgres)
        #expect(try connection.executeCounting(sql, parameters) == rows.count)
        #expect(try connection.executeCounting(sql, parameters) == 0)
    }

    @Test("each type's columns are its PostgreSQL table's, in table order, and its QuestDB table's")
    func columnsAreTheTables() throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try database.migrate()
        let connection = try database.connect()
        let questDB = try String(
            contentsOf: repositoryRoot.appendingPathComponent("migrations/questdb/0005_event_tables.sql"), encoding: .utf8)
        for (table, columns) in [
            (OptionAggregate.kind.table, OptionAggregate.columns), (OptionQuote.kind.table, OptionQuote.columns),
            (OptionFMV.kind.table, OptionFMV.columns),
        ] {
            let stored = try connection.query(
                "SELECT column_name::text FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position", [table])
            #expect(stored.map { $0[0] } == columns, "\(table)")
            #expect(Self.questDBColumns(table, in: questDB) == columns, "QuestDB \(table)")
        }
    }

    /// The column names of `CREATE TABLE … table (` in a QuestDB migration: the first word of each line up to `)`.
    static func questDBColumns(_ table: String, in sql: String) -> [String] {
        let lines = sql.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let start = lines.firstIndex(where: { $0.hasPrefix("CREATE TABLE") && $0.contains(" \(table) (") }) else { return [] }
        return lines[(start + 1)...].prefix { !$0.hasPrefix(")") }.map { String($0.split(separator: " ")[0]) }
    }

    // MARK: Statements and record properties

    @Test("keys, partition times and dead-letter event types")
    func recordProperties() {
        #expect(OptionAggregate.conflictKey == "(sym, period, start_ts)")
        #expect(OptionQuote.conflictKey == "(sym, ts, seq)")
        #expect(OptionFMV.conflictKey == "(sym, ts)")
        #expect(Self.aggregates.map(\.eventType) == ["A", "AM", "A"])
        #expect(Self.aggregates.map(\.partitionMs) == Self.aggregates.map(\.startMs))
        #expect(Self.quotes[0].eventType == "Q")
        #expect(Self.quotes[0].partitionMs == Self.base + 123)
        #expect(Self.fairValues[0].eventType == "FMV")
        #expect(Self.fairValues[0].partitionMs == Self.base + 123)
        // 23:59:59.999999999 is still the day before.
        let lastNano = OptionFMV(symbol: Self.call, fmv: 1, timestampNanos: 1_764_806_399_999_999_999, receivedAtMicros: 0)
        #expect(lastNano.partitionMs == 1_764_806_399_999)
    }

    @Test("PostgreSQL: every value a cast parameter, times as µs after the epoch, ON CONFLICT on the key")
    func postgresStatement() {
        #expect(
            OptionFMV.insertStatement(rows: 2, flavor: .postgres)
                == "INSERT INTO options_fmv (sym, underlying, expiry, option_type, strike, fmv, ts, received_at) VALUES "
                + "($1, $2, $3::date, $4, $5::numeric, $6::float8, 'epoch'::timestamptz + $7::bigint * interval '1 microsecond', "
                + "'epoch'::timestamptz + $8::bigint * interval '1 microsecond'), "
                + "($9, $10, $11::date, $12, $13::numeric, $14::float8, 'epoch'::timestamptz + $15::bigint * interval '1 microsecond', "
                + "'epoch'::timestamptz + $16::bigint * interval '1 microsecond') ON CONFLICT (sym, ts) DO NOTHING")
        let full = OptionAggregate.insertStatement(rows: OptionAggregate.rowsPerStatement, flavor: .postgres)
        #expect(full.hasSuffix("'epoch'::timestamptz + $9500::bigint * interval '1 microsecond') ON CONFLICT (sym, period, start_ts) DO NOTHING"))
        #expect(OptionAggregate.insertParameters(Self.aggregates[2...], flavor: .postgres) == [
            "O:SPXW251219P99999999", "SPXW", "2025-12-19", "P", "99999.999", "second", "1764858600005000", "1764858601005000",
            "5.0", "6.0", "4.0", "5.5", "1", "5.25", "0", nil, "5.5", nil, "1764858600000007",
        ])
        #expect(OptionQuote.insertParameters(Self.quotes[..<1], flavor: .postgres) == [
            "O:SPY251219C00650500", "SPY", "2025-12-19", "C", "650.500", "7", "65", "0.0", "1.25", "0", "10", "1764772200123000", "42",
            "1764772200123456",
        ])
    }

    @Test("QuestDB: every value an uncast parameter, ISO times, strike as a double, no ON CONFLICT (its dedup keys)")
    func questDBStatements() {
        let sql = OptionQuote.insertStatement(rows: 2, flavor: .questdb)
        #expect(sql.hasPrefix("INSERT INTO options_quotes (sym, underlying, expiry, option_type, strike, bid_exchange, ask_exchange, "))
        #expect(sql.hasSuffix(" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14), "
            + "($15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)"))
        for statement in [
            OptionAggregate.insertStatement(rows: OptionAggregate.rowsPerStatement, flavor: .questdb),
            OptionQuote.insertStatement(rows: 3, flavor: .questdb), OptionFMV.insertStatement(rows: 1, flavor: .questdb),
        ] {
            #expect(!statement.contains("ON CONFLICT"))
            #expect(!statement.contains("::"))
        }
        #expect(OptionAggregate.insertStatement(rows: OptionAggregate.rowsPerStatement, flavor: .questdb).hasSuffix("$9499, $9500)"))
        #expect(OptionAggregate.insertParameters(Self.aggregates[..<2], flavor: .questdb) == [
            "O:SPY251219C00650500", "SPY", "2025-12-19", "C", "650.5", "second", "2025-12-03T14:30:00.000000Z", "2025-12-03T14:30:01.000000Z",
            "1.25", "1.5", "1.0", "1.375", "3", "1.3", "9000000000000000000", "1.2875", "1.1", "2.5", "2025-12-03T14:30:00.456789Z",
            "O:SPY251219C00650500", "SPY", "2025-12-19", "C", "650.5", "minute", "2025-12-03T14:30:00.000000Z", "2025-12-03T14:31:00.000000Z",
            "123456.789", "1000000000000000.0", "1e-09", "\(0.1 + 0.2)", "9223372036854775807", "42.0", nil, nil, nil, nil, "2025-12-03T14:31:00.000001Z",
        ])
        #expect(OptionQuote.insertParameters(Self.quotes[2...], flavor: .questdb) == [
            "O:SPXW251219P99999999", "SPXW", "2025-12-19", "P", "99999.999", "1", "2", "3.5", "3.75", "5", "6", "2025-12-04T14:30:00.000000Z",
            "0", "2025-12-04T14:30:00.000001Z",
        ])
        #expect(OptionFMV.insertParameters(Self.fairValues[..<1], flavor: .questdb) == [
            "O:SPY251219C00650500", "SPY", "2025-12-19", "C", "650.5", "1.2345", "2025-12-03T14:30:00.123456Z", "2025-12-03T14:30:00.200000Z",
        ])
    }

    @Test("each type's stream in pieces of one row, the header with the first and the trailer with the last, is its whole stream")
    func copyPieces() {
        func joined<Record: EventRecord>(_ rows: [Record]) -> Bool {
            var whole: [UInt8] = []
            Record.encodeCopy(rows[...], into: &whole)
            var joined: [UInt8] = []
            var piece: [UInt8] = []
            for index in rows.indices {
                Record.encodeCopy(rows[index...index], ends: .init(header: index == 0, trailer: index == rows.count - 1), into: &piece)
                joined += piece
            }
            return rows.count > 1 && joined == whole
        }
        #expect(joined(Self.aggregates))
        #expect(joined(Self.quotes))
        #expect(joined(Self.fairValues))
    }

    @Test("a COPY stream is the PGCOPY header, one row per record with its field count, NULL as length -1, and the trailer")
    func copyFraming() {
        var stream: [UInt8] = []
        OptionFMV.encodeCopy([][...], into: &stream)
        #expect(stream == TradeCopyEncoder.header + [0xFF, 0xFF])
        let bar = OptionAggregate(
            symbol: Self.call, period: .minute, startMs: Self.base, endMs: Self.base + 60_000, open: 1, high: 1, low: 1, close: 1, volume: 1,
            vwap: 1, receivedAtMicros: 0)
        OptionAggregate.encodeCopy([bar][...], into: &stream)
        let row = Array(stream[TradeCopyEncoder.header.count..<(stream.count - 2)])
        #expect(row.prefix(2) == [0, 19])
        // received_at's 12 bytes end the row; before them the four NULL day fields.
        #expect(Array(row.dropLast(12).suffix(16)) == Array(repeating: 0xFF, count: 16))
        #expect(stream.suffix(2) == [0xFF, 0xFF])
    }
}

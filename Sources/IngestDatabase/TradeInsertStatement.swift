import OptionsFeed

/// The multi-row `INSERT … VALUES … ON CONFLICT DO NOTHING` with bound text
/// parameters (docs/design.md §5.3: the QuestDB path, also runnable on Postgres as
/// `--write-mode insert`). Feed data only ever travels as parameters.
struct TradeInsertStatement {
    /// Rows per statement: 13 parameters a row stays far below libpq's 65 535.
    static let rowsPerStatement = 500
    static let columnCount = TradeCopyEncoder.columns.count
    private static let full = TradeInsertStatement(building: rowsPerStatement)

    let sql: String

    init(rows: Int) {
        self = rows == Self.rowsPerStatement ? Self.full : TradeInsertStatement(building: rows)
    }

    private init(building rows: Int) {
        let micros = "'epoch'::timestamptz + $%d::bigint * interval '1 microsecond'"
        let casts = ["", "", "::date", "", "::numeric", "::smallint", "::float8", "::bigint", "::float8", "::smallint[]", "ts", "::bigint", "ts"]
        var values: [String] = []
        values.reserveCapacity(rows)
        for row in 0..<rows {
            let placeholders = casts.enumerated().map { column, cast in
                let index = row * Self.columnCount + column + 1
                return cast == "ts" ? micros.replacing("%d", with: String(index)) : "$\(index)\(cast)"
            }
            values.append("(" + placeholders.joined(separator: ", ") + ")")
        }
        sql = "INSERT INTO options_trades (\(TradeCopyEncoder.columns.joined(separator: ", "))) VALUES "
            + values.joined(separator: ", ") + " ON CONFLICT (sym, ts, seq) DO NOTHING"
    }

    /// The parameters of `trades`, row after row, as text.
    static func parameters(_ trades: ArraySlice<OptionTrade>) -> [String?] {
        var parameters: [String?] = []
        parameters.reserveCapacity(trades.count * columnCount)
        for trade in trades {
            let strike = trade.symbol.strikeThousandths
            let fraction = String(strike % 1000)
            parameters += [
                trade.symbol.raw, trade.symbol.underlying, trade.symbol.expiry.description, trade.symbol.type.code,
                "\(strike / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)",
                String(trade.exchange), "\(trade.price)", String(trade.size), "\(trade.notional)",
                "{" + trade.conditions.map(String.init).joined(separator: ",") + "}",
                String(trade.timestampMs * 1000), String(trade.sequence), String(trade.receivedAtMicros),
            ]
        }
        return parameters
    }
}

/// The bound multi-row INSERT of an event table on each server (docs/design.md
/// §5.3, §5.3.1), every value a parameter. On PostgreSQL each parameter is
/// cast to its column's type, times travel as Unix µs turned into
/// `timestamptz` in SQL, and `ON CONFLICT key DO NOTHING` stores a row written
/// twice once; on QuestDB the values are uncast text (ISO times), and the
/// table's DEDUP UPSERT KEYS do that. The statements of `rowsPerStatement`
/// rows, those of every full chunk of a batch, are built once.
struct EventInsertStatements: Sendable {
    /// What a column's parameter is cast to on PostgreSQL.
    enum ColumnType: Sendable {
        case text, date, numeric, smallint, bigint, float8, timestamp

        /// The placeholder of parameter `index` as the PostgreSQL statement binds it.
        func postgresPlaceholder(_ index: Int) -> String {
            switch self {
            case .text: "$\(index)"
            case .date: "$\(index)::date"
            case .numeric: "$\(index)::numeric"
            case .smallint: "$\(index)::smallint"
            case .bigint: "$\(index)::bigint"
            case .float8: "$\(index)::float8"
            case .timestamp: "'epoch'::timestamptz + $\(index)::bigint * interval '1 microsecond'"
            }
        }
    }

    let table: String
    let columns: [String]
    let types: [ColumnType]
    let conflictKey: String
    let rowsPerStatement: Int
    private var fullPostgres = ""
    private var fullQuestDB = ""

    init(table: String, columns: [String], types: [ColumnType], conflictKey: String, rowsPerStatement: Int) {
        precondition(types.count == columns.count, "a type for every column of \(table)")
        self.table = table
        self.columns = columns
        self.types = types
        self.conflictKey = conflictKey
        self.rowsPerStatement = rowsPerStatement
        fullPostgres = building(rows: rowsPerStatement, flavor: .postgres)
        fullQuestDB = building(rows: rowsPerStatement, flavor: .questdb)
    }

    func sql(rows: Int, flavor: DatabaseFlavor) -> String {
        guard rows == rowsPerStatement else { return building(rows: rows, flavor: flavor) }
        return flavor == .postgres ? fullPostgres : fullQuestDB
    }

    private func building(rows: Int, flavor: DatabaseFlavor) -> String {
        var values: [String] = []
        values.reserveCapacity(rows)
        for row in 0..<rows {
            let base = row * columns.count
            let placeholders = types.enumerated().map { column, type in
                flavor == .postgres ? type.postgresPlaceholder(base + column + 1) : "$\(base + column + 1)"
            }
            values.append("(" + placeholders.joined(separator: ", ") + ")")
        }
        let insert = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES " + values.joined(separator: ", ")
        return flavor == .postgres ? insert + " ON CONFLICT \(conflictKey) DO NOTHING" : insert
    }
}

import Foundation
import IngestPipeline
import IngestService
import IngestTestSupport
import Testing

@testable import IngestStatus

/// The operator's kit in `contrib/` (docs/operations.md §3): the Grafana dashboard and the
/// Prometheus alert rules query only what `/metrics` exports, the rules mirror the service's
/// own alerts (`AlertName`) and pass `promtool`, and the systemd unit restarts, stops and
/// waits the way the service needs.
@Suite("Operator kit: Grafana dashboard, Prometheus rules, systemd unit")
struct OperatorKitTests {
    static let dashboardPath = "contrib/grafana/ingest-options.json"
    static let rulesPath = "contrib/prometheus/alerts.yml"
    static let rulesTestPath = "contrib/prometheus/alerts.test.yml"
    static let unitPath = "contrib/systemd/ingest-options.service"

    static func contents(_ relativePath: String) throws -> String {
        try String(contentsOf: repositoryRoot.appendingPathComponent(relativePath), encoding: .utf8)
    }

    // MARK: What /metrics exports

    /// A report from real (in-memory) parts, as the status server's tests build it.
    static func report() -> HealthReport {
        let monitor = HealthMonitor(
            configuration: .init(version: "test", maskedURL: "ws://127.0.0.1:1/options", subscriptions: ["T.*"], marketHours: .always),
            stats: IngestStats(), buffer: RecordBuffer(capacity: 100, flushThreshold: 10), spool: nil,
            feed: FeedMonitor(configuration: .init()), database: DatabaseMonitor(flavor: "postgres"), errors: ErrorLog(secrets: []),
            healthEvents: HealthEventQueue())
        return monitor.report()
    }

    /// The names a PromQL query can select from the exposition: every family of a `# TYPE` line and,
    /// for a histogram, its `_bucket`, `_sum` and `_count` series (not the bare family name, which
    /// has no samples of its own).
    static func exportedNames() -> Set<String> {
        let metrics = IngestMetrics()
        metrics.dbWriteSeconds.record(.milliseconds(3))
        let exposition = metrics.exposition(for: report(), sseClients: 0, sseDropped: 0)
        var names: Set<String> = []
        for line in exposition.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            guard parts.count == 4 else { continue }
            let family = String(parts[2])
            if parts[3] == "histogram" {
                names.formUnion(["_bucket", "_sum", "_count"].map { family + $0 })
            } else {
                names.insert(family)
            }
        }
        return names
    }

    /// The service's metric names a PromQL expression selects: an identifier that starts with
    /// `ingest_` or `process_` and is followed by `{`, `[`, `)`, `,`, whitespace or the end
    /// (so not a label name such as `le`, nor a word inside a quoted label value).
    static func queriedNames(in expression: String) -> Set<String> {
        let pattern = #"(?<![A-Za-z0-9_:"])((?:ingest|process)_[A-Za-z0-9_:]*)(?=[{\[),\s]|$)"#
        let regex = try! NSRegularExpression(pattern: pattern)
        return Set(
            regex.matches(in: expression, range: NSRange(expression.startIndex..., in: expression)).compactMap {
                Range($0.range(at: 1), in: expression).map { String(expression[$0]) }
            })
    }

    @Test("the name parser finds metric names before { [ ) and whitespace, and histogram series by their own names")
    func nameParser() {
        #expect(
            Self.queriedNames(
                in: #"histogram_quantile(0.99, sum by (le) (rate(ingest_db_write_seconds_bucket{instance=~"$i"}[5m])))"#)
                == ["ingest_db_write_seconds_bucket"])
        #expect(Self.queriedNames(in: "max(process_threads) + ingest_buffer_items > 3") == ["process_threads", "ingest_buffer_items"])
        #expect(Self.queriedNames(in: "rate(ingest_frames_total[1m])") == ["ingest_frames_total"])
        #expect(Self.queriedNames(in: #"sum by (queue) (ingest_x{queue="ingest_y"})"#) == ["ingest_x"])
        #expect(Self.queriedNames(in: "ingest_alerts_active") == ["ingest_alerts_active"])
        #expect(Self.exportedNames().isSuperset(of: ["ingest_db_write_seconds_bucket", "ingest_feed_state", "process_open_fds"]))
        #expect(!Self.exportedNames().contains("ingest_db_write_seconds"))
    }

    // MARK: The Grafana dashboard

    static func dashboard() throws -> [String: Any] {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent(dashboardPath))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(dashboardPath) is a JSON object")
    }

    /// Every `expr` string anywhere in the dashboard (panel targets, nested rows).
    static func expressions(in value: Any) -> [String] {
        switch value {
        case let object as [String: Any]:
            object.sorted { $0.key < $1.key }.flatMap { key, value in
                key == "expr" ? [value as? String].compactMap { $0 } : expressions(in: value)
            }
        case let array as [Any]: array.flatMap { expressions(in: $0) }
        default: []
        }
    }

    /// The dashboard's PromQL: the panels' `expr` strings and the template variables' queries.
    static func dashboardQueries() throws -> [String] {
        let dashboard = try dashboard()
        let variables = (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        let variableQueries = variables.filter { $0["type"] as? String == "query" }.compactMap { variable in
            (variable["query"] as? [String: Any])?["query"] as? String ?? variable["query"] as? String
        }
        return expressions(in: dashboard) + variableQueries
    }

    @Test("every metric the dashboard's queries name is one /metrics exports")
    func dashboardMetricsExist() throws {
        let queries = try Self.dashboardQueries()
        #expect(queries.count > 10)
        let exported = Self.exportedNames()
        for query in queries {
            let names = Self.queriedNames(in: query)
            #expect(!names.isEmpty, "no metric of the service in \(query)")
            #expect(names.subtracting(exported).isEmpty, "\(names.subtracting(exported).sorted()) in \(query) are not at /metrics")
        }
    }

    @Test(
        "the dashboard shows feed state, trades/s and rows/s, buffer and spool, both breakers, write latency p50/p99, lag, alerts, backfill"
    )
    func dashboardCoverage() throws {
        let queries = try Self.dashboardQueries()
        let named = queries.reduce(into: Set<String>()) { $0.formUnion(Self.queriedNames(in: $1)) }
        let required: Set<String> = [
            "ingest_feed_state", "ingest_trades_accepted_total", "ingest_rows_written_total", "ingest_buffer_items", "ingest_spool_bytes",
            "ingest_db_breaker_state", "ingest_feed_breaker_state", "ingest_db_write_seconds_bucket", "ingest_seconds_since_message",
            "ingest_alerts_active", "ingest_backfill_state", "ingest_backfill_gaps_waiting", "ingest_backfill_lag_seconds",
            "ingest_backfill_gaps_total", "ingest_backfill_rows_inserted_total",
        ]
        #expect(required.subtracting(named).isEmpty, "not on the dashboard: \(required.subtracting(named).sorted())")
        for counter in ["ingest_trades_accepted_total", "ingest_rows_written_total"] {
            #expect(queries.contains { $0.contains("rate(\(counter){") }, "\(counter) is shown as a rate")
        }
        for quantile in ["0.5", "0.99"] {
            #expect(queries.contains { $0.hasPrefix("histogram_quantile(\(quantile),") && $0.contains("ingest_db_write_seconds_bucket") })
        }
    }

    @Test("the dashboard takes its Prometheus as the DS_PROMETHEUS input, and every panel and query uses it")
    func dashboardDatasource() throws {
        let dashboard = try Self.dashboard()
        let inputs = try #require(dashboard["__inputs"] as? [[String: Any]])
        #expect(inputs.contains { $0["name"] as? String == "DS_PROMETHEUS" && $0["pluginId"] as? String == "prometheus" })
        let variables = (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        #expect(variables.contains { $0["name"] as? String == "DS_PROMETHEUS" && $0["type"] as? String == "datasource" })
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let ids = panels.compactMap { $0["id"] as? Int }
        #expect(ids.count == panels.count && Set(ids).count == ids.count, "every panel has its own id")
        for panel in panels where panel["type"] as? String != "row" {
            let title = panel["title"] as? String ?? "?"
            #expect((panel["datasource"] as? [String: Any])?["uid"] as? String == "${DS_PROMETHEUS}", "\(title)")
            let targets = panel["targets"] as? [[String: Any]] ?? []
            #expect(!targets.isEmpty, "\(title) has queries")
            for target in targets {
                #expect((target["datasource"] as? [String: Any])?["uid"] as? String == "${DS_PROMETHEUS}", "\(title)")
            }
        }
        // Anywhere else too (the template variables): no data source but the input.
        #expect(Self.datasourceUIDs(in: dashboard) == ["${DS_PROMETHEUS}"])
    }

    /// The `uid` of every `datasource` object in the dashboard.
    static func datasourceUIDs(in value: Any) -> Set<String> {
        switch value {
        case let object as [String: Any]:
            object.reduce(into: Set<String>()) { uids, entry in
                if entry.key == "datasource", let datasource = entry.value as? [String: Any] {
                    uids.insert(datasource["uid"] as? String ?? "(none)")
                } else {
                    uids.formUnion(datasourceUIDs(in: entry.value))
                }
            }
        case let array as [Any]: array.reduce(into: Set<String>()) { $0.formUnion(datasourceUIDs(in: $1)) }
        default: []
        }
    }

    @Test("every panel's query is valid PromQL (promtool, with Grafana's variables filled in)")
    func dashboardQueriesParse() async throws {
        // The panels' queries only: a variable's `label_values(…)` is Grafana's, not PromQL.
        let queries = Self.expressions(in: try Self.dashboard())
        // One recording rule per query; a JSON string is a YAML string.
        var rules = "groups:\n  - name: dashboard\n    rules:\n"
        for (index, query) in queries.enumerated() {
            let promQL = query.replacingOccurrences(of: "$__rate_interval", with: "1m").replacingOccurrences(of: "$instance", with: ".*")
            let json = try JSONSerialization.data(withJSONObject: promQL, options: [.fragmentsAllowed, .withoutEscapingSlashes])
            let quoted = String(decoding: json, as: UTF8.self)
            rules += "      - record: dashboard_query_\(index)\n        expr: \(quoted)\n"
        }
        try await withTemporaryDirectory("operator-kit") { directory in
            let file = directory.appendingPathComponent("dashboard-rules.yml")
            try rules.write(to: file, atomically: true, encoding: .utf8)
            let check = try await runToolWithInput("promtool", ["check", "rules", file.path], input: "")
            #expect(check.status == 0, "promtool: \(check.output)")
        }
    }

    // MARK: The Prometheus alert rules

    /// The PromQL of each rule in a rules file: `expr:` on one line or as a `|`/`>` block.
    static func ruleExpressions(_ yaml: String) -> [String] {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func indentation(_ line: String) -> Int { line.prefix { $0 == " " }.count }
        var expressions: [String] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("expr:") else { continue }
            let rest = trimmed.dropFirst("expr:".count).trimmingCharacters(in: .whitespaces)
            guard ["|", "|-", ">", ">-"].contains(rest) else {
                expressions.append(rest.trimmingCharacters(in: CharacterSet(charactersIn: "\"'")))
                continue
            }
            var block: [String] = []
            while index < lines.count,
                lines[index].trimmingCharacters(in: .whitespaces).isEmpty || indentation(lines[index]) > indentation(line)
            {
                block.append(lines[index])
                index += 1
            }
            expressions.append(block.joined(separator: "\n"))
        }
        return expressions
    }

    /// The `alert_name` label of each rule (the service's alert it mirrors).
    static func mirroredAlerts(_ yaml: String) -> [String] {
        yaml.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), trimmed.hasPrefix("alert_name:") else { return nil }
            return trimmed.dropFirst("alert_name:".count).trimmingCharacters(in: CharacterSet(charactersIn: " \"'"))
        }
    }

    /// The alerts the file lists as deliberately not mirrored, `#   not mirrored: NAME: reason`, with their reasons.
    static func unmirroredAlerts(_ yaml: String) -> [String: String] {
        var reasons: [String: String] = [:]
        for line in yaml.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("#") else { continue }
            let text = trimmed.drop { $0 == "#" || $0 == " " }
            guard text.hasPrefix("not mirrored:") else { continue }
            let entry = text.dropFirst("not mirrored:".count).trimmingCharacters(in: .whitespaces)
            guard let colon = entry.firstIndex(of: ":") else { continue }
            reasons[String(entry[..<colon])] = entry[entry.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return reasons
    }

    /// The `alert:` names of the rules (Prometheus' `alertname`).
    static func ruleNames(_ yaml: String) -> [String] {
        yaml.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("- alert:") else { return nil }
            return trimmed.dropFirst("- alert:".count).trimmingCharacters(in: .whitespaces)
        }
    }

    @Test("promtool check rules accepts contrib/prometheus/alerts.yml")
    func rulesCheck() async throws {
        let check = try await runToolWithInput(
            "promtool", ["check", "rules", repositoryRoot.appendingPathComponent(Self.rulesPath).path], input: "")
        #expect(check.status == 0, "promtool: \(check.output)")
    }

    @Test("promtool test rules passes contrib/prometheus/alerts.test.yml: the rules fire on the series that should, and only there")
    func rulesUnitTests() async throws {
        let test = try await runToolWithInput(
            "promtool", ["test", "rules", repositoryRoot.appendingPathComponent(Self.rulesTestPath).path], input: "")
        #expect(test.status == 0, "promtool: \(test.output)")
    }

    @Test("each of the service's alerts is mirrored by a rule, or listed as not mirrored with the reason", arguments: AlertName.allCases)
    func alertMirrored(alert: AlertName) throws {
        let rules = try Self.contents(Self.rulesPath)
        let mirrored = Self.mirroredAlerts(rules).filter { $0 == alert.rawValue }.count
        let reason = Self.unmirroredAlerts(rules)[alert.rawValue]
        #expect(mirrored == 1 || (mirrored == 0 && reason?.isEmpty == false), "\(alert.rawValue): \(mirrored) rules, reason \(reason ?? "none")")
        #expect(mirrored == 0 || reason == nil, "\(alert.rawValue) is both mirrored and listed as not")
    }

    /// The `alertname` of each case of a promtool test file, and whether the case expects the alert to fire
    /// (`exp_alerts:` with a list below) or not (`exp_alerts: []`).
    static func testedAlerts(_ yaml: String) -> [(alert: String, fires: Bool)] {
        let lines = yaml.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        return lines.indices.compactMap { index in
            guard lines[index].hasPrefix("alertname:"), index + 1 < lines.count else { return nil }
            let alert = lines[index].dropFirst("alertname:".count).trimmingCharacters(in: .whitespaces)
            return (alert, lines[index + 1] != "exp_alerts: []")
        }
    }

    @Test("the rules name only alerts the service has; alerts.test.yml makes each rule fire and tests no rule that does not exist")
    func rulesNameRealAlerts() throws {
        let rules = try Self.contents(Self.rulesPath)
        let known = Set(AlertName.allCases.map(\.rawValue))
        let named = Set(Self.mirroredAlerts(rules)).union(Self.unmirroredAlerts(rules).keys)
        #expect(named.subtracting(known).isEmpty, "not alerts of the service: \(named.subtracting(known).sorted())")
        let tested = Self.testedAlerts(try Self.contents(Self.rulesTestPath))
        let ruleNames = Set(Self.ruleNames(rules))
        // promtool passes a case that expects no alert from a rule that does not exist: a misspelt name tests nothing.
        let strays = Set(tested.map(\.alert)).subtracting(ruleNames)
        #expect(strays.isEmpty, "tests of no rule: \(strays.sorted())")
        let firing = Set(tested.filter(\.fires).map(\.alert))
        #expect(ruleNames.subtracting(firing).isEmpty, "rules no test makes fire: \(ruleNames.subtracting(firing).sorted())")
    }

    @Test("every metric the alert rules query is one /metrics exports")
    func ruleMetricsExist() throws {
        let expressions = Self.ruleExpressions(try Self.contents(Self.rulesPath))
        #expect(expressions.count == Self.ruleNames(try Self.contents(Self.rulesPath)).count, "one expression per rule")
        let exported = Self.exportedNames()
        for expression in expressions {
            let names = Self.queriedNames(in: expression)
            #expect(names.subtracting(exported).isEmpty, "\(names.subtracting(exported).sorted()) in \(expression) are not at /metrics")
        }
    }

    // MARK: The systemd unit

    /// The `Key=Value` lines of one `[section]` of a unit file.
    static func unitSection(_ name: String, of unit: String) -> [String: [String]] {
        var section = ""
        var values: [String: [String]] = [:]
        for line in unit.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("[") {
                section = line
            } else if section == "[\(name)]", !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") {
                values[String(line[..<equals]), default: []].append(String(line[line.index(after: equals)...]))
            }
        }
        return values
    }

    /// `SHUTDOWN_TIMEOUT_MS`'s default, from docs/configuration.md's table (made from the settings' declarations,
    /// which SettingDeclarationTests keeps in step).
    static func shutdownTimeoutDefaultMs() throws -> Int {
        let configuration = try contents("docs/configuration.md")
        let row = try #require(configuration.split(separator: "\n").first { $0.hasPrefix("| `SHUTDOWN_TIMEOUT_MS` |") })
        let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " `")) }
        return try #require(Int(cells[2]), "the default in \(row)")
    }

    /// A systemd time span in seconds: `45`, `45s`, `1min 30s`.
    static func seconds(_ span: String) -> Double? {
        let units: [String: Double] = ["": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "ms": 0.001]
        var total = 0.0
        for part in span.split(separator: " ") {
            let number = part.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(number), let unit = units[String(part.dropFirst(number.count))] else { return nil }
            total += value * unit
        }
        return span.isEmpty ? nil : total
    }

    @Test("the unit restarts on failure but not after exit 64 or 77, stops with SIGTERM, and waits longer than the shutdown takes")
    func unitKeyLines() throws {
        let unit = try Self.contents(Self.unitPath)
        let service = Self.unitSection("Service", of: unit)
        #expect(service["Restart"] == ["on-failure"])
        let prevented = Set((service["RestartPreventExitStatus"] ?? []).flatMap { $0.split(separator: " ").map(String.init) })
        #expect(prevented.isSuperset(of: ["64", "77"]), "RestartPreventExitStatus \(prevented.sorted())")
        #expect(service["KillSignal"] == ["SIGTERM"])
        #expect(service["ExecStart"]?.first?.hasPrefix("/") == true, "ExecStart is an absolute path")
        // The service exits within SHUTDOWN_TIMEOUT_MS + 2 s (docs/configuration.md); systemd must not SIGKILL it sooner.
        let shutdown = Double(try Self.shutdownTimeoutDefaultMs()) / 1000
        let stop = try #require(service["TimeoutStopSec"]?.first.flatMap(Self.seconds), "TimeoutStopSec")
        #expect(stop > shutdown + 2, "TimeoutStopSec \(stop) s, the shutdown takes up to \(shutdown) s + 2 s")
        #expect(Self.unitSection("Install", of: unit)["WantedBy"] == ["multi-user.target"])
    }

    static let systemdAnalyze: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        .map { "\($0)/systemd-analyze" }.first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test("systemd-analyze verify finds nothing wrong with the unit", .enabled(if: systemdAnalyze != nil, "systemd-analyze is not installed"))
    func unitVerifies() async throws {
        // The binary is not installed here: verify a copy whose ExecStart runs a program that exists.
        let stand = try #require(["/usr/bin/true", "/bin/true"].first { FileManager.default.isExecutableFile(atPath: $0) })
        let unit = try Self.contents(Self.unitPath)
        #expect(unit.contains("ExecStart=/usr/local/bin/ingest-options "))
        let copy = unit.replacingOccurrences(of: "ExecStart=/usr/local/bin/ingest-options ", with: "ExecStart=\(stand) ")
        try await withTemporaryDirectory("operator-kit") { directory in
            let file = directory.appendingPathComponent("ingest-options.service")
            try copy.write(to: file, atomically: true, encoding: .utf8)
            // verify exits 0 on settings it ignores, but names the file and line: any such line is a fault.
            let verify = try await runToolWithInput("systemd-analyze", ["verify", "--man=no", file.path], input: "")
            let complaints = verify.output.split(separator: "\n").filter { $0.contains("ingest-options.service") }
            #expect(verify.status == 0 && complaints.isEmpty, "systemd-analyze verify: \(verify.output)")
        }
    }

    // MARK: The docs

    @Test("docs/operations.md §3 names the three files, and its unit excerpt is lines of the unit file")
    func documented() throws {
        let operations = try Self.contents("docs/operations.md")
        let start = try #require(operations.range(of: "## 3. Prometheus and systemd"))
        let end = operations.range(of: "\n## 4.", range: start.upperBound..<operations.endIndex)?.lowerBound ?? operations.endIndex
        let section = operations[start.lowerBound..<end]
        for path in [Self.dashboardPath, Self.rulesPath, Self.rulesTestPath, Self.unitPath] {
            #expect(section.contains("`\(path)`"), "§3 names \(path)")
        }
        let unitLines = Set(try Self.contents(Self.unitPath).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        for block in section.components(separatedBy: "```ini\n").dropFirst() {
            for line in (block.components(separatedBy: "```").first ?? "").split(separator: "\n") {
                let text = line.trimmingCharacters(in: .whitespaces)
                guard !text.isEmpty, !text.hasPrefix("#"), text != "…" else { continue }
                #expect(unitLines.contains(text), "docs/operations.md shows `\(text)`, which \(Self.unitPath) does not have")
            }
        }
    }
}

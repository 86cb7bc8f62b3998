#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The two files made from the declarations in `Setting.all`: `.env.example`
/// and the table in `docs/configuration.md`. A test keeps the files equal to
/// these (and rewrites them with `UPDATE_SETTING_DOCS=1`).
extension Setting {
    /// Where the generated table sits in `docs/configuration.md`.
    public static let tableMarkers = (begin: "<!-- settings table: generated from Setting.all -->", end: "<!-- end of settings table -->")

    /// One row per setting: variable, flag, default, accepted whole numbers, meaning.
    public static var markdownTable: String {
        var lines = ["| variable | flag | default | accepts | meaning |", "|---|---|---|---|---|"]
        for setting in all {
            let flags = setting.flags.map { "`\($0)`" }.joined(separator: ", ")
            let shownDefault = switch setting.defaultValue {
            case nil: "—"
            case "": "(empty)"
            case let value?: "`\(value)`"
            }
            let accepts = setting.wholeNumbers.map { "`\($0.lowerBound)`…`\($0.upperBound)`" } ?? ""
            lines.append("| `\(setting.name)` | \(flags) | \(shownDefault) | \(accepts) | \(setting.details) |")
        }
        return lines.joined(separator: "\n")
    }

    /// `.env.example`: every setting with its meaning as a comment and its default (empty for none).
    public static var envExample: String {
        var lines = [
            "# ingest-options configuration. Copy to .env (ignored by git) and edit.",
            "# Precedence: command-line flags > environment > .env > the defaults shown here.",
            "# Every variable has a flag twin: POLYGON_API_KEY -> --polygon-api-key. docs/configuration.md has the table.",
            "# Generated from Sources/IngestApp/Settings.swift: edit there, then run the tests with UPDATE_SETTING_DOCS=1.",
        ]
        for setting in all {
            lines.append("")
            lines += wrapped(plain(setting.details), width: 110).map { "# " + $0 }
            lines.append("\(setting.name)=\(setting.defaultValue ?? "")")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Markdown made plain for a comment: no backticks, links reduced to their text.
    static func plain(_ markdown: String) -> String {
        var text = markdown.replacing("`", with: "")
        while let open = text.firstRange(of: "["), let middle = text[open.upperBound...].firstRange(of: "]("),
            let close = text[middle.upperBound...].firstRange(of: ")")
        {
            text.replaceSubrange(open.lowerBound..<close.upperBound, with: text[open.upperBound..<middle.lowerBound])
        }
        return text
    }

    static func wrapped(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += line.isEmpty ? String(word) : " " + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}

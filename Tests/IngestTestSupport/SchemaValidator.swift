import Foundation

/// Checks a JSON value against the subset of JSON Schema that
/// `docs/health-report.schema.json` uses: `type` (one or a list, with
/// `null`), `properties`, `required`, `additionalProperties` (false or a
/// schema), `items`, `enum`, `minimum`, `pattern`. Returns every violation
/// with its JSON path; empty means valid.
public struct SchemaValidator {
    public let schema: [String: Any]

    public init(schemaFile: URL) throws {
        guard let schema = try JSONSerialization.jsonObject(with: Data(contentsOf: schemaFile)) as? [String: Any] else {
            throw TestSetupError("\(schemaFile.path) is not a JSON object")
        }
        self.schema = schema
    }

    public func violations(of value: Any) -> [String] {
        var found: [String] = []
        check(value, against: schema, path: "$", into: &found)
        return found
    }

    private func typeName(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case let number as NSNumber:
            // JSONSerialization's booleans are NSNumbers of type "c" (char); numbers are "i"/"q" or "d".
            switch String(cString: number.objCType) {
            case "c": return "boolean"
            case "d", "f": return "number"
            default: return "integer"
            }
        case is String: return "string"
        case is [Any]: return "array"
        case is [String: Any]: return "object"
        default: return "unknown"
        }
    }

    private func check(_ value: Any, against schema: [String: Any], path: String, into found: inout [String]) {
        let actual = typeName(value)
        if let type = schema["type"] {
            let allowed = (type as? [String]) ?? [(type as? String) ?? ""]
            let matches = allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))
            guard matches else {
                found.append("\(path): \(actual) is not \(allowed.joined(separator: "|"))")
                return
            }
        }
        if let options = schema["enum"] as? [String], let text = value as? String, !options.contains(text) {
            found.append("\(path): \"\(text)\" is not one of \(options)")
        }
        if let minimum = schema["minimum"] as? Double, let number = value as? NSNumber, actual != "boolean",
            number.doubleValue < minimum
        {
            found.append("\(path): \(number) is below \(minimum)")
        }
        if let pattern = schema["pattern"] as? String, let text = value as? String,
            text.range(of: pattern, options: .regularExpression) == nil
        {
            found.append("\(path): \"\(text)\" does not match \(pattern)")
        }
        if let object = value as? [String: Any] {
            let properties = schema["properties"] as? [String: [String: Any]] ?? [:]
            for key in schema["required"] as? [String] ?? [] where object[key] == nil {
                found.append("\(path): required \"\(key)\" is missing")
            }
            for (key, member) in object {
                if let property = properties[key] {
                    check(member, against: property, path: "\(path).\(key)", into: &found)
                } else if let additional = schema["additionalProperties"] as? [String: Any] {
                    check(member, against: additional, path: "\(path).\(key)", into: &found)
                } else if (schema["additionalProperties"] as? Bool) == false {
                    found.append("\(path): unexpected \"\(key)\"")
                }
            }
        }
        if let array = value as? [Any], let items = schema["items"] as? [String: Any] {
            for (index, element) in array.enumerated() {
                check(element, against: items, path: "\(path)[\(index)]", into: &found)
            }
        }
    }
}

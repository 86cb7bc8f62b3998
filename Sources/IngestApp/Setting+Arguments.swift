/// The settings' command-line flags, read from the declarations in `Setting.all`.
///
/// swift-argument-parser declares options statically, one property each, so a
/// flag per setting there would be a second declaration of every setting (and
/// a third place, the copy into the sources, where a missing line silently
/// ignored a flag). Instead the settings' flags are taken out of the arguments
/// here, from the table, and argument-parser sees only what is left: the
/// subcommands, their own options and arguments, `--help`.
extension Setting {
    /// The settings given on a command line, and every other argument in order.
    public struct Arguments: Sendable, Equatable {
        /// Setting name → value, the last one given winning.
        public var values: [String: String]
        /// What is not a setting's flag, for argument-parser.
        public var remaining: [String]
    }

    /// Every flag (and alias) → its setting.
    static let byFlag: [String: Setting] = Dictionary(uniqueKeysWithValues: all.flatMap { setting in setting.flags.map { ($0, setting) } })

    /// Takes `--flag value` and `--flag=value` of every setting out of
    /// `arguments` (without the program name). Reading stops at `--`, as
    /// argument-parser's does. A flag without a value names its variable.
    public static func split(arguments: [String]) throws(ConfigurationError) -> Arguments {
        var result = Arguments(values: [:], remaining: [])
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                result.remaining += arguments[(index - 1)...]
                break
            }
            let equals = argument.firstIndex(of: "=")
            let flag = equals.map { String(argument[..<$0]) } ?? argument
            guard flag.hasPrefix("--"), let setting = byFlag[flag] else {
                result.remaining.append(argument)
                continue
            }
            if let equals {
                result.values[setting.name] = String(argument[argument.index(after: equals)...])
            } else if index < arguments.endIndex, !arguments[index].hasPrefix("--") {
                result.values[setting.name] = arguments[index]
                index += 1
            } else {
                throw ConfigurationError(variable: setting.name, reason: "\(flag) needs a value")
            }
        }
        return result
    }

    /// The settings part of `--help`: every flag, its variable, meaning and default.
    public static var helpText: String {
        var lines = ["Settings (each flag has an environment twin; flags win over the environment, which wins over .env, then the defaults):"]
        for setting in all {
            let flags = setting.flags.map { "\($0) <\(setting.name)>" }.joined(separator: ", ")
            var meaning = setting.help
            if let defaultValue = setting.defaultValue, !defaultValue.isEmpty, !setting.isSecret { meaning += " (default: \(defaultValue))" }
            lines.append("  \(flags)")
            lines.append("        \(meaning)")
        }
        return lines.joined(separator: "\n")
    }
}

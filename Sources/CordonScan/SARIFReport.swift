import CordonCore
import FoundationEssentials

/// Findings as a SARIF 2.1.0 log, the format code-scanning UIs and CI systems read.
public enum SARIFReport {
    public static func json(findings: [Finding], toolVersion: String, rules: [(id: String, description: String)] = []) -> String {
        var ruleIDs: [String] = []
        var descriptions: [String: String] = [:]
        for rule in rules { descriptions[rule.id] = rule.description }
        for finding in findings where descriptions[finding.ruleID] == nil { descriptions[finding.ruleID] = finding.message }
        for finding in findings where !ruleIDs.contains(finding.ruleID) { ruleIDs.append(finding.ruleID) }
        for rule in rules where !ruleIDs.contains(rule.id) { ruleIDs.append(rule.id) }
        let sarifRules: [[String: Any]] = ruleIDs.map { id in
            ["id": id, "shortDescription": ["text": descriptions[id] ?? id]]
        }
        let results: [[String: Any]] = findings.map { f in
            var region: [String: Any] = [:]
            if let line = f.line { region["startLine"] = line }
            if let column = f.column { region["startColumn"] = column }
            var physical: [String: Any] = ["artifactLocation": ["uri": f.path.isEmpty ? "." : f.path]]
            // A member's line and column are in the member, not in the archive the URI names.
            if !region.isEmpty && f.member == nil { physical["region"] = region }
            var message = f.message
            if let match = f.match { message += " (\(match))" }
            if let member = f.member { message += " in member \(member)" + (f.line.map { " line \($0)" } ?? "") }
            if let decoded = f.decoded, !decoded.isEmpty { message += " [decoded: \(decoded.joined(separator: " → "))]" }
            var result: [String: Any] = [
                "ruleId": f.ruleID,
                "level": level(f.severity),
                "message": ["text": message + ". Fix: " + f.fix],
                "locations": [["physicalLocation": physical]],
                "properties": ["severity": f.severity.rawValue],
            ]
            if let index = ruleIDs.firstIndex(of: f.ruleID) { result["ruleIndex"] = index }
            return result
        }
        let log: [String: Any] = [
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [
                [
                    "tool": ["driver": ["name": "cordon", "version": toolVersion, "informationUri": "https://github.com/cordon", "rules": sarifRules]],
                    "results": results,
                ]
            ],
        ]
        return encode(log)
    }

    static func level(_ severity: Finding.Severity) -> String {
        switch severity {
        case .block: "error"
        case .conflict, .approval: "warning"
        case .note: "note"
        }
    }

    /// A small JSON writer for `[String: Any]` trees (sorted keys, stable output).
    static func encode(_ value: Any, indent: String = "") -> String {
        let next = indent + "  "
        switch value {
        case let dict as [String: Any]:
            if dict.isEmpty { return "{}" }
            let items = dict.keys.sorted().map { "\(next)\(quote($0)): \(encode(dict[$0] ?? "", indent: next))" }
            return "{\n" + items.joined(separator: ",\n") + "\n\(indent)}"
        case let array as [Any]:
            if array.isEmpty { return "[]" }
            return "[\n" + array.map { next + encode($0, indent: next) }.joined(separator: ",\n") + "\n\(indent)]"
        case let string as String: return quote(string)
        case let int as Int: return String(int)
        case let double as Double: return String(double)
        case let bool as Bool: return bool ? "true" : "false"
        default: return "null"
        }
    }

    static func quote(_ text: String) -> String { JSONValue.quote(text) }
}

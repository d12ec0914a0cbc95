import MCP

/// A tool call refused or failed: said to the client as a tool result with `isError: true` and
/// this message, never as a crash of the server.
public struct ToolError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A tool call's arguments, checked against the tool's schema before anything runs: an argument
/// the schema does not name (`force`, `yes`, `profile_body`, `workspace`, …) refuses the call, so
/// a client cannot reach a CLI option the catalogue leaves out by guessing its name.
struct ToolArguments {
    let tool: String
    let values: [String: Value]

    init(tool: String, arguments: [String: Value]?, allowed: [String]) throws(ToolError) {
        self.tool = tool
        values = arguments ?? [:]
        let unknown = values.keys.filter { !allowed.contains($0) }.sorted()
        if !unknown.isEmpty {
            let takes = allowed.isEmpty ? "no arguments" : "only " + allowed.sorted().joined(separator: ", ")
            throw ToolError(
                "\(tool) does not take \(unknown.map { "\"\($0)\"" }.joined(separator: ", ")): it takes \(takes). "
                    + "cordon mcp never widens a sandbox (no force, yes, inline profile, workspace, egress or secrets)")
        }
    }

    func string(_ key: String) throws(ToolError) -> String? {
        guard let value = values[key], !value.isNull else { return nil }
        guard let text = value.stringValue else { throw ToolError("\(tool): \(key) must be a string") }
        return text
    }

    func requiredString(_ key: String) throws(ToolError) -> String {
        guard let text = try string(key) else { throw ToolError("\(tool): \(key) is required") }
        return text
    }

    func bool(_ key: String) throws(ToolError) -> Bool? {
        guard let value = values[key], !value.isNull else { return nil }
        guard let flag = value.boolValue else { throw ToolError("\(tool): \(key) must be true or false") }
        return flag
    }

    /// A whole number in `range` (a JSON number with no fraction also counts).
    func int(_ key: String, in range: ClosedRange<Int>) throws(ToolError) -> Int? {
        guard let value = values[key], !value.isNull else { return nil }
        let number: Int?
        switch value {
        case .int(let n): number = n
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: number = Int(d)
        default: number = nil
        }
        guard let number, range.contains(number) else {
            throw ToolError("\(tool): \(key) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// A number of seconds in `range`.
    func seconds(_ key: String, in range: ClosedRange<Double>) throws(ToolError) -> Double? {
        guard let value = values[key], !value.isNull else { return nil }
        let number: Double? =
            switch value {
            case .int(let n): Double(n)
            case .double(let d): d
            default: nil
            }
        guard let number, number.isFinite, range.contains(number) else {
            throw ToolError("\(tool): \(key) must be a number of seconds from \(Int(range.lowerBound)) to \(Int(range.upperBound))")
        }
        return number
    }

    func strings(_ key: String) throws(ToolError) -> [String]? {
        guard let value = values[key], !value.isNull else { return nil }
        guard let items = value.arrayValue else { throw ToolError("\(tool): \(key) must be an array of strings") }
        var result: [String] = []
        for item in items {
            guard let text = item.stringValue else { throw ToolError("\(tool): \(key) must be an array of strings") }
            result.append(text)
        }
        return result
    }
}

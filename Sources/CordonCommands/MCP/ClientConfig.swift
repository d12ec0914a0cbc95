/// `cordon mcp config --client NAME`: the snippet that registers cordon with an MCP client.
public enum ClientConfig {
    public enum Client: String, CaseIterable, Sendable {
        case claudeDesktop = "claude-desktop"
        case claudeCode = "claude-code"
        case cursor
        case vscode
    }

    /// Where the snippet goes, said before it (on stderr by the command).
    public static func whereItGoes(_ client: Client) -> String {
        switch client {
        case .claudeDesktop: "Add to claude_desktop_config.json (Settings → Developer → Edit Config), under \"mcpServers\":"
        case .claudeCode: "Run:"
        case .cursor: "Add to ~/.cursor/mcp.json (or .cursor/mcp.json in a project), under \"mcpServers\":"
        case .vscode: "Add to .vscode/mcp.json (or the user settings' \"mcp\" section):"
        }
    }

    /// The snippet for `client`, running `executable mcp` (stdio) in `workspace`, the directory
    /// `sandbox_up` serves.
    public static func snippet(_ client: Client, executable: String, workspace: String) -> String {
        let args = "[\"mcp\", \"--workspace\", \(quoted(workspace))]"
        switch client {
        case .claudeDesktop, .cursor:
            return """
                {
                  "mcpServers": {
                    "cordon": {
                      "command": \(quoted(executable)),
                      "args": \(args)
                    }
                  }
                }
                """
        case .claudeCode:
            return "claude mcp add cordon -- \(shellQuoted(executable)) mcp --workspace \(shellQuoted(workspace))"
        case .vscode:
            return """
                {
                  "servers": {
                    "cordon": {
                      "type": "stdio",
                      "command": \(quoted(executable)),
                      "args": \(args)
                    }
                  }
                }
                """
        }
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A POSIX shell word.
    static func shellQuoted(_ text: String) -> String {
        if !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "/._-+:=@".contains($0)) }) { return text }
        return "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }
}

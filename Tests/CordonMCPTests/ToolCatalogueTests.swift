import MCP
import Testing

@testable import CordonMCP

/// The catalogue: closed schemas, the arguments a call may pass are exactly the schema's, and no
/// tool that would widen a sandbox.
struct ToolCatalogueTests {
    @Test func everySchemaIsClosedAndItsRequiredArgumentsExist() throws {
        for name in ToolCatalogue.Name.allCases {
            let tool = ToolCatalogue.tool(name)
            let schema = try #require(tool.inputSchema.objectValue)
            #expect(schema["additionalProperties"] == .bool(false), "\(name)")
            let properties = try #require(schema["properties"]?.objectValue)
            #expect(Set(properties.keys) == Set(ToolCatalogue.allowed(name)), "\(name)")
            for required in schema["required"]?.arrayValue ?? [] {
                #expect(properties[required.stringValue ?? ""] != nil, "\(name): \(required)")
            }
            #expect(tool.description?.isEmpty == false)
        }
    }

    /// No tool approves egress, touches secrets, changes policy, forces a sync, or takes a
    /// profile's text, a path or a workspace.
    @Test func nothingThatWidensIsOffered() {
        let banned = [
            "approv", "allow", "deny", "secret", "policy", "trust", "egress", "force", "yes", "body", "path", "workspace", "preset", "network", "env",
        ]
        for name in ToolCatalogue.Name.allCases {
            for word in banned {
                // `network_log` reads the log; no tool's name otherwise names what it would widen.
                #expect(!name.rawValue.contains(word) || name == .networkLog && word == "network", "\(name.rawValue)")
                #expect(!ToolCatalogue.allowed(name).contains { $0.contains(word) }, "\(name.rawValue) takes an argument with \(word)")
            }
        }
    }

    @Test func unknownArgumentsAreRefusedByName() throws {
        for extra in ["force", "yes", "profile_body", "workspace", "partial"] {
            #expect(throws: ToolError.self) {
                try ToolArguments(tool: "sandbox_sync", arguments: ["sandbox": "a", extra: .bool(true)], allowed: ToolCatalogue.allowed(.sync))
            }
        }
        do {
            _ = try ToolArguments(tool: "sandbox_sync", arguments: ["sandbox": "a", "force": true], allowed: ToolCatalogue.allowed(.sync))
            Issue.record("force was accepted")
        } catch {
            #expect(error.message.contains("\"force\"") && error.message.contains("only apply, sandbox"), "\(error.message)")
        }
        let fine = try ToolArguments(tool: "sandbox_sync", arguments: ["sandbox": "a", "apply": false], allowed: ToolCatalogue.allowed(.sync))
        #expect(try fine.bool("apply") == false)
    }

    @Test func argumentTypesAreChecked() throws {
        let arguments = try ToolArguments(
            tool: "sandbox_exec", arguments: ["sandbox": 3, "argv": "ls", "timeout_seconds": 9999, "workdir": ["x"]],
            allowed: ToolCatalogue.allowed(.exec))
        #expect(throws: ToolError.self) { try arguments.requiredString("sandbox") }
        #expect(throws: ToolError.self) { try arguments.strings("argv") }
        #expect(throws: ToolError.self) { try arguments.seconds("timeout_seconds", in: 1...600) }
        #expect(throws: ToolError.self) { try arguments.string("workdir") }
        let lines = try ToolArguments(tool: "audit_log", arguments: ["lines": 2.5], allowed: ["lines"])
        #expect(throws: ToolError.self) { try lines.int("lines", in: 1...1000) }
        let whole = try ToolArguments(tool: "audit_log", arguments: ["lines": 20.0], allowed: ["lines"])
        #expect(try whole.int("lines", in: 1...1000) == 20)
    }
}

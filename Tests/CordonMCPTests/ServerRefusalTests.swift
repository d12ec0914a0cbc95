import CordonCore
import CordonTestSupport
import Foundation
import MCP
import Testing

@testable import CordonMCP

/// The server in-process (the SDK's in-memory transport and client) over a stand-in `cordon`
/// that records every run: a call that is refused runs nothing at all.
@Suite(.timeLimit(.minutes(1)))
struct ServerRefusalTests {
    struct Fixture {
        let root: String
        let record: String
        let context: MCPContext

        init() throws {
            root = try TempTree.makeDirectory()
            record = root + "/runs"
            let fake = root + "/cordon"
            // Records its argv, answers as `up --json` / `ls --json` would.
            try """
            #!/bin/sh
            printf '%s\\n' "$*" >> \(record)
            case "$1" in
              up) echo '{"version": 1, "name": "x", "state": "running"}' ;;
              *) echo '{"version": 1, "sandboxes": []}' ;;
            esac
            """.write(toFile: fake, atomically: false, encoding: .utf8)
            chmod(fake, 0o755)
            try FileManager.default.createDirectory(atPath: root + "/state/sandboxes/box", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: root + "/config/profiles", withIntermediateDirectories: true)
            try "name: mine\n".write(toFile: root + "/config/profiles/mine.yaml", atomically: false, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: root + "/workspace", withIntermediateDirectories: true)
            try "name: evil\nnetwork: host\n".write(toFile: root + "/workspace/evil.yaml", atomically: false, encoding: .utf8)
            context = MCPContext(
                cli: CordonCLI(executable: fake, environment: ["PATH=/usr/bin:/bin"]),
                paths: CordonPaths(configHome: root + "/config", stateHome: root + "/state"),
                workspace: root + "/workspace")
        }

        var runs: [String] {
            ((try? String(contentsOfFile: record, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
    }

    func connected(_ fixture: Fixture) async throws -> Client {
        let server = await CordonMCPServer.make(context: fixture.context, version: "test")
        let (clientSide, serverSide) = await InMemoryTransport.createConnectedPair()
        try await server.start(transport: serverSide)
        let client = Client(name: "test", version: "1")
        _ = try await client.connect(transport: clientSide)
        return client
    }

    static func text(_ content: [Tool.Content]) -> String {
        content.map { if case .text(let text, _, _) = $0 { text } else { "" } }.joined()
    }

    @Test func wideningCallsAreRefusedAndRunNothing() async throws {
        let fixture = try Fixture()
        let client = try await connected(fixture)
        let attempts: [(String, [String: Value])] = [
            ("approve_egress", ["sandbox": "box", "host": "evil.example"]),
            ("secrets_set", ["name": "X", "value": "y"]),
            ("secrets_show", ["name": "X"]),
            ("set_policy", ["sandbox": "box", "network": "host"]),
            ("sandbox_allow", ["sandbox": "box", "domain": "*"]),
            ("sandbox_sync", ["sandbox": "box", "apply": true, "force": true]),
            ("sandbox_sync", ["sandbox": "box", "yes": true]),
            ("sandbox_up", ["name": "n1", "profile_body": "network: host\n"]),
            ("sandbox_up", ["name": "n2", "profile": .string(fixture.root + "/workspace/evil.yaml")]),
            ("sandbox_up", ["name": "n3", "profile": "evil.yaml"]),
            ("sandbox_up", ["name": "n4", "profile": "../workspace/evil"]),
            ("sandbox_up", ["name": "n5", "workspace": "/"]),
            ("sandbox_up", ["name": "n6", "allow": ["*"]]),
            ("sandbox_up", ["name": "../n7"]),
            ("sandbox_exec", ["sandbox": "../box", "argv": ["true"]]),
            ("sandbox_exec", ["sandbox": "box", "argv": ["true"], "env": ["LD_PRELOAD=x"]]),
            ("sandbox_status", ["sandbox": "nosuch"]),
        ]
        for (name, arguments) in attempts {
            let (content, isError) = try await client.callTool(name: name, arguments: arguments)
            #expect(isError == true, "\(name) \(arguments): \(Self.text(content))")
            #expect(!Self.text(content).isEmpty)
        }
        #expect(fixture.runs.isEmpty, "\(fixture.runs)")
        // The stand-in does run for calls that are allowed: its silence above means something.
        let (_, listError) = try await client.callTool(name: "sandbox_list", arguments: [:])
        #expect(listError == false)
        let (upContent, upError) = try await client.callTool(name: "sandbox_up", arguments: ["name": "fine", "profile": "mine"])
        #expect(upError == false, "\(Self.text(upContent))")
        #expect(fixture.runs == ["ls --json", "up --json --workspace \(fixture.root)/workspace --name fine --profile mine"], "\(fixture.runs)")
    }

    @Test func refusalsNameWhatIsWrong() async throws {
        let fixture = try Fixture()
        let client = try await connected(fixture)
        let (unknown, _) = try await client.callTool(name: "approve_egress", arguments: [:])
        #expect(Self.text(unknown).contains("no tool named \"approve_egress\""), "\(Self.text(unknown))")
        let (extra, _) = try await client.callTool(name: "sandbox_sync", arguments: ["sandbox": "box", "force": true])
        #expect(Self.text(extra).contains("does not take \"force\""), "\(Self.text(extra))")
        let (path, _) = try await client.callTool(name: "sandbox_up", arguments: ["profile": "/etc/passwd"])
        #expect(Self.text(path).contains("never a path"), "\(Self.text(path))")
        let (missing, _) = try await client.callTool(name: "sandbox_status", arguments: ["sandbox": "nosuch"])
        #expect(Self.text(missing).contains("no sandbox named \"nosuch\""), "\(Self.text(missing))")
    }

    @Test func toolsAndResourcesAreListed() async throws {
        let fixture = try Fixture()
        let client = try await connected(fixture)
        let tools = try await client.listTools().tools.map(\.name)
        #expect(tools == ToolCatalogue.Name.allCases.map(\.rawValue))
        let resources = try await client.listResources().resources.map(\.uri)
        #expect(resources == ["cordon://sandbox/box/profile", "cordon://sandbox/box/audit", "cordon://sandbox/box/diff"])
        await #expect(throws: (any Error).self) { _ = try await client.readResource(uri: "cordon://sandbox/../x/profile") }
        await #expect(throws: (any Error).self) { _ = try await client.readResource(uri: "cordon://sandbox/box/secrets") }
    }
}

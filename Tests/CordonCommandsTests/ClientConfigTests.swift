import Foundation
import Testing

@testable import CordonCommands

/// `cordon mcp config`: each client's snippet is valid JSON (or a shell line, quoted) that runs
/// `cordon mcp` on the workspace.
@Suite struct ClientConfigTests {
    @Test func clientSnippetsAreValid() throws {
        for client in ClientConfig.Client.allCases where client != .claudeCode {
            let text = ClientConfig.snippet(client, executable: "/usr/local/bin/cordon", workspace: "/home/u/my \"proj\"")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
            let servers = try #require((json["mcpServers"] ?? json["servers"]) as? [String: Any])
            let cordon = try #require(servers["cordon"] as? [String: Any])
            #expect(cordon["args"] as? [String] == ["mcp", "--workspace", "/home/u/my \"proj\""])
        }
        #expect(
            ClientConfig.snippet(.claudeCode, executable: "/usr/bin/cordon", workspace: "/a b/it's")
                == "claude mcp add cordon -- /usr/bin/cordon mcp --workspace '/a b/it'\\''s'")
    }
}

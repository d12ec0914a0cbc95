import CordonCore
import Testing
@testable import CordonConfig

@Suite struct ProfileRendererTests {
    static let rich = """
        name: rich
        mode: yolo
        workspace: /srv/app
        presets: [claude-code, github, git]
        mounts:
          - {host: ~/data, sandbox: /data, mode: overlay}
        env: {"EDITOR": vi, ODD: "yes", NUM: "007", EMPTY: ""}
        resources: {memory: 3g, cpus: 1.5, pids: 100, disk: 1000, strict: true}
        network: none
        egress:
          domains: ["*.example.com", .example.org:8443]
          deny: [evil.example, {domain: "*:25", reason: "no mail: \\"really\\""}]
          allow_private: [192.168.0.0/16]
          resolve: {db.internal: "fd00::5"}
          prompt: true
          parent_proxy: {url: "https://p:3129", no_proxy: [".corp"], ca_file: /etc/corp-ca.pem}
          rate_limits: {"api.example.com": 30}
          blocklists: [/etc/cordon-block.txt]
        secrets:
          - {name: gh, env: GH_TOKEN, domains: [api.github.com]}
          - {name: plain}
        sync:
          interval: 1.5s
          allow: ["src/**"]
          blocked_extensions: [.so]
          max_file_size: 123456
          gitleaks_config: /etc/gitleaks.toml
        """

    @Test(arguments: ["", "presets: [aider]\n", rich])
    func yamlRoundTrips(_ source: String) throws {
        let profile = try Fixture.parse(source)
        let yaml = ProfileRenderer.yaml(profile)
        #expect(try Fixture.parse(yaml) == profile, "\(yaml)")
        let minimal = ProfileRenderer.yaml(profile, minimal: true)
        #expect(try Fixture.parse(minimal) == profile, "\(minimal)")
    }

    @Test func yamlUsesSnakeCaseAndShortForms() throws {
        let yaml = ProfileRenderer.yaml(try Fixture.parse(Self.rich))
        for needle in [
            "allow_private:", "parent_proxy:", "no_proxy:", "ca_file: /etc/corp-ca.pem", "rate_limits:", "max_file_size: 123456", "blocked_extensions:",
            "gitleaks_config:", "memory: 3g", "interval: 1500ms", "NUM: \"007\"", "ODD: \"yes\"", "- \"*.example.com\"",
        ] {
            #expect(yaml.contains(needle), "missing \(needle) in\n\(yaml)")
        }
        #expect(yaml.hasPrefix("name: rich\nbackend: namespace\nmode: yolo\n"))
    }

    @Test func defaultsRenderMinimallyAsNothing() {
        #expect(ProfileRenderer.yaml(.defaults, minimal: true) == "")
    }

    @Test func jsonHasBytesAndSeconds() throws {
        let json = ProfileRenderer.json(try Fixture.parse(Self.rich))
        #expect(json.contains("\"memory\": 3221225472"))
        #expect(json.contains("\"interval\": 1.5"))
        #expect(json.contains("\"allow_private\": ["))
        #expect(json.contains("\"reason\": \"no mail: \\\"really\\\"\""))
        let decoded = try JSONSerializationless.parse(json)
        #expect(decoded)
    }
}

/// A structural sanity check without Foundation's JSONSerialization: braces and brackets balance
/// outside strings.
enum JSONSerializationless {
    static func parse(_ text: String) throws -> Bool {
        var depth = 0, inString = false, escaped = false
        for ch in text {
            if inString {
                if escaped { escaped = false } else if ch == "\\" { escaped = true } else if ch == "\"" { inString = false }
                continue
            }
            switch ch {
            case "\"": inString = true
            case "{", "[": depth += 1
            case "}", "]": depth -= 1
            default: break
            }
            if depth < 0 { return false }
        }
        return depth == 0 && !inString
    }
}

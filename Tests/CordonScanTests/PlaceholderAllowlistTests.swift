@testable import CordonScan
import CordonCore
import Testing

/// The placeholders a sandbox sees instead of secrets are not reported by the sync gate, and do
/// not shield a real key beside them.
@Suite struct PlaceholderAllowlistTests {
    static let placeholder = PlaceholderFormat.prefix + "k7d2mq4zx5ab3vw6ty2ne7hp4lc5ra6s"
    static let github = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
    static let generic = "db_password = \"Zq8vLm2-pR7tW4xK9sB\"\n"

    @Test func aPlaceholderIsNotReported() {
        #expect(PlaceholderFormat.matches(Self.placeholder))
        #expect(SecretScannerTests.scanners.count == 2)
        for scanner in SecretScannerTests.scanners {
            for text in ["OPENAI_API_KEY=\(Self.placeholder)\n", "export GITHUB_TOKEN=\"\(Self.placeholder)\"\n", "api_key: \(Self.placeholder)\n"] {
                let findings = scanner.scan(Array(text.utf8), path: "src/.env")
                #expect(findings.isEmpty, "hyperscan: \(scanner.usesHyperscan): \(findings.map(\.ruleID)) for \(text)")
            }
        }
    }

    @Test func aRealKeyBesideAPlaceholderIsStillFound() {
        let text = "OPENAI_API_KEY=\(Self.placeholder)\nexport GITHUB_TOKEN=\(Self.github)\n" + Self.generic
        for scanner in SecretScannerTests.scanners {
            let findings = scanner.scan(Array(text.utf8), path: "src/.env")
            #expect(findings.contains { $0.ruleID == "github-token" && $0.line == 2 }, "\(findings.map(\.ruleID))")
            #expect(findings.contains { $0.ruleID == "generic-api-key" && $0.line == 3 }, "\(findings.map(\.ruleID))")
            #expect(!findings.contains { $0.line == 1 })
        }
    }

    /// Only the exact format: a longer value, or one that merely starts like a placeholder, is
    /// scanned as any other.
    @Test(arguments: [
        "api_token = \"cordon-ph-k7d2mq4zx5ab3vw6ty2ne7hp4lc5ra6sQz8vLm2pR7tW4\"\n",
        "api_token = \"cordon-ph-Zq8vLm2-pR7tW4xK9sB91\"\n",
    ])
    func aLookAlikeIsStillScanned(_ text: String) {
        for scanner in SecretScannerTests.scanners {
            let findings = scanner.scan(Array(text.utf8), path: "src/app.txt")
            #expect(findings.contains { $0.ruleID == "generic-api-key" }, "\(findings.map(\.ruleID))")
        }
    }
}

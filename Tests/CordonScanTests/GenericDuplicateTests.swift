@testable import CordonScan
import Foundation
import Testing

/// One secret is one finding: a generic rule's match on the span a specific rule matched is
/// dropped (as gitleaks does), so a token is not reported twice, as its own rule and as
/// `generic-api-key`.
@Suite struct GenericDuplicateTests {
    static let scanners = SecretScannerTests.scanners
    static let github = SecretScannerTests.github
    static let aws = SecretScannerTests.aws
    static let anthropic = SecretScannerTests.anthropic

    static func rules(_ text: String, scanner: SecretScanner) -> [String] {
        scanner.scan(Array(text.utf8), path: "f.env").map(\.ruleID).sorted()
    }

    @Test(arguments: [
        ("github-token", "export GITHUB_TOKEN=\(github)\n"),
        ("github-token", "token: \"\(github)\"\n"),
        ("aws-access-key-id", "aws_access_key_id = \(aws)\n"),
        ("anthropic-api-key", "ANTHROPIC_API_KEY=\(anthropic)\n"),
    ])
    func aSecretIsReportedOnceByItsOwnRule(rule: String, text: String) throws {
        #expect(Self.scanners.count == 2)
        for scanner in Self.scanners {
            #expect(Self.rules(text, scanner: scanner) == [rule], "hyperscan: \(scanner.usesHyperscan)")
        }
    }

    /// The same secret beneath an encoding is one finding too.
    @Test func anEncodedSecretIsReportedOnce() throws {
        let encoded = Data("GITHUB_TOKEN=\(Self.github)".utf8).base64EncodedString()
        for scanner in Self.scanners {
            let findings = scanner.scan(Array("blob: \(encoded)\n".utf8), path: "f.txt").filter { $0.decoded != nil }
            #expect(findings.map(\.ruleID) == ["github-token"], "hyperscan: \(scanner.usesHyperscan): \(findings.map(\.rendered))")
        }
    }

    /// A generic finding of its own stays: on another line, or elsewhere on the same line.
    @Test func aGenericSecretOfItsOwnStays() throws {
        let separate = "db_password = \"Zq8vLm2-pR7tW4xK9sB\"\nexport GITHUB_TOKEN=\(Self.github)\n"
        let sameLine = "db_password=\"Zq8vLm2-pR7tW4xK9sB\" GITHUB_TOKEN=\(Self.github)\n"
        for scanner in Self.scanners {
            #expect(Self.rules(separate, scanner: scanner) == ["generic-api-key", "github-token"], "hyperscan: \(scanner.usesHyperscan)")
            #expect(Self.rules(sameLine, scanner: scanner) == ["generic-api-key", "github-token"], "hyperscan: \(scanner.usesHyperscan)")
        }
    }

    /// The rule is gitleaks': any rule whose id says "generic" gives way to a specific one whose
    /// secret span overlaps its own, and only then.
    @Test func onlyAnOverlappingSpecificMatchDropsAGenericOne() {
        func located(_ id: String, _ span: Range<Int>?) -> SecretScanner.Located {
            .init(finding: Finding(ruleID: id, severity: .block, path: "f", message: "", fix: ""), span: span)
        }
        let kept = SecretScanner.droppingGenericDuplicates([
            located("my-Generic-rule", 0..<10), located("acme-key", 5..<20), located("generic-api-key", 20..<30),
            located("generic-api-key", nil), located("other-key", 40..<50),
        ])
        #expect(kept.map(\.ruleID) == ["acme-key", "generic-api-key", "generic-api-key", "other-key"])
    }
}

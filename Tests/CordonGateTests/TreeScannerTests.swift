import CordonGate
import CordonScan
import CordonTestSupport
import Testing

/// `cordon scan` over files on disk (the scanner's own attacks are in CordonScanTests).
@Suite struct TreeScannerTests {
    static let line = "aws_access_key_id = " + "AKIA" + "QYLPMN5HHHFPZAM2" + "\n"

    /// `cordon scan` over a tree: a member's finding names it; a file too large to read is a
    /// finding, not a silent pass; SARIF does not put a member's line on the archive.
    @Test func treeScanNamesMembersAndHoldsWhatItCannotRead() throws {
        let tree = try TempTree()
        tree.writeBytes("dist/bundle.zip", try Self.deflatedZip(name: "config/.env", Array(Self.line.utf8)))
        tree.write("big.txt", String(repeating: "x", count: 4096) + "\n" + Self.line)
        let scanner = TreeScanner(scanner: try SecretScanner(RuleSet.defaults()), maxFileSize: 2048)
        let result = try scanner.scan([tree.root])
        let member = result.findings.first { $0.ruleID == "aws-access-key-id" }
        #expect(member?.path == "dist/bundle.zip" && member?.member == "config/.env", "\(result.findings.map(\.rendered))")
        #expect(result.findings.contains { $0.ruleID == "scan-too-large" && $0.path == "big.txt" && $0.severity == .approval })
        let sarif = SARIFReport.json(findings: result.findings, toolVersion: "test")
        #expect(sarif.contains("in member config/.env line 1"))
    }

    static func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
    static func le32(_ v: Int) -> [UInt8] { le16(v & 0xffff) + le16(v >> 16 & 0xffff) }

    /// A zip of one deflated member.
    static func deflatedZip(name: String, _ plain: [UInt8]) throws -> [UInt8] {
        let n = Array(name.utf8)
        let data = try Deflate.compress(plain, gzip: false)
        var out =
            le32(0x0403_4b50) + le16(20) + le16(0) + le16(8) + le32(0) + le32(0) + le32(data.count) + le32(plain.count) + le16(n.count) + le16(0) + n + data
        let directory = out.count
        var central = le32(0x0201_4b50) + le16(20) + le16(20) + le16(0) + le16(8) + le32(0) + le32(0) + le32(data.count) + le32(plain.count)
        central += le16(n.count) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(0) + n
        out += central
        out += le32(0x0605_4b50) + le16(0) + le16(0) + le16(1) + le16(1) + le32(central.count) + le32(directory) + le16(0)
        return out
    }
}

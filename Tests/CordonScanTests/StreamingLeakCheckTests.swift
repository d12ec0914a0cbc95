@testable import CordonScan
import CordonCore
import CordonTestSupport
import Foundation
import Testing

/// The outbound leak check: the gate's rules over a request body fed in chunks, with bounded
/// memory, finding a secret wherever the chunks split it and before any of it may leave.
@Suite struct StreamingLeakCheckTests {
    static let scanner: SecretScanner? = try? SecretScanner(RuleSet.defaults())

    // Assembled at run time so this file holds no literal that looks like a live key.
    static let aws = "AKIA" + "QYLPMN5HHHFPZAM2"
    static let fineGrained = "github_pat_" + "11ABCDEFG0" + String(repeating: "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5", count: 2)
    static let privateKey =
        "-----BEGIN " + "RSA PRIVATE KEY-----\\n" + String(repeating: "MIIEowIBAAKCAQEA7yN3+abcdEFGH/ijklMNOP\\n", count: 6)
        + "-----END RSA PRIVATE KEY-----"
    static let placeholder = PlaceholderFormat.prefix + "k7d2mq4zx5ab3vw6ty2ne7hp4lc5ra6s"

    /// A chat request body with `secret` in a message, after `padding` bytes of clean text.
    static func body(_ secret: String, padding: Int) -> [UInt8] {
        let filler = String(repeating: "the quick brown fox jumps over the lazy dog. ", count: padding / 45 + 1).prefix(padding)
        return Array("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\(filler) here it is: \(secret) thanks\"}]}".utf8)
    }

    /// Feeds `chunks` and finishes; returns the findings and, for the first one, how many bytes
    /// the checker had let go before it was reported.
    static func run(_ check: StreamingLeakCheck, _ chunks: [ArraySlice<UInt8>]) -> (findings: [Finding], releasedBeforeFirst: Int?) {
        var findings: [Finding] = []
        var released = 0
        var releasedBeforeFirst: Int?
        for chunk in chunks {
            let (found, releasable) = Array(chunk).withUnsafeBytes { check.feed($0) }
            if !found.isEmpty && releasedBeforeFirst == nil { releasedBeforeFirst = released }
            findings += found
            #expect(releasable >= released, "releasable went back")
            released = releasable
        }
        let last = check.finish()
        if !last.isEmpty && releasedBeforeFirst == nil { releasedBeforeFirst = released }
        findings += last
        #expect(check.retainedBytes == 0)
        return (findings, releasedBeforeFirst)
    }

    /// Split at every offset into two chunks: found once, and none of the secret is releasable
    /// before the finding is reported. The padding puts the secret past the held-back tail, so
    /// release and finding really race.
    @Test(arguments: [
        ("aws-access-key-id", aws),
        ("github-fine-grained-pat", fineGrained),
        ("private-key", privateKey),
    ])
    func aSecretSplitAtEveryOffsetIsFound(_ rule: String, _ secret: String) async throws {
        let scanner = try #require(Self.scanner)
        try await onOwnThread {
            let body = Self.body(secret, padding: 1500)
            let start = try #require(String(decoding: body, as: UTF8.self).range(of: secret)).lowerBound.utf16Offset(in: String(decoding: body, as: UTF8.self))
            var failures: [Int] = []
            for split in 0...body.count {
                let check = StreamingLeakCheck(scanner: scanner, window: 1024)
                let (findings, released) = Self.run(check, [body[..<split], body[split...]])
                let ok = findings.count == 1 && findings.first?.ruleID == rule && (released ?? .max) <= start
                if !ok { failures.append(split) }
            }
            #expect(failures.count == 0, "\(rule): missed, repeated or released early at splits \(failures.prefix(20)) (of \(body.count + 1))")
        }
    }

    /// A key the size of a 4096-bit RSA key in PEM, JSON-escaped (~3.3 KB), with the default
    /// window: found at splits all along it, before any of it may leave.
    @Test func aLargePrivateKeyFitsTheDefaultWindow() async throws {
        let scanner = try #require(Self.scanner)
        try await onOwnThread {
            let key =
                "-----BEGIN " + "RSA PRIVATE KEY-----\\n" + String(repeating: "MIIJKAIBAAKCAgEAu7yN3+abcdEFGH/ijklMNOPqrstUVWXyz0123456789abcdef\\n", count: 49)
                + "-----END RSA PRIVATE KEY-----"
            #expect(key.utf8.count > 3_300)
            let body = Self.body(key, padding: 6000)
            let text = String(decoding: body, as: UTF8.self)
            let start = try #require(text.range(of: key)).lowerBound.utf16Offset(in: text)
            var failures: [Int] = []
            for split in stride(from: start - 200, through: body.count, by: 41) {
                let check = StreamingLeakCheck(scanner: scanner)
                let (findings, released) = Self.run(check, [body[..<split], body[split...]])
                if findings.map(\.ruleID) != ["private-key"] || (released ?? .max) > start { failures.append(split) }
            }
            #expect(failures.count == 0, "missed, repeated or released early at splits \(failures.prefix(20))")
        }
    }

    /// Byte by byte (the worst chunking for a window), and in ragged chunks: the same.
    @Test(arguments: [1, 7, 333, 1023, 1024, 1025, 5000])
    func aSecretFedInSmallChunksIsFoundBeforeItLeaves(_ size: Int) async throws {
        let scanner = try #require(Self.scanner)
        try await onOwnThread {
            for (rule, secret) in [("aws-access-key-id", Self.aws), ("github-fine-grained-pat", Self.fineGrained), ("private-key", Self.privateKey)] {
                let body = Self.body(secret, padding: 3000)
                let text = String(decoding: body, as: UTF8.self)
                let start = try #require(text.range(of: secret)).lowerBound.utf16Offset(in: text)
                let chunks = stride(from: 0, to: body.count, by: size).map { body[$0..<min($0 + size, body.count)] }
                let check = StreamingLeakCheck(scanner: scanner, window: 1024)
                let (findings, released) = Self.run(check, chunks)
                #expect(findings.map(\.ruleID) == [rule], "chunks of \(size)")
                #expect((released ?? .max) <= start, "\(rule): \(released ?? -1) bytes released, the secret starts at \(start)")
            }
        }
    }

    /// A clean 50 MiB body in 16 KiB chunks: nothing found, all of it released in the end, and
    /// the checker never held more than its tail and one chunk.
    @Test func aLongCleanBodyKeepsMemoryBounded() async throws {
        let scanner = try #require(Self.scanner)
        try await onOwnThread {
            let block = Self.cleanBlock(1 << 20)
            let check = StreamingLeakCheck(scanner: scanner)
            let chunk = 16 * 1024
            var found: [Finding] = []
            var releasable = 0
            block.withUnsafeBytes { raw in
                for _ in 0..<50 {
                    for offset in stride(from: 0, to: raw.count, by: chunk) {
                        let result = check.feed(UnsafeRawBufferPointer(rebasing: raw[offset..<min(offset + chunk, raw.count)]))
                        found += result.findings
                        releasable = result.releasable
                    }
                }
            }
            #expect(found.isEmpty, "\(found.map(\.rendered))")
            #expect(releasable == 50 << 20 - check.window)
            #expect(check.peakRetainedBytes <= check.window + chunk, "held \(check.peakRetainedBytes) bytes")
            #expect(check.retainedBytes <= check.window)
            #expect(check.finish().isEmpty)
            #expect(check.releasable == 50 << 20)
        }
    }

    /// One huge chunk is taken a slice at a time: the checker does not copy it whole.
    @Test func oneHugeChunkIsScannedInSlices() async throws {
        let scanner = try #require(Self.scanner)
        try await onOwnThread {
            var body = Self.cleanBlock(4 << 20)
            body += Array(" token: \(Self.fineGrained) ".utf8)
            body += Self.cleanBlock(1 << 20)
            let check = StreamingLeakCheck(scanner: scanner)
            let (findings, releasable) = check.feed(body)
            #expect(findings.map(\.ruleID) == ["github-fine-grained-pat"])
            #expect(releasable <= body.count - check.window)
            #expect(check.peakRetainedBytes <= check.window + StreamingLeakCheck.maxSlice)
            #expect(check.finish().isEmpty)
        }
    }

    /// Text a request carries every day: prose with the punctuation JSON bodies have, no key.
    static func cleanBlock(_ size: Int) -> [UInt8] {
        let words = [
            "model", "message", "content", "the", "assistant", "function", "return", "value", "is", "not", "a", "list", "of", "{\"role\":", "\"user\",",
            "print(x)", "let", "y", "=", "42;", "\\n", "if", "else", "for", "in", "range(10):", "README", "docs/api.md", "https://example.com/path",
        ]
        var generator = SplitMix(seed: 25)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size + 64)
        while bytes.count < size {
            bytes += words[Int(generator.next() % UInt64(words.count))].utf8
            bytes.append(generator.next() % 11 == 0 ? 10 : 32)
        }
        return Array(bytes.prefix(size))
    }

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// cordon's own placeholders are what a sandbox sends: never a finding, under any name.
    @Test(arguments: [
        "{\"api_key\":\"\(placeholder)\"}",
        "Authorization: Bearer \(placeholder)\r\n",
        "aws_secret_access_key=\(placeholder)&github_token=\(placeholder)",
        "{\"messages\":[{\"content\":\"my OPENAI_API_KEY=\(placeholder) and GITHUB_TOKEN: \(placeholder)\"}]}",
    ])
    func thePlaceholderPasses(_ text: String) throws {
        let scanner = try #require(Self.scanner)
        let body = Array(String(repeating: "x ", count: 1000).utf8) + Array(text.utf8)
        for size in [body.count, 1000, 13] {
            let check = StreamingLeakCheck(scanner: scanner, window: 512)
            let chunks = stride(from: 0, to: body.count, by: size).map { body[$0..<min($0 + size, body.count)] }
            let (findings, _) = Self.run(check, chunks)
            #expect(findings.isEmpty, "\(findings.map(\.ruleID)) for \(text)")
        }
    }

    /// A finding names the rule and the request, never the secret: not in any field, not
    /// rendered, not in its JSON; base64-encoded secrets are found and not shown decoded either.
    @Test func findingsHoldNoSecretValue() throws {
        let scanner = try #require(Self.scanner)
        let encoded = Data(Self.fineGrained.utf8).base64EncodedString()
        let body = Self.body("\(Self.aws) \(Self.fineGrained) \(Self.privateKey) blob=\(encoded)", padding: 2000)
        let check = StreamingLeakCheck(scanner: scanner, window: 1024, label: "POST api.example.com/v1/chat")
        let (findings, _) = Self.run(check, stride(from: 0, to: body.count, by: 700).map { body[$0..<min($0 + 700, body.count)] })
        // The base64 blob is also a generic high-entropy value assigned to a name.
        #expect(Set(findings.map(\.ruleID)).isSuperset(of: ["aws-access-key-id", "github-fine-grained-pat", "private-key"]), "\(findings.map(\.ruleID))")
        #expect(findings.contains { $0.decoded == ["base64"] }, "the base64 copy was not found")
        let secrets = [Self.aws, Self.fineGrained, "MIIEowIBAAKCAQEA7yN3", encoded]
        for finding in findings {
            #expect(finding.path == "POST api.example.com/v1/chat")
            let json = String(decoding: try JSONEncoder().encode(finding), as: UTF8.self)
            for secret in secrets {
                #expect(!json.contains(secret) && !finding.rendered.contains(secret), "\(finding.ruleID) shows \(secret.prefix(6))…")
                // Not even a long piece of it.
                #expect(!json.contains(secret.dropFirst(4).prefix(8)), "\(finding.ruleID) shows part of \(secret.prefix(6))…")
            }
        }
    }

    /// A body repeating a key many times reports a bounded number of findings (the rest counted).
    @Test func findingsAreBounded() throws {
        let scanner = try #require(Self.scanner)
        let body = Array(String(repeating: "key \(Self.aws) ", count: 1000).utf8)
        let check = StreamingLeakCheck(scanner: scanner)
        let (findings, _) = Self.run(check, stride(from: 0, to: body.count, by: 4000).map { body[$0..<min($0 + 4000, body.count)] })
        #expect(findings.count == StreamingLeakCheck.maxFindings)
        #expect(check.suppressed == 1000 - StreamingLeakCheck.maxFindings)
    }

    // MARK: Compressed bodies

    /// A gzip body: the key inside is found in any chunking, and the compressed bytes released
    /// before the finding inflate to nothing of the key.
    @Test(arguments: [1, 100, 4096, 1 << 20])
    func aKeyInAGzipBodyIsFoundBeforeItLeaves(_ size: Int) async throws {
        let scanner = try #require(Self.scanner)
        try await onOwnThread {
            let plain = Self.cleanBlock(20_000) + Array(" token: \(Self.fineGrained) ".utf8) + Self.cleanBlock(3_000)
            let start = 20_000 + 8
            let body = try Deflate.compress(plain, gzip: true)
            let check = StreamingLeakCheck(scanner: scanner, encoding: .gzip)
            let chunks = stride(from: 0, to: body.count, by: size).map { body[$0..<min($0 + size, body.count)] }
            let (findings, released) = Self.run(check, chunks)
            #expect(findings.map(\.ruleID) == ["github-fine-grained-pat"], "\(findings.map(\.rendered))")
            let prefix = Array(body.prefix(try #require(released)))
            let inflater = StreamingInflater(gzip: true)
            var decoded = 0
            _ = prefix.withUnsafeBytes { inflater.inflate($0, limit: .max, emit: { decoded += $0.count }, settled: { _, _ in }) }
            #expect(decoded <= start, "the \(prefix.count) compressed bytes released inflate to \(decoded) bytes; the key starts at \(start)")
            #expect(check.releasable == body.count)
        }
    }

    /// Two gzip members one after the other (as `cat a.gz b.gz`): the second is read too.
    @Test func aKeyInASecondGzipMemberIsFound() throws {
        let scanner = try #require(Self.scanner)
        let body = try Deflate.compress(Self.cleanBlock(5_000), gzip: true) + Deflate.compress(Array("key \(Self.aws) end".utf8), gzip: true)
        let check = StreamingLeakCheck(scanner: scanner, encoding: .gzip)
        let (findings, _) = Self.run(check, [body[...]])
        #expect(findings.map(\.ruleID) == ["aws-access-key-id"])
    }

    /// A gzip bomb is inflated no further than the limit, and reported as not inspected; so is a
    /// body that is not gzip at all. A `block` profile refuses either.
    @Test func aBombOrABrokenStreamIsReportedNotInspected() throws {
        let scanner = try #require(Self.scanner)
        let bomb = try Deflate.compress([UInt8](repeating: 0x41, count: 32 << 20), gzip: true)
        let check = StreamingLeakCheck(scanner: scanner, encoding: .gzip, maxInflated: 1 << 20)
        let (findings, _) = Self.run(check, stride(from: 0, to: bomb.count, by: 4096).map { bomb[$0..<min($0 + 4096, bomb.count)] })
        #expect(findings.map(\.ruleID) == ["request-body-uninspectable"], "\(findings.map(\.rendered))")
        #expect(findings.first?.message.contains("zip bomb") == true)
        #expect(check.peakRetainedBytes <= check.window + StreamingInflater.piece)

        let junk = Array("this is not gzip \(Self.aws)".utf8)
        let broken = StreamingLeakCheck(scanner: scanner, encoding: .gzip)
        let (problems, _) = Self.run(broken, [junk[...]])
        #expect(problems.map(\.ruleID) == ["request-body-uninspectable"], "\(problems.map(\.rendered))")
        #expect(problems.first?.message.contains("not a valid gzip stream") == true)
    }

    @Test func contentEncodings() {
        #expect(StreamingLeakCheck.BodyEncoding(contentEncoding: nil) == .identity)
        #expect(StreamingLeakCheck.BodyEncoding(contentEncoding: " GZIP ") == .gzip)
        #expect(StreamingLeakCheck.BodyEncoding(contentEncoding: "deflate") == .deflate)
        #expect(StreamingLeakCheck.BodyEncoding(contentEncoding: "br") == nil)
        #expect(StreamingLeakCheck.BodyEncoding(contentEncoding: "gzip, br") == nil)
    }
}

@testable import CordonScan
import CordonTestSupport
import Foundation
import Testing

/// Attacks on the scanner by wrapping a key so the text as written does not show it: after a NUL
/// byte, base64 (twice), hex, percent-encoding, UTF-16, gzip, zip, tar.gz, and a zip bomb.
@Suite struct SecretScannerBeneathTests {
    static let scanners = SecretScannerTests.scanners
    static let aws = SecretScannerTests.aws
    static let github = SecretScannerTests.github
    static let line = "aws_access_key_id = \(aws)\n"

    /// Every scanner (Hyperscan and portable) finds `rule` in `bytes`; returns the findings of the first.
    @discardableResult
    static func expectFound(_ bytes: [UInt8], path: String = "f.bin", rule: String = "aws-access-key-id", _ what: String) -> [Finding] {
        var first: [Finding] = []
        #expect(scanners.count == 2)
        for scanner in scanners {
            let findings = scanner.scan(bytes, path: path)
            #expect(findings.contains { $0.ruleID == rule }, "\(what): \(rule) missed (hyperscan: \(scanner.usesHyperscan)): \(findings.map(\.rendered))")
            if first.isEmpty { first = findings }
        }
        return first
    }

    static func base64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

    @Test func keyAfterANulByteIsFound() {
        var bytes: [UInt8] = [0, 1, 2, 0xff]
        bytes += Array("\n\(Self.line)".utf8)
        Self.expectFound(bytes, "key after a leading NUL")
        // A key ending at a NUL (no delimiter after it) is found in the printable runs.
        var tight: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 0]
        tight += Array("password = \"Zq8vLm2-pR7tW4xK9sB\"".utf8) + [0, 0, 3]
        Self.expectFound(tight, rule: "generic-api-key", "generic key between NULs")
    }

    @Test func base64OfAKeyIsFound() {
        let findings = Self.expectFound(Array("config: \(Self.base64(Self.line))\n".utf8), path: "a.yaml", "base64")
        let f = findings.first { $0.ruleID == "aws-access-key-id" }
        #expect(f?.decoded == ["base64"])
        #expect(f?.line == 1 && f?.column == 9)
        // URL-safe alphabet, no padding.
        let url = Self.base64("token=\(Self.github)").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(
            of: "=", with: "")
        Self.expectFound(Array("x = \(url)\n".utf8), path: "a.txt", rule: "github-token", "url-safe base64")
    }

    @Test func base64OfBase64IsFound() {
        let findings = Self.expectFound(Array("blob: \(Self.base64(Self.base64(Self.line)))\n".utf8), path: "a.txt", "base64 of base64")
        #expect(findings.first { $0.ruleID == "aws-access-key-id" }?.decoded == ["base64", "base64"])
    }

    @Test func hexOfAKeyIsFound() {
        let hex = Self.line.utf8.map { String(format: "%02x", $0) }.joined()
        let findings = Self.expectFound(Array("data = \"\(hex)\"\n".utf8), path: "a.txt", "hex")
        #expect(findings.first { $0.ruleID == "aws-access-key-id" }?.decoded == ["hex"])
    }

    @Test func percentEncodedKeyIsFound() {
        // Half the key's characters escaped: no run of the raw key is left.
        let escaped = Self.aws.enumerated().map { $0.offset % 2 == 1 ? String(format: "%%%02X", $0.element.asciiValue ?? 0) : String($0.element) }.joined()
        let findings = Self.expectFound(Array("https://example.test/?k=\(escaped)&x=1\n".utf8), path: "a.txt", "percent")
        #expect(findings.first { $0.ruleID == "aws-access-key-id" }?.decoded?.contains("percent") == true)
    }

    @Test(arguments: [true, false]) func utf16KeyIsFound(littleEndian: Bool) {
        for bom in [true, false] {
            var bytes: [UInt8] = bom ? (littleEndian ? [0xff, 0xfe] : [0xfe, 0xff]) : []
            for unit in "# settings\r\n\(Self.line)".utf16 {
                let (lo, hi) = (UInt8(unit & 0xff), UInt8(unit >> 8))
                bytes += littleEndian ? [lo, hi] : [hi, lo]
            }
            let findings = Self.expectFound(bytes, path: "settings.reg", "UTF-16 (LE: \(littleEndian), BOM: \(bom))")
            #expect(findings.first { $0.ruleID == "aws-access-key-id" }?.decoded == [littleEndian ? "UTF-16LE" : "UTF-16BE"])
            #expect(findings.first { $0.ruleID == "aws-access-key-id" }?.line == 2)
        }
    }

    @Test func gzipKeyIsFound() throws {
        let gz = try Self.compress(Array(Self.line.utf8), gzip: true)
        let findings = Self.expectFound(gz, path: "creds.txt.gz", "gzip")
        let f = findings.first { $0.ruleID == "aws-access-key-id" }
        #expect(f?.path == "creds.txt.gz" && f?.member == "creds.txt")
        #expect(f?.rendered.hasPrefix("creds.txt.gz!/creds.txt:1:") == true)
    }

    @Test func zipKeyIsFound() throws {
        let zip = try Self.zip([
            ("README.md", Array("hello\n".utf8), false), ("config/.env", Array(Self.line.utf8), true),
            ("notes.txt", Array("x = \(Self.base64(Self.line))".utf8), false),
        ])
        let findings = Self.expectFound(zip, path: "bundle.zip", "zip")
        let members = Set(findings.filter { $0.ruleID == "aws-access-key-id" }.compactMap(\.member))
        #expect(members == ["config/.env", "notes.txt"])
        #expect(findings.allSatisfy { $0.path == "bundle.zip" })
        #expect(findings.contains { $0.rendered.hasPrefix("bundle.zip!/config/.env:1:") })
    }

    @Test func tarGzKeyIsFound() throws {
        let tar = Self.tar([("src/app.py", Array("print(1)\n".utf8)), ("deploy/secrets.env", Array(Self.line.utf8))])
        let findings = Self.expectFound(try Self.compress(tar, gzip: true), path: "release.tar.gz", "tar.gz")
        #expect(findings.first { $0.ruleID == "aws-access-key-id" }?.member == "deploy/secrets.env")
        // A zip inside the tarball: nested members are named along the chain.
        let inner = try Self.zip([("k.txt", Array(Self.line.utf8), true)])
        let outer = try Self.compress(Self.tar([("vendor/inner.zip", inner)]), gzip: true)
        let nested = Self.expectFound(outer, path: "o.tgz", "zip in tar.gz")
        #expect(nested.first { $0.ruleID == "aws-access-key-id" }?.member == "vendor/inner.zip!/k.txt")
    }

    /// A zip bomb is held with a finding, and expanding it stops at the limit: 16 members of
    /// 8 MiB of zeros (128 MiB from ~130 KB) stop at the ratio limit (100 × the file's size),
    /// after the first member.
    @Test(.timeLimit(.minutes(1))) func zipBombIsHeldNotExpanded() throws {
        let zeros = [UInt8](repeating: 0, count: 8 << 20)
        let member = try Self.compress(zeros, gzip: false)
        #expect(member.count < 20_000)
        var entries: [(String, [UInt8], Bool, Int)] = []
        for i in 0..<16 { entries.append(("part\(i).bin", member, true, zeros.count)) }
        let bomb = try Self.zipRaw(entries)
        // One engine: the archive logic is the same for both, and the portable engine's keyword
        // search is slow on megabytes in a debug build.
        let scanner = Self.scanners[0]
        let findings = scanner.scan(bomb, path: "bomb.zip")
        let limit = findings.filter { $0.ruleID == "scan-archive-limit" }
        #expect(limit.count == 1, "\(findings.map(\.rendered))")
        #expect(limit.first?.severity == .approval && limit.first?.path == "bomb.zip")
        // The same bomb inside gzip, and tighter limits: the budget is per file, across levels.
        var limits = ScanLimits()
        limits.maxExpandedBytes = 2 << 20
        let strict = try SecretScanner(try RuleSet.defaults(), limits: limits)
        let gz = try Self.compress(bomb, gzip: true)
        #expect(strict.scan(gz, path: "b.zip.gz").contains { $0.ruleID == "scan-archive-limit" })
        // Many small members: the entry limit holds it too.
        limits = ScanLimits()
        limits.maxEntries = 10
        let few = try SecretScanner(try RuleSet.defaults(), limits: limits)
        let many = try Self.zip((0..<20).map { ("f\($0).txt", Array("x\n".utf8), false) })
        #expect(few.scan(many, path: "many.zip").contains { $0.ruleID == "scan-archive-limit" })
    }

    @Test func damagedArchivesAreHeld() throws {
        var gz = try Self.compress(Array(String(repeating: Self.line, count: 50).utf8), gzip: true)
        gz.removeLast(gz.count / 2)
        let findings = Self.scanners[0].scan(gz, path: "cut.gz")
        #expect(findings.contains { $0.ruleID == "scan-archive-unreadable" && $0.severity == .approval })
        // A member hidden before the central directory's first entry, not listed in it.
        let hidden = try Self.zip([("k.txt", Array(Self.line.utf8), true)])
        var zip = try Self.zip([("a.txt", Array("a\n".utf8), false)])
        // Prepend the hidden archive's local entry; fix up the visible central directory offsets.
        let localEnd = hidden.count - 22 - (46 + 5)
        let prefix = Array(hidden[0..<localEnd])
        zip = Self.shiftZip(zip, by: prefix.count, prefix: prefix)
        #expect(Self.scanners[0].scan(zip, path: "h.zip").contains { $0.ruleID == "scan-archive-unreadable" })
    }

    /// Deep scanning adds no noise to ordinary text: identifiers, hashes, URLs, data URIs.
    @Test func ordinaryEncodedTextIsQuiet() throws {
        let text = """
            integrity: sha512-\(Data((0..<64).map { UInt8($0 * 7 & 0xff) }).base64EncodedString())
            commit = "3f786850e387550fdab836ed7e6dc881de23001b3f786850e387550fdab836ed"
            url = "https://example.test/search?q=hello%20world%21&lang=en"
            let someVeryLongIdentifierName_withUnderscores = anotherQuiteLongIdentifierName
            img = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
            note = "\(Self.base64("just some harmless words here"))"

            """
        for scanner in Self.scanners {
            let findings = scanner.scan(Array(text.utf8), path: "package-lock.txt")
            #expect(findings.isEmpty, "\(findings.map(\.rendered))")
        }
    }

    /// The segment finder that skips ahead finds exactly what a byte-by-byte one does, on text
    /// made of the bytes that matter (alphabet, hex digits, `%`, `=`, breaks) and real encodings.
    @Test func fastSegmentFinderAgreesWithTheByteByByteOne() {
        var generator = SystemRandomNumberGenerator()
        let pieces = [
            "A", "z", "0", "f", "4", "1", "%", "%41", "%4", "=", "==", " ", "\n", "-", "_", "+", "/", ".", "\u{0}",
            "QUtJQVFZTFBNTjVISEhGUFpBTTI=", "414b494151594c504d4e354848484650", "c2VjcmV0IHZhbHVlIGhlcmUh", "%41%4B%49%41",
        ]
        for _ in 0..<3000 {
            let text = (0..<Int.random(in: 0...60, using: &generator)).map { _ in pieces.randomElement(using: &generator) ?? "" }.joined()
            let bytes = Array(text.utf8)
            bytes.withUnsafeBufferPointer { b in
                let lower = Int.random(in: 0...b.count, using: &generator)
                let range = lower..<Int.random(in: lower...b.count, using: &generator)
                let fast = ScanDecoders.segments(in: b, range: range).map { "\($0.range) \($0.encoding) \($0.decoded)" }
                let slow = ScanDecoders.segmentsByteByByte(in: b, range: range).map { "\($0.range) \($0.encoding) \($0.decoded)" }
                #expect(fast == slow, "\(text.debugDescription) \(range)")
            }
        }
    }

    // MARK: builders

    static func compress(_ bytes: [UInt8], gzip: Bool) throws -> [UInt8] { try Deflate.compress(bytes, gzip: gzip) }

    static func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
    static func le32(_ v: Int) -> [UInt8] { le16(v & 0xffff) + le16(v >> 16 & 0xffff) }

    /// A zip of (name, content, deflate?) members.
    static func zip(_ files: [(String, [UInt8], Bool)]) throws -> [UInt8] {
        try zipRaw(files.map { ($0.0, $0.2 ? try compress($0.1, gzip: false) : $0.1, $0.2, $0.1.count) })
    }

    static func zipRaw(_ files: [(String, [UInt8], Bool)]) throws -> [UInt8] {
        try zipRaw(files.map { ($0.0, $0.1, $0.2, 64 << 20) })
    }

    /// Members already compressed (when `deflated`), with the size they claim.
    static func zipRaw(_ files: [(String, [UInt8], Bool, Int)]) throws -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for (name, data, deflated, size) in files {
            let offset = out.count
            let n = Array(name.utf8)
            let method = deflated ? 8 : 0
            out +=
                le32(0x0403_4b50) + le16(20) + le16(0) + le16(method) + le32(0) + le32(0) + le32(data.count) + le32(size) + le16(n.count) + le16(0) + n + data
            central += le32(0x0201_4b50) + le16(20) + le16(20) + le16(0) + le16(method) + le32(0) + le32(0) + le32(data.count) + le32(size)
            central += le16(n.count) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + n
        }
        let directory = out.count
        out += central
        out += le32(0x0605_4b50) + le16(0) + le16(0) + le16(files.count) + le16(files.count) + le32(central.count) + le32(directory) + le16(0)
        return out
    }

    /// `zip` with `prefix` before it and its offsets moved to match.
    static func shiftZip(_ zip: [UInt8], by shift: Int, prefix: [UInt8]) -> [UInt8] {
        var z = zip
        let end = z.count - 22
        let directory = Int(z[end + 16]) | Int(z[end + 17]) << 8 | Int(z[end + 18]) << 16 | Int(z[end + 19]) << 24
        z.replaceSubrange((end + 16)..<(end + 20), with: le32(directory + shift))
        var cursor = directory
        while cursor < end {
            let local = Int(z[cursor + 42]) | Int(z[cursor + 43]) << 8 | Int(z[cursor + 44]) << 16 | Int(z[cursor + 45]) << 24
            z.replaceSubrange((cursor + 42)..<(cursor + 46), with: le32(local + shift))
            let nameLength = Int(z[cursor + 28]) | Int(z[cursor + 29]) << 8
            cursor += 46 + nameLength
        }
        return prefix + z
    }

    /// A ustar archive of regular files.
    static func tar(_ files: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, data) in files {
            var header = [UInt8](repeating: 0, count: 512)
            func put(_ s: String, _ at: Int) { for (i, b) in s.utf8.enumerated() { header[at + i] = b } }
            put(name, 0)
            put("0000644", 100)
            put("0000000", 108)
            put("0000000", 116)
            put(String(format: "%011o", data.count), 124)
            put("00000000000", 136)
            put("        ", 148)
            header[156] = UInt8(ascii: "0")
            put("ustar", 257)
            put("00", 263)
            let sum = header.reduce(0) { $0 + Int($1) }
            put(String(format: "%06o", sum), 148)
            header[154] = 0
            header[155] = 32
            out += header + data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
        }
        return out + [UInt8](repeating: 0, count: 1024)
    }
}

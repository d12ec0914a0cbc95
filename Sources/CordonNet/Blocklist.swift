public import CordonCore

#if canImport(Glibc)
import Glibc
#endif

/// Domains refused even when allowed. A listed domain also blocks its subdomains.
///
/// Lookups go through a Bloom filter first (most names are not listed, and most of their suffixes
/// are rejected there), then an exact set, so a Bloom false positive never blocks a good domain.
public struct Blocklist: Sendable {
    private var bloom: BloomFilter
    private var exact: Set<String>

    public var count: Int { exact.count }

    /// `domains` need not be normalised; invalid entries are skipped.
    public init(domains: some Sequence<String>) {
        var exact = Set<String>()
        for domain in domains {
            if let name = Host(domain)?.name { exact.insert(name) }
        }
        self.init(exact: exact)
    }

    private init(exact: Set<String>) {
        var bloom = BloomFilter(expectedCount: max(exact.count, 1024))
        for name in exact { bloom.insert(name) }
        self.bloom = bloom
        self.exact = exact
    }

    /// Loads and merges list files (hosts format, plain domain lists, `||domain^` lines).
    public static func load(paths: [String]) throws(CordonError) -> Blocklist {
        var exact = Set<String>()
        for path in paths {
            let bytes = try readFile(path)
            parse(bytes) { exact.insert($0) }
        }
        return Blocklist(exact: exact)
    }

    /// Parses list text; `body` receives each normalised domain.
    public static func parse(_ text: String, into body: (String) -> Void) {
        parse(Array(text.utf8), into: body)
    }

    /// The listed entry that blocks `name` (itself or a parent domain), if any.
    public func match(_ name: String) -> String? {
        var utf8 = Substring(name)
        while true {
            if bloom.mightContain(utf8), exact.contains(String(utf8)) { return String(utf8) }
            guard let dot = utf8.firstIndex(of: ".") else { return nil }
            utf8 = utf8[utf8.index(after: dot)...]
        }
    }

    public func contains(_ name: String) -> Bool {
        guard let normalised = Host(name)?.name else { return false }
        return match(normalised) != nil
    }

    private static let hostsSinks: Set<String> = ["0.0.0.0", "127.0.0.1", "::", "::1", "0", "255.255.255.255"]
    private static let ignoredNames: Set<String> = [
        "localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost", "ip6-loopback",
        "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters", "ip6-allhosts", "0.0.0.0",
    ]

    static func parse(_ bytes: [UInt8], into body: (String) -> Void) {
        var lineStart = 0
        let count = bytes.count
        while lineStart < count {
            var lineEnd = lineStart
            while lineEnd < count, bytes[lineEnd] != 0x0A { lineEnd += 1 }
            parseLine(bytes[lineStart..<lineEnd], into: body)
            lineStart = lineEnd + 1
        }
    }

    private static func parseLine(_ line: ArraySlice<UInt8>, into body: (String) -> Void) {
        var tokens: [ArraySlice<UInt8>] = []
        var index = line.startIndex
        while index < line.endIndex, line[index] == 0x20 || line[index] == 0x09 { index += 1 }
        if index < line.endIndex, line[index] == UInt8(ascii: "!") || line[index] == UInt8(ascii: "[") {
            return  // adblock comment or header
        }
        while index < line.endIndex {
            let byte = line[index]
            if byte == UInt8(ascii: "#") { break }
            if isSeparator(byte) {
                index += 1
                continue
            }
            let start = index
            while index < line.endIndex, !isSeparator(line[index]), line[index] != UInt8(ascii: "#") { index += 1 }
            tokens.append(line[start..<index])
            if tokens.count > 16 { break }
        }
        guard let first = tokens.first else { return }
        var candidates: ArraySlice<ArraySlice<UInt8>>
        if tokens.count > 1, isSink(first) {
            candidates = tokens.dropFirst()
        } else if tokens.count == 1 {
            candidates = tokens[...]
        } else {
            return
        }
        for token in candidates {
            var entry = token
            if entry.count > 2, entry[entry.startIndex] == UInt8(ascii: "|"), entry[entry.startIndex + 1] == UInt8(ascii: "|") {
                // Only the plain `||domain^` form; rules with paths or `$options` are not DNS blocks.
                guard entry.last == UInt8(ascii: "^") else { continue }
                entry = entry.dropFirst(2).dropLast()
            }
            guard let name = normalisedName(entry), !ignoredNames.contains(name) else { continue }
            body(name)
        }
    }

    private static func isSeparator(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D }

    private static func isSink(_ token: ArraySlice<UInt8>) -> Bool {
        // Cheap pre-check: sinks are short and start with a digit or ':'.
        guard token.count <= 15, let first = token.first, first == UInt8(ascii: ":") || (0x30...0x39).contains(first) else {
            return false
        }
        return hostsSinks.contains(String(decoding: token, as: UTF8.self))
    }

    /// The common all-ASCII case on bytes (fast enough for millions of lines); anything else
    /// through `Host`, which also handles IDNA.
    static func normalisedName(_ token: ArraySlice<UInt8>) -> String? {
        var bytes = [UInt8]()
        bytes.reserveCapacity(token.count)
        var labelLength = 0
        var labelDigitsOnly = true
        var previous: UInt8 = UInt8(ascii: ".")
        for raw in token {
            guard raw < 0x80 else { return Host(String(decoding: token, as: UTF8.self))?.name }
            let byte = (0x41...0x5A).contains(raw) ? raw + 0x20 : raw
            if byte == UInt8(ascii: ".") {
                guard labelLength > 0, previous != UInt8(ascii: "-") else { return nil }
                labelLength = 0
                labelDigitsOnly = true
            } else {
                let isDigit = (0x30...0x39).contains(byte)
                guard isDigit || (0x61...0x7A).contains(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") else {
                    return nil
                }
                if byte == UInt8(ascii: "-"), labelLength == 0 { return nil }
                labelLength += 1
                labelDigitsOnly = labelDigitsOnly && isDigit
                guard labelLength <= 63 else { return nil }
            }
            bytes.append(byte)
            previous = byte
        }
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() } else if labelLength == 0 { return nil }
        // An all-digit last label is an address form, not a name; empty or over-long is invalid.
        guard !bytes.isEmpty, bytes.count <= 253, previous != UInt8(ascii: "-"), !(labelDigitsOnly && labelLength > 0) else {
            return nil
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func readFile(_ path: String) throws(CordonError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CordonError(.io, "cannot read blocklist \(path)", cause: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CordonError(.io, "cannot read blocklist \(path)", cause: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }
}

/// A Bloom filter over byte strings: about 10 bits and 7 probes per entry (≈1% false positives,
/// which the exact set behind it absorbs).
struct BloomFilter: Sendable {
    private var words: [UInt64]
    private let bitCount: UInt64
    private let probes = 7

    init(expectedCount: Int) {
        let bits = max(UInt64(expectedCount) * 10, 64)
        words = [UInt64](repeating: 0, count: Int((bits + 63) / 64))
        bitCount = UInt64(words.count) * 64
    }

    mutating func insert(_ text: some StringProtocol) {
        let (h1, h2) = BloomFilter.hashes(text)
        for i in 0..<UInt64(probes) {
            let bit = (h1 &+ i &* h2) % bitCount
            words[Int(bit / 64)] |= 1 << (bit % 64)
        }
    }

    func mightContain(_ text: some StringProtocol) -> Bool {
        let (h1, h2) = BloomFilter.hashes(text)
        for i in 0..<UInt64(probes) {
            let bit = (h1 &+ i &* h2) % bitCount
            if words[Int(bit / 64)] & (1 << (bit % 64)) == 0 { return false }
        }
        return true
    }

    /// FNV-1a 64 and a second, independent mix of it (Kirsch–Mitzenmacher double hashing).
    private static func hashes(_ text: some StringProtocol) -> (UInt64, UInt64) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        let fold = { (buffer: UnsafeBufferPointer<UInt8>) in
            for byte in buffer {
                h ^= UInt64(byte)
                h = h &* 0x100_0000_01b3
            }
        }
        if text.utf8.withContiguousStorageIfAvailable(fold) == nil {
            var copy = String(text)
            copy.withUTF8(fold)
        }
        var m = h ^ (h >> 33)
        m = m &* 0xff51_afd7_ed55_8ccd
        m ^= m >> 33
        return (h, m | 1)
    }
}

package import CordonCore

#if canImport(Glibc)
    import Glibc
#endif

/// Domains refused even when allowed. A listed domain also blocks its subdomains.
///
/// Lookups go through a Bloom filter first (most names are not listed, and most of their suffixes
/// are rejected there), then an exact set, so a Bloom false positive never blocks a good domain.
public struct Blocklist: Sendable {
    package private(set) var bloom: BloomFilter
    package private(set) var names: SortedNames

    public var count: Int { names.count }

    /// `domains` need not be normalised; invalid entries are skipped.
    public init(domains: some Sequence<String>) {
        self.init(names: domains.compactMap { Host($0)?.name })
    }

    package init(names list: [String]) {
        let names = SortedNames(list)
        var bloom = BloomFilter(expectedCount: max(names.count, 1024))
        names.forEach { name in name.withUnsafeBufferPointer { bloom.insert(bytes: $0) } }
        self.bloom = bloom
        self.names = names
    }

    // MARK: The compiled form

    package static func ascending(_ offsets: [UInt32]) -> Bool {
        offsets.withUnsafeBufferPointer { o in
            for i in 1..<o.count where o[i - 1] > o[i] { return false }
            return true
        }
    }

    package static let magic = Array("CORDONBL".utf8)
    package static let version: UInt32 = 1

    /// `magic, version, count, bloom word count, bloom words, offsets (count + 1), names` (little
    /// endian); names sorted bytewise, so lookups need no parsing at load time.
    public func compiled() -> [UInt8] {
        var out = Self.magic
        func put32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func put64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        put32(Self.version)
        put32(UInt32(names.count))
        put64(UInt64(bloom.words.count))
        out.reserveCapacity(out.count + bloom.words.count * 8 + names.offsets.count * 4 + names.blob.count)
        bloom.words.withUnsafeBytes { out += $0 }  // little endian on every platform cordon runs on
        names.offsets.withUnsafeBytes { out += $0 }
        out += names.blob
        return out
    }

    package init(compiled bytes: [UInt8], path: String) throws(CordonError) {
        func bad(_ why: String) -> CordonError {
            CordonError(.invalidArgument, "\(path) is not a usable compiled blocklist: \(why)", hint: "rebuild it with `cordon blocklist build`")
        }
        func u32(_ at: Int) -> UInt32 { bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self)) } }
        func u64(_ at: Int) -> UInt64 { bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) } }
        guard bytes.count >= 24 else { throw bad("truncated header") }
        guard u32(8) == Self.version else { throw bad("version \(u32(8)), expected \(Self.version)") }
        let count = Int(u32(12))
        let wordCount = Int(u64(16))
        let wordsStart = 24
        let offsetsStart = wordsStart + wordCount * 8
        let blobStart = offsetsStart + (count + 1) * 4
        guard wordCount > 0, wordCount < 1 << 32, blobStart <= bytes.count else { throw bad("truncated") }
        // Plain copies (this is a little-endian machine format; x86-64 and arm64 both are).
        let words = [UInt64](unsafeUninitializedCapacity: wordCount) { buffer, initialized in
            bytes.withUnsafeBytes { raw in _ = memcpy(buffer.baseAddress!, raw.baseAddress! + wordsStart, wordCount * 8) }
            initialized = wordCount
        }
        let offsets = [UInt32](unsafeUninitializedCapacity: count + 1) { buffer, initialized in
            bytes.withUnsafeBytes { raw in _ = memcpy(buffer.baseAddress!, raw.baseAddress! + offsetsStart, (count + 1) * 4) }
            initialized = count + 1
        }
        let blob = Array(bytes[blobStart...])
        guard offsets.first == 0, offsets.last == UInt32(blob.count), Self.ascending(offsets) else {
            throw bad("corrupt name table")
        }
        self.bloom = BloomFilter(words: words)
        self.names = SortedNames(blob: blob, offsets: offsets)
    }

    /// Parses list text; `body` receives each normalised domain.
    public static func parse(_ text: String, into body: (String) -> Void) {
        parse(Array(text.utf8), into: body)
    }

    /// The listed entry that blocks `name` (itself or a parent domain), if any.
    public func match(_ name: String) -> String? {
        var utf8 = Substring(name)
        while true {
            if bloom.mightContain(utf8), names.contains(Array(utf8.utf8)) { return String(utf8) }
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

    package static func parse(_ bytes: [UInt8], into body: (String) -> Void) {
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
}

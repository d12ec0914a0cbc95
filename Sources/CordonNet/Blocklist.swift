public import CordonCore
import CordonOS

#if canImport(Glibc)
import Glibc
#endif

/// Domains refused even when allowed. A listed domain also blocks its subdomains.
///
/// Lookups go through a Bloom filter first (most names are not listed, and most of their suffixes
/// are rejected there), then an exact set, so a Bloom false positive never blocks a good domain.
public struct Blocklist: Sendable {
    private var bloom: BloomFilter
    private var names: SortedNames

    public var count: Int { names.count }

    /// `domains` need not be normalised; invalid entries are skipped.
    public init(domains: some Sequence<String>) {
        self.init(names: domains.compactMap { Host($0)?.name })
    }

    private init(names list: [String]) {
        let names = SortedNames(list)
        var bloom = BloomFilter(expectedCount: max(names.count, 1024))
        names.forEach { name in name.withUnsafeBufferPointer { bloom.insert(bytes: $0) } }
        self.bloom = bloom
        self.names = names
    }

    /// `load(paths:)` through a cache of compiled lists in `cacheDirectory`, keyed by each file's
    /// path, size and modification time: a text list is parsed once, then loads like a compiled one.
    public static func load(paths: [String], cacheDirectory: String?) throws(CordonError) -> Blocklist {
        guard let cacheDirectory, !paths.isEmpty else { return try load(paths: paths) }
        var key = "v\(version)"
        for path in paths {
            var info = stat()
            guard stat(path, &info) == 0 else { throw SystemError.current("read blocklist", path).cordonError(.io) }
            key += "|\(path)|\(info.st_size)|\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let cached = cacheDirectory + "/" + String(hash, radix: 16) + ".cbl"
        if let bytes = try? readFile(cached), bytes.starts(with: magic), let list = try? Blocklist(compiled: bytes, path: cached) {
            return list
        }
        let list = try load(paths: paths)
        // Best effort: a cache that cannot be written only costs the next load its parse.
        try? FileIO.writeAtomically(cached, list.compiled(), mode: 0o600)
        return list
    }

    /// Loads and merges list files: hosts format, plain domain lists, `||domain^` lines, or a list
    /// compiled by `cordon blocklist build` (read as is: millions of entries in milliseconds).
    public static func load(paths: [String]) throws(CordonError) -> Blocklist {
        if paths.count == 1, let compiled = try? readFile(paths[0]), let list = try compiled.starts(with: magic) ? Blocklist(compiled: compiled, path: paths[0]) : nil {
            return list
        }
        var all: [String] = []
        for path in paths {
            let bytes = try readFile(path)
            if bytes.starts(with: magic) {
                let list = try Blocklist(compiled: bytes, path: path)
                list.names.forEach { all.append(String(decoding: $0, as: UTF8.self)) }
            } else {
                parse(bytes) { all.append($0) }
            }
        }
        return Blocklist(names: all)
    }

    // MARK: The compiled form

    static func ascending(_ offsets: [UInt32]) -> Bool {
        offsets.withUnsafeBufferPointer { o in
            for i in 1..<o.count where o[i - 1] > o[i] { return false }
            return true
        }
    }

    static let magic = Array("CORDONBL".utf8)
    static let version: UInt32 = 1

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

    init(compiled bytes: [UInt8], path: String) throws(CordonError) {
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

    static func readFile(_ path: String) throws(CordonError) -> [UInt8] {
        do {
            return try FileIO.readFile(path, limit: 1 << 31)
        } catch {
            throw CordonError(.io, "cannot read blocklist \(path)", cause: error.errnoText)
        }
    }
}

/// A Bloom filter over byte strings: about 10 bits and 7 probes per entry (≈1% false positives,
/// which the exact set behind it absorbs).
struct BloomFilter: Sendable {
    private(set) var words: [UInt64]
    private let bitCount: UInt64
    private let probes = 7

    init(expectedCount: Int) {
        let bits = max(UInt64(expectedCount) * 10, 64)
        self.init(words: [UInt64](repeating: 0, count: Int((bits + 63) / 64)))
    }

    init(words: [UInt64]) {
        self.words = words
        bitCount = UInt64(words.count) * 64
    }

    mutating func insert(_ text: some StringProtocol) {
        var copy = String(text)
        copy.withUTF8 { insert(bytes: $0) }
    }

    mutating func insert(bytes: UnsafeBufferPointer<UInt8>) {
        let (h1, h2) = BloomFilter.hashes(bytes)
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

    private static func hashes(_ text: some StringProtocol) -> (UInt64, UInt64) {
        if let result = text.utf8.withContiguousStorageIfAvailable({ hashes($0) }) { return result }
        var copy = String(text)
        return copy.withUTF8 { hashes($0) }
    }

    /// FNV-1a 64 and a second, independent mix of it (Kirsch–Mitzenmacher double hashing).
    /// Part of the compiled blocklist format: changing it needs a new format version.
    private static func hashes(_ buffer: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in buffer {
            h ^= UInt64(byte)
            h = h &* 0x100_0000_01b3
        }
        var m = h ^ (h >> 33)
        m = m &* 0xff51_afd7_ed55_8ccd
        m ^= m >> 33
        return (h, m | 1)
    }
}

/// Distinct names, sorted bytewise, in one blob with offsets: compact, and loadable without parsing.
struct SortedNames: Sendable {
    let blob: [UInt8]
    /// `count + 1` offsets into `blob`.
    let offsets: [UInt32]

    var count: Int { offsets.count - 1 }

    init(blob: [UInt8], offsets: [UInt32]) {
        self.blob = blob
        self.offsets = offsets
    }

    init(_ names: [String]) {
        var utf8 = names.map { Array($0.utf8) }
        utf8.sort { $0.lexicographicallyPrecedes($1) }
        var blob: [UInt8] = []
        var offsets: [UInt32] = [0]
        blob.reserveCapacity(utf8.reduce(0) { $0 + $1.count })
        var previous: [UInt8]?
        for name in utf8 where name != previous {
            blob += name
            offsets.append(UInt32(blob.count))
            previous = name
        }
        self.init(blob: blob, offsets: offsets)
    }

    func forEach(_ body: (ArraySlice<UInt8>) -> Void) {
        for i in 0..<count { body(blob[Int(offsets[i])..<Int(offsets[i + 1])]) }
    }

    func contains(_ name: [UInt8]) -> Bool {
        guard count > 0, !name.isEmpty, !blob.isEmpty else { return false }
        var low = 0
        var high = count
        return blob.withUnsafeBufferPointer { bytes in
            name.withUnsafeBufferPointer { key in
                while low < high {
                    let mid = (low + high) / 2
                    let start = Int(offsets[mid])
                    let length = Int(offsets[mid + 1]) - start
                    var order = memcmp(bytes.baseAddress! + start, key.baseAddress!, min(length, key.count))
                    if order == 0 { order = Int32(length) - Int32(key.count) }
                    if order == 0 { return true }
                    if order < 0 { low = mid + 1 } else { high = mid }
                }
                return false
            }
        }
    }
}

/// Reads the members of gzip files, zip archives (stored and deflate) and tar archives (also
/// inside gzip) from bytes in memory, for the scanner. Everything here is hostile input: offsets
/// and sizes are checked against the buffer, names are only ever displayed, and decompression
/// stops at the caller's limit.
enum ArchiveReader {
    enum Format: String {
        case gzip, zip, tar
    }

    static func format(_ bytes: UnsafeBufferPointer<UInt8>) -> Format? {
        if bytes.count >= 3, bytes[0] == 0x1f, bytes[1] == 0x8b, bytes[2] == 8 { return .gzip }
        if bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4b, (bytes[2] == 3 && bytes[3] == 4) || (bytes[2] == 5 && bytes[3] == 6) { return .zip }
        if isTar(bytes) { return .tar }
        return nil
    }

    static func isTar(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count >= 512 else { return false }
        let magic: [UInt8] = Array("ustar".utf8)
        return (0..<5).allSatisfy { bytes[257 + $0] == magic[$0] }
    }

    /// What a reader reports besides members.
    enum Problem {
        /// Expanding would pass the scanner's limits (size, ratio, entries).
        case limit(String)
        /// The archive or a member cannot be read (corrupt, encrypted, unknown method).
        case unreadable(member: String?, String)
    }

    /// Hands each member (name, bytes) to `member`; returns what could not be read. `budget`
    /// counts decompressed bytes and members across the whole file, nested archives included.
    static func read(
        _ bytes: UnsafeBufferPointer<UInt8>, format: Format, name: String, budget: ScanBudget, member: (String, UnsafeBufferPointer<UInt8>) -> Void
    ) -> [Problem] {
        switch format {
        case .gzip: return gzip(bytes, name: name, budget: budget, member: member)
        case .zip: return zip(bytes, budget: budget, member: member)
        case .tar: return tar(bytes, budget: budget, member: member)
        }
    }

    // MARK: gzip

    static func gzip(_ bytes: UnsafeBufferPointer<UInt8>, name: String, budget: ScanBudget, member: (String, UnsafeBufferPointer<UInt8>) -> Void) -> [Problem] {
        let limit = budget.remainingExpansion
        switch Inflate.inflate(bytes, wrapper: .gzip, limit: limit) {
        case .overLimit:
            return [.limit(budget.expansionMessage(limit))]
        case .corrupt(let why):
            return [.unreadable(member: nil, "gzip data cannot be read: \(why)")]
        case .complete(let out):
            budget.expanded += out.count
            return out.withUnsafeBufferPointer { inner -> [Problem] in
                // A .tar.gz reads as the tar's members directly.
                if isTar(inner) { return tar(inner, budget: budget, member: member) }
                guard budget.admitEntry() else { return [.limit(budget.entriesMessage)] }
                member(gzipMemberName(bytes) ?? defaultName(name), inner)
                return []
            }
        }
    }

    /// The original file name a gzip header carries (FNAME), if any.
    static func gzipMemberName(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard bytes.count >= 10 else { return nil }
        let flags = bytes[3]
        guard flags & 0x08 != 0 else { return nil }
        var index = 10
        if flags & 0x04 != 0 {
            guard index + 2 <= bytes.count else { return nil }
            index += 2 + (Int(bytes[index]) | Int(bytes[index + 1]) << 8)
        }
        guard index < bytes.count, let end = bytes[index...].firstIndex(of: 0), end > index else { return nil }
        let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<end]), as: UTF8.self)
        return name.split(separator: "/").last.map(String.init)
    }

    static func defaultName(_ path: String) -> String {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        if base.hasSuffix(".tgz") { return String(base.dropLast(4)) + ".tar" }
        if base.hasSuffix(".gz") && base.count > 3 { return String(base.dropLast(3)) }
        return base
    }

    // MARK: zip

    /// Members from the central directory (what `unzip` extracts); local headers that no central
    /// entry accounts for are reported, since other tools read archives from the front.
    static func zip(_ bytes: UnsafeBufferPointer<UInt8>, budget: ScanBudget, member: (String, UnsafeBufferPointer<UInt8>) -> Void) -> [Problem] {
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        // End of central directory: the last signature within 64 KiB + 22 of the end.
        var eocd: Int?
        var at = bytes.count - 22
        while at >= 0 && at >= bytes.count - 22 - 65_535 {
            if bytes[at] == 0x50, bytes[at + 1] == 0x4b, bytes[at + 2] == 5, bytes[at + 3] == 6 {
                eocd = at
                break
            }
            at -= 1
        }
        guard let end = eocd else { return [.unreadable(member: nil, "zip without a central directory (cut short?)")] }
        let entries = u16(end + 10)
        let directorySize = u32(end + 12)
        let directory = u32(end + 16)
        if entries == 0xffff || directory == 0xffff_ffff || directorySize == 0xffff_ffff {
            return [.unreadable(member: nil, "zip64 archives are not read")]
        }
        guard directory <= end, directorySize <= end - directory else { return [.unreadable(member: nil, "zip central directory out of bounds")] }
        var problems: [Problem] = []
        var covered: [Range<Int>] = []
        var cursor = directory
        for _ in 0..<entries {
            guard cursor + 46 <= end, u32(cursor) == 0x0201_4b50 else {
                problems.append(.unreadable(member: nil, "zip central directory entry at \(cursor) is damaged"))
                break
            }
            let flags = u16(cursor + 8)
            let method = u16(cursor + 10)
            let compressed = u32(cursor + 20)
            let size = u32(cursor + 24)
            let nameLength = u16(cursor + 28)
            let next = cursor + 46 + nameLength + u16(cursor + 30) + u16(cursor + 32)
            guard next <= end else {
                problems.append(.unreadable(member: nil, "zip central directory entry at \(cursor) runs past its end"))
                break
            }
            let name = displayName(UnsafeBufferPointer(rebasing: bytes[(cursor + 46)..<(cursor + 46 + nameLength)]))
            let local = u32(cursor + 42)
            cursor = next
            if name.hasSuffix("/") && size == 0 { continue }
            guard budget.admitEntry() else {
                problems.append(.limit(budget.entriesMessage))
                break
            }
            if compressed == 0xffff_ffff || size == 0xffff_ffff || local == 0xffff_ffff {
                problems.append(.unreadable(member: name, "zip64 member is not read"))
                continue
            }
            guard local + 30 <= bytes.count, u32(local) == 0x0403_4b50 else {
                problems.append(.unreadable(member: name, "its local header is missing"))
                continue
            }
            let data = local + 30 + u16(local + 26) + u16(local + 28)
            guard data <= bytes.count, compressed <= bytes.count - data else {
                problems.append(.unreadable(member: name, "its data runs past the end of the archive"))
                continue
            }
            covered.append(local..<(data + compressed))
            if flags & 1 != 0 {
                problems.append(.unreadable(member: name, "it is encrypted"))
                continue
            }
            let raw = UnsafeBufferPointer(rebasing: bytes[data..<(data + compressed)])
            switch method {
            case 0:
                member(name, raw)
            case 8:
                let limit = budget.remainingExpansion
                switch Inflate.inflate(raw, wrapper: .raw, limit: limit) {
                case .overLimit:
                    problems.append(.limit(budget.expansionMessage(limit)))
                    return problems
                case .corrupt(let why):
                    problems.append(.unreadable(member: name, "its deflate data cannot be read: \(why)"))
                case .complete(let out):
                    budget.expanded += out.count
                    out.withUnsafeBufferPointer { member(name, $0) }
                }
            default:
                problems.append(.unreadable(member: name, "compression method \(method) is not read"))
            }
        }
        // A local header outside every member the central directory lists: a member some tools
        // extract and this reader would not have scanned.
        var index = 0
        covered.sort { $0.lowerBound < $1.lowerBound }
        while index + 4 <= directory {
            if bytes[index] == 0x50, bytes[index + 1] == 0x4b, bytes[index + 2] == 3, bytes[index + 3] == 4,
                !covered.contains(where: { $0.contains(index) })
            {
                problems.append(.unreadable(member: nil, "a zip member at offset \(index) is not listed in the central directory"))
                break
            }
            index += 1
        }
        return problems
    }

    // MARK: tar

    static func tar(_ bytes: UnsafeBufferPointer<UInt8>, budget: ScanBudget, member: (String, UnsafeBufferPointer<UInt8>) -> Void) -> [Problem] {
        var at = 0
        var longName: String?
        while at + 512 <= bytes.count {
            let header = UnsafeBufferPointer(rebasing: bytes[at..<(at + 512)])
            if header.allSatisfy({ $0 == 0 }) { return [] }
            guard checksumMatches(header) else { return [.unreadable(member: nil, "tar header at \(at) is damaged")] }
            guard let size = octal(UnsafeBufferPointer(rebasing: header[124..<136])) else {
                return [.unreadable(member: nil, "tar header at \(at) has an unreadable size")]
            }
            let data = at + 512
            guard size <= bytes.count - data else { return [.unreadable(member: nil, "tar member at \(at) runs past the end of the archive")] }
            let content = UnsafeBufferPointer(rebasing: bytes[data..<(data + size)])
            at = data + (size + 511) / 512 * 512
            let type = header[156]
            switch type {
            case UInt8(ascii: "L"):
                longName = cString(content)
                continue
            case UInt8(ascii: "x"):
                longName = paxPath(content) ?? longName
                continue
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
                var name = cString(UnsafeBufferPointer(rebasing: header[0..<100]))
                let prefix = cString(UnsafeBufferPointer(rebasing: header[345..<500]))
                if isTar(header) && !prefix.isEmpty { name = prefix + "/" + name }
                if let long = longName { name = long }
                longName = nil
                guard budget.admitEntry() else { return [.limit(budget.entriesMessage)] }
                member(name, content)
            default:
                longName = nil
            }
        }
        return []
    }

    static func checksumMatches(_ header: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let stored = octal(UnsafeBufferPointer(rebasing: header[148..<156])) else { return false }
        var sum = 0
        for (index, b) in header.enumerated() { sum += (148..<156).contains(index) ? 32 : Int(b) }
        return sum == stored
    }

    /// A tar number field: octal digits (space or NUL padded), or base-256 (high bit set).
    static func octal(_ field: UnsafeBufferPointer<UInt8>) -> Int? {
        if let first = field.first, first & 0x80 != 0 {
            var value = 0
            for (index, b) in field.enumerated() {
                let byte = index == 0 ? Int(b & 0x7f) : Int(b)
                guard value < Int.max >> 9 else { return nil }
                value = value << 8 | byte
            }
            return value
        }
        var value = 0
        var digits = 0
        for b in field {
            if b == 0 || b == 32 {
                if digits > 0 { break }
                continue
            }
            guard b >= 48, b <= 55, value < Int.max >> 4 else { return nil }
            value = value * 8 + Int(b - 48)
            digits += 1
        }
        return value
    }

    static func paxPath(_ content: UnsafeBufferPointer<UInt8>) -> String? {
        // Records are "<length> <key>=<value>\n".
        let text = String(decoding: content, as: UTF8.self)
        for record in text.split(separator: "\n") {
            guard let space = record.firstIndex(of: " ") else { continue }
            let field = record[record.index(after: space)...]
            if field.hasPrefix("path=") { return displayName(Array(field.dropFirst(5).utf8)) }
        }
        return nil
    }

    static func cString(_ field: UnsafeBufferPointer<UInt8>) -> String {
        let end = field.firstIndex(of: 0) ?? field.count
        return displayName(UnsafeBufferPointer(rebasing: field[0..<end]))
    }

    static func displayName(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBufferPointer { displayName($0) }
    }

    /// A member name as findings show it: control characters and bidirectional overrides
    /// escaped (it reaches the reviewer's terminal), invalid UTF-8 replaced.
    static func displayName(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var out = ""
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            let v = scalar.value
            if v < 0x20 || v == 0x7f || (0x80..<0xa0).contains(v) || (0x202a...0x202e).contains(v) || (0x2066...0x2069).contains(v) || v == 0x200e
                || v == 0x200f
            {
                out += "\\u{" + String(v, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

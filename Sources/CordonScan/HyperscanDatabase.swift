import CHyperscan
import CordonOS
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// A compiled Hyperscan block-mode database: many patterns matched in one pass over the input.
///
/// Patterns Hyperscan rejects are left out and reported in `rejected`, so the caller can run them
/// with a backtracking engine instead. Immutable after init, so safe to share; each scan needs its
/// own `Scratch`.
final class HyperscanDatabase: @unchecked Sendable {
    struct Pattern: Sendable {
        var expression: String
        var id: UInt32
        var caseless: Bool = false
        var singleMatch: Bool = false
    }

    private let database: OpaquePointer
    let accepted: [UInt32]
    let rejected: [(id: UInt32, reason: String)]

    /// Compiles `patterns`, or loads the same compilation from `cacheDirectory` (the database is
    /// cached under a name derived from the patterns and checked against the full pattern list
    /// stored with it, so a stale or foreign file is never used); nil when none compiles.
    convenience init?(_ patterns: [Pattern], cacheDirectory: String?) {
        let key = Self.cacheKey(patterns)
        let file = cacheDirectory.map { $0 + "/" + String(Self.fnv1a(key), radix: 16) + ".hsdb" }
        if let file, let cached = Self.loadCached(file, key: key) {
            self.init(database: cached.database, accepted: cached.accepted, rejected: cached.rejected)
            return
        }
        self.init(patterns)
        if let file, let cacheDirectory { storeCached(file, directory: cacheDirectory, key: key) }
    }

    private init(database: OpaquePointer, accepted: [UInt32], rejected: [(id: UInt32, reason: String)]) {
        self.database = database
        self.accepted = accepted
        self.rejected = rejected
    }

    /// Compiles `patterns`; nil when none compiles.
    init?(_ patterns: [Pattern]) {
        var candidates = patterns.map { ($0, Self.flags(for: $0, fallback: 0)) }
        var rejected: [(UInt32, String)] = []
        while !candidates.isEmpty {
            var compileError: UnsafeMutablePointer<hs_compile_error_t>?
            var db: OpaquePointer?
            let rc = Self.compile(candidates, &db, &compileError)
            if rc == HS_SUCCESS, let db {
                self.database = db
                self.accepted = candidates.map(\.0.id)
                self.rejected = rejected
                return
            }
            let index = Int(compileError?.pointee.expression ?? -1)
            let message = compileError?.pointee.message.map { String(cString: $0) } ?? "error \(rc)"
            if let compileError { hs_free_compile_error(compileError) }
            guard index >= 0, index < candidates.count else { return nil }
            // Try the next, more permissive flag set for the failing pattern before giving it up.
            let (pattern, used) = candidates[index]
            let next = Self.nextFlags(after: used, for: pattern)
            if let next {
                candidates[index] = (pattern, next)
            } else {
                rejected.append((pattern.id, message))
                candidates.remove(at: index)
            }
        }
        return nil
    }

    // MARK: The compile cache

    private struct CacheHeader: Codable {
        var key: String
        var accepted: [UInt32]
        var rejectedIDs: [UInt32]
        var rejectedReasons: [String]
    }

    /// Everything the compilation depends on: Hyperscan's version and each pattern in order.
    static func cacheKey(_ patterns: [Pattern]) -> String {
        var key = String(cString: hs_version()) + "\n"
        for p in patterns { key += "\(p.id)\t\(p.caseless)\t\(p.singleMatch)\t\(p.expression)\n" }
        return key
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    /// File layout: 4-byte little-endian header length, JSON header, serialized database.
    private static func loadCached(_ file: String, key: String) -> (database: OpaquePointer, accepted: [UInt32], rejected: [(id: UInt32, reason: String)])? {
        guard let bytes = try? FileIO.readFile(file, limit: 256 * 1024 * 1024), bytes.count > 4 else { return nil }
        let length = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        guard length > 0, 4 + length < bytes.count,
            let header = try? JSONDecoder().decode(CacheHeader.self, from: Data(bytes[4..<(4 + length)])), header.key == key,
            header.rejectedIDs.count == header.rejectedReasons.count
        else { return nil }
        var db: OpaquePointer?
        let rc = bytes[(4 + length)...].withUnsafeBytes { raw in
            hs_deserialize_database(raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count, &db)
        }
        // A database from another Hyperscan build or CPU is refused by Hyperscan: compile instead.
        guard rc == HS_SUCCESS, let db else { return nil }
        return (db, header.accepted, Array(zip(header.rejectedIDs, header.rejectedReasons)).map { (id: $0.0, reason: $0.1) })
    }

    /// Best effort: a cache that cannot be written only costs the next run a compile.
    private func storeCached(_ file: String, directory: String, key: String) {
        var serialized: UnsafeMutablePointer<CChar>?
        var length = 0
        guard hs_serialize_database(database, &serialized, &length) == HS_SUCCESS, let serialized else { return }
        defer { free(serialized) }
        let header = CacheHeader(key: key, accepted: accepted, rejectedIDs: rejected.map(\.id), rejectedReasons: rejected.map(\.reason))
        guard let json = try? JSONEncoder().encode(header) else { return }
        var bytes: [UInt8] = [UInt8(json.count & 0xff), UInt8(json.count >> 8 & 0xff), UInt8(json.count >> 16 & 0xff), UInt8(json.count >> 24 & 0xff)]
        bytes += json
        bytes += UnsafeRawBufferPointer(start: serialized, count: length)
        _ = try? FileIO.makeDirectories(directory, mode: 0o700)
        _ = try? FileIO.writeAtomically(file, bytes, mode: 0o600)
    }

    deinit { hs_free_database(database) }

    private static func flags(for pattern: Pattern, fallback: UInt32) -> UInt32 {
        var flags = fallback
        if pattern.caseless { flags |= UInt32(HS_FLAG_CASELESS) }
        if pattern.singleMatch { flags |= UInt32(HS_FLAG_SINGLEMATCH) }
        return flags
    }

    /// Plain, then UTF-8 with Unicode properties (for `\p{…}`), then prefilter mode (a superset
    /// matcher: every hit is confirmed by the exact regex anyway).
    private static func nextFlags(after used: UInt32, for pattern: Pattern) -> UInt32? {
        let utf = UInt32(HS_FLAG_UTF8 | HS_FLAG_UCP)
        let prefilter = UInt32(HS_FLAG_PREFILTER)
        if used & utf == 0 && used & prefilter == 0 { return flags(for: pattern, fallback: utf) }
        if used & prefilter == 0 { return flags(for: pattern, fallback: utf | prefilter) }
        return nil
    }

    private static func compile(
        _ candidates: [(Pattern, UInt32)], _ db: inout OpaquePointer?, _ error: inout UnsafeMutablePointer<hs_compile_error_t>?
    ) -> hs_error_t {
        let cStrings = candidates.map { strdup($0.0.expression) }
        defer { cStrings.forEach { free($0) } }
        let expressions: [UnsafePointer<CChar>?] = cStrings.map { $0.map { UnsafePointer($0) } }
        let flags = candidates.map { $0.1 }
        let ids = candidates.map { $0.0.id }
        return expressions.withUnsafeBufferPointer { exprs in
            flags.withUnsafeBufferPointer { fl in
                ids.withUnsafeBufferPointer { idp in
                    hs_compile_multi(exprs.baseAddress, fl.baseAddress, idp.baseAddress, UInt32(candidates.count), UInt32(HS_MODE_BLOCK), nil, &db, &error)
                }
            }
        }
    }

    /// The longest match `expression` can produce, in bytes; nil when unbounded or not compilable.
    static func maxWidth(_ expression: String) -> Int? {
        for flags in [UInt32(0), UInt32(HS_FLAG_UTF8 | HS_FLAG_UCP)] {
            var info: UnsafeMutablePointer<hs_expr_info_t>?
            var error: UnsafeMutablePointer<hs_compile_error_t>?
            let rc = hs_expression_info(expression, flags, &info, &error)
            if let error { hs_free_compile_error(error) }
            guard rc == HS_SUCCESS, let info else { continue }
            defer { free(info) }
            let width = info.pointee.max_width
            return width == UInt32.max ? nil : Int(width)
        }
        return nil
    }

    /// Per-scan working memory; not shareable between threads.
    final class Scratch {
        fileprivate var pointer: OpaquePointer?
        init(for database: HyperscanDatabase) {
            _ = hs_alloc_scratch(database.database, &pointer)
        }
        deinit { if let pointer { hs_free_scratch(pointer) } }
    }

    func makeScratch() -> Scratch { Scratch(for: self) }

    /// Every (pattern id, end offset) match in `bytes`.
    /// How a scan ended: `complete`, or `truncated` (too many hits to keep, or an engine error):
    /// the caller must then not rely on the hits to know where matches can be.
    enum Completion { case complete, truncated }

    /// Most hits one scan keeps (16 bytes each): past this the scan stops and says so.
    static let hitLimit = 1 << 20

    /// Every (pattern id, end offset) match in `bytes`, appended to `hits` (emptied first; its
    /// capacity is reused across files).
    func scan(_ bytes: UnsafeRawBufferPointer, scratch: Scratch, into hits: inout [(id: UInt32, end: Int)]) -> Completion {
        hits.removeAll(keepingCapacity: true)
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count <= Int(UInt32.max) else {
            return bytes.isEmpty ? .complete : .truncated
        }
        let rc = withUnsafeMutablePointer(to: &hits) { sink in
            hs_scan(
                database, base, UInt32(bytes.count), 0, scratch.pointer,
                { id, _, to, _, context in
                    guard let context else { return 1 }
                    let hits = context.assumingMemoryBound(to: [(id: UInt32, end: Int)].self)
                    hits.pointee.append((id, Int(to)))
                    return hits.pointee.count >= HyperscanDatabase.hitLimit ? 1 : 0
                }, sink)
        }
        return rc == HS_SUCCESS ? .complete : .truncated
    }
}

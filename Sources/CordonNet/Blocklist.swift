public import CordonCore
public import CordonPolicy
import CordonOS

#if canImport(Glibc)
    import Glibc
#endif

/// Loading blocklists from files (the lookups themselves are pure, in CordonPolicy).
extension Blocklist {
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
        if paths.count == 1, let compiled = try? readFile(paths[0]),
            let list = try compiled.starts(with: magic) ? Blocklist(compiled: compiled, path: paths[0]) : nil
        {
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

    static func readFile(_ path: String) throws(CordonError) -> [UInt8] {
        do {
            return try FileIO.readFile(path, limit: 1 << 31)
        } catch {
            throw CordonError(.io, "cannot read blocklist \(path)", cause: error.errnoText)
        }
    }
}

import CCordon
public import CordonCore

#if canImport(Glibc)
    import Glibc
#endif

/// Extended attributes of a path, never following a symlink.
public enum ExtendedAttributes {
    /// The value of `name`, or nil when the attribute (or the file) does not exist.
    public static func get(_ path: String, _ name: String) -> [UInt8]? {
        value { ccordon_lgetxattr(path, name, $0, $1) }
    }

    /// The value of `name` on an open file, or nil when it has no such attribute.
    public static func get(descriptor fd: Int32, _ name: String) -> [UInt8]? {
        value { ccordon_fgetxattr(fd, name, $0, $1) }
    }

    public static func set(_ path: String, _ name: String, _ value: [UInt8]) throws(CordonError) {
        let rc = value.withUnsafeBytes { ccordon_lsetxattr(path, name, $0.baseAddress, $0.count, 0) }
        if rc != 0 { throw SystemError.current("set attribute \(name) on", path).cordonError() }
    }

    public static func remove(_ path: String, _ name: String) {
        _ = ccordon_lremovexattr(path, name)
    }

    /// Removes `name` from an open file; true when it is gone (or was never there).
    @discardableResult
    public static func remove(descriptor fd: Int32, _ name: String) -> Bool {
        ccordon_fremovexattr(fd, name) == 0 || errno == ENODATA
    }

    /// All attribute names on `path` (empty when none or unsupported).
    public static func names(_ path: String) -> [String] {
        list { ccordon_llistxattr(path, $0, $1) }
    }

    /// All attribute names on an open file (empty when none or unsupported).
    public static func names(descriptor fd: Int32) -> [String] {
        list { ccordon_flistxattr(fd, $0, $1) }
    }

    /// One `*getxattr` call shape: size first, then the value.
    private static func value(_ call: (UnsafeMutableRawPointer?, Int) -> Int) -> [UInt8]? {
        let size = call(nil, 0)
        guard size >= 0 else { return nil }
        if size == 0 { return [] }
        var buffer = [UInt8](repeating: 0, count: size)
        let read = buffer.withUnsafeMutableBytes { call($0.baseAddress, $0.count) }
        guard read >= 0 else { return nil }
        return Array(buffer.prefix(read))
    }

    /// One `*listxattr` call shape: size first, then the NUL-separated names.
    private static func list(_ call: (UnsafeMutablePointer<CChar>?, Int) -> Int) -> [String] {
        while true {
            let size = call(nil, 0)
            guard size > 0 else { return [] }
            var buffer = [CChar](repeating: 0, count: size)
            let read = buffer.withUnsafeMutableBufferPointer { call($0.baseAddress, $0.count) }
            // ERANGE: an attribute was added between the two calls; ask again rather than miss it.
            if read < 0 && errno == ERANGE { continue }
            guard read > 0 else { return [] }
            return buffer.prefix(read).split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
    }

    /// Removes every extended attribute of an open file (ACLs, user.*, overlay metadata, file
    /// capabilities): 0 when none remain, else the errno of the first removal that failed.
    public static func removeAll(descriptor fd: Int32) -> Int32 {
        -ccordon_remove_all_xattrs(fd)
    }
}

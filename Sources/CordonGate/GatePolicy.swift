/// The sync gate's settings: what may reach the host, and how big it may be.
///
/// The command layer maps a profile's `sync:` section onto this; the gate never reads profiles.
public struct GatePolicy: Sendable, Equatable, Codable {
    /// gitignore-syntax globs; when non-empty, only matching paths may sync.
    public var allow: [String]
    /// gitignore-syntax globs that never sync.
    public var deny: [String]
    /// File name endings that never sync (`.pem`), compared case-insensitively; also matched as a
    /// whole dotfile name or its prefix (`.env`, `.env.local`).
    public var blockedExtensions: [String]
    /// Bytes; a larger file is blocked.
    public var maxFileSize: UInt64
    /// Bytes of new content in the whole change set; more blocks everything.
    public var maxTotalSize: UInt64
    /// A gitleaks TOML config to scan with instead of cordon's default rules.
    public var scannerConfig: String?
    /// Archives (zip, tar, gzip, bzip2, xz, zstd, 7z, rar by magic) need approval: the scanner
    /// does not look inside them.
    public var flagArchives: Bool
    /// The sandbox's own policy files inside the workspace (see `ProtectedPath`): changes to them
    /// are blocked, whatever the mode and flags.
    public var protectedPaths: [ProtectedPath] = []

    public static let defaultBlockedExtensions = [
        ".env", ".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".secret", ".credentials", ".pth", ".so", ".dll", ".dylib", ".exe",
        ".kdbx", ".ppk", ".asc", ".gpg", ".tfstate", ".npmrc", ".pypirc", ".netrc", ".pgpass", ".htpasswd",
    ]

    public init(
        allow: [String] = [], deny: [String] = [], blockedExtensions: [String] = GatePolicy.defaultBlockedExtensions,
        maxFileSize: UInt64 = 10 * 1024 * 1024, maxTotalSize: UInt64 = 1024 * 1024 * 1024, scannerConfig: String? = nil, flagArchives: Bool = false
    ) {
        self.allow = allow
        self.deny = deny
        self.blockedExtensions = blockedExtensions
        self.maxFileSize = maxFileSize
        self.maxTotalSize = maxTotalSize
        self.scannerConfig = scannerConfig
        self.flagArchives = flagArchives
    }

    /// `extra` added to the defaults (what a profile's `blocked_extensions` means).
    public static func blockedExtensions(adding extra: [String]) -> [String] {
        var result = defaultBlockedExtensions
        for e in extra {
            let normalized = e.hasPrefix(".") ? e.lowercased() : "." + e.lowercased()
            if !result.contains(normalized) { result.append(normalized) }
        }
        return result
    }

    /// The blocked extension `path` ends with, if any.
    public func blockedExtension(of path: String) -> String? {
        Self.blockedExtension(of: path, in: blockedExtensions.map(Self.normalized))
    }

    /// `.ext`, lowercased.
    static func normalized(_ ext: String) -> String {
        ext.hasPrefix(".") ? ext.lowercased() : "." + ext.lowercased()
    }

    /// The extension of `normalized` (see `normalized(_:)`) that `path`'s name ends with, or that
    /// starts a dotfile name (`.env.local`).
    static func blockedExtension(of path: String, in normalized: [String]) -> String? {
        let name = (path.lastIndex(of: "/").map { path[path.index(after: $0)...] } ?? path[...]).lowercased()
        return normalized.first { name.hasSuffix($0) || name.hasPrefix($0 + ".") }
    }
}

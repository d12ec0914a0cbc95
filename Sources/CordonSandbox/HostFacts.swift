import CordonCore
import CordonOS
import Glibc

/// What the plan builder needs to know about the host, gathered once (so the builder stays pure).
public struct HostFacts: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var home: String
    /// Host entries the new root reuses: `/usr` etc., each a directory or a symlink (with its target).
    public var systemEntries: [String: SystemEntry]
    /// `/etc` files that exist on the host (generated ones can only be bound over existing files).
    public var etcFiles: Set<String>
    public var environment: [String: String]

    public enum SystemEntry: Sendable, Equatable {
        case directory
        case symlink(String)
    }

    public init(uid: UInt32, gid: UInt32, home: String, systemEntries: [String: SystemEntry], etcFiles: Set<String>, environment: [String: String]) {
        self.uid = uid
        self.gid = gid
        self.home = home
        self.systemEntries = systemEntries
        self.etcFiles = etcFiles
        self.environment = environment
    }

    public static let systemDirectories = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"]
    static let etcCandidates = ["/etc/passwd", "/etc/group", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/etc/machine-id"]

    public static func current() -> HostFacts {
        var entries: [String: SystemEntry] = [:]
        for dir in systemDirectories {
            switch FileIO.kind(dir, followSymlinks: false) {
            case .directory: entries[dir] = .directory
            case .symlink: if let target = FileIO.readLink(dir) { entries[dir] = .symlink(target) }
            default: break
            }
        }
        let env = ProcessEnvironment.current
        let home = HomeDirectory.resolve(environment: env)
        return HostFacts(
            uid: getuid(), gid: getgid(), home: home, systemEntries: entries,
            etcFiles: Set(etcCandidates.filter { FileIO.kind($0) == .file }), environment: env
        )
    }
}

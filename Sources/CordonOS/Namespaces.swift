import CCordon

/// The namespaces a sandbox gets, as clone flags.
public struct NamespaceSet: OptionSet, Sendable, Codable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let user = NamespaceSet(rawValue: CCORDON_CLONE_NEWUSER)
    public static let mount = NamespaceSet(rawValue: CCORDON_CLONE_NEWNS)
    public static let pid = NamespaceSet(rawValue: CCORDON_CLONE_NEWPID)
    public static let ipc = NamespaceSet(rawValue: CCORDON_CLONE_NEWIPC)
    public static let uts = NamespaceSet(rawValue: CCORDON_CLONE_NEWUTS)
    public static let net = NamespaceSet(rawValue: CCORDON_CLONE_NEWNET)
    public static let cgroup = NamespaceSet(rawValue: CCORDON_CLONE_NEWCGROUP)

    public static let all: NamespaceSet = [.user, .mount, .pid, .ipc, .uts, .net, .cgroup]

    public static func unshare(_ set: NamespaceSet) throws(SystemError) {
        try check("unshare", nil, ccordon_unshare(set.rawValue))
    }
}

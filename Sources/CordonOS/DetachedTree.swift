import CCordon
public import CordonCore
import Glibc

/// Detached mount trees (the new mount API) the supervisor opens on the host and hands to
/// cordon-init, which attaches them inside.
public enum DetachedTree {
    /// open_tree(OPEN_TREE_CLONE) of `path`, with its submounts when `recursive`: a descriptor.
    public static func clone(_ path: String, recursive: Bool = true) throws(CordonError) -> Int32 {
        let tree = ccordon_clone_tree(AT_FDCWD, path, recursive ? 1 : 0)
        if tree < 0 { throw failure("cannot clone the mount tree of", path, tree) }
        return tree
    }

    /// Makes the detached `tree` (and its submounts) idmapped through user namespace `userns`.
    public static func idmap(_ tree: Int32, userNamespace userns: Int32, path: String) throws(CordonError) {
        let rc = ccordon_idmap_tree(tree, userns)
        if rc < 0 { throw failure("cannot idmap the mount tree of", path, rc) }
    }

    private static func failure(_ what: String, _ path: String, _ rc: Int32) -> CordonError {
        CordonError(.systemCall, "\(what) \(path)", cause: String(cString: strerror(-rc)))
    }
}

public import CordonCore

/// Where the keystore lives: `<state>/secrets/`, a 0700 directory inside cordon's state
/// directory, which no profile can mount into a sandbox (`CordonPaths.ownDirectoryOverlapping`).
public struct KeystorePaths: Sendable, Equatable {
    public var directory: String

    public init(directory: String) { self.directory = directory }
    public init(_ paths: CordonPaths) { self.init(directory: paths.stateHome + "/secrets") }

    /// The sealed values and their metadata.
    public var store: String { directory + "/keystore.json" }
    /// The random master key (master-key mode).
    public var masterKey: String { directory + "/master.key" }
}

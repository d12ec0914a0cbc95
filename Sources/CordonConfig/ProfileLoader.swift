public import CordonCore

/// Placeholder until the configuration module lands: only the built-in default profile.
public struct LoadedProfile: Sendable {
    public var profile: Profile
    public var source: String
}

public struct ProfileLoader: Sendable {
    public init(paths: CordonPaths, homeDirectory: String) {}
    public func load(reference: String?, currentDirectory: String) throws(CordonError) -> LoadedProfile {
        guard reference == nil || reference == "default" else {
            throw CordonError(.unsupported, "profiles are not supported yet")
        }
        return LoadedProfile(profile: .defaults, source: "builtin:default")
    }
}

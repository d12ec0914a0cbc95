public import CordonCore
import FoundationEssentials

/// A merged profile and where it came from.
public struct LoadedProfile: Sendable {
    public var profile: Profile
    /// The profile file's path, or `builtin:default`.
    public var source: String
    /// The files read to make it, with the exact bytes parsed: the profile's own file, then each
    /// user preset it composes (built-in presets are part of cordon). `ProfileTrust` hashes them.
    public var files: [(path: String, bytes: [UInt8])]

    public init(profile: Profile, source: String, files: [(path: String, bytes: [UInt8])] = []) {
        self.profile = profile
        self.source = source
        self.files = files
    }
}

/// Finds, parses, checks and merges profiles: presets in order, then the profile itself.
///
/// A reference is nil (the built-in `default`), a path (contains "/" or ends in .yaml/.yml,
/// relative to the current directory), or a name: `<config>/profiles/NAME.yaml`, else a built-in
/// profile of that name.
public struct ProfileLoader: Sendable {
    public static let builtinProfiles: [String: Profile] = ["default": .defaults]

    public var paths: CordonPaths
    public var homeDirectory: String
    /// Presets profiles may name; nil reads `<config>/presets` on first use.
    public var catalog: PresetCatalog?

    public init(paths: CordonPaths, homeDirectory: String) {
        self.paths = paths
        self.homeDirectory = homeDirectory
    }

    /// With a fixed preset catalog (tests, or a caller that already loaded it).
    public init(paths: CordonPaths, homeDirectory: String, catalog: PresetCatalog) {
        self.init(paths: paths, homeDirectory: homeDirectory)
        self.catalog = catalog
    }

    public func load(reference: String?, currentDirectory: String) throws(CordonError) -> LoadedProfile {
        // One catalog for the whole load: the presets hashed are the presets merged. The built-in
        // default needs none (the common `cordon run` reads no preset directory).
        var fixed = self
        if reference != nil { fixed.catalog = try presetCatalog() }
        var loaded = try fixed.loadWithoutApprovals(reference: reference, currentDirectory: currentDirectory)
        let approved = try ApprovalFile(paths: paths, profile: loaded.profile.name).patterns()
        guard approved.problems.isEmpty else { throw approved.problems.combinedError(source: ApprovalFile(paths: paths, profile: loaded.profile.name).path) }
        loaded.profile.applyApprovals(approved.patterns)
        return loaded
    }

    /// Where a profile reference (`--profile`, `config validate|compile`) points.
    public enum Located: Sendable {
        /// A profile file: a path as given (relative to the current directory), or a name found
        /// in the profiles directory.
        case file(String)
        /// A built-in profile (`default`) with no file of that name in the profiles directory.
        case builtin(name: String, profile: Profile)
    }

    /// Resolves `reference` as `cordon run --profile` does: a path when it looks like one
    /// (contains `/` or ends in `.yaml`/`.yml`), else a name in the profiles directory, else a
    /// built-in profile's name. Throws naming what to do when it is none of them.
    public func locate(reference: String, currentDirectory: String) throws(CordonError) -> Located {
        if Self.isPath(reference) {
            return .file(HostPath.normalize(reference.hasPrefix("/") ? reference : currentDirectory + "/" + reference))
        }
        if let problem = ProfileLayerParser.nameProblem(reference) {
            throw CordonError(
                .invalidArgument, "\"\(reference)\" is not a profile name: it \(problem)",
                hint: "name a profile in \(paths.profilesDirectory), or give a path to a .yaml file")
        }
        let named = paths.profilesDirectory + "/" + reference
        if let found = [named + ".yaml", named + ".yml"].first(where: ProfileFile.exists) { return .file(found) }
        if let builtin = Self.builtinProfiles[reference] { return .builtin(name: reference, profile: builtin) }
        throw CordonError(
            .notFound, "no profile named \"\(reference)\"",
            hint: "create \(named).yaml (`cordon init` writes a starter), or use one of: \(Self.builtinProfiles.keys.sorted().joined(separator: ", "))")
    }

    private func loadWithoutApprovals(reference: String?, currentDirectory: String) throws(CordonError) -> LoadedProfile {
        guard let reference else { return LoadedProfile(profile: .defaults, source: "builtin:default") }
        let path: String
        switch try locate(reference: reference, currentDirectory: currentDirectory) {
        case .file(let file): path = file
        case .builtin(let name, let profile): return LoadedProfile(profile: profile, source: "builtin:" + name)
        }
        let yaml = try ProfileFile.read(path)
        let validation = try validate(yaml: yaml, file: path)
        guard let profile = validation.profile, validation.diagnostics.isEmpty else {
            throw validation.diagnostics.combinedError(source: path)
        }
        var files = [(path: path, bytes: Array(yaml.utf8))]
        let catalog = try presetCatalog()
        for name in profile.presets {
            if let entry = catalog.entry(named: name), !entry.isBuiltin { files.append((entry.source, Array(entry.yaml.utf8))) }
        }
        return LoadedProfile(profile: profile, source: path, files: files)
    }

    /// Parses and merges a profile given as text; `file` names it in errors and anchors relative paths.
    public func parse(yaml: String, file: String) throws(CordonError) -> Profile {
        let validation = try validate(yaml: yaml, file: file)
        guard let profile = validation.profile, validation.diagnostics.isEmpty else {
            throw validation.diagnostics.combinedError(source: file)
        }
        return profile
    }

    /// Reads and checks a profile file, collecting every problem; throws only when it cannot be read.
    public func validate(file: String) throws(CordonError) -> ProfileValidation {
        try validate(yaml: ProfileFile.read(file), file: file)
    }

    /// Checks a profile given as text, collecting every problem (its own and its presets').
    public func validate(yaml: String, file: String) throws(CordonError) -> ProfileValidation {
        let catalog = try presetCatalog()
        var base = HostPath.directory(of: file)
        if !base.hasPrefix("/") { base = FileManager.default.currentDirectoryPath + "/" + base }
        let (layer, problems) = ProfileLayerParser.parse(yaml: yaml, file: file, kind: .profile, home: homeDirectory, baseDirectory: base)
        guard let layer else { return ProfileValidation(profile: nil, source: file, diagnostics: problems) }
        var composer = PresetComposer(catalog: catalog, home: homeDirectory)
        composer.expand(layer.presets)
        guard composer.diagnostics.isEmpty else { return ProfileValidation(profile: nil, source: file, diagnostics: composer.diagnostics) }
        var profile = Profile.defaults
        for (_, preset) in composer.ordered { profile.apply(preset) }
        profile.apply(layer)
        profile.presets = composer.ordered.map(\.name)
        // An unreadable approval file is left out here (loading for a run reports it); a line the
        // pattern grammar refuses is a problem of this profile, with its file and line.
        let approved = (try? ApprovalFile(paths: paths, profile: profile.name).patterns()) ?? (patterns: [], problems: [])
        profile.applyApprovals(approved.patterns)
        return ProfileValidation(profile: profile, source: file, diagnostics: approved.problems)
    }

    /// A preset on its own, merged over nothing but its own presets (for `cordon presets show`).
    public func preset(named name: String) throws(CordonError) -> (entry: PresetCatalog.Entry, profile: Profile) {
        let catalog = try presetCatalog()
        guard let entry = catalog.entry(named: name) else {
            throw CordonError(.notFound, "unknown preset \"\(name)\"", hint: catalog.unknownHint(name))
        }
        var composer = PresetComposer(catalog: catalog, home: homeDirectory)
        composer.expand([.init(name: name, location: .init(file: entry.source))])
        guard composer.diagnostics.isEmpty else { throw composer.diagnostics.combinedError(source: entry.source) }
        var profile = Profile(name: name)
        for (_, layer) in composer.ordered { profile.apply(layer) }
        profile.presets = composer.ordered.map(\.name)
        return (entry, profile)
    }

    /// The catalog given at init, else built-ins plus `<config>/presets`.
    public func presetCatalog() throws(CordonError) -> PresetCatalog {
        if let catalog { return catalog }
        return try PresetCatalog.load(directory: paths.presetsDirectory)
    }

    static func isPath(_ reference: String) -> Bool {
        reference.contains("/") || reference.hasSuffix(".yaml") || reference.hasSuffix(".yml")
    }
}

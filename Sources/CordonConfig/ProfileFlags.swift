import CordonPolicy
public import CordonCore

/// The profile settings `cordon run` and `cordon up` take as flags (`-e`, `--preset`, `--allow`,
/// `--memory`, `--cpus`, `--network`): one last layer over the composed profile, for this sandbox
/// only. Presets compose as a profile's own `presets:` do (a preset's presets first, each once,
/// one already in the profile skipped) and apply over the profile; then `--allow` adds to
/// `egress.domains`, `-e` entries override `env`, and `--memory`, `--cpus`, `--network` replace
/// the profile's values. Every value is checked with the profile's own grammar; an error names
/// the flag and the value.
public struct ProfileFlags: Sendable, Equatable {
    /// `KEY=VALUE` entries, a bare `-e VAR` already resolved from the host (`ExecCommand.environment`).
    public var env: [String]
    public var presets: [String]
    public var allow: [String]
    /// As written (`512m`, `2g`): `resources.memory`'s grammar.
    public var memory: String?
    /// As written (`0.5`, `2`): `resources.cpus`'s grammar.
    public var cpus: String?
    public var network: Profile.Network?

    public init(
        env: [String] = [], presets: [String] = [], allow: [String] = [], memory: String? = nil, cpus: String? = nil, network: Profile.Network? = nil
    ) {
        self.env = env
        self.presets = presets
        self.allow = allow
        self.memory = memory
        self.cpus = cpus
        self.network = network
    }

    public var isEmpty: Bool { self == ProfileFlags() }

    /// The flags as `cordon __supervise` (and `up.json`) spell them: `-e` entries carry only their
    /// name (the value goes through the environment, not a command line every host user can
    /// read), so pair this with `environment`.
    public var arguments: [String] {
        var result: [String] = []
        for entry in env { result += ["--env", Self.key(entry)] }
        for preset in presets { result += ["--preset", preset] }
        for pattern in allow { result += ["--allow", pattern] }
        if let memory { result += ["--memory", memory] }
        if let cpus { result += ["--cpus", cpus] }
        if let network { result += ["--network", network.rawValue] }
        return result
    }

    /// The `-e` values, by name (a later entry for a name wins).
    public var environment: [String: String] {
        var result: [String: String] = [:]
        for entry in env {
            let key = Self.key(entry)
            result[key] = String(entry.dropFirst(key.count + 1))
        }
        return result
    }

    static func key(_ entry: String) -> String { String(entry.prefix { $0 != "=" }) }

    /// The profile with the flags applied over it, and the user preset files they made cordon read
    /// (for `UpRecord.digest`). `loader` gives the preset catalog (read only for `--preset`) and
    /// the home `~` expands to. Throws naming the flag when a value is not what the profile's
    /// field accepts or a preset is unknown.
    public func apply(to profile: Profile, loader: ProfileLoader) throws(CordonError) -> (profile: Profile, files: [(path: String, bytes: [UInt8])]) {
        let layer = try self.layer()
        var result = profile
        var files: [(path: String, bytes: [UInt8])] = []
        if !presets.isEmpty {
            let catalog = try loader.presetCatalog()
            for name in presets where catalog.entry(named: name) == nil {
                throw CordonError(.invalidArgument, "--preset \(name): unknown preset \"\(name)\"", hint: catalog.unknownHint(name))
            }
            var composer = PresetComposer(catalog: catalog, home: loader.homeDirectory)
            composer.expand(presets.map { .init(name: $0, location: .init(file: "--preset \($0)")) })
            guard composer.diagnostics.isEmpty else { throw composer.diagnostics.combinedError(source: "--preset") }
            for (name, preset) in composer.ordered where !result.presets.contains(name) {
                result.apply(preset)
                result.presets.append(name)
                if let entry = catalog.entry(named: name), !entry.isBuiltin { files.append((entry.source, Array(entry.yaml.utf8))) }
            }
        }
        result.apply(layer)
        return (result, files)
    }

    /// The flags other than `--preset` as a profile layer, each value checked as the profile's
    /// field checks it.
    func layer() throws(CordonError) -> ProfileLayer {
        var layer = ProfileLayer()
        for entry in env {
            let key = Self.key(entry)
            guard entry.count > key.count, ProfileLayerParser.envNameProblem(key) == nil else {
                throw CordonError(.invalidArgument, "-e \(entry): not a variable name", hint: "pass -e VAR=VALUE or -e VAR (letters, digits and _)")
            }
            layer.env[key] = String(entry.dropFirst(key.count + 1))
        }
        for text in allow {
            switch EgressConfiguration.allowedPattern(text) {
            case .success(let pattern): if !layer.egress.domains.contains(pattern) { layer.egress.domains.append(pattern) }
            case .failure(let problem):
                throw CordonError(.invalidArgument, "--allow \(text): not a valid pattern: \(problem.message)", hint: DomainPattern.expected)
            }
        }
        if let memory {
            guard let bytes = ByteSize.parse(memory) else {
                throw CordonError(.invalidArgument, "--memory \(memory): not a valid size", hint: "write \(ByteSize.expected) (units are powers of 1024)")
            }
            layer.resources.memory = bytes
        }
        if let cpus {
            guard cpus.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let value = Double(cpus), value > 0, value.isFinite else {
                throw CordonError(.invalidArgument, "--cpus \(cpus): expected a positive number", hint: "write a number such as 2 or 0.5")
            }
            layer.resources.cpus = value
        }
        layer.network = network
        return layer
    }
}

import CordonPolicy
import CordonCore
import Yams

/// Turns one YAML document into a `ProfileLayer`, checking every field and collecting every problem.
struct ProfileLayerParser {
    enum Kind: Sendable { case profile, preset }

    static let profileKeys = [
        "name", "backend", "mode", "workspace", "mounts", "data", "copy", "env", "resources", "network", "egress",
        "secrets", "sync", "terminal", "presets", "usage", "mcp",
    ]
    static let presetKeys = ["description"] + profileKeys.filter { $0 != "name" && $0 != "workspace" }

    var reader: NodeReader
    let kind: Kind
    /// The user's home, for `~/` in host paths.
    let home: String
    /// The directory relative host paths resolve against (the profile file's directory).
    let baseDirectory: String?
    /// Sandbox paths used so far in this document, with the field that used them.
    var sandboxPaths: [String: String] = [:]

    init(file: String, kind: Kind, home: String, baseDirectory: String?) {
        self.reader = NodeReader(file: file)
        self.kind = kind
        self.home = home
        self.baseDirectory = baseDirectory
    }

    /// The layer, or nil with diagnostics when anything is wrong.
    static func parse(yaml: String, file: String, kind: Kind, home: String, baseDirectory: String?) -> (ProfileLayer?, [ProfileDiagnostic]) {
        var parser = ProfileLayerParser(file: file, kind: kind, home: home, baseDirectory: baseDirectory)
        let layer = parser.parse(yaml)
        // Stable sort: unknown keys are found before their siblings' values are read.
        let diagnostics = parser.reader.diagnostics.enumerated().sorted { a, b in
            let l = (a.element.location.line ?? 0, a.element.location.column ?? 0, a.offset)
            let r = (b.element.location.line ?? 0, b.element.location.column ?? 0, b.offset)
            return l < r
        }.map(\.element)
        return (diagnostics.isEmpty ? layer : nil, diagnostics)
    }

    mutating func parse(_ yaml: String) -> ProfileLayer {
        var layer = ProfileLayer()
        guard let composed = reader.compose(yaml), let root = composed else { return layer }
        if case .scalar = root, root.null != nil { return layer }
        let keys = kind == .profile ? Self.profileKeys : Self.presetKeys
        if kind == .preset, let mapping = root.mapping {
            for (keyNode, _) in mapping where keyNode.string == "name" || keyNode.string == "workspace" {
                let key = keyNode.string ?? ""
                reader.report(keyNode, key, "a preset cannot set \"\(key)\"", hint: "set \(key) in the profile that uses the preset")
            }
        }
        let allowed = kind == .preset ? keys + ["name", "workspace"] : keys
        guard let entries = reader.mapping(root, "", keys: allowed) else { return layer }
        for (key, _, value) in entries {
            switch key {
            case "name":
                if kind == .profile {
                    layer.name = checkedName(value, key, hint: "use letters, digits, \".\", \"_\" and \"-\", starting with a letter or digit")
                }
            case "description": layer.description = reader.string(value, key, allowEmpty: true)
            case "backend": layer.backend = reader.choice(value, key, Profile.Backend.self)
            case "mode": layer.mode = reader.choice(value, key, Profile.Mode.self)
            case "network": layer.network = reader.choice(value, key, Profile.Network.self)
            case "workspace":
                if kind == .profile, let text = reader.string(value, key) {
                    layer.workspace = hostPath(text, value, key, relative: true)
                }
            case "mounts": layer.mounts = parseMounts(value)
            case "data": layer.data = parseData(value)
            case "copy": layer.copy = parseCopies(value)
            case "env": layer.env = parseEnv(value, "env")
            case "resources": layer.resources = parseResources(value)
            case "egress": layer.egress = parseEgress(value)
            case "secrets": layer.secrets = parseSecrets(value)
            case "sync": layer.sync = parseSync(value)
            case "terminal": layer.terminalFilter = parseTerminal(value)
            case "presets": layer.presets = parsePresetReferences(value)
            case "usage": layer.usage = parseUsage(value)
            case "mcp": layer.mcp = parseMCP(value)
            default: break
            }
        }
        return layer
    }

    // MARK: Shared checks

    static func nameProblem(_ text: String) -> String? {
        guard let first = text.unicodeScalars.first, first.properties.isAlphabetic || ("0"..."9").contains(first), first.isASCII else {
            return "must start with a letter or digit"
        }
        let valid = text.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0))
        }
        return valid && text.count <= 64 ? nil : "may contain only letters, digits, \".\", \"_\" and \"-\" (at most 64)"
    }

    static func envNameProblem(_ text: String) -> String? {
        guard let first = text.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
            return "is not a valid environment variable name"
        }
        let valid = text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
        return valid ? nil : "is not a valid environment variable name"
    }

    mutating func hostPath(_ text: String, _ node: Node, _ field: String, relative: Bool) -> String? {
        switch HostPath.resolve(text, home: home, relativeTo: relative ? (baseDirectory ?? ".") : nil) {
        case .success(let path): return path
        case .failure(let problem):
            reader.report(node, field, "\"\(text)\" \(problem.message)", hint: problem.hint)
            return nil
        }
    }

    mutating func sandboxPath(_ text: String, _ node: Node, _ field: String) -> String? {
        if let (problem, hint) = HostPath.sandboxProblem(text) {
            reader.report(node, field, "\"\(text)\" \(problem)", hint: hint)
            return nil
        }
        return SandboxPath.normalized(text)
    }

    /// Within one document a sandbox path may be used by one mount, data dir or copy only.
    mutating func claimSandboxPath(_ path: String, _ node: Node, _ field: String) -> Bool {
        if let first = sandboxPaths[path] {
            reader.report(
                node, field, "sandbox path \"\(path)\" is already used by \(first)",
                hint: "give each mount, data dir and copy its own sandbox path")
            return false
        }
        sandboxPaths[path] = field
        return true
    }
}

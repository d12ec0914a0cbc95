import CordonPolicy
import CordonSecrets
import Yams

/// mounts, data, copy, env, secrets and presets.
extension ProfileLayerParser {
    mutating func parseMounts(_ node: Node) -> [Profile.Mount] {
        parseHostEntries(node, "mounts", extraKey: "mode", fallback: Profile.Mount.Kind.ro) { reader, value, path in
            reader.choice(value, path, Profile.Mount.Kind.self)
        }
        .map { Profile.Mount(host: $0.host, sandbox: $0.sandbox, mode: $0.extra) }
    }

    mutating func parseData(_ node: Node) -> [Profile.DataDir] {
        guard let items = reader.sequence(node, "data") else { return [] }
        var result: [Profile.DataDir] = []
        var names: Set<String> = []
        for (index, item) in items.enumerated() {
            let field = "data[\(index)]"
            guard let entries = reader.mapping(item, field, keys: ["name", "path"]) else { continue }
            var name: String?, path: String?, ok = true
            for (key, _, value) in entries {
                let sub = field + "." + key
                switch key {
                case "name": name = checkedName(value, sub, hint: "name the directory like \"claude\" or \"pip-cache\""); ok = ok && name != nil
                case "path": path = reader.string(value, sub).flatMap { sandboxPath($0, value, sub) }; ok = ok && path != nil
                default: break
                }
            }
            guard ok, let path = requireKey(path, "path", item, field) else { continue }
            let dirName = name ?? Self.defaultDataName(path)
            if names.contains(dirName) {
                reader.report(item, field + ".name", "data name \"\(dirName)\" is used twice", hint: "give each data dir its own `name:`")
                continue
            }
            guard claimSandboxPath(path, item, field + ".path") else { continue }
            names.insert(dirName)
            result.append(Profile.DataDir(name: dirName, path: path))
        }
        return result
    }

    /// `~/.claude` → `claude`: the last component without leading dots.
    static func defaultDataName(_ path: String) -> String {
        let last = path.split(separator: "/").last.map(String.init) ?? "data"
        let trimmed = String(last.drop { $0 == "." || $0 == "~" })
        return trimmed.isEmpty || nameProblem(trimmed) != nil ? "data" : trimmed
    }

    mutating func parseCopies(_ node: Node) -> [Profile.Copy] {
        parseHostEntries(node, "copy", extraKey: "optional", fallback: true) { reader, value, path in reader.bool(value, path) }
            .map { Profile.Copy(host: $0.host, sandbox: $0.sandbox, optional: $0.extra) }
    }

    /// The entries of `mounts` or `copy`: a host path, a sandbox path (claimed for this entry) and
    /// `extraKey`, read by `read` (`fallback` when absent). An entry with a missing or bad value
    /// is left out, reported.
    private mutating func parseHostEntries<Extra>(
        _ node: Node, _ list: String, extraKey: String, fallback: Extra, read: (inout NodeReader, Node, String) -> Extra?
    ) -> [(host: String, sandbox: String, extra: Extra)] {
        guard let items = reader.sequence(node, list) else { return [] }
        var result: [(host: String, sandbox: String, extra: Extra)] = []
        for (index, item) in items.enumerated() {
            let field = "\(list)[\(index)]"
            guard let entries = reader.mapping(item, field, keys: ["host", "sandbox", extraKey]) else { continue }
            var host: String?, sandbox: String?, extra = fallback, ok = true
            for (key, _, value) in entries {
                let path = field + "." + key
                switch key {
                case "host": host = reader.string(value, path).flatMap { hostPath($0, value, path, relative: false) }; ok = ok && host != nil
                case "sandbox": sandbox = reader.string(value, path).flatMap { sandboxPath($0, value, path) }; ok = ok && sandbox != nil
                case extraKey: if let parsed = read(&reader, value, path) { extra = parsed } else { ok = false }
                default: break
                }
            }
            guard ok, let host = requireKey(host, "host", item, field), let sandbox = requireKey(sandbox, "sandbox", item, field),
                claimSandboxPath(sandbox, item, field + ".sandbox")
            else { continue }
            result.append((host, sandbox, extra))
        }
        return result
    }

    mutating func parseEnv(_ node: Node, _ field: String) -> [String: String] {
        guard let entries = reader.anyMapping(node, field) else { return [:] }
        var result: [String: String] = [:]
        for (key, keyNode, value) in entries {
            let path = field + "." + key
            guard checkedEnvName(keyNode, path) != nil else { continue }
            if let text = reader.string(value, path, allowEmpty: true) { result[key] = text }
        }
        return result
    }

    mutating func parseSecrets(_ node: Node) -> [Profile.Secret] {
        guard let items = reader.sequence(node, "secrets") else { return [] }
        var result: [Profile.Secret] = []
        for (index, item) in items.enumerated() {
            let field = "secrets[\(index)]"
            guard let entries = reader.mapping(item, field, keys: ["name", "env", "domains", "inject"]) else { continue }
            var name: String?, env: String?, domains: [String] = [], inject: SecretInjection?, ok = true
            for (key, _, value) in entries {
                let path = field + "." + key
                switch key {
                case "name": name = checkedName(value, path, hint: "name the secret like \"github-token\""); ok = ok && name != nil
                case "env": env = checkedEnvName(value, path); ok = ok && env != nil
                case "domains":
                    let before = reader.diagnostics.count
                    domains = reader.strings(value, path, check: Self.domainCheck)
                    ok = ok && reader.diagnostics.count == before
                case "inject":
                    guard let text = reader.string(value, path) else {
                        ok = false
                        break
                    }
                    switch SecretInjection.parse(text) {
                    case .success(let parsed): inject = parsed
                    case .failure(let problem):
                        reader.report(value, path, "\"\(text)\" \(problem.message)", hint: "write one of \(SecretInjection.expected)")
                        ok = false
                    }
                default: break
                }
            }
            guard ok, let name = requireKey(name, "name", item, field) else { continue }
            if result.contains(where: { $0.name == name }) {
                reader.report(item, field + ".name", "secret \"\(name)\" is listed twice", hint: "list each secret once")
                continue
            }
            let variable = env ?? name
            if let other = result.first(where: { ($0.env ?? $0.name) == variable }) {
                reader.report(
                    item, field + ".env", "variable \"\(variable)\" already holds secret \"\(other.name)\"",
                    hint: "give each secret its own variable with `env:`")
                continue
            }
            result.append(Profile.Secret(name: name, env: env, domains: domains, inject: inject))
        }
        return result
    }

    mutating func parsePresetReferences(_ node: Node) -> [ProfileLayer.PresetReference] {
        guard let items = reader.sequence(node, "presets") else { return [] }
        var result: [ProfileLayer.PresetReference] = []
        for (index, item) in items.enumerated() {
            let field = "presets[\(index)]"
            guard let name = checkedName(item, field, hint: "list preset names such as \"github\" or \"claude-code\"") else { continue }
            if !result.contains(where: { $0.name == name }) {
                result.append(.init(name: name, location: reader.location(item)))
            }
        }
        return result
    }

    /// A string that must be a valid name (profile, data dir, secret, preset).
    mutating func checkedName(_ node: Node, _ field: String, hint: String) -> String? {
        guard let text = reader.string(node, field) else { return nil }
        if let problem = Self.nameProblem(text) {
            reader.report(node, field, "\"\(text)\" \(problem)", hint: hint)
            return nil
        }
        return text
    }

    mutating func checkedEnvName(_ node: Node, _ field: String) -> String? {
        guard let text = reader.string(node, field) else { return nil }
        if let problem = Self.envNameProblem(text) {
            reader.report(node, field, "\"\(text)\" \(problem)", hint: "use letters, digits and \"_\", not starting with a digit")
            return nil
        }
        return text
    }

    /// A required key that is missing is reported at the mapping that lacks it.
    mutating func requireKey<T>(_ value: T?, _ key: String, _ node: Node, _ field: String) -> T? {
        if value == nil, node.mapping?[key] == nil {
            reader.report(node, field + "." + key, "is required", hint: "add `\(key):` to this entry")
        }
        return value
    }

    static func domainCheck(_ text: String) -> (String, String?)? {
        DomainPattern.problem(text).map { ("is not a valid pattern: \($0)", DomainPattern.expected) }
    }
}

public import CordonCore
import CordonPolicy
import Yams

/// What `cordon config import` produces: the profile, and one note per setting that was not carried
/// over as-is (nothing is dropped without a note).
public struct SRTImport: Sendable {
    public var profile: Profile
    public var notes: [String]
}

/// Converts a sandbox-runtime (srt) settings file, or a Claude Code settings.json with a `sandbox`
/// key, into a cordon profile.
///
/// Carried over: allowed and denied domains (with deny reasons), the parent proxy, write grants
/// outside the workspace (as overlay mounts, so host files change only through a reviewed sync),
/// workspace-relative write denials (as `sync.deny`), and Claude Code `WebFetch(domain:…)` rules.
/// Everything else gets a note saying why cordon needs no equivalent or has none.
public enum SRTImporter {
    public static func convert(json: String, file: String, name: String = "imported") throws(CordonError) -> SRTImport {
        var reader = NodeReader(file: file)
        // JSON allows tabs as whitespace where YAML does not; raw tabs cannot occur inside JSON strings.
        guard let composed = reader.compose(json.replacingTabs), let root = composed, let mapping = root.mapping else {
            throw reader.diagnostics.first?.error
                ?? CordonError(
                    .invalidProfile, "\(file) is not a JSON object", hint: "pass an srt settings file or a Claude Code settings.json",
                    location: .init(file: file))
        }
        var start = Profile.defaults
        start.name = name
        var state = State(file: file, profile: start)
        if let sandbox = root["sandbox"], sandbox.mapping != nil {
            for (keyNode, value) in mapping {
                let key = keyNode.string ?? ""
                switch key {
                case "sandbox": state.settings(value, prefix: "sandbox.")
                case "permissions": state.permissions(value)
                default: state.note(keyNode, key, "not a sandbox setting; not carried over")
                }
            }
        } else {
            state.settings(root, prefix: "")
        }
        return SRTImport(profile: state.profile, notes: state.notes)
    }

    private struct State {
        let file: String
        var profile: Profile
        var notes: [String] = []

        mutating func note(_ node: Node, _ field: String, _ text: String) {
            let mark = node.mark.map { ":\($0.line):\($0.column)" } ?? ""
            notes.append("\(file)\(mark): \(field): \(text)")
        }

        static let reasons: [String: String] = [
            "credentials": "declare credentials as cordon `secrets:` (the agent then sees only a placeholder)",
            "ignoreViolations": "cordon logs every denial; there is nothing to silence",
            "enableWeakerNestedSandbox": "cordon has no weaker mode; run it with the host's user namespaces",
            "enableWeakerNetworkIsolation": "cordon has no weaker network mode; use `network: host` only as an explicit opt-out",
            "ripgrep": "srt-internal tool setting; cordon needs none",
            "mandatoryDenySearchDepth": "cordon hides sensitive paths by layout, not by searching",
            "seccomp": "cordon installs its own seccomp filter",
            "git": "git runs inside the sandbox as its own user; no safe.directory setting is needed",
            "windows": "cordon runs on Linux",
            "allowPty": "cordon always gives the agent a pseudo-terminal",
            "enabled": "a cordon profile is always enforced",
            "autoAllowBashIfSandboxed": "Claude Code permission behaviour, not a sandbox setting",
            "excludedCommands": "nothing runs outside a cordon sandbox",
            "allowUnsandboxedCommands": "nothing runs outside a cordon sandbox",
        ]

        mutating func settings(_ node: Node, prefix: String) {
            for (keyNode, value) in node.mapping ?? [:] {
                let key = keyNode.string ?? ""
                switch key {
                case "network": network(value, prefix: prefix + "network.")
                case "filesystem": filesystem(value, prefix: prefix + "filesystem.")
                default: note(keyNode, prefix + key, "not carried over: " + (Self.reasons[key] ?? "cordon has no equivalent"))
                }
            }
        }

        static let networkReasons: [String: String] = [
            "allowUnixSockets": "host unix sockets are never visible inside a cordon sandbox",
            "allowAllUnixSockets": "host unix sockets are never visible inside a cordon sandbox",
            "allowLocalBinding": "the sandbox has its own network namespace: binding local ports is always allowed and never reaches the host",
            "allowMachLookup": "macOS only",
            "httpProxyPort": "cordon runs its own proxy; use `egress.parent_proxy` to chain to yours",
            "socksProxyPort": "cordon runs its own proxy; use `egress.parent_proxy` to chain to yours",
            "mitmProxy": "no equivalent yet; cordon terminates TLS itself only for secrets",
            "tlsTerminate": "no equivalent yet; cordon terminates TLS itself only for secrets",
            "filterRequest": "library callback; not a settings value",
        ]

        mutating func network(_ node: Node, prefix: String) {
            var reasons: [String: (Node, String)] = [:]
            for (keyNode, value) in node.mapping ?? [:] {
                let key = keyNode.string ?? ""
                let field = prefix + key
                switch key {
                case "allowedDomains":
                    for (index, item) in strings(value, field).enumerated() {
                        addDomain(item.text, item.node, "\(field)[\(index)]", deny: false)
                    }
                case "deniedDomains":
                    for (index, item) in strings(value, field).enumerated() {
                        addDomain(item.text, item.node, "\(field)[\(index)]", deny: true)
                    }
                case "deniedDomainReasons":
                    for (reasonKey, reason) in value.mapping ?? [:] {
                        if let domain = reasonKey.string, let text = reason.string { reasons[domain] = (reasonKey, text) }
                    }
                case "strictAllowlist":
                    if value.bool == true {
                        profile.egress.prompt = false
                    } else {
                        note(
                            keyNode, field, "not carried over: srt asks a callback about unlisted hosts; cordon's equivalent is `egress.prompt: true`, left off"
                        )
                    }
                case "parentProxy": parentProxy(value, field)
                default: note(keyNode, field, "not carried over: " + (Self.networkReasons[key] ?? "cordon has no equivalent"))
                }
            }
            for (domain, (keyNode, reason)) in reasons.sorted(by: { $0.key < $1.key }) {
                if let index = profile.egress.deny.firstIndex(where: { $0.domain.text == domain }) {
                    profile.egress.deny[index].reason = reason
                } else {
                    note(keyNode, prefix + "deniedDomainReasons.\(domain)", "not carried over: no deniedDomains entry \"\(domain)\"")
                }
            }
        }

        mutating func addDomain(_ domain: String, _ node: Node, _ field: String, deny: Bool) {
            switch deny ? EgressConfiguration.deniedPattern(domain) : EgressConfiguration.allowedPattern(domain) {
            case .failure(let problem):
                note(node, field, "\"\(domain)\" not carried over: \(problem.message)")
            case .success(let pattern) where deny:
                if !profile.egress.deny.contains(where: { $0.domain == pattern }) { profile.egress.deny.append(.init(domain: pattern)) }
            case .success(let pattern):
                if !profile.egress.domains.contains(pattern) { profile.egress.domains.append(pattern) }
            }
        }

        mutating func parentProxy(_ node: Node, _ field: String) {
            let http = node["http"]?.string, https = node["https"]?.string
            guard let url = https ?? http else {
                note(node, field, "not carried over: no http or https URL")
                return
            }
            if let http, let https, http != https {
                note(node, field + ".http", "\"\(http)\" not carried over: cordon uses one parent proxy (\(https)) for all traffic")
            }
            guard case .success(let address) = EgressConfiguration.proxyURL(url) else {
                note(node, field, "\"\(url)\" not carried over: not an http(s) proxy URL (\(EgressConfiguration.expectedProxyURL))")
                return
            }
            var noProxy: [EgressConfiguration.Pattern] = []
            for text in (node["noProxy"]?.string ?? "").split(separator: ",").map({ String($0).trimmedSpaces }) where !text.isEmpty {
                switch EgressConfiguration.directPattern(text) {
                case .success(let pattern): if !noProxy.contains(pattern) { noProxy.append(pattern) }
                case .failure(let problem): note(node, field + ".noProxy", "\"\(text)\" not carried over: \(problem.message)")
                }
            }
            profile.egress.parentProxy = .init(url: address, noProxy: noProxy)
        }

        mutating func filesystem(_ node: Node, prefix: String) {
            for (keyNode, value) in node.mapping ?? [:] {
                let key = keyNode.string ?? ""
                let field = prefix + key
                switch key {
                case "denyRead":
                    for (index, item) in strings(value, field).enumerated() {
                        let path = "\(field)[\(index)]"
                        if Self.isWorkspaceRelative(item.text) {
                            note(
                                item.node, path,
                                "\"\(item.text)\" not carried over: it is inside the workspace, which the agent sees whole; keep secrets out of the workspace or declare them as `secrets:`"
                            )
                        } else {
                            note(
                                item.node, path,
                                "\"\(item.text)\" needs no rule: a cordon sandbox sees only /workspace, the system's read-only directories and the mounts you list"
                            )
                        }
                    }
                case "allowWrite":
                    for (index, item) in strings(value, field).enumerated() { allowWrite(item.text, item.node, "\(field)[\(index)]") }
                case "denyWrite":
                    for (index, item) in strings(value, field).enumerated() {
                        let path = "\(field)[\(index)]"
                        if Self.isWorkspaceRelative(item.text) {
                            let glob = item.text.hasPrefix("./") ? String(item.text.dropFirst(2)) : item.text
                            if !profile.sync.deny.contains(glob) { profile.sync.deny.append(glob) }
                        } else {
                            note(item.node, path, "\"\(item.text)\" needs no rule: cordon writes host paths only through rw mounts and reviewed syncs")
                        }
                    }
                case "allowRead":
                    note(
                        keyNode, field,
                        "not carried over: nothing outside the workspace is readable unless mounted; add a read-only `mounts:` entry for what the agent needs")
                case "allowGitConfig":
                    note(keyNode, field, "not carried over: .git/config changes reach the host only through a reviewed sync")
                case "disabled":
                    note(keyNode, field, "not carried over: cordon's filesystem isolation cannot be disabled (`mode: unsafe` binds the workspace read-write)")
                default:
                    note(keyNode, field, "not carried over: cordon has no equivalent")
                }
            }
        }

        mutating func allowWrite(_ path: String, _ node: Node, _ field: String) {
            if Self.isWorkspaceRelative(path) {
                note(node, field, "\"\(path)\" needs no rule: /workspace is writable (changes reach the host through `cordon sync`)")
                return
            }
            let normalized = SandboxPath.normalized(path)
            if ["/tmp", "/private/tmp", "/var/tmp"].contains(where: { normalized == $0 || normalized.hasPrefix($0 + "/") }) {
                note(node, field, "\"\(path)\" needs no rule: temporary directories are private and writable inside the sandbox")
                return
            }
            if path.contains("*") || HostPath.sandboxProblem(normalized) != nil || !(path.hasPrefix("/") || path.hasPrefix("~/")) {
                note(node, field, "\"\(path)\" not carried over: not a plain absolute or ~/ path; add a `mounts:` entry by hand")
                return
            }
            guard !profile.mounts.contains(where: { $0.sandbox == normalized }) else { return }
            profile.mounts.append(.init(host: normalized, sandbox: normalized, mode: .overlay))
            note(
                node, field,
                "\"\(path)\" became an overlay mount: the agent writes there, the host copy changes only through a reviewed sync (use `mode: rw` to write through)"
            )
        }

        mutating func permissions(_ node: Node) {
            for (keyNode, value) in node.mapping ?? [:] {
                let key = keyNode.string ?? ""
                let field = "permissions." + key
                guard key == "allow" || key == "deny" else {
                    note(keyNode, field, "not carried over: Claude Code permission setting, not a sandbox setting")
                    continue
                }
                var other = 0
                for (index, item) in strings(value, field).enumerated() {
                    let rule = item.text
                    if rule.hasPrefix("WebFetch(domain:"), rule.hasSuffix(")") {
                        let domain = String(rule.dropFirst("WebFetch(domain:".count).dropLast())
                        addDomain(domain, item.node, "\(field)[\(index)]", deny: key == "deny")
                    } else {
                        other += 1
                    }
                }
                if other > 0 {
                    note(
                        value, field,
                        "\(other) rule\(other == 1 ? "" : "s") other than WebFetch(domain:…) not carried over: Claude Code tool permissions, not sandbox settings"
                    )
                }
            }
        }

        mutating func strings(_ node: Node, _ field: String) -> [(text: String, node: Node)] {
            guard let items = node.sequence else {
                note(node, field, "not carried over: expected a list")
                return []
            }
            var result: [(String, Node)] = []
            for (index, item) in items.enumerated() {
                if let text = item.scalar?.string { result.append((text, item)) } else { note(item, "\(field)[\(index)]", "not carried over: not a string") }
            }
            return result
        }

        static func isWorkspaceRelative(_ path: String) -> Bool {
            !(path.hasPrefix("/") || path.hasPrefix("~"))
        }
    }
}

extension String {
    var replacingTabs: String { String(map { $0 == "\t" ? " " : $0 }) }
}

import CordonCore
import CordonOS
import CordonPolicy
import Yams

/// resources, egress and sync.
extension ProfileLayerParser {
    mutating func parseResources(_ node: Node) -> ProfileLayer.Resources {
        var result = ProfileLayer.Resources()
        guard let entries = reader.mapping(node, "resources", keys: ["memory", "cpus", "pids", "disk", "inodes", "strict"]) else { return result }
        for (key, _, value) in entries {
            let field = "resources." + key
            switch key {
            case "memory": result.memory = reader.size(value, field)
            case "cpus": result.cpus = reader.positiveDouble(value, field)
            case "pids": result.pids = reader.positiveInt(value, field)
            case "disk": result.disk = reader.size(value, field)
            case "inodes": result.inodes = reader.positiveInt(value, field).map { UInt64($0) }
            case "strict": result.strict = reader.bool(value, field)
            default: break
            }
        }
        return result
    }

    static let egressKeys = [
        "domains", "deny", "allow_private", "resolve", "prompt", "parent_proxy", "rate_limits", "blocklists", "allow_missing_sni", "max_connections",
        "request_timeout", "dns_names_per_minute", "dns_max_label", "dns_max_entropy", "upstream_ca", "inspect", "dlp",
    ]

    mutating func parseEgress(_ node: Node) -> ProfileLayer.Egress {
        var result = ProfileLayer.Egress()
        guard let entries = reader.mapping(node, "egress", keys: Self.egressKeys) else { return result }
        for (key, _, value) in entries {
            let field = "egress." + key
            switch key {
            case "domains": result.domains = parsedList(value, field, EgressConfiguration.allowedPattern, "is not a valid pattern", DomainPattern.expected)
            case "inspect": result.inspect = parsedList(value, field, EgressConfiguration.allowedPattern, "is not a valid pattern", DomainPattern.expected)
            case "deny": result.deny = parseDenyRules(value, field)
            case "allow_private":
                result.allowPrivate = parsedList(
                    value, field, EgressConfiguration.privateNetwork, "is not a valid CIDR", "write a network such as \"10.0.0.0/8\" or \"fd00::/8\"")
            case "resolve":
                for (name, keyNode, target) in reader.anyMapping(value, field) ?? [] {
                    let path = field + "." + name
                    let pinned: Written<String>
                    switch EgressConfiguration.pinnedName(name) {
                    case .success(let parsed): pinned = parsed
                    case .failure(let problem):
                        reader.report(keyNode, path, problem.message, hint: "pin one host without wildcard or port, e.g. `api.internal.example: 10.0.0.5`")
                        continue
                    }
                    guard let address = reader.string(target, path) else { continue }
                    switch EgressConfiguration.pinnedAddresses(address) {
                    case .success(let addresses): result.resolve[pinned] = addresses
                    case .failure(let problem):
                        reader.report(target, path, problem.message, hint: "write an IPv4 or IPv6 address (several separated by commas)")
                    }
                }
            case "prompt": result.prompt = reader.bool(value, field)
            case "parent_proxy": result.parentProxy = parseParentProxy(value, field)
            case "rate_limits":
                for (text, keyNode, limit) in reader.anyMapping(value, field) ?? [] {
                    let path = field + "." + text
                    switch EgressConfiguration.allowedPattern(text) {
                    case .success(let pattern):
                        if let perMinute = reader.positiveInt(limit, path) { result.rateLimits[pattern] = perMinute }
                    case .failure(let problem):
                        reader.report(keyNode, path, "\"\(text)\" is not a valid pattern: \(problem.message)", hint: DomainPattern.expected)
                    }
                }
            case "max_connections": result.maxConnections = reader.positiveInt(value, field)
            case "request_timeout": result.requestTimeout = reader.duration(value, field)
            case "dns_names_per_minute": result.dnsNamesPerMinute = reader.positiveInt(value, field)
            case "dns_max_label":
                if let length = reader.positiveInt(value, field) {
                    if length > 63 {
                        reader.report(value, field, "\(length) is longer than a DNS label can be (63)", hint: "write a number from 1 to 63")
                    } else {
                        result.dnsMaxLabel = length
                    }
                }
            case "dns_max_entropy": result.dnsMaxEntropy = reader.positiveDouble(value, field)
            case "allow_missing_sni": result.allowMissingSNI = reader.bool(value, field)
            case "dlp": result.dlp = reader.choice(value, field, LeakCheckMode.self)
            case "blocklists":
                for (index, item) in (reader.sequence(value, field) ?? []).enumerated() {
                    let path = "\(field)[\(index)]"
                    if let text = reader.string(item, path), let resolved = hostPath(text, item, path, relative: true),
                        !result.blocklists.contains(resolved)
                    {
                        result.blocklists.append(resolved)
                    }
                }
            case "upstream_ca":
                for (index, item) in (reader.sequence(value, field) ?? []).enumerated() {
                    let path = "\(field)[\(index)]"
                    if let text = reader.string(item, path), let resolved = hostPath(text, item, path, relative: true),
                        checkedCABundle(resolved, item, path), !result.upstreamCA.contains(resolved)
                    {
                        result.upstreamCA.append(resolved)
                    }
                }
            default: break
            }
        }
        return result
    }

    /// A CA bundle must be readable now and hold at least one PEM certificate (a wrong path or a
    /// key file is caught at load, not at the first request it would have verified).
    private mutating func checkedCABundle(_ path: String, _ node: Node, _ field: String) -> Bool {
        let bytes: [UInt8]
        do { bytes = try FileContents.read(path, limit: 16 << 20) } catch {
            let reason = error.cause.map { "\(error.message): \($0)" } ?? error.message
            reader.report(node, field, "CA bundle: \(reason)", hint: "name a readable PEM file of CA certificates")
            return false
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.contains("-----BEGIN CERTIFICATE-----"), text.contains("-----END CERTIFICATE-----") else {
            reader.report(node, field, "\(path) holds no PEM certificate", hint: "name a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)")
            return false
        }
        return true
    }

    private mutating func parseDenyRules(_ node: Node, _ field: String) -> [Profile.Egress.DenyRule] {
        guard let items = reader.sequence(node, field) else { return [] }
        var result: [Profile.Egress.DenyRule] = []
        for (index, item) in items.enumerated() {
            let path = "\(field)[\(index)]"
            var rule: Profile.Egress.DenyRule?
            if item.mapping != nil {
                guard let entries = reader.mapping(item, path, keys: ["domain", "reason"]) else { continue }
                var domain: Profile.Egress.Pattern?, reason: String?, ok = true
                for (key, _, value) in entries {
                    switch key {
                    case "domain": domain = checkedDenyPattern(value, path + ".domain"); ok = ok && domain != nil
                    case "reason": reason = reader.string(value, path + ".reason"); ok = ok && reason != nil
                    default: break
                    }
                }
                guard ok, let domain = requireKey(domain, "domain", item, path) else { continue }
                rule = .init(domain: domain, reason: reason)
            } else if item.scalar != nil {
                rule = checkedDenyPattern(item, path).map { .init(domain: $0) }
            } else {
                reader.report(
                    item, path, "expected a domain pattern or {domain, reason}, found \(NodeReader.describe(item))",
                    hint: "write `- github.com:22` or `- {domain: \"github.com:22\", reason: \"use an https remote\"}`")
            }
            guard let rule else { continue }
            if let index = result.firstIndex(where: { $0.domain == rule.domain }) { result[index] = rule } else { result.append(rule) }
        }
        return result
    }

    private mutating func checkedDenyPattern(_ node: Node, _ field: String) -> Profile.Egress.Pattern? {
        guard let text = reader.string(node, field) else { return nil }
        switch EgressConfiguration.deniedPattern(text) {
        case .success(let pattern): return pattern
        case .failure(let problem):
            reader.report(node, field, "\"\(text)\" is not a valid pattern: \(problem.message)", hint: DomainPattern.expected)
            return nil
        }
    }

    /// A list of strings, each parsed once with its field's grammar: an entry the grammar refuses
    /// is reported at its position (`"text" is not a valid …: why`) and left out; an entry written
    /// twice is kept once.
    private mutating func parsedList<T: Equatable>(
        _ node: Node, _ field: String, _ parse: (String) -> Result<T, PolicyProblem>, _ invalid: String, _ hint: String
    ) -> [T] {
        guard let items = reader.sequence(node, field) else { return [] }
        var result: [T] = []
        for (index, item) in items.enumerated() {
            let path = "\(field)[\(index)]"
            guard let text = reader.string(item, path) else { continue }
            switch parse(text) {
            case .success(let value): if !result.contains(value) { result.append(value) }
            case .failure(let problem): reader.report(item, path, "\"\(text)\" \(invalid): \(problem.message)", hint: hint)
            }
        }
        return result
    }

    private mutating func parseParentProxy(_ node: Node, _ field: String) -> Profile.Egress.ParentProxy? {
        guard let entries = reader.mapping(node, field, keys: ["url", "no_proxy", "ca_file"]) else { return nil }
        var url: Written<ParentProxyAddress>?, noProxy: [Profile.Egress.Pattern] = [], caFile: String?, ok = true
        for (key, _, value) in entries {
            switch key {
            case "url":
                if let text = reader.string(value, field + ".url") {
                    switch EgressConfiguration.proxyURL(text) {
                    case .success(let parsed): url = parsed
                    case .failure:
                        reader.report(value, field + ".url", "\"\(text)\" is not an http(s) proxy URL", hint: "write e.g. \"http://proxy.corp.example:3128\"")
                    }
                }
                ok = ok && url != nil
            case "no_proxy":
                let before = reader.diagnostics.count
                noProxy = parsedList(value, field + ".no_proxy", EgressConfiguration.directPattern, "is not a valid pattern", DomainPattern.expected)
                ok = ok && reader.diagnostics.count == before
            case "ca_file":
                caFile = reader.string(value, field + ".ca_file").flatMap { hostPath($0, value, field + ".ca_file", relative: true) }
                ok = ok && caFile != nil
            default: break
            }
        }
        guard ok, let url = requireKey(url, "url", node, field) else { return nil }
        if caFile != nil, !url.value.tls {
            reader.report(node, field + ".ca_file", "a CA file applies to an https:// parent proxy only", hint: "write the url as https://… or drop ca_file")
            return nil
        }
        return .init(url: url, noProxy: noProxy, caFile: caFile)
    }

    static let syncKeys = ["interval", "allow", "deny", "blocked_extensions", "max_file_size", "max_total_size", "gitleaks_config"]

    mutating func parseSync(_ node: Node) -> ProfileLayer.Sync {
        var result = ProfileLayer.Sync()
        guard let entries = reader.mapping(node, "sync", keys: Self.syncKeys) else { return result }
        for (key, _, value) in entries {
            let field = "sync." + key
            switch key {
            case "interval": result.interval = reader.duration(value, field)
            case "allow": result.allow = reader.strings(value, field)
            case "deny": result.deny = reader.strings(value, field)
            case "blocked_extensions":
                result.blockedExtensions = reader.strings(value, field) { text in
                    text.contains("/") || text.contains(" ") ? ("is not a file extension", "write extensions such as \".exe\" or \"so\"") : nil
                }
            case "max_file_size": result.maxFileSize = reader.size(value, field)
            case "max_total_size": result.maxTotalSize = reader.size(value, field)
            case "gitleaks_config":
                result.gitleaksConfig = reader.string(value, field).flatMap { hostPath($0, value, field, relative: true) }
            default: break
            }
        }
        return result
    }

    mutating func parseTerminal(_ node: Node) -> Profile.Terminal.Filter? {
        guard let entries = reader.mapping(node, "terminal", keys: ["filter"]) else { return nil }
        var filter: Profile.Terminal.Filter?
        for (key, _, value) in entries where key == "filter" {
            filter = reader.choice(value, "terminal.filter", Profile.Terminal.Filter.self)
        }
        return filter
    }
}

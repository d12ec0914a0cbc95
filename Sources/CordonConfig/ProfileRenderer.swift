import CordonSecrets
import CordonPolicy
import CordonUsage
public import CordonCore

/// A merged profile written back out: YAML that loads to the same profile (snake_case keys, fixed key
/// order, sizes and durations in their short forms), or JSON with sizes in bytes and durations in seconds.
public enum ProfileRenderer {
    /// `minimal` leaves out every value equal to `Profile.defaults` (it loads to the same profile).
    public static func yaml(_ profile: Profile, minimal: Bool = false) -> String {
        var fields = tree(profile, human: true)
        if minimal { fields = without(defaults: tree(.defaults, human: true), from: fields) }
        var out = ""
        YAMLWriter.write(fields, indent: 0, into: &out)
        return out
    }

    /// Pretty-printed JSON with the YAML's keys; absent optional values are `null`.
    public static func json(_ profile: Profile) -> String {
        JSONPretty.format(.object(tree(profile, human: false))) + "\n"
    }

    /// The profile as an ordered value tree, for callers that embed it in larger JSON output.
    public static func jsonValue(_ profile: Profile) -> JSONValue { .object(tree(profile, human: false)) }

    static func tree(_ p: Profile, human: Bool) -> [(String, JSONValue)] {
        func size(_ bytes: UInt64?) -> JSONValue {
            guard let bytes else { return .null }
            let text = ByteSize.format(bytes)
            return human && Int(text) == nil ? .string(text) : .int(Int(clamping: bytes))
        }
        func strings(_ list: [String]) -> JSONValue { .array(list.map(JSONValue.string)) }
        func map(_ dict: [String: String]) -> JSONValue { .object(dict.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }) }
        func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }

        let e = p.egress
        let egress: [(String, JSONValue)] = [
            ("domains", strings(e.domains.map(\.text))),
            (
                "deny",
                .array(
                    e.deny.map { rule in
                        rule.reason.map { .object([("domain", .string(rule.domain.text)), ("reason", .string($0))]) } ?? .string(rule.domain.text)
                    })
            ),
            ("allow_private", strings(e.allowPrivate.map(\.text))),
            ("resolve", map(Dictionary(uniqueKeysWithValues: e.resolve.map { ($0.key.text, $0.value.text) }))),
            ("prompt", .bool(e.prompt)),
            (
                "parent_proxy",
                e.parentProxy.map { parent in
                    .object(
                        [("url", .string(parent.url.text)), ("no_proxy", strings(parent.noProxy.map(\.text)))]
                            + (parent.caFile.map { [("ca_file", .string($0))] } ?? []))
                } ?? .null
            ),
            ("rate_limits", .object(e.rateLimits.map { ($0.key.text, $0.value) }.sorted { $0.0 < $1.0 }.map { ($0.0, .int($0.1)) })),
            ("blocklists", strings(e.blocklists)),
            ("upstream_ca", strings(e.upstreamCA)),
            ("inspect", strings(e.inspect.map(\.text))),
            ("allow_missing_sni", .bool(e.allowMissingSNI)),
            ("dlp", .string(e.dlp.rawValue)),
            ("max_connections", .int(e.maxConnections)),
            ("request_timeout", human ? .string(TimeSpan.format(e.requestTimeout)) : .double(e.requestTimeout)),
            ("dns_names_per_minute", .int(e.dnsNamesPerMinute)),
            ("dns_max_label", .int(e.dnsMaxLabel)),
            ("dns_max_entropy", .double(e.dnsMaxEntropy)),
        ]
        let s = p.sync
        let sync: [(String, JSONValue)] = [
            ("interval", human ? .string(TimeSpan.format(s.interval)) : .double(s.interval)),
            ("allow", strings(s.allow)),
            ("deny", strings(s.deny)),
            ("blocked_extensions", strings(s.blockedExtensions)),
            ("max_file_size", size(s.maxFileSize)),
            ("max_total_size", size(s.maxTotalSize)),
            ("gitleaks_config", optional(s.gitleaksConfig)),
        ]
        let r = p.resources
        let resources: [(String, JSONValue)] = [
            ("memory", size(r.memory)),
            ("cpus", r.cpus.map(JSONValue.double) ?? .null),
            ("pids", r.pids.map(JSONValue.int) ?? .null),
            ("disk", size(r.disk)),
            ("inodes", r.inodes.map { JSONValue.int(Int($0)) } ?? .null),
            ("strict", .bool(r.strict)),
        ]
        return [
            ("name", .string(p.name)),
            ("backend", .string(p.backend.rawValue)),
            ("mode", .string(p.mode.rawValue)),
            ("workspace", optional(p.workspace)),
            ("presets", strings(p.presets)),
            ("mounts", .array(p.mounts.map { .object([("host", .string($0.host)), ("sandbox", .string($0.sandbox)), ("mode", .string($0.mode.rawValue))]) })),
            ("data", .array(p.data.map { .object([("name", .string($0.name)), ("path", .string($0.path))]) })),
            ("copy", .array(p.copy.map { .object([("host", .string($0.host)), ("sandbox", .string($0.sandbox)), ("optional", .bool($0.optional))]) })),
            ("env", map(p.env)),
            ("resources", .object(resources)),
            ("network", .string(p.network.rawValue)),
            ("egress", .object(egress)),
            (
                "secrets",
                .array(
                    p.secrets.map { secret in
                        var fields: [(String, JSONValue)] = [("name", .string(secret.name))]
                        fields.append(("env", optional(secret.env)))
                        fields.append(("domains", strings(secret.domains)))
                        fields.append(("inject", optional(secret.inject?.description)))
                        return .object(fields)
                    })
            ),
            ("sync", .object(sync)),
            ("terminal", .object([("filter", .string(p.terminal.filter.rawValue))])),
            ("usage", .object(usage(p.usage))),
            (
                "mcp",
                .object([
                    ("allow_apply", .bool(p.mcp.allowApply)),
                    ("max_exec_timeout", human ? .string(TimeSpan.format(p.mcp.maxExecTimeout)) : .double(p.mcp.maxExecTimeout)),
                ])
            ),
        ]
    }

    private static func usage(_ u: Profile.Usage) -> [(String, JSONValue)] {
        [
            (
                "providers",
                .array(
                    u.providers.map {
                        .object([
                            ("name", .string($0.name)), ("domain", .string($0.domain)), ("path", .string($0.pathPrefix)),
                            ("format", .string($0.format.rawValue)),
                        ])
                    })
            ),
            (
                "budgets",
                .array(
                    u.budgets.budgets.map {
                        .object([("tokens", .int($0.tokens)), ("per", .string($0.per.rawValue)), ("provider", $0.provider.map(JSONValue.string) ?? .null)])
                    })
            ),
            ("warn_at", .int(u.budgets.warnAt)),
            ("block_at", .int(u.budgets.blockAt)),
        ]
    }

    /// Drops keys whose value equals the default's, descending one level into sections.
    static func without(defaults: [(String, JSONValue)], from fields: [(String, JSONValue)]) -> [(String, JSONValue)] {
        fields.compactMap { key, value in
            guard let base = defaults.first(where: { $0.0 == key })?.1 else { return (key, value) }
            if value == base { return nil }
            if case .object(let inner) = value, case .object(let baseInner) = base, !inner.isEmpty,
                inner.allSatisfy({ pair in baseInner.contains { $0.0 == pair.0 } })
            {
                let kept = without(defaults: baseInner, from: inner)
                return kept.isEmpty ? nil : (key, .object(kept))
            }
            return (key, value)
        }
    }
}

/// Block-style YAML for the renderer's value trees; null values are left out.
enum YAMLWriter {
    static func write(_ fields: [(String, JSONValue)], indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        for (key, value) in fields {
            if case .null = value { continue }
            let name = scalar(key)
            switch value {
            case .object(let inner) where inner.contains(where: { if case .null = $0.1 { false } else { true } }):
                out += "\(pad)\(name):\n"
                write(inner, indent: indent + 2, into: &out)
            case .object: out += "\(pad)\(name): {}\n"
            case .array(let items) where !items.isEmpty:
                out += "\(pad)\(name):\n"
                for item in items { writeItem(item, indent: indent + 2, into: &out) }
            case .array: out += "\(pad)\(name): []\n"
            default: out += "\(pad)\(name): \(scalar(value))\n"
            }
        }
    }

    private static func writeItem(_ item: JSONValue, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        guard case .object(let fields) = item else {
            out += "\(pad)- \(scalar(item))\n"
            return
        }
        var body = ""
        write(fields, indent: indent + 2, into: &body)
        // The first line of the mapping goes on the dash line.
        out += pad + "- " + body.dropFirst(indent + 2)
    }

    static func scalar(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): return scalar(text)
        default: return value.encoded()
        }
    }

    /// Plain when YAML reads it back as the same string, else double-quoted.
    static func scalar(_ text: String) -> String {
        let reserved: Set<String> = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"]
        let safe =
            !text.isEmpty && !reserved.contains(text.lowercased())
            && text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._/-@+".unicodeScalars.contains($0)) }
            && !(text.first.map { $0 == "-" || $0 == "+" || $0 == "." && text.count == 1 } ?? true)
            && !(text.first?.isNumber == true && text.allSatisfy { "0123456789._:+-eE".contains($0) })
            && Double(text) == nil
        return safe ? text : JSONValue.quote(text)
    }
}

/// Indented JSON for `--json` output, key order preserved.
public enum JSONPretty {
    public static func format(_ value: JSONValue, indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent + 1)
        let close = String(repeating: "  ", count: indent)
        switch value {
        case .array(let items) where !items.isEmpty:
            return "[\n" + items.map { pad + format($0, indent: indent + 1) }.joined(separator: ",\n") + "\n\(close)]"
        case .object(let fields) where !fields.isEmpty:
            return "{\n" + fields.map { pad + JSONValue.quote($0.0) + ": " + format($0.1, indent: indent + 1) }.joined(separator: ",\n") + "\n\(close)}"
        case .array: return "[]"
        case .object: return "{}"
        default: return value.encoded()
        }
    }
}

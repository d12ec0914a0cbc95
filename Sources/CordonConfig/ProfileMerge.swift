import CordonPolicy
import CordonUsage

/// The merge rules, applied layer by layer (presets in order, the profile last):
/// scalars written in a later layer win (but for `egress.dlp` the stricter wins); lists are unioned in order without duplicates; maps merge
/// key by key (later wins); mounts, data and copy entries are identified by their sandbox path and
/// secrets by name, so a later entry replaces an earlier one in place; usage providers by domain and
/// path prefix, and budgets by period and provider, likewise.
extension Profile {
    mutating func apply(_ layer: ProfileLayer) {
        if let value = layer.name { name = value }
        if let value = layer.backend { backend = value }
        if let value = layer.mode { mode = value }
        if let value = layer.workspace { workspace = value }
        if let value = layer.network { network = value }

        for mount in layer.mounts {
            removeSandboxPath(mount.sandbox, keeping: .mounts)
            Self.upsert(mount, into: &mounts) { SandboxPath.same($0.sandbox, mount.sandbox) }
        }
        for dir in layer.data {
            removeSandboxPath(dir.path, keeping: .data)
            Self.upsert(dir, into: &data) { SandboxPath.same($0.path, dir.path) }
        }
        for file in layer.copy {
            removeSandboxPath(file.sandbox, keeping: .copy)
            Self.upsert(file, into: &copy) { SandboxPath.same($0.sandbox, file.sandbox) }
        }
        env.merge(layer.env) { _, later in later }

        let r = layer.resources
        if let value = r.memory { resources.memory = value }
        if let value = r.cpus { resources.cpus = value }
        if let value = r.pids { resources.pids = value }
        if let value = r.disk { resources.disk = value }
        if let value = r.inodes { resources.inodes = value }
        if let value = r.strict { resources.strict = value }

        let e = layer.egress
        Self.union(e.domains, into: &egress.domains)
        for rule in e.deny { Self.upsert(rule, into: &egress.deny) { $0.domain == rule.domain } }
        Self.union(e.allowPrivate, into: &egress.allowPrivate)
        egress.resolve.merge(e.resolve) { _, later in later }
        if let value = e.prompt { egress.prompt = value }
        if let value = e.parentProxy { egress.parentProxy = value }
        egress.rateLimits.merge(e.rateLimits) { _, later in later }
        Self.union(e.blocklists, into: &egress.blocklists)
        Self.union(e.upstreamCA, into: &egress.upstreamCA)
        Self.union(e.inspect, into: &egress.inspect)
        if let value = e.allowMissingSNI { egress.allowMissingSNI = value }
        // Unlike other scalars, a later layer cannot weaken the leak check an earlier one set.
        if let value = e.dlp { egress.dlpSetting = egress.dlpSetting.merged(with: value) }
        if let value = e.maxConnections { egress.maxConnections = value }
        if let value = e.requestTimeout { egress.requestTimeout = value }
        if let value = e.dnsNamesPerMinute { egress.dnsNamesPerMinute = value }
        if let value = e.dnsMaxLabel { egress.dnsMaxLabel = value }
        if let value = e.dnsMaxEntropy { egress.dnsMaxEntropy = value }

        for secret in layer.secrets { Self.upsert(secret, into: &secrets) { $0.name == secret.name } }

        let s = layer.sync
        if let value = s.interval { sync.interval = value }
        Self.union(s.allow, into: &sync.allow)
        Self.union(s.deny, into: &sync.deny)
        Self.union(s.blockedExtensions, into: &sync.blockedExtensions)
        if let value = s.maxFileSize { sync.maxFileSize = value }
        if let value = s.maxTotalSize { sync.maxTotalSize = value }
        if let value = s.gitleaksConfig { sync.gitleaksConfig = value }

        if let value = layer.terminalFilter { terminal.filter = value }
        if let value = layer.mcp.allowApply { mcp.allowApply = value }
        if let value = layer.mcp.maxExecTimeout { mcp.maxExecTimeout = value }

        let u = layer.usage
        for provider in u.providers {
            usage.providers.removeAll { $0.domain == provider.domain && $0.pathPrefix == provider.pathPrefix }
            usage.providers.append(provider)
        }
        for budget in u.budgets { Self.upsert(budget, into: &usage.budgets.budgets) { $0.per == budget.per && $0.provider == budget.provider } }
        if let value = u.warnAt { usage.budgets.warnAt = value }
        if let value = u.blockAt { usage.budgets.blockAt = value }
    }

    private enum PathList { case mounts, data, copy }

    /// A sandbox path has one owner: a later mount, data dir or copy replaces any earlier entry there.
    private mutating func removeSandboxPath(_ path: String, keeping list: PathList) {
        if list != .mounts { mounts.removeAll { SandboxPath.same($0.sandbox, path) } }
        if list != .data { data.removeAll { SandboxPath.same($0.path, path) } }
        if list != .copy { copy.removeAll { SandboxPath.same($0.sandbox, path) } }
    }

    private static func union<T: Equatable>(_ items: [T], into list: inout [T]) {
        for item in items where !list.contains(item) { list.append(item) }
    }

    private static func upsert<T>(_ item: T, into list: inout [T], where matches: (T) -> Bool) {
        if let index = list.firstIndex(where: matches) { list[index] = item } else { list.append(item) }
    }
}

/// Sandbox paths compare without trailing slashes (`~/.claude/` is `~/.claude`).
enum SandboxPath {
    static func normalized(_ path: String) -> String {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    static func same(_ a: String, _ b: String) -> Bool { normalized(a) == normalized(b) }
}

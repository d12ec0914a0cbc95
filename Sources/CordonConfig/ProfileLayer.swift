import CordonPolicy
import CordonCore
import CordonUsage

/// One YAML document (a profile or a preset) as written: every scalar is optional, so merging can
/// tell "written explicitly" from "left to the default".
struct ProfileLayer: Sendable, Equatable {
    struct Resources: Sendable, Equatable {
        var memory: UInt64?
        var cpus: Double?
        var pids: Int?
        var disk: UInt64?
        var inodes: UInt64?
        var strict: Bool?
    }

    struct Egress: Sendable, Equatable {
        var domains: [Profile.Egress.Pattern] = []
        var deny: [Profile.Egress.DenyRule] = []
        var allowPrivate: [Written<CIDR>] = []
        var resolve: [Written<String>: Written<[IPAddress]>] = [:]
        var prompt: Bool?
        var parentProxy: Profile.Egress.ParentProxy?
        var rateLimits: [Profile.Egress.Pattern: Int] = [:]
        var blocklists: [String] = []
        var upstreamCA: [String] = []
        var inspect: [Profile.Egress.Pattern] = []
        var allowMissingSNI: Bool?
        var dlp: LeakCheckMode?
        var maxConnections: Int?
        var requestTimeout: Double?
        var dnsNamesPerMinute: Int?
        var dnsMaxLabel: Int?
        var dnsMaxEntropy: Double?
    }

    struct Sync: Sendable, Equatable {
        var interval: Double?
        var allow: [String] = []
        var deny: [String] = []
        var blockedExtensions: [String] = []
        var maxFileSize: UInt64?
        var maxTotalSize: UInt64?
        var gitleaksConfig: String?
    }

    struct Usage: Sendable, Equatable {
        var providers: [UsageProvider] = []
        var budgets: [Budget] = []
        var warnAt: Int?
        var blockAt: Int?
    }

    /// A `presets:` entry, kept with its position so an unknown name or a cycle points at it.
    struct PresetReference: Sendable, Equatable {
        var name: String
        var location: CordonError.Location
    }

    var name: String?
    var description: String?
    var backend: Profile.Backend?
    var mode: Profile.Mode?
    var workspace: String?
    var network: Profile.Network?
    var mounts: [Profile.Mount] = []
    var data: [Profile.DataDir] = []
    var copy: [Profile.Copy] = []
    var env: [String: String] = [:]
    var resources = Resources()
    var egress = Egress()
    var secrets: [Profile.Secret] = []
    var sync = Sync()
    var terminalFilter: Profile.Terminal.Filter?
    var presets: [PresetReference] = []
    var usage = Usage()
    var mcp = MCP()

    /// `mcp`: what `cordon mcp` may do to a sandbox of this profile.
    struct MCP: Sendable, Equatable {
        var allowApply: Bool?
        var maxExecTimeout: Double?
    }
}

import CordonConfig
import CordonCore
import CordonOS
import CordonSandbox

/// How a sandbox was brought `up` (`<sandbox>/up.json`): what `cordon start` runs again, and
/// the digest of the profile then, so that a profile changed since is refused instead of
/// silently applied to the sandbox's held changes.
struct UpRecord: Sendable, Equatable {
    /// The `--profile` given (nil: the workspace's or the default profile).
    var profile: String?
    /// The directory `up` ran in (profile references are resolved from it).
    var directory: String
    var workspace: String
    /// The `--mode` given.
    var mode: String?
    /// `UpRecord.digest` of the profile loaded at `up`.
    var profileDigest: String
    /// The profile's `terminal.filter`, for `cordon exec`'s relay.
    var terminalFilter: String
    /// The profile flags given (`-e` with the values then, as Docker keeps them for a restart).
    var flags = ProfileFlags()

    var jsonText: String {
        var pairs: [(String, JSONValue)] = [("version", .int(1))]
        if let profile { pairs.append(("profile", .string(profile))) }
        pairs += [("directory", .string(directory)), ("workspace", .string(workspace))]
        if let mode { pairs.append(("mode", .string(mode))) }
        pairs += [("profile_digest", .string(profileDigest)), ("terminal_filter", .string(terminalFilter))]
        if !flags.isEmpty { pairs.append(("flags", flagsJSON)) }
        return JSONValue.object(pairs).encoded() + "\n"
    }

    func save(_ layout: SandboxLayout) throws(CordonError) {
        // 0600: `-e` values may be credentials.
        do throws(SystemError) { try FileIO.writeAtomically(layout.upRecord, Array(jsonText.utf8), mode: 0o600, durable: true) } catch {
            throw CordonError(.io, "cannot write \(layout.upRecord)", cause: error.description)
        }
    }

    /// The record of a sandbox brought up; nil when it never was (`cordon run` made it).
    static func load(_ layout: SandboxLayout) throws(CordonError) -> UpRecord? {
        guard FileIO.kind(layout.upRecord) == .file else { return nil }
        let json: JSONValue
        do {
            json = try JSONValue.parse(try FileIO.readFile(layout.upRecord, limit: 1 << 20))
        } catch {
            throw CordonError(.io, "\(layout.upRecord) is not a valid record", hint: "bring the sandbox up again with `cordon up`", cause: "\(error)")
        }
        func text(_ key: String) -> String? {
            guard case .string(let value)? = json[key] else { return nil }
            return value
        }
        guard let directory = text("directory"), let workspace = text("workspace"), let digest = text("profile_digest") else {
            throw CordonError(.io, "\(layout.upRecord) lacks a field", hint: "bring the sandbox up again with `cordon up`")
        }
        var flags = ProfileFlags()
        if let recorded = json["flags"] {
            guard let parsed = Self.flags(recorded) else {
                throw CordonError(.io, "\(layout.upRecord): its flags are not valid", hint: "bring the sandbox up again with `cordon up`")
            }
            flags = parsed
        }
        return UpRecord(
            profile: text("profile"), directory: directory, workspace: workspace, mode: text("mode"), profileDigest: digest,
            terminalFilter: text("terminal_filter") ?? "standard", flags: flags)
    }

    /// `{"env": ["K=V"], "presets": [], "allow": [], "memory": "64m", "cpus": "0.5", "network": "none"}`,
    /// only what was given.
    var flagsJSON: JSONValue {
        var pairs: [(String, JSONValue)] = []
        for (key, list) in [("env", flags.env), ("presets", flags.presets), ("allow", flags.allow)] where !list.isEmpty {
            pairs.append((key, .array(list.map { .string($0) })))
        }
        for (key, value) in [("memory", flags.memory), ("cpus", flags.cpus), ("network", flags.network?.rawValue)] {
            if let value { pairs.append((key, .string(value))) }
        }
        return .object(pairs)
    }

    static func flags(_ json: JSONValue) -> ProfileFlags? {
        guard case .object = json else { return nil }
        func list(_ key: String) -> [String]? {
            guard let value = json[key] else { return [] }
            guard case .array(let items) = value else { return nil }
            var result: [String] = []
            for item in items {
                guard case .string(let text) = item else { return nil }
                result.append(text)
            }
            return result
        }
        func text(_ key: String) -> String?? {
            guard let value = json[key] else { return .some(nil) }
            guard case .string(let text) = value else { return nil }
            return .some(text)
        }
        guard let env = list("env"), let presets = list("presets"), let allow = list("allow"), let memory = text("memory"), let cpus = text("cpus"),
            let network = text("network")
        else { return nil }
        var flags = ProfileFlags(env: env, presets: presets, allow: allow, memory: memory, cpus: cpus)
        if let network {
            guard let parsed = Profile.Network(rawValue: network) else { return nil }
            flags.network = parsed
        }
        return flags
    }

    /// SHA-256 over what the profile was made from: its source, the mode given, and every file
    /// read for it (the profile file, the user presets it composes) with their bytes.
    static func digest(source: String, mode: String?, files: [(path: String, bytes: [UInt8])]) -> String {
        var bytes = Array("\(source)\n\(mode ?? "")\n".utf8)
        for file in files {
            bytes += Array("\(file.path)\n\(file.bytes.count)\n".utf8)
            bytes += file.bytes
        }
        return ContentHash.sha256Hex(bytes)
    }
}

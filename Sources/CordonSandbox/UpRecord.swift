import CordonConfig
public import CordonCore
import CordonOS

/// How a sandbox was brought `up` (`<sandbox>/up.json`): what `cordon start` runs again, and
/// the digest of the profile then, so that a profile changed since is refused instead of
/// silently applied to the sandbox's held changes.
public struct UpRecord: Sendable, Equatable {
    /// The `--profile` given (nil: the workspace's or the default profile).
    public var profile: String?
    /// The directory `up` ran in (profile references are resolved from it).
    public var directory: String
    public var workspace: String
    /// The `--mode` given.
    public var mode: String?
    /// `UpRecord.digest` of the profile loaded at `up`.
    public var profileDigest: String
    /// The profile's `terminal.filter`, for `cordon exec`'s relay.
    public var terminalFilter: String

    public init(profile: String?, directory: String, workspace: String, mode: String?, profileDigest: String, terminalFilter: String) {
        self.profile = profile
        self.directory = directory
        self.workspace = workspace
        self.mode = mode
        self.profileDigest = profileDigest
        self.terminalFilter = terminalFilter
    }

    public var jsonText: String {
        var pairs: [(String, JSONValue)] = [("version", .int(1))]
        if let profile { pairs.append(("profile", .string(profile))) }
        pairs += [("directory", .string(directory)), ("workspace", .string(workspace))]
        if let mode { pairs.append(("mode", .string(mode))) }
        pairs += [("profile_digest", .string(profileDigest)), ("terminal_filter", .string(terminalFilter))]
        return JSONValue.object(pairs).encoded() + "\n"
    }

    public func save(_ layout: SandboxLayout) throws(CordonError) {
        do throws(SystemError) { try FileIO.writeAtomically(layout.upRecord, Array(jsonText.utf8), durable: true) } catch {
            throw CordonError(.io, "cannot write \(layout.upRecord)", cause: error.description)
        }
    }

    /// The record of a sandbox brought up; nil when it never was (`cordon run` made it).
    public static func load(_ layout: SandboxLayout) throws(CordonError) -> UpRecord? {
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
        return UpRecord(
            profile: text("profile"), directory: directory, workspace: workspace, mode: text("mode"), profileDigest: digest,
            terminalFilter: text("terminal_filter") ?? "standard")
    }

    /// SHA-256 over what the profile was made from: its source, the mode given, and every file
    /// read for it (the profile file, the user presets it composes) with their bytes.
    public static func digest(source: String, mode: String?, files: [(path: String, bytes: [UInt8])]) -> String {
        var bytes = Array("\(source)\n\(mode ?? "")\n".utf8)
        for file in files {
            bytes += Array("\(file.path)\n\(file.bytes.count)\n".utf8)
            bytes += file.bytes
        }
        return ContentHash.sha256Hex(bytes)
    }
}

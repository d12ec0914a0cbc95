import ArgumentParser
import CordonConfig
import CordonCore
import CordonOS

/// `cordon trust [FILE]`: lets `cordon run` use an in-workspace profile with exactly its
/// present content (and that of every file it names), as direnv's `allow` does.
struct TrustCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust",
        abstract: "Trust an in-workspace profile with its present content, or revoke or list trusted profiles.",
        discussion: """
            A profile inside the workspace or the current directory (a repository's cordon.yaml) was \
            written by whoever wrote the repository: `cordon run` uses it only once it is trusted, and \
            asks again whenever the profile or a preset or file it names changes. This prints what \
            the profile grants beyond the built-in default profile and records its digest in \
            <config>/trusted-profiles.
            """
    )

    @Argument(help: "The profile file (default: ./cordon.yaml).")
    var file: String?

    @Flag(help: "Forget the profile's trust.")
    var revoke = false

    @Flag(help: "List the trusted profiles.")
    var list = false

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if revoke && list { throw ValidationError("--revoke and --list exclude each other") }
        if list && file != nil { throw ValidationError("--list takes no FILE") }
    }

    func run() throws {
        let paths = CordonPaths.current()
        let store = TrustStore(paths: paths)
        do throws(CordonError) {
            if list {
                try printList(store.entries())
                return
            }
            let path = CurrentDirectory.absolute(file ?? "cordon.yaml")
            let key = ProfileTrust.key(path)
            if revoke {
                let removed = try store.revoke(key)
                if json {
                    JSONOutput.print(Self.revokeReport(path: key, revoked: removed))
                } else {
                    print(removed ? "revoked: \(ProfileTrust.escaped(key))" : "\(ProfileTrust.escaped(key)) was not trusted")
                }
                return
            }
            let loaded = try ConfigTerminal.loader().load(reference: path, currentDirectory: CurrentDirectory.path)
            let inputs = ProfileTrust.inputs(of: loaded)
            let digest = ProfileTrust.digest(inputs)
            try store.trust(key, digest: digest)
            if json {
                JSONOutput.print(TrustReport.json(path: key, digest: digest, inputs: inputs, grants: ProfileTrust.grants(loaded.profile)))
            } else {
                print(TrustReport.grantsText(ProfileTrust.grants(loaded.profile), inputs: inputs))
                print("trusted: \(ProfileTrust.escaped(key)) (sha256 \(digest))")
            }
        } catch {
            throw ConfigTerminal.fail(error)
        }
    }

    func printList(_ entries: [TrustStore.Entry]) {
        let states = entries.map(Self.state)
        if json {
            JSONOutput.print(Self.listReport(zip(entries, states).map { ($0.path, $0.digest, $1) }))
        } else if entries.isEmpty {
            print("no trusted profiles")
        } else {
            for (entry, state) in zip(entries, states) {
                print("\(entry.digest)  \(state + String(repeating: " ", count: max(0, 8 - state.count)))\(ProfileTrust.escaped(entry.path))")
            }
        }
    }

    /// `--revoke --json`: docs/json.md, "cordon trust".
    static func revokeReport(path: String, revoked: Bool) -> [(String, JSONValue)] {
        [("path", .string(path)), ("revoked", .bool(revoked))]
    }

    /// `--list --json`: docs/json.md, "cordon trust".
    static func listReport(_ profiles: [(path: String, digest: String, state: String)]) -> [(String, JSONValue)] {
        [("profiles", .array(profiles.map { .object([("path", .string($0.path)), ("digest", .string($0.digest)), ("state", .string($0.state))]) }))]
    }

    /// `current` when the profile and its files still hash to the trusted digest; else `changed`,
    /// `missing` or `invalid` (it would stop `cordon run`).
    static func state(_ entry: TrustStore.Entry) -> String {
        guard FileIO.kind(entry.path) == .file else { return "missing" }
        guard let loaded = try? ConfigTerminal.loader().load(reference: entry.path, currentDirectory: "/") else { return "invalid" }
        return ProfileTrust.digest(ProfileTrust.inputs(of: loaded)) == entry.digest ? "current" : "changed"
    }
}

/// How trust questions are shown: by `cordon trust`, and by `cordon run` when it stops.
enum TrustReport {
    static func grantsText(_ grants: [ProfileTrust.Grant], inputs: [ProfileTrust.Input]) -> String {
        var lines: [String] = []
        if grants.isEmpty {
            lines.append("It grants nothing beyond the built-in default profile.")
        } else {
            lines.append("Beyond the built-in default profile it grants:")
            for grant in grants { lines.append("  \(grant.field): \(grant.text)") }
        }
        lines.append("The trust covers:")
        for input in inputs {
            lines.append("  \(input.role): \(ProfileTrust.escaped(input.path))" + (input.sha256 == nil ? " (missing)" : ""))
        }
        return lines.joined(separator: "\n")
    }

    /// Why `cordon run` stopped, what the profile grants, and the command that trusts it.
    static func untrusted(
        source: String, changed: Bool, grants: [ProfileTrust.Grant], inputs: [ProfileTrust.Input],
        outcome: String = "nothing was started", prefix: String = "cordon: "
    ) -> String {
        let shown = ProfileTrust.escaped(source)
        let state = changed ? "has changed since you trusted it (the profile, or a preset or file it names)" : "is not trusted yet"
        return """
            \(prefix)the profile \(shown) lies inside the workspace or the current directory and \(state); \(outcome).
            Whoever wrote this directory (or an agent that ran in it) wrote that profile. Read it before you trust it.
            \(grantsText(grants, inputs: inputs))
            To trust exactly this content: cordon trust \(shellQuoted(source))
            """
    }

    /// `cordon trust --json`: docs/json.md, "cordon trust".
    static func json(path: String, digest: String, inputs: [ProfileTrust.Input], grants: [ProfileTrust.Grant]) -> [(String, JSONValue)] {
        [
            ("path", .string(path)),
            ("digest", .string(digest)),
            (
                "files",
                .array(inputs.map { .object([("role", .string($0.role)), ("path", .string($0.path)), ("sha256", $0.sha256.map(JSONValue.string) ?? .null)]) })
            ),
            ("grants", .array(grants.map { .object([("field", .string($0.field)), ("text", .string($0.text))]) })),
        ]
    }

    /// `path` as one shell word (escaped for the terminal when it holds control characters).
    static func shellQuoted(_ path: String) -> String {
        let plain = path.allSatisfy { $0.isLetter || $0.isNumber || "/._-+=:,@".contains($0) } && path.unicodeScalars.allSatisfy(\.isASCII)
        return plain ? path : "'" + ProfileTrust.escaped(path).replacing("'", with: "'\\''") + "'"
    }
}

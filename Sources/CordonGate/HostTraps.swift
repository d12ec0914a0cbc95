/// Paths that make the host run something: git hooks and config, editor tasks, shell startup
/// files, agent instructions and tools, CI workflows. Changes to them sync only with approval.
enum HostTraps {
    static let rules: [(id: String, patterns: [String], why: String)] = [
        ("trap-git", [".git", ".git/**", "**/.git/**"], "git runs hooks and config (core.hooksPath, fsmonitor, sshCommand) from .git"),
        ("trap-git-config", ["**/.gitmodules", "**/.gitconfig", "**/.gitattributes", ".pre-commit-config.yaml", ".husky/**", ".lefthook.yml", "lefthook.yml"],
         "git config, submodules, attributes (filters) and hook managers run commands on the host"),
        ("trap-direnv", ["**/.envrc", "**/.env.sh"], "direnv runs .envrc when a shell enters the directory"),
        ("trap-editor", [".vscode/**", ".idea/**", "**/*.code-workspace", ".devcontainer/**", ".zed/**"],
         "editors run tasks, launch configs and extensions' settings from these files"),
        ("trap-shell-rc", [
            "**/.bashrc", "**/.bash_profile", "**/.bash_login", "**/.bash_logout", "**/.profile", "**/.zshrc", "**/.zshenv", "**/.zprofile",
            "**/.zlogin", "**/.zlogout", "**/.kshrc", "**/.cshrc", "**/.tcshrc", "**/.config/fish/**", "**/.inputrc",
        ], "shells run these at start-up"),
        ("trap-agent", [
            "**/.mcp.json", ".claude/**", "**/CLAUDE.md", "**/CLAUDE.local.md", "**/AGENTS.md", "**/GEMINI.md", ".cursor/**", "**/.cursorrules",
            ".github/copilot-instructions.md", ".windsurfrules", ".clinerules", ".aider.conf.yml", ".continue/**", ".codex/**", ".gemini/**",
        ], "agent instructions, commands, hooks and MCP servers run with the next agent on the host"),
        ("trap-ci", [
            ".github/workflows/**", ".github/actions/**", ".gitlab-ci.yml", ".gitlab/**", ".circleci/**", "Jenkinsfile", ".travis.yml",
            "azure-pipelines.yml", ".buildkite/**", "bitbucket-pipelines.yml", ".drone.yml", ".woodpecker/**", ".woodpecker.yml",
        ], "CI runs workflow files with the repository's secrets"),
    ]

    static let compiled: [(id: String, patterns: PathPatterns, why: String)] = rules.map { ($0.id, PathPatterns($0.patterns), $0.why) }

    /// npm lifecycle scripts that run on `npm install` / `npm publish` / `git` dependency installs.
    static let npmLifecycle = ["preinstall", "install", "postinstall", "prepare", "preprepare", "postprepare", "prepublish", "prepack", "postpack", "prepublishOnly"]
}

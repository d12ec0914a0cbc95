import Foundation
import CordonTOML

/// Paths that make the host run something on its own: a tool reads them and runs code, or picks
/// the binary it runs, when the user did not ask for that code to run (opening the directory in
/// an editor, entering it in a shell, `git status`, `cargo build`, `pytest`, the next agent). A
/// change to one syncs only with approval, in every mode.
///
/// Every pattern matches at any depth: a workspace holds sub-projects, and most tools search
/// upward from the directory they start in. The line drawn (docs/sync-gate.md): the project's own
/// code and build scripts (sources, tests, `Makefile`, `build.rs`, `setup.py`, `build.gradle`,
/// `Gemfile`) are what the user runs on purpose and reviews as code, so they are not traps;
/// configuration that makes a tool run something else, select another binary, load a plugin or
/// fetch from elsewhere is. `package.json`, `pyproject.toml` and `setup.cfg` are checked by
/// content (lifecycle scripts; the pytest, pylint, mypy and flake8 sections).
enum HostTraps {
    static let rules: [(id: String, patterns: [String], why: String)] = [
        ("trap-git", [".git"], "git runs hooks and config (core.hooksPath, fsmonitor, sshCommand) from .git, and a .git file points git at another directory"),
        (
            "trap-git-config",
            [
                ".gitmodules", ".gitconfig", ".gitattributes", ".pre-commit-config.yaml", ".husky", ".githooks", ".lefthook.yml", "lefthook.yml",
                ".lefthook-local.yml", "lefthook-local.yml", ".lefthook", ".overcommit.yml", ".simple-git-hooks.*", "simple-git-hooks.*",
                ".lintstagedrc", ".lintstagedrc.*", "lint-staged.config.*", "commitlint.config.*", ".commitlintrc", ".commitlintrc.*",
            ], "git config, submodules, attributes (filters) and hook managers run commands on the host at commit, checkout or push"
        ),
        ("trap-vcs", [".hg", ".jj", ".svn", ".bzr"], "other version control systems run hooks and config from their repository directory"),
        (
            "trap-direnv", [".envrc", ".env.sh", ".autoenv.zsh", ".autoenv_leave.zsh", ".env.leave"],
            "direnv and autoenv run these when a shell enters the directory"
        ),
        (
            "trap-shell-rc",
            [
                ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zshenv", ".zprofile", ".zlogin", ".zlogout",
                ".kshrc", ".cshrc", ".tcshrc", ".login", ".logout", "**/.config/fish", ".inputrc", ".xprofile", ".xinitrc", ".xsession",
                ".xsessionrc", ".pam_environment",
            ], "shells and sessions run these at start-up"
        ),
        (
            "trap-home",
            [
                ".ssh", "**/.config/autostart", "**/.config/systemd", "**/.config/environment.d", "**/.local/bin", "**/.local/share/applications",
                "**/.config/nvim", ".vim", ".emacs", ".emacs.d", "**/.config/git", "**/.config/Code", "**/.config/JetBrains", "**/.docker/config.json",
            ], "in a home directory these run at login or with every command (autostart, user units, PATH, ssh ProxyCommand, editor config)"
        ),
        (
            "trap-editor",
            [
                ".vscode", ".idea", ".run", "*.code-workspace", ".zed", ".fleet", ".helix", ".nova", ".theia", "*.sublime-project", "*.sublime-build",
                ".externalToolBuilders",
            ], "editors run tasks, launch configurations, language servers and extensions' settings from these files when the folder is opened"
        ),
        (
            "trap-vim", [".nvim.lua", ".nvimrc", ".exrc", ".vimrc", ".gvimrc", ".lvimrc", ".lazy.lua"],
            "vim and neovim run a local .exrc/.nvim.lua (exrc, localvimrc, lazy.nvim local specs) when started in the directory"
        ),
        ("trap-emacs", [".dir-locals.el", ".dir-locals-2.el"], "Emacs evaluates directory-local variables (eval: forms, hooks) for every file below"),
        (
            "trap-devcontainer", [".devcontainer", ".devcontainer.json"],
            "dev containers run initializeCommand on the host, and choose the image, mounts and features they start"
        ),
        (
            "trap-version-manager",
            [
                "mise.toml", ".mise.toml", "mise.*.toml", ".mise.*.toml", ".mise", "**/.config/mise", "**/.config/mise.toml", ".rtx.toml",
                ".tool-versions", ".nvmrc", ".node-version", ".python-version", ".ruby-version", ".java-version", ".go-version", ".bun-version",
                ".terraform-version", ".sdkmanrc", "rust-toolchain", "rust-toolchain.toml", "global.json", ".bazelversion", ".bazeliskrc",
                "devbox.json", "pyvenv.cfg", "**/bin/activate", "**/bin/activate.*", "**/bin/activate_this.py", ".swift-version",
            ],
            "version managers and shell hooks choose, download and run the binary these name (mise also runs tasks and hooks; a path or fork name runs anything)"
        ),
        (
            "trap-package-manager",
            [
                ".npmrc", ".yarnrc", ".yarnrc.yml", "**/.yarn/plugins", "**/.yarn/releases", ".pnpmfile.cjs", ".pnpmfile.mjs", "pnpmfile.js",
                "pnpm-workspace.yaml", "bunfig.toml", ".bunfig.toml", "pip.conf", "pip.ini", "uv.toml", "poetry.toml", ".condarc", ".cargo",
                "**/.bundle/config", "[Nn]u[Gg]et.[Cc]onfig", "Directory.Build.props", "Directory.Build.targets", "Directory.Build.rsp",
            ],
            "package managers run code from these (yarnPath, pnpmfile hooks, plugins, cargo runners and rustc wrappers, MSBuild imports) or fetch from the registries they name"
        ),
        (
            "trap-jvm",
            [
                "gradle.properties", "init.gradle", "init.gradle.kts", "**/init.d/*.gradle", "**/init.d/*.gradle.kts", "gradle-wrapper.properties",
                "gradle-wrapper.jar", ".mvn", ".sbtopts", ".jvmopts", "**/project/build.properties",
            ],
            "Gradle, Maven and sbt read JVM options (-javaagent), init scripts, extensions and wrapper distribution URLs from these, also when an IDE imports the project"
        ),
        (
            "trap-test-runner",
            [
                "conftest.py", "pytest.ini", ".pytest.ini", "tox.ini", "jest.config.*", "vitest.config.*", "vitest.workspace.*", "vite.config.*",
                ".mocharc", ".mocharc.*", "karma.conf.*", "playwright.config.*", "cypress.config.*", "ava.config.*", "babel.config.*", ".babelrc",
                ".babelrc.*", ".rspec", ".rspec-local",
            ], "test runners load these on every run (pytest plugins and conftest.py, JavaScript configs that are code, --require options)"
        ),
        (
            "trap-linter",
            [
                "eslint.config.*", ".eslintrc", ".eslintrc.*", "prettier.config.*", ".prettierrc.*", "stylelint.config.*", ".stylelintrc.*",
                "tailwind.config.*", "postcss.config.*", ".pylintrc", "pylintrc", "mypy.ini", ".mypy.ini", ".flake8", ".rubocop.yml",
                ".solargraph.yml", ".php-cs-fixer.php", ".php-cs-fixer.dist.php", "phpstan.neon", "phpstan.neon.dist", "psalm.xml", ".huskyrc", ".huskyrc.*",
            ], "editors run linters and formatters on open or save; these configs are code or load plugins (pylint init-hook, mypy plugins, rubocop require)"
        ),
        (
            "trap-debugger-repl",
            [
                ".gdbinit", ".lldbinit", ".pdbrc", ".irbrc", ".pryrc", "jupyter_*_config.py", "ipython_config.py", ".bazelrc",
                ".ghci", ".iex.exs", ".erlang", ".Rprofile", ".octaverc", ".sqliterc", ".psqlrc", ".myclirc",
            ], "debuggers, REPLs, Jupyter and Bazel load these from the working directory and run what they say"
        ),
        (
            "trap-agent",
            [
                ".mcp.json", ".claude", "CLAUDE.md", "CLAUDE.local.md", "AGENTS.md", "AGENT.md", "GEMINI.md", ".cursor", ".cursorrules",
                "**/.github/copilot-instructions.md", "**/.github/instructions", "**/.github/prompts", "**/.github/chatmodes", ".windsurfrules",
                ".windsurf", ".clinerules", ".roo", ".roomodes", ".aider.conf.yml", ".aider.model.settings.yml", ".continue", ".codex", ".gemini",
                ".amazonq", ".kiro", ".junie", ".goosehints", "opencode.json", ".opencode", ".crush.json", "crush.json",
                ".qwen", ".kilocode", ".openhands", "AGENTS.override.md", ".rules", "**/.github/agents", ".trae", ".augment", ".agents",
            ], "agent instructions, commands, hooks and MCP servers run with the next agent on the host"
        ),
        (
            "trap-ci",
            [
                "**/.github/workflows", "**/.github/actions", "action.yml", "action.yaml", ".gitlab-ci.yml", ".gitlab", ".circleci", "Jenkinsfile",
                ".travis.yml", "azure-pipelines.yml", ".azure-pipelines", ".buildkite", "bitbucket-pipelines.yml", ".drone.yml", ".woodpecker",
                ".woodpecker.yml", ".cirrus.yml", "appveyor.yml", ".appveyor.yml", ".semaphore", ".teamcity", "codemagic.yaml",
            ], "CI runs workflow files with the repository's secrets"
        ),
    ]

    /// One rule, compiled: plain names (no glob, no `/`) match any path component; the other
    /// patterns go through `PathPatterns`.
    struct Rule: Sendable {
        let id: String
        let why: String
        let globs: PathPatterns
    }

    static let compiled: [Rule] = rules.map { rule in
        Rule(id: rule.id, why: rule.why, globs: PathPatterns(rule.patterns.filter { !isPlainName($0) }.map(folded)))
    }

    /// Each plain name (folded) and the first rule that lists it: one lookup per path component.
    static let ruleByName: [String: Int] = {
        var map: [String: Int] = [:]
        for (index, rule) in rules.enumerated() {
            for pattern in rule.patterns where isPlainName(pattern) && map[folded(pattern)] == nil { map[folded(pattern)] = index }
        }
        return map
    }()

    static func isPlainName(_ pattern: String) -> Bool {
        !pattern.contains { "/*?[\\!".contains($0) }
    }

    /// The first rule `path` (relative to the workspace) falls under, at any depth. Names are
    /// compared case-folded: on a case-insensitive or casefold (ext4 `+F`) host directory
    /// `.VSCode` is `.vscode`.
    static func match(_ path: String, isDirectory: Bool = false) -> Rule? {
        let path = folded(path)
        var first = compiled.count
        for component in path.split(separator: "/") {
            if let index = ruleByName[String(component)], index < first { first = index }
        }
        // An earlier rule may still match through a glob.
        let earlier = compiled[..<first].firstIndex { !$0.globs.isEmpty && $0.globs.matches(path, isDirectory: isDirectory) }
        return (earlier ?? first) < compiled.count ? compiled[earlier ?? first] : nil
    }

    /// `text` lowercased; beyond ASCII, case-, width- and diacritic-folded (U+017F `ſ` is `s`,
    /// U+212A Kelvin is `k`), so no spelling a folding file system equates slips past.
    static func folded(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text.lowercased() }
        return text.folding(options: [.caseInsensitive, .widthInsensitive, .diacriticInsensitive], locale: nil).lowercased()
    }

    /// Shared config files whose tool sections load code (pytest plugins and `addopts -p`, pylint's
    /// `init-hook`, mypy and flake8 plugins): a change inside such a section is a trap, the rest
    /// of the file is not (it changes too often to hold whole).
    enum SharedConfig {
        /// `pyproject.toml`: the `tool.pytest`, `tool.pylint`, `tool.mypy` tables, read with a
        /// TOML parser, CordonTOML (dotted keys, inline tables and quoted keys all reach the same table).
        case pyproject
        /// `setup.cfg`: the `[tool:pytest]`, `[pylint…]`, `[mypy…]`, `[flake8…]` sections, read
        /// as Python's configparser does (a header starts its line; indented lines continue).
        case setupCfg

        static let pyprojectTools = ["pytest", "pylint", "mypy"]
        static let setupCfgSections = ["tool:pytest", "pylint", "mypy", "flake8"]

        init?(path: String) {
            switch HostTraps.folded(path.split(separator: "/").last.map(String.init) ?? path) {
            case "pyproject.toml": self = .pyproject
            case "setup.cfg": self = .setupCfg
            default: return nil
            }
        }

        var sections: String {
            switch self {
            case .pyproject: Self.pyprojectTools.map { "tool." + $0 }.joined(separator: "/")
            case .setupCfg: Self.setupCfgSections.joined(separator: "/")
            }
        }

        /// The watched settings in a comparable form; nil when the file cannot be read as its
        /// format (fail closed: the tool may read what the gate cannot). Empty bytes have none.
        func settings(_ bytes: [UInt8]) -> String? {
            guard !bytes.isEmpty else { return "" }
            switch self {
            case .pyproject:
                guard let table = try? TOMLDocument.parse(bytes) else { return nil }
                let tool = table["tool"]?.table
                return Self.pyprojectTools.map { name in tool?[name]?.table.map { name + "=" + $0.canonical } ?? "" }.joined(separator: "\n")
            case .setupCfg:
                return Self.iniSections(bytes, prefixes: Self.setupCfgSections).joined(separator: "\n")
            }
        }

        /// The lines of every section whose header (a line that starts with `[`) starts with one
        /// of `prefixes`, headers included, blank and comment lines left out.
        static func iniSections(_ bytes: [UInt8], prefixes: [String]) -> [String] {
            var out: [String] = []
            var inside = false
            for raw in String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline) {
                if raw.hasPrefix("[") {
                    let header = raw.dropFirst().prefix { $0 != "]" }.lowercased()
                    inside = prefixes.contains { header == $0 || header.hasPrefix($0 + ".") || header.hasPrefix($0 + ":") }
                }
                let line = raw.trimmingCharacters(in: .whitespaces)
                if inside && !line.isEmpty && !line.hasPrefix("#") && !line.hasPrefix(";") { out.append(String(raw)) }
            }
            return out
        }
    }

    /// npm lifecycle scripts that run on `npm install` / `npm publish` / `git` dependency installs.
    static let npmLifecycle = [
        "preinstall", "install", "postinstall", "prepare", "preprepare", "postprepare", "prepublish", "prepack", "postpack", "prepublishOnly",
    ]
}

/// Presets that ship inside the binary. A user preset of the same name
/// (`<config>/presets/NAME.yaml`) replaces the built-in one.
///
/// Each is a profile fragment; docs/configuration.md lists them. Keep them small and obvious:
/// users read them with `cordon presets show NAME`.
public enum BuiltinPresets {
    /// Name and YAML source, in the order `cordon presets list` shows them.
    public static let all: [(name: String, yaml: String)] = [
        ("github", github), ("npm", npm), ("pypi", pypi), ("crates", crates), ("go", go),
        ("anthropic", anthropic), ("openai", openai),
        ("git", git),
        ("claude-code", claudeCode), ("codex", codex), ("aider", aider),
    ]

    public static func yaml(named name: String) -> String? { all.first { $0.name == name }?.yaml }

    static let github = """
        description: "GitHub over HTTPS: the site, its API, raw content and release downloads"
        egress:
          domains:
            - .github.com
            - .githubusercontent.com
            - ghcr.io
          deny:
            - domain: github.com:22
              reason: SSH to GitHub is not allowed from the sandbox; use an https remote
        """

    static let npm = """
        description: "The npm and Yarn registries"
        egress:
          domains:
            - registry.npmjs.org
            - registry.yarnpkg.com
        """

    static let pypi = """
        description: "The Python Package Index (index and file downloads)"
        egress:
          domains:
            - pypi.org
            - files.pythonhosted.org
        """

    static let crates = """
        description: "crates.io, its sparse index and crate downloads"
        egress:
          domains:
            - crates.io
            - index.crates.io
            - static.crates.io
        """

    static let go = """
        description: "The Go module proxy, checksum database and toolchain downloads"
        egress:
          domains:
            - proxy.golang.org
            - sum.golang.org
            - index.golang.org
            - dl.google.com
        """

    static let anthropic = """
        description: "The Anthropic API and console (login)"
        egress:
          domains:
            - api.anthropic.com
            - console.anthropic.com
            - statsig.anthropic.com
            - claude.ai
        """

    static let openai = """
        description: "The OpenAI API and ChatGPT login"
        egress:
          domains:
            - api.openai.com
            - auth.openai.com
            - chatgpt.com
        """

    static let git = """
        description: "git identity: copies your ~/.gitconfig in (edits inside are never written back)"
        copy:
          - host: ~/.gitconfig
            sandbox: ~/.gitconfig
            optional: true
          - host: ~/.config/git/ignore
            sandbox: ~/.config/git/ignore
            optional: true
        env:
          GIT_TERMINAL_PROMPT: "0"
        """

    static let claudeCode = """
        description: "Claude Code: a persistent ~/.claude per profile, your ~/.claude.json copied in, the Anthropic API"
        presets:
          - anthropic
        data:
          - name: claude
            path: ~/.claude
        copy:
          - host: ~/.claude.json
            sandbox: ~/.claude.json
            optional: true
        env:
          DISABLE_AUTOUPDATER: "1"
          DISABLE_ERROR_REPORTING: "1"
        """

    static let codex = """
        description: "OpenAI Codex CLI: a persistent ~/.codex per profile, the OpenAI API"
        presets:
          - openai
        data:
          - name: codex
            path: ~/.codex
        """

    static let aider = """
        description: "aider: a persistent ~/.aider per profile, your ~/.aider.conf.yml copied in, OpenAI and Anthropic APIs"
        presets:
          - openai
          - anthropic
        data:
          - name: aider
            path: ~/.aider
        copy:
          - host: ~/.aider.conf.yml
            sandbox: ~/.aider.conf.yml
            optional: true
        env:
          AIDER_CHECK_UPDATE: "false"
          AIDER_ANALYTICS: "false"
        """
}

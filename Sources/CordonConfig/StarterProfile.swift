/// The commented `cordon.yaml` that `cordon init` writes: every section shown, safe values on,
/// the rest commented out with an example.
public enum StarterProfile {
    /// `directoryName` names the profile (sanitized); `presets` are listed uncommented.
    public static func text(directoryName: String, presets: [String] = []) -> String {
        let name = profileName(from: directoryName)
        let presetLines =
            presets.isEmpty
            ? "presets: []\n# presets: [claude-code, github, npm]"
            : "presets:\n" + presets.map { "  - \($0)" }.joined(separator: "\n")
        return """
            # cordon profile: what an agent may see, write and reach. Reference: docs/configuration.md
            # Check it with `cordon config validate cordon.yaml`; see the merged result with
            # `cordon config compile cordon.yaml`. Unknown fields are errors. A profile inside the
            # workspace runs only once trusted: `cordon trust cordon.yaml` after each edit.

            name: \(name)

            # secure: writes stay in an overlay until you review them with `cordon sync`.
            # yolo: clean change sets sync automatically every sync.interval. unsafe: writes go straight through.
            mode: secure
            backend: namespace

            # The host directory mounted at /workspace (relative to this file). Omit for the current directory.
            workspace: .

            # Presets compose egress groups and agent templates; list them with `cordon presets list`.
            # Lists are unioned, maps merged, and whatever this file sets wins over its presets.
            \(presetLines)

            # Extra host directories: ro (read-only), overlay (writable, reviewed sync) or rw (write-through).
            mounts: []
            # mounts:
            #   - host: ~/datasets
            #     sandbox: /data
            #     mode: ro

            # Persistent per-profile directories kept across runs, e.g. an agent's state.
            data: []
            # data:
            #   - name: cache
            #     path: ~/.cache

            # Host files copied in at start; edits inside are never written back.
            copy: []
            # copy:
            #   - host: ~/.gitconfig
            #     sandbox: ~/.gitconfig
            #     optional: true

            # The agent's environment: only these and a short safe list (TERM, LANG, …) are set.
            env: {}
            # env:
            #   EDITOR: vi

            resources:
              memory: 4g
              pids: 1024
              # cpus: 2
              # disk: 10g       # kept on the host in the overlay upper layers (default 10g)
              # inodes: 1000000 # entries in those upper layers (default 1000000)
              # strict: true    # refuse to start when a limit cannot be enforced

            # proxy: only egress.domains are reachable. none: no network. host: the host's network (opt-out).
            network: proxy

            egress:
              domains: []
              # domains:
              #   - api.example.com      # exactly this host
              #   - "*.example.com"      # subdomains only
              #   - .example.com:443     # the domain and its subdomains, port 443
              # deny:
              #   - domain: github.com:22
              #     reason: use an https remote
              # prompt: true             # ask before reaching an unlisted host

            # Credentials the agent sees only as placeholders.
            secrets: []
            # secrets:
            #   - name: github-token
            #     env: GITHUB_TOKEN
            #     domains: [api.github.com]

            # The gate every change passes before it reaches the host.
            sync:
              interval: 30s
              max_file_size: 10m
              # deny: [".git/hooks/**", "*.pem"]
              # blocked_extensions: [.exe, .so]

            """
    }

    /// A valid profile name from a directory name: other characters become "-".
    static func profileName(from directory: String) -> String {
        let mapped = String(directory.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") ? $0 : "-" })
        let leading = mapped.drop { !($0.isLetter || $0.isNumber) }.prefix(64)
        let trimmed = String(leading.reversed().drop { !($0.isLetter || $0.isNumber) }.reversed())
        return trimmed.isEmpty ? "default" : trimmed
    }
}

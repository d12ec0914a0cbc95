public import ArgumentParser
public import CordonConfig
import CordonCore

/// The options that make a sandbox, shared by `cordon run` and `cordon up` (and spelled the same
/// on `run`'s fast path, `RunRequest.direct`).
struct LaunchOptions: ParsableArguments {
    @Option(name: .long, help: "Profile file or name (default: the built-in default profile).", completion: .custom(Completions.profiles))
    var profile: String?

    @Option(name: .long, help: "Host directory mounted at /workspace (default: current directory).", completion: .directory)
    var workspace: String?

    @Option(name: .long, help: "Filesystem mode: secure, yolo or unsafe (overrides the profile).")
    var mode: Profile.Mode?

    @Option(name: .long, help: "Sandbox name (default: generated and printed).")
    var name: String?

    @Option(
        name: [.customShort("e"), .long],
        help: "Set VAR in the sandbox's environment (over the profile's env); a bare VAR copies this shell's value. Repeatable.")
    var env: [String] = []

    @Option(name: .long, help: "Add a preset to the profile for this sandbox. Repeatable.", completion: .custom(Completions.presets))
    var preset: [String] = []

    @Option(name: .long, help: "Add a domain pattern to egress.domains for this sandbox (example.com, *.example.com, host:port). Repeatable.")
    var allow: [String] = []

    @Option(name: .long, help: "Memory limit for this sandbox (resources.memory: 512m, 2g).")
    var memory: String?

    @Option(name: .long, help: "CPU limit for this sandbox (resources.cpus: 0.5, 2).")
    var cpus: String?

    @Option(name: .long, help: "Network for this sandbox: proxy, none or host (network:; host gives the agent the host's network).")
    var network: Profile.Network?

    /// The profile flags, a bare `-e VAR` resolved from `host` (as `cordon exec -e` does).
    func flags(host: [String: String]) throws(CordonError) -> ProfileFlags {
        ProfileFlags(
            env: try ExecCommand.environment(env, host: host), presets: preset, allow: allow, memory: memory, cpus: cpus, network: network)
    }
}

extension Profile.Network: ExpressibleByArgument {}

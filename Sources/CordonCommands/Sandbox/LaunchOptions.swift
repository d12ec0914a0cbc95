import ArgumentParser
import CordonConfig

/// The options that make a sandbox, shared by `cordon run` and `cordon up` (and spelled the same
/// on `run`'s fast path, `RunRequest.direct`).
struct LaunchOptions: ParsableArguments {
    @Option(name: .long, help: "Profile file or name (default: the built-in default profile).")
    var profile: String?

    @Option(name: .long, help: "Host directory mounted at /workspace (default: current directory).")
    var workspace: String?

    @Option(name: .long, help: "Filesystem mode: secure, yolo or unsafe (overrides the profile).")
    var mode: Profile.Mode?

    @Option(name: .long, help: "Sandbox name (default: generated and printed).")
    var name: String?
}

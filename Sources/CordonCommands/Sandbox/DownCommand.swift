import ArgumentParser
import CordonCore
import CordonSandbox

/// `cordon down NAME` / `cordon stop NAME`: stops a running sandbox; its changes are kept.
struct DownCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Stop a running sandbox (every process in it ends); its changes are kept for diff and sync.")

    @OptionGroup var sandbox: SandboxSelection

    func run() throws {
        try SandboxLifecycle.act(on: sandbox, done: "stopped") { layout throws(CordonError) in try SandboxLifecycle.stop(name: sandbox.name, layout: layout) }
    }
}

/// `cordon stop NAME`: the same as `down`.
struct StopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop a running sandbox (as `cordon down`).")

    @OptionGroup var sandbox: SandboxSelection

    func run() throws {
        var down = DownCommand()
        down.sandbox = sandbox
        try down.run()
    }
}

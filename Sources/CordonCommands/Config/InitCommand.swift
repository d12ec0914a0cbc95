import ArgumentParser
import CordonConfig
import CordonCore

/// `cordon init`: a commented starter profile for the current directory.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a commented starter profile, ./cordon.yaml, for the current directory."
    )

    @Flag(help: "Overwrite an existing cordon.yaml.")
    var force = false

    @Option(name: .customLong("preset"), help: "A preset to compose (repeatable), e.g. --preset claude-code --preset github.")
    var presets: [String] = []

    func run() throws {
        let loader = ConfigTerminal.loader()
        let path = CurrentDirectory.absolute("cordon.yaml")
        do throws(CordonError) {
            let catalog = try loader.presetCatalog()
            for name in presets where catalog.entry(named: name) == nil {
                throw CordonError(.invalidArgument, "unknown preset \"\(name)\"", hint: catalog.unknownHint(name))
            }
            let directory = CurrentDirectory.path.split(separator: "/").last.map(String.init) ?? "default"
            let text = StarterProfile.text(directoryName: directory, presets: presets)
            _ = try loader.parse(yaml: text, file: path)
            try ConfigTerminal.write(text, to: path, force: force)
        } catch {
            throw ConfigTerminal.fail(error)
        }
        print("wrote \(path)")
        print(
            "next: edit it, then `cordon config validate cordon.yaml`, `cordon trust cordon.yaml` (a profile in the workspace runs only once trusted) and `cordon run --profile ./cordon.yaml`"
        )
    }
}

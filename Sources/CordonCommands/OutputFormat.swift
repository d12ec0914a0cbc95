import ArgumentParser
import CordonCore

/// How a command prints its data: text for people, JSON for programs (every shape in
/// docs/json.md), SARIF 2.1.0 for code-scanning tools. Each command keeps its own flags
/// (`--json`, and `--sarif` where it has one); this is what they mean.
enum OutputFormat: Equatable {
    case text, json, sarif

    /// From a command's `--json` and `--sarif` flags; both at once is a usage error.
    init(json: Bool, sarif: Bool = false) throws(ValidationError) {
        if json && sarif { throw ValidationError("--json and --sarif cannot be combined") }
        self = json ? .json : sarif ? .sarif : .text
    }
}

import ArgumentParser
import CordonConfig
import CordonCore
import CordonOS
import CordonSecrets

/// `cordon secrets show NAME [--json]`: metadata only, and the profiles that bind the entry.
struct SecretsShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a stored secret's metadata and the profiles that bind it (never the value).")

    @Argument(help: "The entry's name.")
    var name: String

    @Flag(help: "Print JSON: {version, name, created, updated, profiles: [{name, file, env, domains}]}.")
    var json = false

    func run() throws {
        do throws(CordonError) {
            let secret = try SecretsTerminal.name(name)
            let keystore = SecretsTerminal.keystore
            guard let entry = try keystore.metadata()?.entry(secret.text) else {
                throw CordonError(.notFound, "no secret named \(secret) in \(keystore.paths.store)", hint: "store it: cordon secrets set \(secret)")
            }
            let bindings = Self.bindings(of: secret.text)
            if json {
                JSONOutput.print([
                    ("name", .string(entry.name)), ("created", .string(entry.created)), ("updated", .string(entry.updated)),
                    (
                        "profiles",
                        .array(
                            bindings.map { binding in
                                .object([
                                    ("name", .string(binding.profile)), ("file", .string(binding.file)), ("env", .string(binding.env)),
                                    ("domains", .array(binding.domains.map(JSONValue.string))),
                                ])
                            })
                    ),
                ])
                return
            }
            print(Console.line("name:     \(entry.name)"), terminator: "")
            print(Console.line("created:  \(entry.created)"), terminator: "")
            print(Console.line("updated:  \(entry.updated)"), terminator: "")
            if bindings.isEmpty { print("profiles: none in \(CordonPaths.current().profilesDirectory) binds it") }
            for binding in bindings {
                let domains = binding.domains.isEmpty ? "no domain yet" : binding.domains.joined(separator: ", ")
                print(Console.line("profile:  \(binding.profile) (\(binding.file)) as $\(binding.env), for \(domains)"), terminator: "")
            }
        } catch { throw SecretsTerminal.fail(error) }
    }

    struct Binding {
        var profile: String
        var file: String
        var env: String
        var domains: [String]
    }

    /// The profiles in the profiles directory whose `secrets:` name the entry (a profile that
    /// does not validate is skipped: its bindings are not in force).
    static func bindings(of name: String) -> [Binding] {
        let loader = ConfigTerminal.loader()
        let directory = loader.paths.profilesDirectory
        guard let listing = DirectoryListing.names(at: directory) else { return [] }
        var result: [Binding] = []
        for file in listing.sorted() where file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
            let path = directory + "/" + file
            guard let profile = (try? loader.validate(file: path))?.profile else { continue }
            for secret in profile.secrets where secret.name == name {
                result.append(Binding(profile: profile.name, file: path, env: secret.env ?? secret.name, domains: secret.domains))
            }
        }
        return result
    }
}

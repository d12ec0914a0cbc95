import ArgumentParser
import CordonConfig
import CordonCore
import FoundationEssentials

/// What the config, presets and init commands share: the loader for this user, file I/O,
/// and the exit codes (0 ok, 1 invalid profile, 2 usage or any other error).
enum ConfigTerminal {
    static func loader() -> ProfileLoader {
        ProfileLoader(paths: CordonPaths.current(), homeDirectory: homeDirectory)
    }

    static var homeDirectory: String { HomeDirectory.resolve() }

    /// The validation of the profile `reference` names: a file that exists there (as before
    /// names were taken), else resolved as `cordon run --profile` does (a path, a name in the
    /// profiles directory, a built-in name); a reference that names nothing, or a file that
    /// cannot be read, is reported and exits 2.
    static func validate(reference: String) throws(ExitCode) -> ProfileValidation {
        let loader = loader()
        do throws(CordonError) {
            if FileManager.default.fileExists(atPath: reference) { return try loader.validate(file: reference) }
            switch try loader.locate(reference: reference, currentDirectory: CurrentDirectory.path) {
            case .file(let path): return try loader.validate(file: path)
            case .builtin(let name, let profile): return ProfileValidation(profile: profile, source: "builtin:" + name, diagnostics: [])
            }
        } catch { throw fail(error) }
    }

    /// Prints `error` to stderr and returns the exit code for it.
    static func fail(_ error: CordonError) -> ExitCode {
        Console.error(error, prefix: "error: ")
        return ExitCode(error.code == .invalidProfile ? 1 : 2)
    }

    static func read(_ path: String) throws(CordonError) -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CordonError(.notFound, "\(path): no such file", hint: "check the path")
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CordonError(.io, "cannot read \(path)", hint: "check that the file is readable")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes `text` to `path`, refusing to replace an existing file unless `force`.
    static func write(_ text: String, to path: String, force: Bool) throws(CordonError) {
        if !force && FileManager.default.fileExists(atPath: path) {
            throw CordonError(.alreadyExists, "\(path) already exists", hint: "pass --force to overwrite it")
        }
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw CordonError(.io, "cannot write \(path)", cause: "\(error)")
        }
    }

    static func diagnosticJSON(_ d: ProfileDiagnostic) -> JSONValue {
        .object([
            ("file", .string(d.location.file)),
            ("line", d.location.line.map(JSONValue.int) ?? .null),
            ("column", d.location.column.map(JSONValue.int) ?? .null),
            ("field", .string(d.field)),
            ("message", .string(d.message)),
            ("hint", d.hint.map(JSONValue.string) ?? .null),
        ])
    }
}

public import CordonCore
import FoundationEssentials
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Every preset a profile may name: the built-in ones, replaced by users' presets of the same name.
public struct PresetCatalog: Sendable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        /// `builtin:NAME`, or the user preset's file path.
        public var source: String
        public var yaml: String
        public var isBuiltin: Bool { source.hasPrefix("builtin:") }
        /// True for a user preset that replaces a built-in one of the same name.
        public var overridesBuiltin: Bool
    }

    public private(set) var entries: [Entry]

    /// `user` presets (name, path, YAML) replace built-in ones of the same name.
    public init(builtins: [(name: String, yaml: String)] = BuiltinPresets.all, user: [(name: String, path: String, yaml: String)] = []) {
        var entries = builtins.map { Entry(name: $0.name, source: "builtin:" + $0.name, yaml: $0.yaml, overridesBuiltin: false) }
        for preset in user.sorted(by: { $0.name < $1.name }) {
            let entry = Entry(name: preset.name, source: preset.path, yaml: preset.yaml, overridesBuiltin: false)
            if let index = entries.firstIndex(where: { $0.name == preset.name }) {
                entries[index] = entry
                entries[index].overridesBuiltin = true
            } else {
                entries.append(entry)
            }
        }
        self.entries = entries
    }

    /// Built-in presets plus `<directory>/*.yaml` (and `.yml`). An unreadable file is an error.
    public static func load(directory: String) throws(CordonError) -> PresetCatalog {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            return PresetCatalog()
        }
        var user: [(name: String, path: String, yaml: String)] = []
        for file in names.sorted() {
            let name: String
            if file.hasSuffix(".yaml") { name = String(file.dropLast(5)) } else if file.hasSuffix(".yml") { name = String(file.dropLast(4)) } else { continue }
            guard !name.isEmpty, !user.contains(where: { $0.name == name }) else { continue }
            let path = directory + "/" + file
            user.append((name, path, try ProfileFile.read(path)))
        }
        return PresetCatalog(user: user)
    }

    public var names: [String] { entries.map(\.name) }

    public func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// The fix for an unknown preset name: the nearest name, and every available one.
    public func unknownHint(_ name: String) -> String {
        let hint = "available presets: " + names.joined(separator: ", ")
        return Suggestion.closest(to: name, among: names).map { "did you mean \"\($0)\"? " + hint } ?? hint
    }

    /// The `description:` line of a preset, for listings.
    public func description(of name: String) -> String? {
        guard let entry = entry(named: name) else { return nil }
        let (layer, _) = ProfileLayerParser.parse(yaml: entry.yaml, file: entry.source, kind: .preset, home: "~", baseDirectory: nil)
        return layer?.description
    }
}

/// Reading profile and preset files (the only other I/O here is `ApprovalFile`'s write).
enum ProfileFile {
    static func read(_ path: String) throws(CordonError) -> String {
        guard exists(path) else {
            throw CordonError(.notFound, "\(path): no such file", hint: "check the path; `cordon init` writes a starter profile")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CordonError(
                .io, "cannot read \(path)", hint: "check that the file is readable",
                cause: String(describing: error).split(separator: "(").first.map(String.init))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CordonError(.invalidProfile, "\(path) is not UTF-8 text", location: .init(file: path))
        }
        return text
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }
}

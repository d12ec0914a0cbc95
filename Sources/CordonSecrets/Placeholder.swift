public import CordonCore
import CordonOS
import FoundationEssentials
import Glibc

/// What a sandbox's variable holds instead of a secret's value: a fresh random
/// `PlaceholderFormat` string per sandbox start and secret. The value never enters a sandbox;
/// the proxy (a later part of issue #25) is to swap the value in on the secret's domains.
public struct Placeholder: Sendable, Equatable, Codable {
    /// The placeholder text the sandbox sees.
    public var placeholder: String
    /// The keystore entry it stands for (the name, never the value).
    public var secret: String
    /// The variable that holds it inside.
    public var env: String
    /// The domains whose requests are to carry the real value.
    public var domains: [String]

    public init(secret: String, env: String, domains: [String]) {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<PlaceholderFormat.randomLength).map { _ in
            PlaceholderFormat.alphabet[Int.random(in: 0..<PlaceholderFormat.alphabet.count, using: &generator)]
        }
        self.placeholder = PlaceholderFormat.prefix + String(decoding: random, as: UTF8.self)
        self.secret = secret
        self.env = env
        self.domains = domains
    }
}

/// The map placeholder → secret name kept in a sandbox's state directory (`placeholders.json`,
/// 0600) for the proxy: names only, no value.
public enum PlaceholderMap {
    public static let fileName = "placeholders.json"

    private struct Document: Codable {
        var version: Int
        var placeholders: [Placeholder]
    }

    /// Writes the map of this start; with none, removes a map an earlier start left (a profile
    /// that no longer binds secrets, a reused state directory), so no stale name is kept.
    public static func write(_ placeholders: [Placeholder], stateDirectory: String) throws(CordonError) {
        let path = stateDirectory + "/" + fileName
        if placeholders.isEmpty {
            guard unlink(path) == 0 || errno == ENOENT else { throw SystemError.current("remove", path).cordonError(.io) }
            return
        }
        do {
            let bytes = Array(try JSONEncoder.keystore.encode(Document(version: 1, placeholders: placeholders))) + [0x0A]
            try FileIO.writeAtomically(path, bytes, mode: 0o600)
        } catch let error as SystemError {
            throw error.cordonError(.io, "cannot write the sandbox's placeholder map \(path)")
        } catch {
            throw CordonError(.internal, "cannot encode the placeholder map", cause: "\(error)")
        }
    }

    /// The map written for the sandbox at `stateDirectory`; empty when it has none.
    public static func read(stateDirectory: String) throws(CordonError) -> [Placeholder] {
        let path = stateDirectory + "/" + fileName
        guard FileIO.kind(path, followSymlinks: false) == .file else { return [] }
        do {
            let bytes = try FileIO.readFile(path)
            // A spare state directory keeps its files emptied: an empty map is no map.
            if bytes.isEmpty { return [] }
            return try JSONDecoder.keystore.decode(Document.self, from: Data(bytes)).placeholders
        } catch {
            throw CordonError(.io, "cannot read the sandbox's placeholder map \(path)", cause: "\(error)")
        }
    }
}

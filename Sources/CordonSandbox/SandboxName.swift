public import CordonCore
import Glibc

/// Sandbox names: `[a-z0-9][a-z0-9_.-]{0,62}`, generated as `adjective-animal-xxxx` when not given.
public enum SandboxName {
    static let adjectives = [
        "amber", "brisk", "calm", "deft", "eager", "fair", "glad", "hazy", "keen", "lucid", "mellow", "nimble", "quiet", "rapid", "sober", "tidy", "vivid",
        "wary",
    ]
    static let animals = [
        "otter", "heron", "lynx", "marten", "finch", "badger", "ibex", "koala", "newt", "owl", "puffin", "raven", "seal", "tapir", "vole", "wren",
    ]

    public static func generate() -> String {
        var bytes = [UInt8](repeating: 0, count: 4)
        _ = bytes.withUnsafeMutableBytes { getentropy($0.baseAddress, 4) }
        let suffix = bytes[2...].map { b in
            let s = String(b, radix: 16); return s.count == 1 ? "0" + s : s
        }.joined()
        return "\(adjectives[Int(bytes[0]) % adjectives.count])-\(animals[Int(bytes[1]) % animals.count])-\(suffix)"
    }

    public static func validate(_ name: String) throws(CordonError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789_.-")
        guard let first = name.first, first.isLetter || first.isNumber, name.count <= 63, name.allSatisfy({ allowed.contains($0) }) else {
            throw CordonError(
                .invalidArgument, "invalid sandbox name \"\(name)\"",
                hint: "use 1–63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
    }
}

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
        // Hex by hand: no generic formatting on the start-up path.
        let digits = Array("0123456789abcdef".utf8)
        let suffix = String(decoding: bytes[2...].flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] }, as: UTF8.self)
        return "\(adjectives[Int(bytes[0]) % adjectives.count])-\(animals[Int(bytes[1]) % animals.count])-\(suffix)"
    }

    /// Lowercase ASCII letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63.
    public static func validate(_ name: String) throws(CordonError) {
        func letterOrDigit(_ byte: UInt8) -> Bool { (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) }
        let bytes = name.utf8
        guard let first = bytes.first, letterOrDigit(first), bytes.count <= 63,
            bytes.allSatisfy({ letterOrDigit($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D })
        else {
            throw CordonError(
                .invalidArgument, "invalid sandbox name \"\(name)\"",
                hint: "use 1–63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
    }
}

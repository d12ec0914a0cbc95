import CordonPolicy
/// The rules every request head facing the agent is held to, whoever parsed it (the tunnel gate's
/// own parse, NIO's decoder on the proxy listener and on captured flows): one reading only, so the
/// host cordon judges is the host the origin serves (RFC 9110 7.2, RFC 9112 3.2 and 6).
enum RequestHeadRules {
    /// tchar (RFC 9110 5.6.2).
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return tokenSymbols.contains(byte)
        }
    }

    private static let tokenSymbols = Set("!#$%&'*+-.^_`|~".utf8)
    private static let notInHost = Set(" \t,@/\\?#".utf8)

    /// What makes the head ambiguous, or nil: a second Host, a Host that is not one authority (a
    /// list, spaces, userinfo), Content-Length that is not one plain number, more than one
    /// Transfer-Encoding, both framings at once, a Transfer-Encoding not ending in chunked, a
    /// control character in a value.
    static func problem(_ fields: [(name: String, value: String)]) -> String? {
        var hosts = 0
        var lengths = 0
        var encodings = 0
        for (name, rawValue) in fields {
            let value = rawValue.trimmingSpaces()
            if value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
                return "HTTP header \(name) carries a control character"
            }
            let lower = name.lowercased()
            switch lower {
            case "host":
                hosts += 1
                guard hosts == 1 else { return "HTTP request carries more than one Host header" }
                if value.isEmpty || value.utf8.contains(where: notInHost.contains) {
                    return "HTTP Host \(value.debugDescription) is not a single host[:port]"
                }
            case "content-length":
                lengths += 1
                guard lengths == 1 else { return "HTTP request carries more than one Content-Length" }
                guard !value.isEmpty, value.utf8.count <= 18, value.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
                    return "HTTP Content-Length \(value.debugDescription) is not a single number"
                }
            case "transfer-encoding":
                encodings += 1
                guard encodings == 1 else { return "HTTP request carries more than one Transfer-Encoding" }
                let last = value.split(separator: ",").last.map { String($0).trimmingSpaces().lowercased() }
                guard last == "chunked" else { return "HTTP Transfer-Encoding \(value.debugDescription) does not end in chunked" }
            default:
                continue
            }
        }
        if lengths > 0 && encodings > 0 { return "HTTP request carries both Content-Length and Transfer-Encoding" }
        return nil
    }
}

/// The DNS-rebinding guard of cordon's loopback HTTP servers (`cordon mcp --http`, `cordon mcp
/// bridge --http`). A web page whose own name an attacker re-points at 127.0.0.1 can make the
/// user's browser send requests to a loopback port; those carry the page's name in `Host` and its
/// origin in `Origin`. So a request is refused (403) unless its `Host`, when it has one, names
/// loopback (`127.0.0.1`, `localhost`, `[::1]`, any port) and its `Origin`, when it has one, is an
/// `http`/`https` origin on such a name. MCP clients that are programs send no `Origin`; the
/// bearer token stays the gate for everything else.
public enum LoopbackRequestCheck {
    /// Why a request with these headers is refused, or nil when it may go on.
    public static func refusal(host: String?, origin: String?) -> String? {
        if let host, !isLoopback(authority: host) {
            return "Host \(quoted(host)) is not a loopback name: this endpoint answers requests to 127.0.0.1, localhost or [::1] only"
        }
        if let origin {
            let lower = origin.lowercased()
            let authority: Substring? =
                if lower.hasPrefix("http://") { Substring(lower.dropFirst(7)) } else if lower.hasPrefix("https://") { Substring(lower.dropFirst(8)) } else {
                    nil
                }
            guard let authority, !authority.contains("/"), isLoopback(authority: String(authority)) else {
                return "Origin \(quoted(origin)) is not a loopback origin: a web page may not drive this endpoint"
            }
        }
        return nil
    }

    /// Whether `authority` (`NAME[:PORT]`, `[V6][:PORT]`) names loopback.
    static func isLoopback(authority: String) -> Bool {
        let text = authority.lowercased()
        let name: Substring
        let port: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return false }
            name = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                port = nil
            } else {
                guard rest.hasPrefix(":") else { return false }
                port = rest.dropFirst()
            }
        } else {
            let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            name = parts[0]
            port = parts.count > 1 ? parts[1] : nil
        }
        if let port, port.isEmpty || port.count > 5 || !port.utf8.allSatisfy({ (0x30...0x39).contains($0) }) { return false }
        return name == "127.0.0.1" || name == "localhost" || name == "::1"
    }

    /// At most 80 printable ASCII characters of `text`, in quotes (it goes into a log and a reply).
    private static func quoted(_ text: String) -> String {
        let safe = text.unicodeScalars.prefix(80).map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" }
        return "\"" + String(safe) + (text.unicodeScalars.count > 80 ? "…" : "") + "\""
    }
}

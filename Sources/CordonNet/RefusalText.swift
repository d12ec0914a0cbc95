public import CordonPolicy

/// The words of a refusal, where the agent's tools and the user see them: the proxy's status line
/// (Python's `Tunnel connection failed: 403 …`, pip, curl -v print it and nothing else), its
/// body, and the live line on the terminal of `cordon run`. The host is whatever the agent named
/// (raw text when it is not a valid name), so everything here is reduced to safe characters and
/// bounded before it is shown.
extension Decision {
    /// The host as shown: letters, digits and `.-_:[]*`, anything else `?`, at most 100 characters.
    public var shownHost: String { RefusalText.safe(host, keeping: RefusalText.isHostCharacter, limit: 100) }

    /// What makes the refused request go through, when a command or a profile field does.
    public func fix(sandbox: String) -> String? {
        let host = shownHost
        switch rule {
        case "not-listed", "prompt", "approval:deny", "approval:timeout":
            return "cordon allow \(sandbox) \(host) (this run; add --always to keep it, or list it in egress.domains)"
        case "port": return "list \(host):\(port) in the profile's egress.domains"
        case "ip-literal": return "list \(host) in the profile's egress.domains"
        case "blocklist": return "it is on a blocklist the profile loads (egress.blocklists)"
        case "address": return "list the address's CIDR in egress.allow_private"
        default:
            if rule.hasPrefix("deny:") { return "remove it from the profile's egress.deny" }
            if rule.hasPrefix("rate-limit:") { return "wait a minute, or raise egress.rate_limits" }
            return nil
        }
    }

    /// The status line's reason phrase for a proxy client: `Forbidden (cordon: REASON; allow:
    /// FIX)`: printable ASCII only, at most 300 characters (RFC 9112's reason-phrase).
    public func statusReason(_ standard: String, sandbox: String) -> String {
        var text = "cordon: \(reason)"
        if let fix = fix(sandbox: sandbox) { text += "; fix: \(fix)" }
        return "\(standard) (\(RefusalText.safe(text, keeping: RefusalText.isPrintable, limit: 280)))"
    }

    /// The body of a refusal: `cordon refused HOST:PORT: REASON (rule RULE). Allow it with: FIX`.
    public func refusalBody(sandbox: String) -> String {
        var text = "cordon refused \(shownHost):\(port): \(reason) (rule \(rule))."
        if let fix = fix(sandbox: sandbox) {
            text += rule == "not-listed" || rule.hasPrefix("approval:") || rule == "prompt" ? " Allow it with: \(fix)" : " Fix: \(fix)"
        }
        return RefusalText.safe(text, keeping: RefusalText.isPrintable, limit: 1000)
    }

    /// The `X-Cordon-Denied` header value, from the safe host and rule.
    public func safeDeniedHeader(sandbox: String) -> String {
        let rule = RefusalText.safe(rule, keeping: RefusalText.isPrintable, limit: 200).replacingQuotes()
        return "domain=\(shownHost); port=\(port); rule=\(rule); allow=\"cordon allow \(sandbox.replacingQuotes()) \(shownHost)\""
    }
}

enum RefusalText {
    static func safe(_ text: String, keeping keep: (Unicode.Scalar) -> Bool, limit: Int) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == limit {
                out += "..."
                break
            }
            out.unicodeScalars.append(keep(scalar) ? scalar : "?")
            count += 1
        }
        return out
    }

    static func isHostCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "-", "_", ":", "[", "]", "*": return true
        default: return false
        }
    }

    /// Visible ASCII and the space.
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool { (0x20...0x7E).contains(scalar.value) }
}

extension String {
    fileprivate func replacingQuotes() -> String { String(unicodeScalars.map { $0 == "\"" || $0 == "\\" ? "?" : Character($0) }) }
}

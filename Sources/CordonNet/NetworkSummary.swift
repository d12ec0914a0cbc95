/// Counts for the one summary line printed when a run ends.
public struct NetworkSummary: Sendable, Equatable, CustomStringConvertible {
    /// Connections and requests the policy let through.
    public var allowed = 0
    /// Connections and requests refused, by the policy or at a limit.
    public var refused = 0
    /// Flows that failed before or after a verdict: a protocol the proxy could not read, an
    /// upstream that could not be reached.
    public var errors = 0
    /// Unlisted hosts the user was asked about (`egress.prompt`).
    public var approvalsAsked = 0
    /// DNS queries answered and refused (not counted as connections).
    public var dnsAnswered = 0
    public var dnsRefused = 0
    /// Refusals per host (connections and DNS queries).
    public var refusedHosts: [String: Int] = [:]
    /// Connections closed at accept because `egress.max_connections` were open (also in `refused`;
    /// the log has a line for the first of each burst, not for each).
    public var overConnectionLimit = 0
    /// DNS queries refused by the wildcard bound (`egress.dns_*`; also in `dnsRefused`).
    public var dnsOverWildcardBound = 0

    public init() {}

    /// The most refused hosts, most first (ties by name).
    public func topRefused(_ count: Int = 5) -> [(host: String, count: Int)] {
        refusedHosts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(count).map { ($0.key, $0.value) }
    }

    public var description: String {
        var text = "network: \(allowed) connection\(allowed == 1 ? "" : "s") allowed, \(refused) refused"
        if dnsRefused > 0 { text += ", \(dnsRefused) DNS quer\(dnsRefused == 1 ? "y" : "ies") refused" }
        let top = topRefused(3)
        if !top.isEmpty { text += " (top: " + top.map { "\($0.host) ×\($0.count)" }.joined(separator: ", ") + ")" }
        if overConnectionLimit > 0 { text += ", \(overConnectionLimit) over the connection limit" }
        if dnsOverWildcardBound > 0 { text += ", \(dnsOverWildcardBound) DNS names over the wildcard bound" }
        if errors > 0 { text += ", \(errors) failed" }
        text += ", \(approvalsAsked) approvals asked"
        return text
    }
}

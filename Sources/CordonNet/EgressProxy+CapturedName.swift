import CordonPolicy
/// Which name a captured flow is for: the one its first bytes claim, checked against what the DNS stub handed out.
extension EgressProxy {
    enum CapturedName: Equatable {
        case name(String)
        case refused(rule: String, reason: String)
    }

    /// The name a captured flow to `destination` is for, from the name its first bytes claim (SNI,
    /// Host without port): one the DNS stub handed this address out for; an address literal
    /// stands for the destination itself (the policy then judges it as a literal).
    func capturedName(claimed: String, destination: IPAddress) -> CapturedName {
        guard let host = Host(claimed), let claimedName = host.name ?? host.address?.description else {
            return .refused(rule: "invalid-host", reason: "\(claimed) is not a valid host name")
        }
        if host.address != nil { return .name(destination.description) }
        let handedOut = nameLookup?.names(for: destination) ?? []
        guard handedOut.contains(claimedName) else {
            return .refused(
                rule: handedOut.isEmpty ? "ip-literal" : "name-mismatch",
                reason: handedOut.isEmpty
                    ? "\(destination) was never handed out by cordon's DNS (direct IP connection)"
                    : "\(destination) was handed out for \(handedOut.joined(separator: ", ")), not \(claimedName)")
        }
        return .name(claimedName)
    }
}

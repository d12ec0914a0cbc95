/// Which resolved addresses the proxy may dial: public unicast only, unless a block is listed in
/// `allow_private`. Pure; the Dialer applies it to every address before connecting.
public struct AddressPolicy: Sendable, Equatable {
    public var allowPrivate: [CIDR]

    public init(allowPrivate: [CIDR] = []) {
        self.allowPrivate = allowPrivate
    }

    public enum Verdict: Sendable, Equatable {
        case allowed
        /// `reason` is a short category such as `loopback` or `cloud metadata`.
        case refused(reason: String)

        public var isAllowed: Bool { self == .allowed }
    }

    public func check(_ address: IPAddress) -> Verdict {
        if allowPrivate.contains(where: { $0.contains(address) }) { return .allowed }
        guard let reason = AddressPolicy.specialPurpose(address) else { return .allowed }
        return .refused(reason: reason)
    }

    /// The category of a non-public address, or nil for public unicast.
    public static func specialPurpose(_ address: IPAddress) -> String? {
        switch address {
        case .v4(let value):
            return v4Blocks.first { $0.0.contains(.v4(value)) }?.1
        case .v6:
            if let embedded = embeddedIPv4(address), let reason = specialPurpose(embedded.address) {
                return "\(embedded.form) \(reason)"
            }
            return v6Blocks.first { $0.0.contains(address) }?.1
        }
    }

    /// An IPv4 address carried inside an IPv6 one, and the name of the carrying form.
    public static func embeddedIPv4(_ address: IPAddress) -> (address: IPAddress, form: String)? {
        guard case .v6(let hi, let lo) = address else { return nil }
        let low32 = IPAddress.v4(UInt32(truncatingIfNeeded: lo))
        if hi == 0, lo >> 32 == 0xFFFF { return (low32, "IPv4-mapped") }
        if hi == 0, lo >> 32 == 0, lo > 1 { return (low32, "IPv4-compatible") }
        if hi == 0x0064_FF9B_0000_0000, lo >> 32 == 0 { return (low32, "NAT64") }
        if hi >> 48 == 0x0064, hi >> 16 & 0xFFFF_FFFF == 0xFF9B_0001 {
            return (low32, "NAT64")
        }
        if hi >> 48 == 0x2002 { return (.v4(UInt32(truncatingIfNeeded: hi >> 16)), "6to4") }
        if hi >> 32 == 0x2001_0000 { return (.v4(~UInt32(truncatingIfNeeded: lo)), "Teredo") }
        if hi == 0, lo >> 32 == 0xFFFF_0000 { return (low32, "IPv4-translated") }
        return nil
    }

    private static func block(_ text: String, _ reason: String) -> (CIDR, String) {
        guard let cidr = CIDR(text) else { preconditionFailure("bad built-in CIDR \(text)") }
        return (cidr, reason)
    }

    // Order matters: the most specific block first, so metadata is named as such.
    private static let v4Blocks: [(CIDR, String)] = [
        block("169.254.169.254/32", "cloud metadata"),
        block("255.255.255.255/32", "broadcast"),
        block("0.0.0.0/8", "unspecified (0.0.0.0/8)"),
        block("10.0.0.0/8", "private (RFC 1918)"),
        block("100.64.0.0/10", "CGNAT (100.64.0.0/10)"),
        block("127.0.0.0/8", "loopback"),
        block("169.254.0.0/16", "link-local"),
        block("172.16.0.0/12", "private (RFC 1918)"),
        block("192.0.0.0/24", "IETF protocol assignments"),
        block("192.0.2.0/24", "documentation"),
        block("192.168.0.0/16", "private (RFC 1918)"),
        block("198.18.0.0/15", "benchmarking"),
        block("198.51.100.0/24", "documentation"),
        block("203.0.113.0/24", "documentation"),
        block("224.0.0.0/4", "multicast"),
        block("240.0.0.0/4", "reserved"),
    ]

    private static let v6Blocks: [(CIDR, String)] = [
        block("fd00:ec2::254/128", "cloud metadata"),
        block("::/128", "unspecified (::)"),
        block("::1/128", "loopback"),
        block("::/96", "IPv4-compatible"),
        block("100::/64", "discard"),
        block("2001:db8::/32", "documentation"),
        block("fc00::/7", "unique local (fc00::/7)"),
        block("fe80::/10", "link-local"),
        block("fec0::/10", "site-local"),
        block("ff00::/8", "multicast"),
    ]
}

public import CordonPolicy
/// Which names the DNS stub handed out an address for: how a transparent flow's destination
/// address is tied back to a name (and an address never handed out is an IP-literal attempt).
public protocol NameLookup: Sendable {
    func names(for address: IPAddress) -> [String]
    /// The address a flow to `address` is dialled to (differs for stand-ins of loopback addresses).
    func dialAddress(for address: IPAddress) -> IPAddress
}

extension NameLookup {
    public func dialAddress(for address: IPAddress) -> IPAddress { address }
}

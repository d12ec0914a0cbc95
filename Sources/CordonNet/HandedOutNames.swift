public import CordonPolicy
import Synchronization

/// Which addresses the stub gave out for which names: the `NameLookup` transparent flows use.
///
/// With `standIns`, an address that means something else inside the sandbox (loopback: the
/// sandbox's own `lo`) is handed out as a stand-in from 198.18.0.0/15 (RFC 2544, never routed),
/// and a flow to the stand-in is dialled to the real address.
public final class HandedOutNames: NameLookup, Sendable {
    private struct Table {
        var names: [IPAddress: [String]] = [:]
        /// Per name and real address: two names on one loopback address get two stand-ins, so a
        /// flow's stand-in names exactly one host.
        var standIns: [String: IPAddress] = [:]
        var real: [IPAddress: IPAddress] = [:]
        var next: UInt32 = 1
    }

    private let table = Mutex(Table())
    public let usesStandIns: Bool
    static let standInBase: UInt32 = 0xC612_0000  // 198.18.0.0
    static let standInCount: UInt32 = 1 << 17

    public init(standIns: Bool = false) { self.usesStandIns = standIns }

    /// Records that `name` resolved to `addresses`; returns the addresses to give the sandbox.
    @discardableResult
    public func record(_ name: String, _ addresses: [IPAddress]) -> [IPAddress] {
        table.withLock { table in
            addresses.map { real in
                var handed = real
                if usesStandIns, Self.needsStandIn(real) {
                    let key = name + "|" + real.description
                    if let known = table.standIns[key] {
                        handed = known
                    } else if table.next < Self.standInCount {
                        handed = .v4(Self.standInBase + table.next)
                        table.next += 1
                        table.standIns[key] = handed
                        table.real[handed] = real
                    }
                }
                if !(table.names[handed]?.contains(name) ?? false) { table.names[handed, default: []].append(name) }
                return handed
            }
        }
    }

    public func names(for address: IPAddress) -> [String] { table.withLock { $0.names[address] ?? [] } }

    /// Where a flow to a handed-out address is dialled: the real address behind a stand-in.
    public func dialAddress(for address: IPAddress) -> IPAddress { table.withLock { $0.real[address] ?? address } }

    static func needsStandIn(_ address: IPAddress) -> Bool {
        switch address {
        case .v4(let v): return v >> 24 == 127
        case .v6: return address == IPAddress("::1")
        }
    }
}

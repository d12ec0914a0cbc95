public import CordonPolicy
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Host-side name resolution: A and AAAA addresses of a name.
public protocol Resolver: Sendable {
    func resolve(_ name: String) async throws -> [IPAddress]
}

/// `getaddrinfo` on threads of its own: neither the event loops nor Swift's cooperative pool
/// (as many threads as cores) ever wait for a slow name server, so a few stuck lookups cannot
/// stall every other connection's decision.
public struct SystemResolver: Resolver {
    public init() {}

    /// Started on the first lookup; a sandbox that never resolves a name has no such threads.
    static let lookupThreads: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        return pool
    }()

    public func resolve(_ name: String) async throws -> [IPAddress] {
        try await Self.lookupThreads.runIfActive { try SystemResolver.lookup(name) }
    }

    public struct LookupError: Error, CustomStringConvertible {
        public var name: String
        public var code: Int32
        public var description: String { "cannot resolve \(name): \(String(cString: gai_strerror(code)))" }
    }

    static func lookup(_ name: String) throws -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(name, nil, &hints, &result)
        guard code == 0 else { throw LookupError(name: name, code: code) }
        defer { freeaddrinfo(result) }
        var addresses: [IPAddress] = []
        var cursor = result
        while let info = cursor {
            if let raw = info.pointee.ai_addr {
                if info.pointee.ai_family == AF_INET {
                    // sockaddr_in: family (2), port (2), then the 4 address bytes.
                    let bytes = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(raw), count: 8)[4..<8])
                    if let address = IPAddress(bytes: bytes) { addresses.append(address) }
                } else if info.pointee.ai_family == AF_INET6 {
                    // sockaddr_in6: family (2), port (2), flowinfo (4), then the 16 address bytes.
                    let bytes = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(raw), count: 24)[8..<24])
                    if let address = IPAddress(bytes: bytes) { addresses.append(address) }
                }
            }
            cursor = info.pointee.ai_next
        }
        var seen = Set<IPAddress>()
        return addresses.filter { seen.insert($0).inserted }
    }
}

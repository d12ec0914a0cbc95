// Domain patterns, hosts, IP addresses and CIDRs (CordonPolicy): the one egress grammar. The
// first byte picks the pattern options; the rest is the text.
import CordonPolicy
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let options = input.first else { return 0 }
    let text = String(decoding: input.dropFirst(), as: UTF8.self)
    let allowAny = options & 1 != 0
    let broad = options & 2 != 0

    // A pattern re-rendered parses to the same pattern; problem() agrees with parse().
    let parsed = DomainPattern.parse(text, allowAny: allowAny, broadWildcards: broad)
    invariant(
        (DomainPattern.problem(text, allowAny: allowAny, broadWildcards: broad) == nil) == ((try? parsed.get()) != nil),
        "problem() and parse() disagree on \(text.debugDescription)")
    if case .success(let pattern) = parsed {
        // `description` leaves an IPv6 address without a port unbracketed (for display); the
        // written form brackets it.
        var written = pattern.description
        if case .address(let address) = pattern.host, pattern.port == nil { written = address.hostLiteral }
        let again = DomainPattern.parse(written, allowAny: allowAny, broadWildcards: broad)
        invariant((try? again.get()) == pattern, "pattern \(text.debugDescription) -> \(pattern) re-parses as \(again)")
        invariant(pattern.matchesName(pattern.host) || pattern.kind != .exact, "exact pattern \(pattern) does not match its own host")
        if pattern.allowGrammarProblem == nil {
            invariant(DomainPattern.problem(written) == nil, "allow grammar admits \(pattern) but the default parse refuses it")
        }
    }

    // Host: the fast ASCII path (init) and parse agree; a host re-parses to itself.
    let host = Host(text)
    let hostParsed = try? Host.parse(text).get()
    invariant(host == hostParsed, "Host(\(text.debugDescription)) = \(String(describing: host)) but Host.parse = \(String(describing: hostParsed))")
    if let host {
        invariant(Host(host.description) == host, "host \(text.debugDescription) -> \(host) re-parses as \(String(describing: Host(host.description)))")
        if let address = host.address {
            invariant(Host(address.hostLiteral) == host, "address host \(host) from its literal \(address.hostLiteral)")
        }
    }

    // Addresses: parse and init agree; the text form and the bytes round-trip.
    let address = IPAddress(text)
    if let address {
        invariant(IPAddress(address.description) == address, "address \(text.debugDescription) -> \(address) does not re-parse")
        invariant(IPAddress(bytes: address.bytes) == address, "address \(address) bytes round trip")
    }
    if let lenient = IPAddress(lenientLiteral: text) {
        invariant(IPAddress(lenient.description) == lenient, "lenient address \(text.debugDescription) -> \(lenient) does not re-parse")
    }
    if input.count == 5 || input.count == 17, let fromBytes = IPAddress(bytes: Array(input.dropFirst())) {
        invariant(fromBytes.bytes == Array(input.dropFirst()), "bytes \(input) -> \(fromBytes) -> \(fromBytes.bytes)")
        invariant(IPAddress(fromBytes.description) == fromBytes, "address from bytes \(fromBytes) does not re-parse")
    }

    // CIDRs: init, parse and problem agree; the network contains its own address.
    let cidr = CIDR(text)
    invariant(cidr == (try? CIDR.parse(text).get()), "CIDR(\(text.debugDescription)) and CIDR.parse disagree")
    invariant((CIDR.problem(text) == nil) == (cidr != nil), "CIDR.problem and CIDR(\(text.debugDescription)) disagree")
    if let cidr {
        invariant(CIDR(cidr.description) == cidr, "CIDR \(text.debugDescription) -> \(cidr) does not re-parse")
        invariant(cidr.contains(cidr.address), "CIDR \(cidr) does not contain its own address")
    }
    _ = parseAuthority(text)
    return 0
}

runFuzzer(fuzz)

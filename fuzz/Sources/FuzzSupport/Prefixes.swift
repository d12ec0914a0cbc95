import CordonNet

/// `FirstBytes.inspect` on `input` and on its prefixes: a prefix that is decided (anything but
/// `.needMore`) must be decided as the whole is, since the gate decides on the first bytes that
/// arrive and a sender picks where its segments end.
public func checkPrefixes(_ input: [UInt8]) {
    let whole = FirstBytes.inspect(input)
    if case .http(_, let host?) = whole {
        invariant(!host.utf8.contains(0x0D) && !host.utf8.contains(0x0A), "Host with CR/LF: \(host.debugDescription)")
    }
    if case .tls(let name?) = whole {
        invariant(!name.isEmpty && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }, "SNI not printable: \(name.debugDescription)")
    }
    // Every prefix for short inputs; a bounded sample for long ones.
    let step = max(1, input.count / 64)
    var cut = 0
    while cut < input.count {
        let early = FirstBytes.inspect(Array(input[..<cut]))
        if early != .needMore {
            invariant(early == whole, "the first \(cut) bytes are \(early) but all \(input.count) are \(whole)")
        }
        cut += step
    }
}

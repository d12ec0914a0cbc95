// The TLS ClientHello reader (SNI sniffing, FirstBytes). The input is a ClientHello body; it is
// wrapped in a handshake header and TLS records, split at a size the first byte picks: the SNI
// read must not depend on how the message is cut into records or segments.
import CordonNet
import FuzzSupport

func records(_ message: [UInt8], size: Int) -> [UInt8] {
    var out: [UInt8] = []
    var offset = 0
    repeat {
        let end = min(message.count, offset + size)
        let piece = message[offset..<end]
        out += [0x16, 0x03, 0x01, UInt8(piece.count >> 8), UInt8(piece.count & 0xFF)] + piece
        offset = end
    } while offset < message.count
    return out
}

func isTooLarge(_ verdict: FirstBytes) -> Bool {
    if case .malformed(let reason) = verdict { return reason.hasPrefix("TLS ClientHello larger than") }
    return false
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let first = input.first, input.count < 16_000 else { return 0 }
    let body = Array(input.dropFirst())
    let message = [0x01, UInt8(body.count >> 16 & 0xFF), UInt8(body.count >> 8 & 0xFF), UInt8(body.count & 0xFF)] + body
    let one = records(message, size: 16_384)
    let split = records(message, size: Int(first) + 1)
    let whole = FirstBytes.inspect(one)
    invariant(whole != .needMore, "a complete ClientHello in one record reads as needMore")
    let fragmented = FirstBytes.inspect(split)
    // Records that make the bytes outgrow the limit before the hello is whole: refused as too
    // large (a hello) or opaque (not one), never read differently.
    invariant(
        fragmented == whole || (split.count >= FirstBytes.limit && (fragmented == .other || isTooLarge(fragmented))),
        "one record: \(whole), records of \(Int(first) + 1) bytes: \(fragmented)")
    checkPrefixes(one)
    if split.count <= 4096 { checkPrefixes(split) }
    // The raw input as the first bytes of a flow, too.
    checkPrefixes(input)
    return 0
}

runFuzzer(fuzz)

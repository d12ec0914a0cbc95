// Chunked framing (BodyFraming via WireReadings): where a chunked body ends must not depend on
// how its bytes arrive; a body the encoder below writes is read whole.
import CordonNet
import FuzzSupport

let head = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked".utf8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let first = input.first else { return 0 }
    let body = Array(input.dropFirst())
    guard let whole = WireReadings.body(head: head, pieces: [body]) else {
        invariant(false, "the fixed chunked head does not parse")
        return 0
    }
    invariant(whole.used <= body.count, "used \(whole.used) of \(body.count) bytes")
    // Split into pieces of a size the first byte picks, and byte by byte for short bodies.
    let width = Int(first) + 1
    let pieces = stride(from: 0, to: body.count, by: width).map { Array(body[$0..<min(body.count, $0 + width)]) }
    let split = WireReadings.body(head: head, pieces: pieces)
    invariant(split == whole, "one piece: \(whole), pieces of \(width): \(String(describing: split))")
    if body.count <= 512 {
        let bytewise = WireReadings.body(head: head, pieces: body.map { [$0] })
        invariant(bytewise == whole, "one piece: \(whole), byte by byte: \(String(describing: bytewise))")
    }
    // The input's bytes as chunk data, framed correctly: read whole, and nothing after it.
    var encoded: [UInt8] = []
    for piece in pieces {
        encoded += Array(String(piece.count, radix: 16).utf8) + [0x0D, 0x0A] + piece + [0x0D, 0x0A]
    }
    encoded += Array("0\r\n\r\n".utf8)
    let framed = WireReadings.body(head: head, pieces: [encoded + Array("HTTP/1.1".utf8)])
    invariant(
        framed?.used == encoded.count && framed?.complete == true && framed?.closeDelimited == false,
        "a well-framed body of \(encoded.count) bytes reads as \(String(describing: framed))")
    return 0
}

runFuzzer(fuzz)

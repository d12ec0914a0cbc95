// HTTP response heads as the proxy relays them (ResponseHead via WireReadings). The head the
// client gets carries no hop-by-hop field of the origin's, and reads back with the same status
// and framing.
import CordonNet
import FuzzSupport

let hopByHop = ["connection", "keep-alive", "proxy-connection"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let reading = WireReadings.responseHead(input) else { return 0 }
    let relayed = reading.relayed
    invariant(relayed.count >= 4 && Array(relayed.suffix(4)) == [0x0D, 0x0A, 0x0D, 0x0A], "relayed head does not end in a blank line")
    let head = Array(relayed.dropLast(2))  // the last field line keeps its CRLF
    let lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n").dropLast()
    var connections = 0
    for line in lines.dropFirst() {
        let name = line.split(separator: ":", maxSplits: 1).first.map { $0.lowercased() } ?? ""
        if hopByHop.contains(name) {
            if name == "connection", line == "Connection: close", reading.isFinal {
                connections += 1
            } else {
                invariant(false, "relayed head keeps \(line.debugDescription)")
            }
        }
    }
    invariant(connections == (reading.isFinal ? 1 : 0), "relayed head has \(connections) Connection lines")
    guard let again = WireReadings.responseHead(Array(relayed.dropLast(4))) else {
        invariant(false, "relayed head \(String(decoding: relayed, as: UTF8.self).debugDescription) does not read back")
        return 0
    }
    invariant(again.status == reading.status, "status \(reading.status) reads back as \(again.status)")
    invariant(
        again.contentLength == reading.contentLength && again.chunked == reading.chunked && again.otherCoding == reading.otherCoding
            && again.conflictingLengths == reading.conflictingLengths,
        "framing \(reading) reads back as \(again)")
    return 0
}

runFuzzer(fuzz)

// SOCKS5 greeting and CONNECT request (SOCKS5Wire, as SOCKS5Handler reads them): a decided
// prefix is decided as the whole is; a request's length stays within the bytes.
import CordonNet
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard input.count <= 1024 else { return 0 }
    let greeting = SOCKS5Wire.greeting(input)
    let request = SOCKS5Wire.request(input)
    if case .methods(_, let length) = greeting { invariant(length <= input.count, "greeting length \(length) > \(input.count)") }
    if case .request(_, _, let port, let length) = request {
        invariant(length <= input.count && (0...65535).contains(port), "request length \(length), port \(port)")
    }
    for cut in 0..<input.count {
        let prefix = Array(input[..<cut])
        let early = SOCKS5Wire.greeting(prefix)
        if early != .needMore { invariant(early == greeting, "greeting: \(cut) bytes \(early), all \(greeting)") }
        let earlyRequest = SOCKS5Wire.request(prefix)
        if earlyRequest != .needMore { invariant(earlyRequest == request, "request: \(cut) bytes \(earlyRequest), all \(request)") }
    }
    // What follows a greeting is the request.
    if case .methods(_, let length) = greeting { _ = SOCKS5Wire.request(Array(input[length...])) }
    return 0
}

runFuzzer(fuzz)

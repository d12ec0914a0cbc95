// HTTP/1 request heads as the SNI/Host gate reads them (FirstBytes, with RequestHeadRules). The
// bytes arrive in pieces: once a prefix is decided, the whole must be decided the same way, or
// two segmentations of one request would be judged differently.
import CordonNet
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard input.count <= FirstBytes.limit else { return 0 }
    checkPrefixes(input)
    return 0
}

runFuzzer(fuzz)

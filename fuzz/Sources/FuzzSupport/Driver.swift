import CFuzzDriver

#if canImport(Glibc)
    import Glibc
#endif

/// Hands the process to libFuzzer with `callback` (each target's `LLVMFuzzerTestOneInput`) and
/// exits with its status. Call from the target's main.swift.
public func runFuzzer(_ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    let status = LLVMFuzzerRunDriver(&argc, &argv, callback)
    exit(status)
}

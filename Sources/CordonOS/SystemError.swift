#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which operation, on what, and errno. Converted to `CordonError` at
/// module boundaries.
public struct SystemError: Error, Sendable, CustomStringConvertible, Equatable {
    public var operation: String
    public var subject: String?
    public var errno: Int32

    public init(_ operation: String, _ subject: String? = nil, errno: Int32) {
        self.operation = operation
        self.subject = subject
        self.errno = errno
    }

    /// From a shim function's `-errno` return value.
    public init(_ operation: String, _ subject: String? = nil, returned value: Int32) {
        self.init(operation, subject, errno: -value)
    }

    public static func current(_ operation: String, _ subject: String? = nil) -> SystemError {
        SystemError(operation, subject, errno: Glibc.errno)
    }

    public var errnoText: String { String(cString: strerror(errno)) }

    public var description: String {
        if let subject { return "\(operation) \(subject): \(errnoText)" }
        return "\(operation): \(errnoText)"
    }
}

/// Runs a shim call that returns 0 or -errno.
@inline(__always)
public func check(_ operation: String, _ subject: String? = nil, _ result: Int32) throws(SystemError) {
    if result < 0 { throw SystemError(operation, subject, returned: result) }
}

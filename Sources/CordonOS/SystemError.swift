public import CordonCore

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

extension SystemError {
    /// The one way a failed call becomes the error a user reads: `message` (by default "cannot
    /// <operation> <subject>") with errno's text as the cause, so every site names what it did
    /// and to what, and none spells out `strerror` by hand.
    public func cordonError(_ code: CordonError.Code = .systemCall, _ message: String? = nil, hint: String? = nil) -> CordonError {
        CordonError(code, message ?? defaultMessage, hint: hint, cause: errnoText)
    }

    private var defaultMessage: String {
        if let subject { return "cannot \(operation) \(subject)" }
        return "cannot \(operation)"
    }
}

extension CordonError {
    /// `message` with errno's text as the cause: for a call whose errno is all there is to say.
    public init(_ code: Code, _ message: String, hint: String? = nil, errno: Int32) {
        self.init(code, message, hint: hint, cause: SystemError("", errno: errno).errnoText)
    }
}

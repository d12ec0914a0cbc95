/// Why cordon-init could not start the command: 127 when nothing by its name exists in the
/// sandbox, 126 when something does but cannot be run (a directory, a file that is not
/// executable, a path it may not search). init sends it on the error channel instead of a setup
/// error; the supervisor says it to the user, with what the host knows of the path, and returns
/// the status (the README's 126/127).
public struct LaunchFailure: Error, Sendable, Equatable {
    /// 126 or 127.
    public var status: Int32
    /// The command as given (`argv[0]`).
    public var command: String
    /// What was wrong, in words (`not found on the sandbox's PATH (…)`, `is a directory`, …).
    public var reason: String

    public static let notFound: Int32 = 127
    public static let cannotRun: Int32 = 126

    public init(status: Int32, command: String, reason: String) {
        self.status = status
        self.command = command
        self.reason = reason
    }

    /// The line a user reads (the host side may add a hint after it).
    public var message: String { "\(command): \(reason)" }

    /// Starts the report on the error channel; a setup error never does (they are text).
    static let marker: [UInt8] = Array("\u{1}cordon-launch-failure\n".utf8)

    /// `marker`, the status, the command and the reason, NUL-separated (argv holds no NUL).
    public var wireBytes: [UInt8] {
        Self.marker + Array("\(status)".utf8) + [0] + Array(command.utf8) + [0] + Array(reason.utf8)
    }

    /// The report in `bytes` (what the error channel held), or nil when they are not one.
    public init?(wireBytes bytes: [UInt8]) {
        guard bytes.count > Self.marker.count, Array(bytes.prefix(Self.marker.count)) == Self.marker else { return nil }
        let fields = bytes.dropFirst(Self.marker.count).split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3, let status = Int32(String(decoding: fields[0], as: UTF8.self)),
            status == Self.notFound || status == Self.cannotRun
        else { return nil }
        self.init(status: status, command: String(decoding: fields[1], as: UTF8.self), reason: String(decoding: fields[2], as: UTF8.self))
    }
}

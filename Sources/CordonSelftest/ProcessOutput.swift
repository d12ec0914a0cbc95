/// What one process left: its status and its output (hostile when it ran in a sandbox).
public struct ProcessOutput: Sendable, Equatable {
    /// Exit status (128 + N when killed by signal N).
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var timedOut = false

    public init(status: Int32, stdout: String, stderr: String, timedOut: Bool = false) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.timedOut = timedOut
    }

    /// stdout and stderr together, for looking for a marker.
    public var combined: String { stdout + "\n" + stderr }

    /// A short account for evidence: status and the first line of stderr, or of stdout when stderr
    /// is empty (raw: the report escapes).
    public var summary: String {
        let error = stderr.split(separator: "\n").first.map { String($0.prefix(160)) } ?? ""
        let out = stdout.split(separator: "\n").first.map { String($0.prefix(160)) } ?? ""
        return (timedOut ? "timed out" : "status \(status)") + (error.isEmpty ? "" : ", stderr: \(error)")
            + (out.isEmpty || !error.isEmpty ? "" : ", stdout: \(out)")
    }
}

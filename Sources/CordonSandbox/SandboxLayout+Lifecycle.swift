public import CordonCore

/// The files of a sandbox brought `up` (`cordon up`, `exec`, `down`, `start`, `logs`).
extension SandboxLayout {
    /// Where the detached supervisor serves `cordon exec` and `cordon down` while it runs.
    public var execSocket: String { directory + "/exec.sock" }
    /// The detached supervisor's stdout and stderr.
    public var supervisorLog: String { directory + "/supervisor.log" }
    /// How the sandbox was brought up: what `cordon start` runs again (`UpRecord`).
    public var upRecord: String { directory + "/up.json" }
}

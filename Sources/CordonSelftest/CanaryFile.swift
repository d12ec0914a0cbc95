import CordonOS
public import Glibc

/// A file on the host holding a random marker, outside every workspace: an attack that reads
/// it out brings the marker back; one that writes through to it changes it.
public struct CanaryFile: Sendable {
    public let path: String
    public let marker: String

    /// Writes a new canary at `path` (mode `mode`; directories made as needed).
    public init(_ environment: SelftestEnvironment, at path: String, mode: mode_t = 0o644) throws(SelftestFailure) {
        self.path = path
        self.marker = environment.marker()
        try environment.write(path, marker + "\n", mode: mode)
    }

    /// Puts the marker back (after a control wrote through to it).
    public func reset(_ environment: SelftestEnvironment) throws(SelftestFailure) {
        try environment.write(path, marker + "\n")
    }

    /// The file's content now ("" when it is gone or unreadable).
    public var content: String { (try? FileIO.readFile(path, limit: 1 << 20)).map { String(decoding: $0, as: UTF8.self) } ?? "" }

    /// Whether the file still holds exactly the marker.
    public var intact: Bool { content == marker + "\n" }

    /// The far-side observation of a write-through attempt: the host file changed or not.
    public func writeObservation(_ what: String, _ output: ProcessOutput) -> Observation {
        intact
            ? .failed("\(what): the host file \(path) is unchanged (\(output.summary))")
            : .succeeded("\(what): the host file \(path) changed")
    }

    /// The far-side observation of a read-out attempt: the marker came back or not.
    public func readObservation(_ what: String, _ output: ProcessOutput) -> Observation {
        Observation.markerSeen(marker, in: output, what: what)
    }
}

import CordonIsolation
import Testing

/// `cordon exec`'s messages: what the supervisor and init read from each other and from a client.
struct ExecWireTests {
    @Test func requestsAndRepliesRoundTrip() throws {
        let requests: [ExecWire.Request] = [
            .exec(id: 7, argv: ["sh", "-c", "echo é"], environment: ["A=1", "B="], directory: "/tmp", terminal: 5, windowSize: 24 << 16 | 80),
            .exec(id: 0, argv: ["true"], environment: [], directory: "", terminal: 0),
            .signal(id: 3, signal: 9),
            .stop,
        ]
        for request in requests { #expect(try ExecWire.decodeRequest(ExecWire.encode(request)) == request) }
        let replies: [ExecWire.Reply] = [
            .ready, .started(id: 1, pid: 42), .exited(id: 1, status: 130), .failed(id: 2, status: 127, message: "x: command not found"),
        ]
        for reply in replies { #expect(try ExecWire.decodeReply(ExecWire.encode(reply)) == reply) }
    }

    /// Garbage from a client (or a truncated message) is refused, never half-read.
    @Test func malformedMessagesAreRefused() {
        let good = ExecWire.encode(.exec(id: 1, argv: ["ls"], environment: [], directory: "", terminal: 0))
        for bad in [[], [9], Array(good.dropLast()), good + [0], [1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f]] as [[UInt8]] {
            #expect(throws: ExecWire.DecodeError.self) { try ExecWire.decodeRequest(bad) }
        }
        #expect(throws: ExecWire.DecodeError.self) { try ExecWire.decodeReply([4]) }
        var badTerminal = good
        badTerminal[badTerminal.count - 5] = 9  // the terminal byte, before the window size
        #expect(throws: ExecWire.DecodeError.self) { try ExecWire.decodeRequest(badTerminal) }
    }

    /// A request from a cordon that sent no window size (a sandbox upgraded while up) still runs.
    @Test func aRequestWithoutTheWindowSizeStillDecodes() throws {
        let full = ExecWire.encode(.exec(id: 1, argv: ["ls"], environment: [], directory: "", terminal: 1, windowSize: 5 << 16 | 7))
        #expect(try ExecWire.decodeRequest(full) == .exec(id: 1, argv: ["ls"], environment: [], directory: "", terminal: 1, windowSize: 5 << 16 | 7))
        #expect(try ExecWire.decodeRequest(Array(full.dropLast(4))) == .exec(id: 1, argv: ["ls"], environment: [], directory: "", terminal: 1))
    }

    @Test func framesCarryTheirLength() {
        let frame = ExecWire.frame([1, 2, 3])
        #expect(frame.count == 7)
        #expect(ExecWire.frameLength(frame) == 3)
    }

    /// `-e` variables replace the sandbox's own of the same name; the rest of its environment stays.
    @Test func extraVariablesReplaceTheSameKeys() {
        let merged = ExecWire.merged(["PATH=/bin", "HOME=/home/agent", "TERM=xterm"], ["HOME=/tmp", "NEW=1=2"])
        #expect(merged == ["PATH=/bin", "TERM=xterm", "HOME=/tmp", "NEW=1=2"])
    }
}

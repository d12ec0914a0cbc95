import CordonCore
import FoundationEssentials
import Testing

@testable import CordonNet

/// The control socket's wire format: `op` is a typed value in Swift and the same string on the
/// wire as before, and a line that is not a request is answered, never dropped.
@Suite struct ControlServerTests {
    @Test(arguments: [(ControlMessage.Op.approvals, #"{"op":"approvals"}"#), (.answer, #"{"op":"answer"}"#)])
    func opIsTheSameStringOnTheWire(op: ControlMessage.Op, wire: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(ControlMessage.Request(op: op)), as: UTF8.self) == wire)
        #expect(try JSONDecoder().decode(ControlMessage.Request.self, from: Data(wire.utf8)).op == op)
    }

    @Test func anUnknownOpIsNamedBack() {
        let response = ControlServer.handle(line: Array(#"{"op":"status"}"#.utf8), broker: ApprovalBroker())
        #expect(response == .init(ok: false, error: "unknown op status"))
    }

    @Test(arguments: ["", "not json", #"{"op":5}"#, #"{"host":"example.com"}"#])
    func aLineThatIsNoRequestIsRefused(line: String) {
        let response = ControlServer.handle(line: Array(line.utf8), broker: ApprovalBroker())
        #expect(response == .init(ok: false, error: "not a control request"))
    }

    @Test func anAnswerNeedsOnceAlwaysOrDeny() {
        let line = #"{"op":"answer","host":"example.com","answer":"sometimes"}"#
        #expect(ControlServer.handle(line: Array(line.utf8), broker: ApprovalBroker()) == .init(ok: false, error: "answer must be once, always or deny"))
    }

    @Test func listingPendingRequestsAnswersOk() {
        #expect(ControlServer.handle(line: Array(#"{"op":"approvals"}"#.utf8), broker: ApprovalBroker()) == .init(ok: true, pending: []))
    }
}

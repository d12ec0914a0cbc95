import CordonNet
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1)))
struct ApprovalBrokerTests {
    @Test func anAnswerReleasesEveryHeldFlowToThatHostOnly() async throws {
        let saved = Mutex<[String]>([])
        let broker = ApprovalBroker(persist: { host, port in saved.withLock { $0.append("\(host):\(port)") } })
        async let first = broker.decide(host: "example.com", port: 443)
        async let second = broker.decide(host: "example.com", port: 443)
        async let other = broker.decide(host: "api.example.com", port: 443)
        while broker.pending.count < 2 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(Set(broker.pending.map(\.host)) == ["example.com", "api.example.com"])
        #expect(broker.answer(host: "example.com", .allowAlways) == 1)
        #expect(await first == .allowAlways)
        #expect(await second == .allowAlways)
        // The subdomain is still waiting: an approval of example.com does not cover it.
        #expect(broker.pending.map(\.host) == ["api.example.com"])
        #expect(broker.answer(id: broker.pending[0].id, .deny))
        #expect(await other == .deny)
        #expect(saved.withLock { $0 } == ["example.com:443"])
        // Answers are kept for the run.
        #expect(await broker.decide(host: "example.com", port: 443) == .allowAlways)
        #expect(broker.preApproved(host: "api.example.com", port: 443) == .deny)
    }

    @Test func aCancelledRequestIsDeniedAndLeavesNothingPending() async throws {
        let broker = ApprovalBroker()
        let task = Task { await broker.decide(host: "slow.test", port: 80) }
        while broker.pending.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        task.cancel()
        #expect(await task.value == .deny)
        #expect(broker.pending.isEmpty)
    }

    @Test func anAnswerGivenAheadOfTimeApplies() async {
        let broker = ApprovalBroker()
        #expect(broker.answer(host: "ahead.test", .allowOnce) == 0)
        #expect(await broker.decide(host: "ahead.test", port: 443) == .allowOnce)
        #expect(broker.preApproved(host: "other.test", port: 443) == nil)
    }
}

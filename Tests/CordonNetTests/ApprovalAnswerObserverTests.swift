import CordonNet
import Synchronization
import Testing

/// Every answer given (by request, by host, ahead of time) reaches the answer observers (the audit
/// log's approval records); a request cancelled with its connection is no one's answer.
@Suite(.timeLimit(.minutes(1)))
struct ApprovalAnswerObserverTests {
    @Test func everyAnswerGivenIsObserved() async throws {
        let seen = Mutex<[String]>([])
        let broker = ApprovalBroker()
        broker.observeAnswers { host, port, answer in seen.withLock { $0.append("\(host) \(port.map(String.init) ?? "-") \(answer)") } }
        async let held = broker.decide(host: "held.test", port: 443)
        async let byID = broker.decide(host: "id.test", port: 8443)
        while broker.pending.count < 2 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(broker.answer(host: "held.test", .deny) == 1)
        let id = try #require(broker.pending.first { $0.host == "id.test" }?.id)
        #expect(broker.answer(id: id, .allowOnce))
        _ = broker.answer(host: "ahead.test", .allowAlways)
        #expect(await held == .deny)
        #expect(await byID == .allowOnce)
        let cancelled = Task { await broker.decide(host: "gone.test", port: 80) }
        while broker.pending.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        cancelled.cancel()
        _ = await cancelled.value
        #expect(seen.withLock { $0 } == ["held.test 443 deny", "id.test 8443 allowOnce", "ahead.test - allowAlways"])
    }
}

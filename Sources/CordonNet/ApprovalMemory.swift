import Synchronization

/// Approvals given during this run, by exact host and port: approving `example.com` does not
/// cover `api.example.com`.
final class ApprovalMemory: Sendable {
    private let granted = Mutex<[String: ApprovalAnswer]>([:])

    func answer(host: String, port: Int) -> ApprovalAnswer? { granted.withLock { $0["\(host):\(port)"] } }

    func remember(_ answer: ApprovalAnswer, host: String, port: Int) {
        granted.withLock { $0["\(host):\(port)"] = answer }
    }
}

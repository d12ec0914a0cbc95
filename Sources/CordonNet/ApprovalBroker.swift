import CordonPolicy
import CordonCore
import Synchronization

/// The approvals of one running sandbox: requests the proxy holds, answered from the terminal or
/// through the control socket (`cordon approvals`, `cordon allow`, `cordon deny`). Answers are
/// per exact host (`example.com` does not cover `api.example.com`); an answer given before a
/// request is kept for the rest of the run.
public final class ApprovalBroker: ApprovalProvider, Sendable {
    public struct Request: Sendable, Equatable, Codable {
        public var id: Int
        public var host: String
        public var port: Int
        public var since: String
    }

    private struct Waiting {
        var request: Request
        var continuations: [CheckedContinuation<ApprovalAnswer, Never>]
    }

    private struct State {
        var nextID = 1
        var waiting: [Int: Waiting] = [:]
        var given: [String: ApprovalAnswer] = [:]
        var observers: [@Sendable (Request) -> Void] = []
        var answerObservers: [@Sendable (_ host: String, _ port: Int?, ApprovalAnswer) -> Void] = []
    }

    private let state = Mutex(State())
    /// Called for `allowAlways` answers (the profile's approval file).
    private let persist: @Sendable (_ host: String, _ port: Int) -> Void

    public init(persist: @escaping @Sendable (_ host: String, _ port: Int) -> Void = { _, _ in }) {
        self.persist = persist
    }

    /// Called with each new request (the terminal prompt, a notice on stderr).
    public func observe(_ observer: @escaping @Sendable (Request) -> Void) {
        state.withLock { $0.observers.append(observer) }
    }

    /// Called with each answer given, from the terminal or the control socket (the audit log);
    /// `port` is nil for an answer about a host nothing waits for yet.
    public func observeAnswers(_ observer: @escaping @Sendable (_ host: String, _ port: Int?, ApprovalAnswer) -> Void) {
        state.withLock { $0.answerObservers.append(observer) }
    }

    public var pending: [Request] { state.withLock { $0.waiting.values.map(\.request).sorted { $0.id < $1.id } } }

    public func isPending(_ id: Int) -> Bool { state.withLock { $0.waiting[id] != nil } }

    public func preApproved(host: String, port: Int) -> ApprovalAnswer? { state.withLock { $0.given[host] } }

    public func decide(host: String, port: Int) async -> ApprovalAnswer {
        if let known = preApproved(host: host, port: port) { return known }
        let id = state.withLock { state -> Int in
            defer { state.nextID += 1 }
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ApprovalAnswer, Never>) in
                let (observers, immediate) = state.withLock { state -> ([@Sendable (Request) -> Void], ApprovalAnswer?) in
                    if let known = state.given[host] { return ([], known) }
                    // One request per host: a second flow to it waits on the same answer.
                    if let existing = state.waiting.first(where: { $0.value.request.host == host && $0.value.request.port == port })?.key {
                        state.waiting[existing]?.continuations.append(continuation)
                        return ([], nil)
                    }
                    state.waiting[id] = Waiting(request: Request(id: id, host: host, port: port, since: WallClock.rfc3339()), continuations: [continuation])
                    return (state.observers, nil)
                }
                if let immediate { continuation.resume(returning: immediate); return }
                if Task.isCancelled { _ = resolve(id: id, .deny, remember: false); return }
                if let request = state.withLock({ $0.waiting[id]?.request }) { for observer in observers { observer(request) } }
            }
        } onCancel: {
            _ = resolve(id: id, .deny, remember: false)
        }
    }

    /// Answers the request `id`; false when it is no longer pending.
    @discardableResult
    public func answer(id: Int, _ answer: ApprovalAnswer) -> Bool {
        guard let request = state.withLock({ $0.waiting[id]?.request }) else { return false }
        if answer == .allowAlways { persist(request.host, request.port) }
        for observer in state.withLock({ $0.answerObservers }) { observer(request.host, request.port, answer) }
        return resolve(id: id, answer, remember: true)
    }

    /// Answers every pending request for `host` and keeps the answer for later requests of this
    /// run. Returns how many held connections it released.
    @discardableResult
    public func answer(host: String, _ answer: ApprovalAnswer) -> Int {
        let ids = state.withLock { state -> [Int] in
            state.given[host] = answer
            return state.waiting.filter { $0.value.request.host == host }.map(\.key)
        }
        let ports = Set(ids.compactMap { id in state.withLock { $0.waiting[id]?.request.port } })
        if answer == .allowAlways { for port in ports.isEmpty ? [443] : Array(ports) { persist(host, port) } }
        for observer in state.withLock({ $0.answerObservers }) { observer(host, ports.count == 1 ? ports.first : nil, answer) }
        return ids.reduce(0) { $0 + (resolve(id: $1, answer, remember: false) ? 1 : 0) }
    }

    private func resolve(id: Int, _ answer: ApprovalAnswer, remember: Bool) -> Bool {
        let waiting = state.withLock { state -> Waiting? in
            guard let waiting = state.waiting.removeValue(forKey: id) else { return nil }
            if remember { state.given[waiting.request.host] = answer }
            return waiting
        }
        guard let waiting else { return false }
        for continuation in waiting.continuations { continuation.resume(returning: answer) }
        return true
    }
}

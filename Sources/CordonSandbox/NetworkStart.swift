import CordonCore
import CordonNet
import CordonOS
import Glibc
import Synchronization

/// Starts a sandbox's egress proxy, then its control socket, from another thread (both then run
/// on NIO's event loops): the supervisor's thread meanwhile goes on supervising. The supervisor
/// calls it when the sandbox first uses the network (or the control socket gets a connection): a
/// run that never does never starts NIO. Until the proxy serves, the sandbox's connections wait
/// in the listeners' backlog; nothing goes around it.
final class NetworkStart: Sendable {
    /// What the start will serve, kept from `arm` until `start` or `stop`.
    private struct Armed: Sendable {
        var egress: SandboxEgress
        var listeners: SandboxEgress.Listeners
        var control: Int32?
        var onNetwork: @Sendable (String) -> Void
        var warn: @Sendable (String) -> Void

        var descriptors: [Int32] { [listeners.relay, listeners.proxy, listeners.dns, listeners.sink] + (control.map { [$0] } ?? []) }
    }

    private let armed = Mutex<Armed?>(nil)
    private let starting = Mutex<Background?>(nil)
    private let started = Mutex<(serving: Bool, control: ControlServer?)>((false, nil))

    /// Prepares the start. `control`: the control socket's descriptor, bound and listening (the
    /// server owns it from the start on). `onNetwork` gets why the proxy could not start (for the
    /// event log); `warn` what the user must know.
    func arm(
        egress: SandboxEgress, listeners: SandboxEgress.Listeners, control: Int32?,
        onNetwork: @escaping @Sendable (String) -> Void, warn: @escaping @Sendable (String) -> Void
    ) {
        armed.withLock { $0 = Armed(egress: egress, listeners: listeners, control: control, onNetwork: onNetwork, warn: warn) }
    }

    /// The descriptors to watch until the start: one becoming readable (a connection, a
    /// datagram) means the network is wanted. Empty once started, or when never armed.
    var wakeDescriptors: [Int32] { armed.withLock { $0?.descriptors ?? [] } }

    /// Starts serving what `arm` prepared, on another thread; later calls do nothing.
    func start() {
        guard
            let armed = armed.withLock({ armed in
                defer { armed = nil }; return armed
            })
        else { return }
        let job = Background { [self] () throws(CordonError) in
            let (egress, control, warn) = (armed.egress, armed.control, armed.warn)
            do {
                try egress.startBlocking(armed.listeners)
            } catch {
                if let control { close(control) }
                warn("cordon: the egress proxy could not start (\(error)); the sandbox has no network")
                armed.onNetwork("unavailable: proxy: \(error)")
                return
            }
            // The control socket (cordon approvals/allow/deny).
            guard let control else {
                self.started.withLock { $0 = (true, nil) }
                return
            }
            let server = ControlServer(broker: egress.approvals)
            do {
                try server.startBlocking(boundSocket: control)
                self.started.withLock { $0 = (true, server) }
            } catch {
                self.started.withLock { $0 = (true, nil) }
                warn("cordon: the control socket could not start (\(error)); approvals can only be answered here")
            }
        }
        starting.withLock { $0 = job }
    }

    /// Closes what was armed and never started; else waits for the start to finish, then stops
    /// the control socket and the proxy.
    func stop(egress: SandboxEgress?) {
        if let armed = armed.withLock({ armed in
            defer { armed = nil }; return armed
        }) {
            armed.descriptors.forEach { close($0) }
            return
        }
        try? starting.withLock { $0 }?.wait()
        let (serving, control) = started.withLock { ($0.serving, $0.control) }
        control?.stopBlocking()
        if serving { egress?.stopBlocking() }
    }
}

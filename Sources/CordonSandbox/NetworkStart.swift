import CordonCore
import CordonNet
import Synchronization

/// Starts a sandbox's egress proxy, then its control socket, from another thread (both then run
/// on NIO's event loops): the supervisor's thread meanwhile lets the sandbox start. Until the
/// proxy serves, the sandbox's connections wait in the listeners' backlog; nothing goes around it.
final class NetworkStart: Sendable {
    private let starting = Mutex<Background?>(nil)
    private let started = Mutex<(serving: Bool, control: ControlServer?)>((false, nil))

    /// `onNetwork` gets "proxied" or why not (for the event log); `warn` what the user must know.
    func start(
        egress: SandboxEgress, listeners: SandboxEgress.Listeners, controlSocket: String,
        onNetwork: @escaping @Sendable (String) -> Void, warn: @escaping @Sendable (String) -> Void
    ) {
        let job = Background { [self] () throws(CordonError) in
            do {
                try egress.startBlocking(listeners)
            } catch {
                warn("cordon: the egress proxy could not start (\(error)); the sandbox has no network")
                onNetwork("unavailable: proxy: \(error)")
                return
            }
            onNetwork("proxied")
            // The control socket (cordon approvals/allow/deny).
            let server = ControlServer(path: controlSocket, broker: egress.approvals)
            do {
                try server.startBlocking()
                self.started.withLock { $0 = (true, server) }
            } catch {
                self.started.withLock { $0 = (true, nil) }
                warn("cordon: the control socket could not start (\(error)); approvals can only be answered here")
            }
        }
        starting.withLock { $0 = job }
    }

    /// Waits for the start to finish, then stops the control socket and the proxy.
    func stop(egress: SandboxEgress?) {
        try? starting.withLock { $0 }?.wait()
        let (serving, control) = started.withLock { ($0.serving, $0.control) }
        control?.stopBlocking()
        if serving { egress?.stopBlocking() }
    }
}

import CordonCore
import CordonNet
import Glibc
import Synchronization

/// Starts a sandbox's egress proxy, then its control socket, from another thread (both then run
/// on NIO's event loops): the supervisor's thread meanwhile goes on supervising. The supervisor
/// calls it when the sandbox first uses the network (or the control socket gets a connection): a
/// run that never does never starts NIO. Until the proxy serves, the sandbox's connections wait
/// in the listeners' backlog; nothing goes around it.
final class NetworkStart: Sendable {
    private let starting = Mutex<Background?>(nil)
    private let started = Mutex<(serving: Bool, control: ControlServer?)>((false, nil))

    /// `control`: the control socket, bound and listening (the server owns it from here).
    /// `onNetwork` gets why the proxy could not start (for the event log); `warn` what the user
    /// must know.
    func start(
        egress: SandboxEgress, listeners: SandboxEgress.Listeners, control: (path: String, descriptor: Int32)?,
        onNetwork: @escaping @Sendable (String) -> Void, warn: @escaping @Sendable (String) -> Void
    ) {
        let job = Background { [self] () throws(CordonError) in
            do {
                try egress.startBlocking(listeners)
            } catch {
                if let control { close(control.descriptor) }
                warn("cordon: the egress proxy could not start (\(error)); the sandbox has no network")
                onNetwork("unavailable: proxy: \(error)")
                return
            }
            // The control socket (cordon approvals/allow/deny).
            guard let control else {
                self.started.withLock { $0 = (true, nil) }
                return
            }
            let server = ControlServer(path: control.path, broker: egress.approvals)
            do {
                try server.startBlocking(boundSocket: control.descriptor)
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

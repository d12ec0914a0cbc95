import CordonAudit
import CordonCore
import CordonOS
import Glibc

extension SandboxRunner {
    /// `cordon up`: serves `cordon port` on `<sandbox>/port.sock` (`PortService`). A sandbox whose
    /// service cannot start runs on without forwards, said in its log.
    func startPortService(sandbox: InitProcess, name: String, layout: SandboxLayout, audit: AuditLog?) -> PortService? {
        let service: PortService
        do throws(CordonError) {
            service = try PortService(
                name: name, layout: layout, initPID: sandbox.process.pid, initPidfd: sandbox.process.pidfd, audit: audit, log: PortService.log)
        } catch {
            warn("cordon: `cordon port` cannot forward into \(name): \(error)")
            return nil
        }
        guard service.start() else {
            service.stop()
            warn("cordon: `cordon port` cannot forward into \(name): no thread could be made")
            return nil
        }
        return service
    }
}

public import CordonCore
import CordonOS
import Glibc

/// The supervisor of a sandbox brought `up`: this same executable (`/proc/self/exe`) re-run as
/// the hidden `cordon __supervise` in a session of its own, one per sandbox, stdout and stderr
/// appended to `<sandbox>/supervisor.log`. It says on descriptor 3 when the sandbox is ready
/// (`ready`), or why it could not start (the error's text).
public enum DetachedSupervisor {
    /// The descriptor the supervisor reports readiness on.
    public static let readinessDescriptor: Int32 = 3
    /// What a ready supervisor writes there.
    public static let readyWord = "ready"

    /// Starts the supervisor with `arguments` (after `cordon __supervise`) and waits until it is
    /// ready; throws its error when it could not start the sandbox. Returns what it wrote to its
    /// log while starting (the warnings a run says on stderr: unsafe mode, network: host, …).
    /// `environment` is added to (over) this process's environment for the supervisor.
    public static func launch(arguments: [String], layout: SandboxLayout, name: String, environment: [String: String] = [:]) throws(CordonError)
        -> String
    {
        guard let executable = FileIO.readLink("/proc/self/exe") else {
            throw CordonError(.systemCall, "cannot find cordon's own executable (/proc/self/exe)")
        }
        do throws(SystemError) { try FileIO.makeDirectories(layout.directory, mode: 0o700) } catch {
            throw CordonError(.io, "cannot create the sandbox state directory \(layout.directory)", cause: error.description)
        }
        let log = open(layout.supervisorLog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard log >= 0 else { throw CordonError(.io, "cannot open \(layout.supervisorLog)", cause: String(cString: strerror(errno))) }
        defer { close(log) }
        var st = stat()
        let logStart = fstat(log, &st) == 0 ? st.st_size : 0
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard null >= 0 else { throw CordonError(.io, "cannot open /dev/null", cause: String(cString: strerror(errno))) }
        defer { close(null) }
        var ready: [Int32] = [-1, -1]
        do throws(SystemError) {
            let pair = try FileDescriptor.pipe()
            ready = [pair.first.take(), pair.second.take()]
        } catch {
            throw error.cordonError(.systemCall, "cannot make the supervisor's readiness pipe")
        }
        defer { close(ready[0]) }
        let pid: Int32
        do throws(CordonError) {
            pid = try DetachedSpawn.start(
                path: executable, arguments: ["cordon", "__supervise"] + arguments,
                environment: ProcessEnvironment.current.merging(environment) { _, given in given }.map { "\($0.key)=\($0.value)" },
                descriptors: [null, log, log, ready[1]])
        } catch {
            close(ready[1])
            throw error
        }
        close(ready[1])
        // Until the supervisor closes its end: "ready", or its error.
        let said = (try? FileIO.readAll(fd: ready[0], limit: 65536)) ?? []
        let text = String(decoding: said, as: UTF8.self)
        if text == readyWord {
            _ = pid
            let reader = open(layout.supervisorLog, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard reader >= 0 else { return "" }
            defer { close(reader) }
            guard lseek(reader, logStart, SEEK_SET) == logStart, let bytes = try? FileIO.readAll(fd: reader, limit: 1 << 20) else { return "" }
            return String(decoding: bytes, as: UTF8.self)
        }
        if text.isEmpty {
            throw CordonError(
                .sandboxSetup, "the supervisor of \(name) exited before the sandbox was ready", hint: "see `cordon logs \(name)`")
        }
        throw CordonError(.sandboxSetup, text)
    }

    /// In the supervisor: tells the waiting `up` that the sandbox serves (once). From here on it
    /// idles until asked for something, so the code that started it (profile, plan, mounts…) is
    /// unmapped: it stays in the page cache, shared, and faults back in if ever run; what the
    /// idle threads run comes back at once. An idle supervisor's RSS 18.5 → 11.2 MB.
    public static func reportReady() {
        let word = readyWord
        _ = word.withCString { write(readinessDescriptor, $0, strlen($0)) }
        retireReadiness()
        ProcessMemory.dropProgramText()
    }

    /// In the supervisor: tells the waiting `up` why the sandbox did not start.
    public static func reportFailure(_ error: any Error) {
        let text = "\(error)"
        _ = text.withCString { write(readinessDescriptor, $0, strlen($0)) }
        retireReadiness()
    }

    /// `up` hears EOF; the descriptor's number stays taken (by /dev/null), so a later report
    /// can never land in a file opened meanwhile.
    private static func retireReadiness() {
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        if null >= 0 {
            dup2(null, readinessDescriptor)
            _ = fcntl(readinessDescriptor, F_SETFD, FD_CLOEXEC)
            close(null)
        } else {
            close(readinessDescriptor)
        }
    }
}

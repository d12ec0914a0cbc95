import CordonOS
import Glibc

/// The attacks that try to put code into the host's kernel: a module (init_module,
/// finit_module; delete_module of a module the host has loaded) and a new kernel (kexec_load,
/// kexec_file_load). Nothing may ever be loaded, in the control least of all: each call is
/// given arguments the kernel refuses only AFTER its permission check (a file that is not a
/// module, a module name that is not loaded, an undefined kexec flag). So what separates a
/// call that was let through from one that was stopped is the kernel's answer: EPERM (seccomp,
/// or the kernel's own capability check: CAP_SYS_MODULE / CAP_SYS_BOOT in the initial user
/// namespace) against ENOEXEC, ENOENT, EINVAL… from the loader itself, which is only reached
/// past that check. The host reads those answers, and its own `/proc/modules` and
/// `/sys/kernel/kexec_*loaded` before and after (any change: the attack succeeded).
enum KernelLoadAttacks {
    static var all: [Attack] { [moduleLoad, kexec] }

    /// The kernel's answers that say the call never got past the permission check: EPERM, and
    /// ENOSYS (a kernel built without the facility has nothing to reach).
    static let refusals: Set<String> = ["EPERM", "ENOSYS"]

    /// The host's own view of what its kernel has loaded: the files' text, "absent" when the
    /// kernel has none of them.
    static func hostState(_ paths: [String]) -> String {
        paths.map { path in (try? FileIO.readFile(path, limit: 1 << 20)).map { String(decoding: $0, as: UTF8.self) } ?? "absent" }.joined(
            separator: "\n--\n")
    }

    /// The `answer NAME ERRNO` lines of a run; throws when the calls were not made at all.
    static func answers(_ output: ProcessOutput, _ what: String) throws(SelftestFailure) -> [(call: String, answer: String)] {
        let found = output.stdout.split(separator: "\n").compactMap { line -> (call: String, answer: String)? in
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == "answer" else { return nil }
            return (String(parts[1]), String(parts[2]))
        }
        guard !found.isEmpty else { throw SelftestFailure("\(what): the calls were not made (\(output.summary))") }
        return found
    }

    /// Runs `body` between two readings of the host's state at `paths`. Succeeded: the state
    /// changed, or a call got an answer from past the kernel's permission check.
    static func loadObservation(
        _ paths: [String], _ what: String, _ body: () throws(SelftestFailure) -> ProcessOutput
    ) throws(SelftestFailure) -> Observation {
        let before = hostState(paths)
        let output = try body()
        let after = hostState(paths)
        if after != before { return .succeeded("\(what): the host's \(paths.joined(separator: ", ")) changed") }
        let seen = try answers(output, what)
        let list = seen.map { "\($0.call) \($0.answer)" }.joined(separator: ", ")
        if seen.contains(where: { !refusals.contains($0.answer) }) {
            return .succeeded("\(what): the kernel's loader answered past its permission check (\(list))")
        }
        if seen.allSatisfy({ $0.answer == "ENOSYS" }) {
            // For a control (root on the host): the kernel is built without the facility.
            return .absent("\(what): every call got ENOSYS (\(list)): this kernel is built without it")
        }
        return .failed("\(what): every call refused (\(list)); the host's \(paths.joined(separator: ", ")) unchanged")
    }

    static let modules = "/proc/modules"
    /// A module name no kernel has loaded: delete_module of it gets ENOENT past the permission check.
    static let absentModule = "cordon_selftest_absent"

    /// A module the host has loaded and that is in use (a positive use count): delete_module
    /// with O_NONBLOCK of it cannot unload it even if let through. Nil when there is none.
    static func moduleInUse() -> String? {
        let text = (try? FileIO.readFile(modules, limit: 1 << 20)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return text.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count >= 3, let uses = Int(fields[2]), uses > 0 else { return nil }
            return String(fields[0])
        }.first
    }

    static let moduleLoad = Attack(
        id: "proc.module-load", category: .process,
        description:
            "load a kernel module (finit_module, init_module of a file) and unload one the host has loaded (delete_module)",
        defence: "seccomp denies init_module, finit_module and delete_module; no CAP_SYS_MODULE in the host's user namespace",
        control:
            "on the host as root, the same calls reach the module loader (a file that is not a module: ENOEXEC, an unloaded name: ENOENT, not EPERM)",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try ProcessAttacks.get(environment)
            let tool = Shell.quote(fixture.hostTool)
            // Never a loaded module's name here: root's delete_module would be let through.
            return try loadObservation([modules], "on the host") { () throws(SelftestFailure) in
                try environment.host("python3 \(tool) module \(tool) \(absentModule) 2>&1")
            }
        },
        runAttack: { (environment) throws(SelftestFailure) in
            _ = try ProcessAttacks.get(environment)
            let names = [absentModule] + (moduleInUse().map { [$0] } ?? [])
            return try loadObservation([modules], "sandbox") { () throws(SelftestFailure) in
                try environment.exec(
                    ProcessAttacks.sandbox,
                    "python3 \(ProcessAttacks.tool) module \(ProcessAttacks.tool) \(names.map(Shell.quote).joined(separator: " ")) 2>&1")
            }
        })

    static let kexecState = ["/sys/kernel/kexec_loaded", "/sys/kernel/kexec_crash_loaded"]

    static let kexec = Attack(
        id: "proc.kexec", category: .process,
        description: "load a new kernel to boot into (kexec_load, kexec_file_load)",
        defence: "seccomp denies kexec_load and kexec_file_load; no CAP_SYS_BOOT in the host's user namespace",
        control:
            "on the host as root, the same calls pass the permission check and are refused for their arguments (EINVAL, not EPERM); nothing is loaded",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try ProcessAttacks.get(environment)
            return try loadObservation(kexecState, "on the host") { () throws(SelftestFailure) in
                try environment.host("python3 \(Shell.quote(fixture.hostTool)) kexec 2>&1")
            }
        },
        runAttack: { (environment) throws(SelftestFailure) in
            _ = try ProcessAttacks.get(environment)
            return try loadObservation(kexecState, "sandbox") { () throws(SelftestFailure) in
                try environment.exec(ProcessAttacks.sandbox, "python3 \(ProcessAttacks.tool) kexec 2>&1")
            }
        })
}

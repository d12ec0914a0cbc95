// cordon-init: the single-threaded process that builds the sandbox from inside its new
// namespaces, then supervises the command as PID 1. No async runtime, no threads.
import CCordon
import CordonIsolation
import CordonOS
import Glibc

func fail(_ message: String) -> Never {
    let text = message + "\n"
    _ = text.withCString { write(SandboxPlan.errorDescriptor, $0, strlen($0)) }
    _exit(SandboxPlan.setupFailedStatus)
}

// Before anything else: never rebuild the root of a namespace that is not the sandbox's own.
if let problem = NamespaceCheck.problem() {
    let text = "cordon-init: \(problem)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    fail(problem)
}

// `cordon doctor`'s probe: the capture's rules in this throwaway namespace, exit status errno.
if CommandLine.arguments.dropFirst().first == CaptureInstaller.probeArgument {
    _exit(CaptureInstaller.probeRules())
}

let plan: SandboxPlan
// The plan's first byte carries the detached mounts the supervisor opened for it (none rootless).
// A sandbox brought `up` gets its exec channel after them.
var trees = [Int32](repeating: -1, count: SandboxPlan.maxTrees + 1)
var treeCount: Int32 = 0
do {
    var first: UInt8 = 0
    let got = trees.withUnsafeMutableBufferPointer { ccordon_recv_fds(SandboxPlan.planDescriptor, $0.baseAddress, Int32($0.count), &treeCount, &first, 1) }
    guard got == 1 else { fail("cannot read the sandbox plan: the supervisor sent nothing") }
    let bytes = try FileIO.readAll(fd: SandboxPlan.planDescriptor, limit: 16 * 1024 * 1024)
    close(SandboxPlan.planDescriptor)
    plan = try SandboxPlan(wireBytes: [first] + bytes)
} catch {
    fail("cannot read the sandbox plan: \(error)")
}

var execChannel: Int32 = -1
do {
    var received = Array(trees.prefix(Int(max(treeCount, 0))))
    if plan.idle, received.count == plan.trees.count + 1 { execChannel = received.removeLast() }
    guard received.count == plan.trees.count else { fail("the plan names \(plan.trees.count) mounts but \(received.count) came with it") }
    guard !plan.idle || execChannel >= 0 else { fail("the plan of a sandbox brought up came without its exec channel") }
    try PlanExecutor(plan: plan, trees: received).buildSandbox()
    received.forEach { close($0) }
} catch {
    fail("\(error)")
}

let supervisor = AgentSupervisor(plan: plan)
if plan.idle {
    close(SandboxPlan.errorDescriptor)
    supervisor.runIdle(channel: execChannel)
}
let executable: String
switch supervisor.resolveCommand() {
case .success(let path): executable = path
case .failure(let failure):
    // Said by the supervisor, which adds what the host knows of the path (found there?).
    let report = failure.wireBytes
    _ = report.withUnsafeBytes { write(SandboxPlan.errorDescriptor, $0.baseAddress, $0.count) }
    _exit(failure.status)
}
// Setup succeeded: closing the error channel tells the supervisor the command is starting.
close(SandboxPlan.errorDescriptor)
supervisor.run(executable: executable)

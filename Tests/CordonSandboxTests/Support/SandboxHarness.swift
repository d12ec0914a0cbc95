import CordonTestSupport
import Foundation
import Glibc
import Testing

/// Runs the real `cordon` binary (built next to the test bundle) in scratch directories.
struct SandboxHarness {
    let root: String
    var workspace: String { root + "/workspace" }
    var home: String { root + "/home" }
    var state: String { root + "/state" }

    init() throws {
        root = try TempTree.makeDirectory()
        for dir in [workspace, home, state] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
    }

    /// Directory holding the built products (cordon, cordon-init).
    static var productsDirectory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("cordon-init").path) && url.path != "/" {
            url = url.deletingLastPathComponent()
        }
        return url.path
    }

    static var cordon: String { productsDirectory + "/cordon" }

    /// Whether this host can create the namespaces a sandbox needs (else tests skip loudly).
    static let namespacesAvailable: Bool = {
        let result = try? runBlocking(["/usr/bin/unshare", "-Urmpf", "--mount-proc", "true"], environment: nil)
        return result?.status == 0
    }()

    static var isRoot: Bool { getuid() == 0 }

    typealias Result = ProcessResult

    func environment(extra: [String: String] = [:]) -> [String: String] {
        var env = ["HOME": home, "XDG_STATE_HOME": state, "XDG_CONFIG_HOME": root + "/config", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8"]
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// `cordon ARGS…` with the harness's HOME and state dirs.
    func cordon(_ arguments: [String], extraEnvironment: [String: String] = [:], stdin: String? = nil, timeout: Double = 120) async throws -> Result {
        try await Self.run([Self.cordon] + arguments, environment: environment(extra: extraEnvironment), directory: workspace, stdin: stdin, timeout: timeout)
    }

    /// `cordon run --name NAME [extra] -- sh -c SCRIPT`.
    func sandbox(_ script: String, name: String = "t", options: [String] = [], timeout: Double = 120) async throws -> Result {
        try await cordon(["run", "--name", name, "--workspace", workspace] + options + ["--", "/bin/sh", "-c", script], timeout: timeout)
    }

    func write(_ relative: String, _ contents: String, in base: String? = nil) throws {
        let path = (base ?? workspace) + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try contents.write(toFile: path, atomically: false, encoding: .utf8)
    }

    /// Takes down the sandboxes named (`cordon down`), then removes the scratch tree: on a thread
    /// of its own, since a `defer` cannot wait off the cooperative pool (see `PoolHold`).
    func cleanup(downing names: [String] = []) {
        let (root, environment, workspace) = (root, environment(), workspace)
        Thread.detachNewThread {
            for name in names {
                _ = try? Self.runBlocking([Self.cordon, "down", name], environment: environment, directory: workspace, timeout: 60)
            }
            _ = try? Self.runBlocking(["/bin/rm", "-rf", root], environment: nil)
        }
    }

    /// Says go on the FIFO at `path` once a command waits on it (opens it for writing without
    /// blocking: ENXIO until the reader has it open).
    static func signal(_ path: String) async throws {
        for _ in 0..<600 {
            let fd = open(path, O_WRONLY | O_NONBLOCK)
            if fd >= 0 {
                _ = Glibc.write(fd, "go\n", 3)
                close(fd)
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw POSIXError(.ETIMEDOUT)
    }

    /// Runs `body` on a thread of its own: waiting for a sandbox must not hold one of the few
    /// cooperative-pool threads that other suites' async code (the proxy, the DNS stub) needs.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await onOwnThread(body)
    }

    @discardableResult
    static func run(_ argv: [String], environment: [String: String]?, directory: String? = nil, stdin: String? = nil, timeout: Double = 120) async throws
        -> Result
    {
        try await ProcessRunner.run(argv, environment: environment, directory: directory, stdin: stdin, timeout: .seconds(timeout))
    }

    @discardableResult
    static func runBlocking(
        _ argv: [String], environment: [String: String]?, directory: String? = nil, stdin: String? = nil, timeout: Double = 120,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Result {
        try ProcessRunner.runBlocking(
            argv, environment: environment, directory: directory, stdin: stdin, timeout: .seconds(timeout), sourceLocation: sourceLocation)
    }
}

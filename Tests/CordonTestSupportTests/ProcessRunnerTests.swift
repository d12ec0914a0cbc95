import CordonTestSupport
import Foundation
import Glibc
import Testing

/// The one runner every test target uses: output and status captured, stdin fed while output is
/// read, and a run that outlives its timeout killed with everything it started.
@Suite(.timeLimit(.minutes(1)))
struct ProcessRunnerTests {
    @Test func outputAndStatusAreCaptured() async throws {
        let result = try await ProcessRunner.run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
        #expect(result.status == 3)
        #expect(result.stdout == "out\n")
        #expect(result.stderr == "err\n")
        #expect(!result.timedOut)
    }

    @Test func environmentAndDirectoryAreThoseGiven() async throws {
        let tree = try TempTree(prefix: "cordon-runner")
        let result = try await ProcessRunner.run(["/bin/sh", "-c", "echo \"$ONLY\" \"$HOME\"; pwd -P"], environment: ["ONLY": "x"], directory: tree.root)
        #expect(result.stdout == "x \n" + CordonTestSupportPaths.real(tree.root) + "\n")
    }

    /// 4 MiB through `cat`: input written while output is read, or both sides would block.
    @Test func largeInputAndOutputDoNotDeadlock() async throws {
        let input = String(repeating: "0123456789abcdef", count: 4 << 16)
        let result = try await ProcessRunner.run(["/bin/cat"], stdin: input, timeout: .seconds(30))
        #expect(!result.timedOut)
        #expect(result.stdout.utf8.count == input.utf8.count)
        #expect(result.stdout == input)
    }

    /// A child that exits without reading its input does not hang or kill the test process (EPIPE).
    @Test func inputNobodyReadsIsDropped() async throws {
        let result = try await ProcessRunner.run(["/bin/true"], stdin: String(repeating: "x", count: 1 << 20), timeout: .seconds(30))
        #expect(result.status == 0)
        #expect(!result.timedOut)
    }

    /// The timeout kills the process group: a background grandchild holding the output pipe open
    /// does not keep the run (or the suite) waiting, and does not outlive it.
    @Test func aTimeoutKillsTheWholeProcessGroup() async throws {
        let result = try await ProcessRunner.run(["/bin/sh", "-c", "sleep 300 & echo $!; wait"], timeout: .seconds(1))
        #expect(result.timedOut)
        #expect(result.status == SIGKILL)
        let grandchild = try #require(pid_t(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let deadline = ContinuousClock.now + .seconds(20)
        while CordonTestSupportPaths.isAlive(grandchild) && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!CordonTestSupportPaths.isAlive(grandchild), "the grandchild \(grandchild) outlived the timeout")
    }

    @Test func aServerIsReadLineByLineAndStoppedWithItsGroup() async throws {
        let server = try RunningProcess(["/bin/sh", "-c", "echo 4242; echo second; exec sleep 300"], discardStderr: true)
        #expect(try await server.readLine() == "4242")
        #expect(try await server.readLine() == "second")
        #expect(server.isRunning)
        await #expect(throws: TestSupportError.self) { try await server.readLine(timeout: .milliseconds(100)) }
        server.signal(SIGKILL, group: true)
        #expect(await server.waitForExit(timeout: .seconds(20)) == SIGKILL)
        #expect(!server.isRunning)
    }

    /// A long blocking wait from a task (so on a cooperative-pool thread) is recorded against the
    /// test, and still done (a probe behind `try?` must not quietly change its answer); the same
    /// wait on a thread of its own, or a brief one, is not recorded.
    @Test func aLongBlockingWaitOnThePoolIsRecorded() async throws {
        var outcomes: [String] = []
        withKnownIssue {
            let ran = try? ProcessRunner.runBlocking(["/bin/sh", "-c", "echo ran"], timeout: .seconds(60))
            outcomes.append(ran?.stdout ?? "nothing")
            let server = try? RunningProcess(["/bin/sh", "-c", "echo up; exit 3"], discardStderr: true)
            outcomes.append((try? server?.readLine(timeout: .seconds(30))) ?? "no line")
            outcomes.append(String(describing: (try? server?.waitForExit(timeout: .seconds(30))) ?? nil))
            outcomes.append(String((try? server?.finishBlocking(timeout: .seconds(30)))?.status ?? -1))
        } matching: { issue in
            issue.comments.contains { $0.rawValue.contains("holds a cooperative-pool thread") }
        }
        #expect(outcomes == ["ran\n", "up", "Optional(3)", "3"])
        let server = try RunningProcess(["/bin/sh", "-c", "echo up; exec sleep 300"], discardStderr: true)
        defer { server.killInBackground() }
        let briefLine: () throws -> String = { try server.readLine(timeout: .seconds(5)) }
        #expect(try briefLine() == "up")
        #expect(try ProcessRunner.runBlocking(["/bin/true"], timeout: .seconds(5)).status == 0)
        #expect(try await onOwnThread { try ProcessRunner.runBlocking(["/bin/true"], timeout: .seconds(60)) }.status == 0)
    }

    @Test func aRelativeProgramIsRefused() async {
        await #expect(throws: TestSupportError.self) { try await ProcessRunner.run(["sh", "-c", "true"]) }
        await #expect(throws: TestSupportError.self) { try await ProcessRunner.run([]) }
        await #expect(throws: TestSupportError.self) { try await ProcessRunner.run(["/nonexistent/program"]) }
    }
}

enum CordonTestSupportPaths {
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    static func real(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Alive and not a zombie waiting to be reaped.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[close...].hasPrefix(") Z")
    }
}

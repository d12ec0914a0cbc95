import CordonTestSupport
import Foundation
import Glibc
import Testing

/// The real suite, end to end: on this host every filesystem and leak attack must hold, with
/// its control succeeding, and nothing may be left behind. Needs root and user namespaces (as
/// the other sandbox suites); skipped, saying why, elsewhere.
@Suite(
    .enabled(if: SelftestHost.sandboxesAvailable, "needs root and user namespaces (cordon selftest starts real sandboxes)"),
    .timeLimit(.minutes(15)))
struct SelftestIntegrationTests {
    @Test func filesystemAndLeaksHoldAndLeaveNothing() async throws {
        let run = try await SelftestCategoryRun.run("filesystem,leaks", minimum: 16)
        // Nothing left: the run's temporary root (named in the evidence) gone, no loop device over
        // its image, no process naming it, the user's HOME untouched.
        let root = try #require(run.stdout.firstMatch(of: /\/tmp\/cordon-selftest-[A-Za-z0-9]{6}/).map { String($0.output) })
        #expect(!FileManager.default.fileExists(atPath: root))
        let loops = try await ProcessRunner.run(["/usr/sbin/losetup", "-a"], timeout: .seconds(30))
        #expect(!loops.stdout.contains(root), "\(loops.stdout)")
        let left = try FileManager.default.contentsOfDirectory(atPath: "/proc").filter { $0.allSatisfy(\.isNumber) }.filter { pid in
            let line = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))).map { String(decoding: $0, as: UTF8.self) } ?? ""
            return line.contains(root)
        }
        #expect(left.isEmpty, "processes left naming \(root): \(left)")
    }
}

/// Whether this host can run the suite's sandboxes (else the suite is skipped, saying why).
enum SelftestHost {
    static let sandboxesAvailable: Bool = {
        guard getuid() == 0 else { return false }
        let result = try? ProcessRunner.runBlocking(["/usr/bin/unshare", "-Urmpf", "--mount-proc", "true"], timeout: .seconds(10))
        return result?.status == 0
    }()
}

import CordonTestSupport
import Foundation
import Testing

@testable import CordonSelftest

/// How the kernel-loading attacks judge a run: the kernel's answer to each call (EPERM or
/// ENOSYS: stopped before the loader; anything else: past the permission check) and the host's
/// own state before and after. Runs on any host: the answers are given, not made.
@Suite struct KernelLoadJudgementTests {
    static func output(_ lines: [String]) -> ProcessOutput {
        ProcessOutput(status: 0, stdout: lines.joined(separator: "\n") + "\n", stderr: "")
    }

    @Test func anAnswerFromTheLoaderIsASuccess() throws {
        let seen = try KernelLoadAttacks.loadObservation(["/nonexistent/modules"], "run") { () throws(SelftestFailure) in
            Self.output(["answer finit_module ENOEXEC", "answer init_module EPERM", "answer delete_module ENOENT"])
        }
        #expect(seen.succeeded, "\(seen.evidence)")
        #expect(seen.evidence.contains("finit_module ENOEXEC"))
    }

    @Test func refusalsOnlyAreAFailure() throws {
        let refused = try KernelLoadAttacks.loadObservation(["/nonexistent/modules"], "run") { () throws(SelftestFailure) in
            Self.output(["answer kexec_load EPERM", "answer kexec_file_load EPERM"])
        }
        #expect(!refused.succeeded)
        let absent = try KernelLoadAttacks.loadObservation(["/nonexistent/modules"], "run") { () throws(SelftestFailure) in
            Self.output(["answer kexec_load ENOSYS", "answer kexec_file_load ENOSYS"])
        }
        #expect(!absent.succeeded)
        #expect(absent.featureAbsent)
        #expect(!refused.featureAbsent)
        #expect(absent.evidence.contains("built without"), "\(absent.evidence)")
    }

    @Test func aChangedHostStateIsASuccessWhateverTheAnswers() throws {
        let tree = try TempTree()
        let path = tree.path("modules")
        try "a 1 0 - Live\n".write(toFile: path, atomically: true, encoding: .utf8)
        let seen = try KernelLoadAttacks.loadObservation([path], "run") { () throws(SelftestFailure) in
            try? "a 1 0 - Live\nb 1 0 - Live\n".write(toFile: path, atomically: true, encoding: .utf8)
            return Self.output(["answer finit_module EPERM"])
        }
        #expect(seen.succeeded, "\(seen.evidence)")
    }

    @Test func aRunThatMadeNoCallProvesNothing() {
        #expect(throws: SelftestFailure.self) {
            try KernelLoadAttacks.loadObservation(["/nonexistent/modules"], "run") { () throws(SelftestFailure) in
                Self.output(["Traceback (most recent call last):", "answer", "answer a b c"])
            }
        }
    }

    @Test func theCatalogueHasTheAttacks() {
        let ids = Set(AttackCatalogue.all.map(\.id))
        for id in ["proc.module-load", "proc.kexec", "res.fd-exhaustion", "net.self-approval"] { #expect(ids.contains(id), "\(id)") }
    }
}

import CordonCore
@testable import CordonFS
import CordonGate
import Testing

/// `--author` is read strictly, and paths in the default message are quoted as git quotes them.
struct GitIdentityTests {
    @Test func aWellFormedIdentityIsKeptAsWritten() throws {
        #expect(try GitIdentity.parse("Jane Doe <jane@example.com>") == GitIdentity(name: "Jane Doe", email: "jane@example.com"))
        #expect(try GitIdentity.parse("Ünïcode Näme <u@x>").name == "Ünïcode Näme")
        #expect(GitIdentity.fallback.description == "cordon <cordon@localhost>")
    }

    @Test(arguments: [
        "", "nobody", "<a@b>", " <a@b>", "Name<a@b>", "Name <a@b> trailing", "Name <>", "Name <a b@c>", "Na<me <a@b>", "Name <a>b@c>",
        "Name\nInjected: x <a@b>", "Name <a@b\n>", " Name <a@b>", "Name  <a@b>",
    ])
    func anythingElseIsRefusedWithTheFormToUse(_ text: String) {
        #expect(throws: CordonError.self) { try GitIdentity.parse(text) }
        do {
            _ = try GitIdentity.parse(text)
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.hint?.contains("Jane Doe <jane@example.com>") == true)
        }
    }

    @Test func pathsAreQuotedAsGitQuotesThem() {
        #expect(GitRepository.quoted(Array("plain/path.txt".utf8)) == "plain/path.txt")
        #expect(GitRepository.quoted(Array("-x".utf8)) == "-x")
        #expect(GitRepository.quoted(Array("new\nline".utf8)) == #""new\nline""#)
        #expect(GitRepository.quoted(Array("qu\"ote".utf8)) == #""qu\"ote""#)
        #expect(GitRepository.quoted(Array("back\\slash".utf8)) == #""back\\slash""#)
        #expect(GitRepository.quoted(Array("tab\there".utf8)) == #""tab\there""#)
        #expect(GitRepository.quoted(Array("é".utf8)) == #""\303\251""#)
        #expect(GitRepository.quoted([0x62, 0xff, 0x01]) == #""b\377\001""#)
    }

    @Test func theDefaultMessageIsBounded() {
        let changes = (0..<250).map { Change(kind: .added, path: "f\($0)", type: .file) } + [Change(kind: .dirAdded, path: "d", type: .directory)]
        let message = GitBranchCommit.defaultMessage(sandbox: "agent", profile: "default", changes: changes, prefix: "sub/")
        let lines = message.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "cordon: changes from sandbox agent (profile default)")
        #expect(lines[1] == "")
        #expect(lines[2] == "A\tsub/f0")
        #expect(message.contains("… and 150 more\n"))
        #expect(!message.contains("\td\n"))
        #expect(lines.count == 2 + 100 + 1 + 1)
    }
}

import CordonCore
@testable import CordonFS
import CordonGate
import CordonTestSupport
import Foundation
import Testing

/// `GitBranchCommit` against a real repository: the new ref is created only where none exists,
/// even when one appears between the check and the commit.
@Suite(.timeLimit(.minutes(1)))
struct GitBranchCommitTests {
    static func git(_ directory: String, _ arguments: [String]) async throws -> String {
        let env = ["PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1", "HOME": directory]
        let r = try await ProcessRunner.run(["/usr/bin/git", "-C", directory] + arguments, environment: env)
        #expect(r.status == 0, "git \(arguments): \(r.stderr)")
        return r.stdout.trimmingCharacters(in: .newlines)
    }

    /// A repository with one commit, and a tree of contents beside it holding `a.txt`.
    static func setUp() async throws -> (TempTree, String, String) {
        let tree = try TempTree()
        let repo = tree.path("repo")
        tree.mkdir("repo")
        tree.write("repo/README", "hi\n")
        tree.mkdir("contents")
        tree.write("contents/a.txt", "a\n")
        _ = try await git(repo, ["init", "-q", "-b", "main"])
        _ = try await git(repo, ["add", "README"])
        _ = try await git(repo, ["-c", "user.name=T", "-c", "user.email=t@x", "commit", "-q", "-m", "one"])
        return (tree, repo, tree.path("contents"))
    }

    @Test func aBranchMadeAfterTheCheckWinsAndIsNotMoved() async throws {
        let (tree, repo, contents) = try await Self.setUp()
        _ = tree
        let repository = try GitRepository.open(workspace: repo, hostEnvironment: ["PATH": "/usr/bin:/bin", "HOME": repo])
        try repository.checkNewBranch("late")
        // Another sandbox's sync (or the user) makes the branch meanwhile.
        _ = try await Self.git(repo, ["branch", "late"])
        let before = try await Self.git(repo, ["rev-parse", "late"])
        let change = Change(kind: .added, path: "a.txt", type: .file, size: 2, mode: 0o644)
        do {
            _ = try GitBranchCommit(repository: repository).commit(
                [change], contents: contents, branch: "late", message: "m\n", author: .fallback, committer: .fallback, reflog: "test")
            Issue.record("the commit moved an existing branch")
        } catch {
            #expect(error.code == .alreadyExists, "\(error)")
        }
        #expect(try await Self.git(repo, ["rev-parse", "late"]) == before)
    }

    @Test func directoriesAloneMakeNoCommit() async throws {
        let (tree, repo, contents) = try await Self.setUp()
        _ = tree
        let repository = try GitRepository.open(workspace: repo, hostEnvironment: ["PATH": "/usr/bin:/bin", "HOME": repo])
        let made = try GitBranchCommit(repository: repository).commit(
            [Change(kind: .dirAdded, path: "empty", type: .directory, mode: 0o755)], contents: contents, branch: "dirs", message: "m\n",
            author: .fallback, committer: .fallback, reflog: "test")
        #expect(made == nil)
        #expect(
            try await ProcessRunner.run(["/usr/bin/git", "-C", repo, "rev-parse", "--verify", "--quiet", "refs/heads/dirs"], environment: [:]).status != 0)
    }
}

import CordonCore
import CordonFS
import CordonGate

/// `cordon sync NAME --branch B`: where the changes go instead of the working tree, a new branch
/// of the git repository holding the workspace, and who commits them. Everything that can be
/// refused (no repository, a bare one, a bad or taken branch name, a malformed `--author`) is
/// refused here, before the gate runs and before anything is made.
struct BranchTarget {
    var branch: String
    var repository: GitRepository
    var author: GitIdentity
    var committer: GitIdentity
    var message: String?

    static func open(branch: String, author: String?, message: String?, record: SandboxRecord) throws(CordonError) -> BranchTarget {
        let repository = try GitRepository.open(workspace: record.workspace, hostEnvironment: ProcessEnvironment.current)
        try repository.checkNewBranch(branch)
        let committer = try repository.configuredIdentity() ?? .fallback
        let parsed = try author.map { text throws(CordonError) in try GitIdentity.parse(text) }
        return BranchTarget(branch: branch, repository: repository, author: parsed ?? committer, committer: committer, message: message)
    }

    /// The workspace's target only: overlay mounts are other host directories, not part of the
    /// commit (their changes stay in their upper layers for a sync without --branch).
    static func workspaceOnly(_ targets: [SyncTarget], record: SandboxRecord) throws(CordonError) -> [SyncTarget] {
        guard let workspace = targets.first, workspace.mount == nil else {
            throw CordonError(
                .unsupported, "sandbox \(record.name) runs in unsafe mode: its workspace writes went straight to \(record.workspace)",
                hint: "there is no workspace change set to commit; sync its overlay mounts without --branch")
        }
        let mounts = targets.dropFirst().filter { (try? $0.changeSet().isEmpty) == false }.map(\.label)
        if !mounts.isEmpty {
            Console.note("--branch commits the workspace's changes only; \(mounts.joined(separator: ", ")) keep theirs (sync without --branch)")
        }
        return [workspace]
    }

    /// How the prompt and the outcome name the destination.
    var destination: String { "new branch \(TerminalText.escaped(branch)) of \(repository.topLevel)" }

    /// `changes` without the new files git ignores (they stay in the sandbox), and those.
    func splitIgnored(_ changes: [Change]) throws(CordonError) -> (commit: [Change], ignored: [String]) {
        let ignored = try GitBranchCommit(repository: repository).ignoredPaths(changes)
        guard !ignored.isEmpty else { return (changes, []) }
        return (changes.filter { !ignored.contains($0.path) }, changes.map(\.path).filter { ignored.contains($0) })
    }

    func commit(_ changes: [Change], contents: String, sandbox: String, profile: String) throws(CordonError) -> GitBranchCommit.Made? {
        let text = message ?? GitBranchCommit.defaultMessage(sandbox: sandbox, profile: profile, changes: changes, prefix: repository.prefix)
        return try GitBranchCommit(repository: repository).commit(
            changes, contents: contents, branch: branch, message: text.hasSuffix("\n") ? text : text + "\n", author: author, committer: committer,
            reflog: "cordon sync \(sandbox) --branch")
    }

    /// The note about new files git ignores: not committed, still in the sandbox.
    static func ignoredNote(_ ignored: [String], dryRun: Bool) -> String? {
        guard !ignored.isEmpty else { return nil }
        let shown = ignored.prefix(5).map { TerminalText.escaped($0) }.joined(separator: ", ") + (ignored.count > 5 ? ", …" : "")
        let verb = dryRun ? "would not be committed" : "were not committed"
        return "\(ignored.count) new file\(ignored.count == 1 ? "" : "s") git ignores \(verb) and stay in the sandbox (\(shown))"
    }

    /// The line after the sync's outcome: the commit made, or the one a dry run would make.
    func outcome(_ changes: [Change], made: GitBranchCommit.Made?, dryRun: Bool, sandbox: String, profile: String) -> String {
        let name = TerminalText.escaped(branch)
        let parent: String
        if let head = repository.head {
            let subject = repository.headSubject()
            parent = "on top of \(head.prefix(12))" + (subject.isEmpty ? "" : " (\(TerminalText.escaped(subject)))")
        } else {
            parent = "with no parent (HEAD is unborn)"
        }
        if dryRun {
            guard !changes.isEmpty else { return "dry run: no commit would be made; branch \(name) would not be created" }
            let subject =
                (message ?? GitBranchCommit.defaultMessage(sandbox: sandbox, profile: profile, changes: changes, prefix: repository.prefix))
                .split(separator: "\n").first.map(String.init) ?? ""
            return "dry run: would commit \(parent) as new branch \(name), author \(author), message \"\(TerminalText.escaped(subject))\""
        }
        guard let made else {
            guard !changes.isEmpty else { return "no commit made: branch \(name) was not created" }
            return "no commit made: branch \(name) was not created (the changes are directories only, which git does not record)"
        }
        return "committed \(made.commit) \(parent) as new branch \(name), author \(author)"
    }
}

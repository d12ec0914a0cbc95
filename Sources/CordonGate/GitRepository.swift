public import CordonCore
import CordonOS

#if canImport(Glibc)
    import Glibc
#endif

/// The host git repository a sandbox's workspace lies in, driven through git's plumbing only:
/// `cordon sync --branch` makes new objects and one new ref, and never touches the working tree,
/// the index, HEAD or the branch checked out.
///
/// Every git command runs with a minimal environment (PATH, HOME, XDG_CONFIG_HOME from the host;
/// nothing else of it, so no GIT_DIR, GIT_INDEX_FILE or GIT_EXEC_PATH of the caller's steers it),
/// with hooks off (`core.hooksPath=/dev/null`: `update-ref` would run `reference-transaction`),
/// no fsmonitor, no commit signing (no pinentry prompt), no split or sparse index (the private
/// index leaves no shared file in the git directory), replace refs ignored (the base tree is
/// HEAD's own), no pager and no terminal prompt.
public struct GitRepository: Sendable {
    /// The git executable.
    public let git: String
    /// The workspace (the overlay's lower layer).
    public let workspace: String
    /// `--absolute-git-dir`.
    public let gitDirectory: String
    /// The top of the work tree.
    public let topLevel: String
    /// The workspace's place in the repository, with a trailing slash (`sub/dir/`), or "".
    public let prefix: String
    /// HEAD's commit; nil when HEAD is unborn (a repository without a commit yet).
    public let head: String?
    /// The branch HEAD names (`main`), or nil when HEAD is detached.
    public let headBranch: String?
    /// The length of an object id in hex (40 for SHA-1, 64 for SHA-256 repositories).
    public let idLength: Int
    let environment: [String]

    /// Options before every git subcommand.
    static let safety = [
        "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "commit.gpgSign=false", "-c", "core.quotePath=true", "-c",
        "core.splitIndex=false",
        "-c", "index.sparse=false",
        "--no-pager", "--no-replace-objects",
    ]

    /// Finds the repository holding `workspace`. Fails with a hint when there is none, it is bare,
    /// the workspace lies inside its git directory, git refuses it (another user's, see
    /// `safe.directory`), or git is not installed.
    public static func open(workspace: String, hostEnvironment: [String: String]) throws(CordonError) -> GitRepository {
        guard let git = HostProcess.find("git", environment: hostEnvironment) else {
            throw CordonError(.hostNotReady, "--branch needs git, and no git executable was found in PATH", hint: "install git (apt-get install git)")
        }
        var environment = ["PATH=" + (hostEnvironment["PATH"] ?? "/usr/bin:/bin"), "LC_ALL=C", "GIT_TERMINAL_PROMPT=0", "GIT_PAGER=cat", "PAGER=cat"]
        for name in ["HOME", "XDG_CONFIG_HOME"] { if let value = hostEnvironment[name] { environment.append("\(name)=\(value)") } }
        let probe = try HostProcess.run(
            path: git, arguments: ["git"] + safety + ["-C", workspace, "rev-parse", "--is-bare-repository", "--is-inside-git-dir", "--is-inside-work-tree"],
            environment: environment)
        guard probe.status == 0 else {
            throw CordonError(
                .invalidArgument, "the workspace \(workspace) is not in a git repository git can use",
                hint: "--branch commits to the repository holding the workspace: run `git init` there (or sync without --branch)",
                cause: probe.errorText)
        }
        let flags = lines(probe.stdout)
        guard flags.count == 3, flags[0] == "false", flags[1] == "false", flags[2] == "true" else {
            throw CordonError(
                .invalidArgument, "the workspace \(workspace) is not in a git work tree (a bare repository, or inside a .git directory)",
                hint: "--branch needs a repository with a work tree around the workspace; sync without --branch")
        }
        let where_ = try HostProcess.run(
            path: git, arguments: ["git"] + safety + ["-C", workspace, "rev-parse", "--absolute-git-dir", "--show-toplevel", "--show-prefix"],
            environment: environment)
        let places = lines(where_.stdout)
        guard where_.status == 0, places.count == 3 || places.count == 2 else {
            throw CordonError(.io, "git could not say where the repository of \(workspace) is", cause: where_.errorText)
        }
        let gitDirectory = places[0]
        let topLevel = places[1]
        let prefix = places.count == 3 ? places[2] : ""
        var repository = GitRepository(
            git: git, workspace: workspace, gitDirectory: gitDirectory, topLevel: topLevel, prefix: prefix, head: nil, headBranch: nil, idLength: 40,
            environment: environment)
        let head = try repository.run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
        let symbolic = try repository.run(["symbolic-ref", "--quiet", "HEAD"])
        let branch = lines(symbolic.stdout).first.flatMap { $0.hasPrefix("refs/heads/") ? String($0.dropFirst("refs/heads/".count)) : nil }
        if head.status == 0, let id = lines(head.stdout).first, id.count == 40 || id.count == 64, id.allSatisfy(\.isHexDigit) {
            repository = GitRepository(
                git: git, workspace: workspace, gitDirectory: gitDirectory, topLevel: topLevel, prefix: prefix, head: id, headBranch: branch,
                idLength: id.count, environment: environment)
        } else if symbolic.status == 0, branch != nil {
            // Unborn: HEAD names a branch that has no commit yet. The commit gets no parent.
            let format = try repository.run(["rev-parse", "--show-object-format"])
            let length = lines(format.stdout).first == "sha256" ? 64 : 40
            repository = GitRepository(
                git: git, workspace: workspace, gitDirectory: gitDirectory, topLevel: topLevel, prefix: prefix, head: nil, headBranch: branch,
                idLength: length, environment: environment)
        } else {
            throw CordonError(
                .io, "HEAD of the repository at \(topLevel) names no commit", hint: "repair the repository (git status says more)", cause: head.errorText)
        }
        return repository
    }

    /// Runs `git --git-dir=… ARGS` (never in the work tree) with `extra` environment entries.
    func run(
        _ arguments: [String], extra: [String] = [], input: (() throws(CordonError) -> [UInt8]?)? = nil
    ) throws(CordonError) -> HostProcess.Output {
        try HostProcess.run(
            path: git, arguments: ["git"] + Self.safety + ["--git-dir=" + gitDirectory] + arguments, environment: environment + extra, input: input)
    }

    /// Like `run`, failing with git's own message when git does.
    func require(_ arguments: [String], extra: [String] = [], what: String, input: (() throws(CordonError) -> [UInt8]?)? = nil) throws(CordonError)
        -> HostProcess.Output
    {
        let output = try run(arguments, extra: extra, input: input)
        guard output.status == 0 else {
            throw CordonError(.io, "git could not \(what) in \(topLevel)", hint: "nothing was changed in the repository", cause: output.errorText)
        }
        return output
    }

    static func lines(_ bytes: [UInt8]) -> [String] {
        String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }

    /// The id of nothing: `update-ref`'s old value for a ref that must not exist yet.
    var zeroID: String { String(repeating: "0", count: idLength) }

    // MARK: - Branch names

    /// Checks that `name` is a branch name git accepts as written (`git check-ref-format
    /// --branch`, with no `@{-1}` expanded) and that no such branch exists yet.
    public func checkNewBranch(_ name: String) throws(CordonError) {
        let shown = TerminalText.escaped(name)
        let hint = "choose a branch name git accepts (git check-ref-format --branch NAME), e.g. --branch cordon/agent-1"
        guard !name.isEmpty, !name.hasPrefix("-") else { throw CordonError(.invalidArgument, "--branch \(shown) is not a valid branch name", hint: hint) }
        let checked = try run(["check-ref-format", "--branch", name])
        guard checked.status == 0, Self.lines(checked.stdout) == [name] else {
            throw CordonError(.invalidArgument, "--branch \(shown) is not a valid branch name", hint: hint)
        }
        if try branchCommit(name) != nil {
            throw CordonError(
                .alreadyExists, "branch \(shown) already exists in \(topLevel)",
                hint: "cordon never moves an existing branch: choose a new name, or delete it first (git branch -D \(shown))")
        }
    }

    /// The commit a branch points at, nil when there is no such branch.
    public func branchCommit(_ name: String) throws(CordonError) -> String? {
        let found = try run(["rev-parse", "--verify", "--quiet", "refs/heads/" + name])
        return found.status == 0 ? Self.lines(found.stdout).first : nil
    }

    /// `user.name` and `user.email` as the repository's configuration (with the user's and the
    /// system's) sets them; nil unless both are set and make a valid identity.
    public func configuredIdentity() throws(CordonError) -> GitIdentity? {
        let name = try run(["config", "--get", "user.name"])
        let email = try run(["config", "--get", "user.email"])
        guard name.status == 0, email.status == 0, let n = Self.lines(name.stdout).first, let e = Self.lines(email.stdout).first else { return nil }
        return try? GitIdentity.parse("\(n) <\(e)>")
    }

    /// HEAD's commit subject, for messages ("" when unborn or unreadable).
    public func headSubject() -> String {
        guard let head, let shown = try? run(["log", "-1", "--format=%s", head]), shown.status == 0 else { return "" }
        return Self.lines(shown.stdout).first ?? ""
    }

    // MARK: - Paths as git shows them

    /// A path as git prints it with `core.quotePath` (its default): as is, or in double quotes with
    /// C escapes when it holds a control character, `"`, `\` or a byte outside ASCII.
    public static func quoted(_ path: [UInt8]) -> String {
        let needs = path.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5c || $0 >= 0x7f }
        guard needs else { return String(decoding: path, as: UTF8.self) }
        var text = "\""
        for byte in path {
            switch byte {
            case 0x07: text += "\\a"
            case 0x08: text += "\\b"
            case 0x09: text += "\\t"
            case 0x0a: text += "\\n"
            case 0x0b: text += "\\v"
            case 0x0c: text += "\\f"
            case 0x0d: text += "\\r"
            case 0x22: text += "\\\""
            case 0x5c: text += "\\\\"
            case let b where b < 0x20 || b >= 0x7f:
                let octal = String(b, radix: 8)
                text += "\\" + String(repeating: "0", count: 3 - octal.count) + octal
            default: text.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return text + "\""
    }
}

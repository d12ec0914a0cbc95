public import CordonCore
public import CordonFS
import CordonOS

#if canImport(Glibc)
    import Glibc
#endif

/// Makes a change set one commit on a new branch of the workspace's repository: HEAD's tree with
/// every applied change at its place (under the workspace's prefix), HEAD as its only parent (no
/// parent when HEAD is unborn), and `refs/heads/BRANCH` created pointing at it, only if no such
/// ref exists (`update-ref REF NEW 000…0`: a branch made meanwhile wins and nothing is moved).
///
/// What is committed for each change is what the sandbox sees at that path: a file's bytes read
/// from `contents` (the snapshot of a running sandbox, or the upper of a stopped one: the bytes
/// the gate checked) through descriptors that follow no symlink, streamed into
/// `git fast-import` as blobs (one process for the whole set; no filters, no attributes);
/// mode 100755 when the owner may execute it, 100644 otherwise; a symlink as mode 120000 with its
/// target as the blob; a deleted file or directory as the removal of every entry at or under
/// its path. Git tracks no directories and no directory modes: `dir_added` only displaces a file
/// at its path, `dir_mode_changed` and `dir_replaced` add nothing (an opaque directory's hidden
/// entries are listed as deletions).
///
/// The tree is built with `update-index -z --index-info` against an index file in a private
/// temporary directory (`GIT_INDEX_FILE`), then checked entry by entry against the tree cordon
/// expects (`ls-tree -r -z`): a path git drops (it skips names it refuses, such as `.git`
/// components, with only a warning) fails the commit instead of silently leaving a change out.
public struct GitBranchCommit {
    public let repository: GitRepository

    public init(repository: GitRepository) {
        self.repository = repository
    }

    /// One tree entry: `100644`, `100755`, `120000`, `160000` (a submodule), and its object id.
    struct Entry: Equatable {
        var mode: String
        var id: String
    }

    /// What `commit` made.
    public struct Made: Sendable, Equatable {
        public var commit: String
        public var tree: String
        public var parent: String?
    }

    /// Makes the commit and the branch. Returns nil, creating nothing, when the changes leave
    /// HEAD's tree as it is (only directories, which git does not record).
    public func commit(
        _ changes: [Change], contents: String, branch: String, message: String, author: GitIdentity, committer: GitIdentity, reflog: String
    ) throws(CordonError) -> Made? {
        let scratch = try Self.makeScratch()
        defer { try? AnchoredDirectory.removeTree(scratch) }
        let blobs = try writeBlobs(changes, contents: contents, scratch: scratch)
        var entries = try headEntries()
        let before = entries
        apply(changes, blobs: blobs, to: &entries)

        // The index: HEAD's, then the difference.
        let index = ["GIT_INDEX_FILE=" + scratch + "/index"]
        if let head = repository.head { _ = try repository.require(["read-tree", head], extra: index, what: "read HEAD's tree") }
        var info: [UInt8] = []
        let zero = repository.zeroID
        for path in before.keys where entries[path] == nil { info += Array("0 \(zero)\t".utf8) + path + [0] }
        for (path, entry) in entries.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) where before[path] != entry {
            info += Array("\(entry.mode) \(entry.id)\t".utf8) + path + [0]
        }
        var sent = false
        _ = try repository.require(
            ["update-index", "-z", "--add", "--index-info"], extra: index, what: "stage the changes",
            input: { () throws(CordonError) -> [UInt8]? in
                defer { sent = true }
                return sent ? nil : info
            })
        let tree = try Self.id(try repository.require(["write-tree"], extra: index, what: "write the tree").stdout, length: repository.idLength)
        // The tree git wrote must be exactly the one expected.
        let written = try entriesOf(tree)
        if written != entries {
            let missing = entries.keys.filter { written[$0] != entries[$0] }.map(GitRepository.quoted).sorted()
            let extra = written.keys.filter { entries[$0] == nil }.map(GitRepository.quoted).sorted()
            let named = (missing + extra).prefix(5).joined(separator: ", ")
            throw CordonError(
                .policyDenied, "git refused part of the change set (\(named)): no commit was made",
                hint: "git does not accept such paths in a tree (.git components, names it reserves); drop them with `cordon discard` and sync again")
        }
        if entries == before { return nil }

        var arguments = ["commit-tree", tree]
        if let head = repository.head { arguments += ["-p", head] }
        let identity = [
            "GIT_AUTHOR_NAME=" + author.name, "GIT_AUTHOR_EMAIL=" + author.email, "GIT_COMMITTER_NAME=" + committer.name,
            "GIT_COMMITTER_EMAIL=" + committer.email,
        ]
        var messageSent = false
        let commit = try Self.id(
            try repository.require(
                arguments, extra: identity, what: "write the commit",
                input: { () throws(CordonError) -> [UInt8]? in
                    defer { messageSent = true }
                    return messageSent ? nil : Array(message.utf8)
                }
            ).stdout, length: repository.idLength)
        let ref = "refs/heads/" + branch
        let created = try repository.run(["update-ref", "--no-deref", "-m", reflog, ref, commit, repository.zeroID])
        guard created.status == 0 else {
            throw CordonError(
                .alreadyExists, "branch \(TerminalText.escaped(branch)) could not be created in \(repository.topLevel) (it appeared meanwhile?)",
                hint: "nothing was moved; choose another name and sync again", cause: created.errorText)
        }
        return Made(commit: commit, tree: tree, parent: repository.head)
    }

    /// The paths of `changes` that git ignores (`.gitignore`, `.git/info/exclude`, `core.excludesFile`,
    /// as `git check-ignore` reads them from the host's checkout) and that HEAD does not track:
    /// new files a plain sync would put in the working tree where git does not see them (a
    /// `node_modules`, a build directory). They are not committed. Deletions and files HEAD
    /// tracks are never ignored.
    public func ignoredPaths(_ changes: [Change]) throws(CordonError) -> Set<String> {
        let tracked = try headEntries()
        var candidates: [String: String] = [:]
        for change in changes where [.added, .modified, .modeChanged].contains(change.kind) && (change.type == .file || change.type == .symlink) {
            let path = repository.prefix + change.path
            if tracked[Array(path.utf8)] == nil { candidates[path] = change.path }
        }
        guard !candidates.isEmpty else { return [] }
        var input: [UInt8] = []
        for path in candidates.keys.sorted() { input += Array(path.utf8) + [0] }
        var sent = false
        let checked = try repository.run(
            ["--work-tree=" + repository.topLevel, "check-ignore", "-z", "--stdin"], extra: ["GIT_OPTIONAL_LOCKS=0"],
            input: { () throws(CordonError) -> [UInt8]? in
                defer { sent = true }
                return sent ? nil : input
            })
        // 0: some ignored, 1: none.
        guard checked.status == 0 || checked.status == 1 else {
            throw CordonError(
                .io, "git could not say which changes it ignores in \(repository.topLevel)", hint: "nothing was committed", cause: checked.errorText)
        }
        var ignored = Set<String>()
        for path in checked.stdout.split(separator: 0) {
            if let change = candidates[String(decoding: path, as: UTF8.self)] { ignored.insert(change) }
        }
        return ignored
    }

    /// A private directory for the index file and the marks (0700, under TMPDIR or /tmp).
    static func makeScratch() throws(CordonError) -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "/tmp"
        var template = Array((base + "/cordon-git-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        guard made else { throw AnchoredDirectory.error("create a temporary directory in", base) }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func id(_ output: [UInt8], length: Int) throws(CordonError) -> String {
        guard let line = GitRepository.lines(output).first, line.count == length, line.allSatisfy(\.isHexDigit) else {
            throw CordonError(.io, "git printed no object id where one was expected", cause: String(decoding: output.prefix(200), as: UTF8.self))
        }
        return line
    }

    /// The repository path of a change's path (under the workspace's prefix), as bytes.
    func repositoryPath(_ path: String) -> [UInt8] { Array((repository.prefix + path).utf8) }

    /// Writes every file's and symlink's content as a blob; returns the ids by change path.
    func writeBlobs(_ changes: [Change], contents: String, scratch: String) throws(CordonError) -> [String: String] {
        let stored = changes.filter { change in
            switch change.kind {
            case .added, .modified, .modeChanged: change.type == .file || change.type == .symlink
            default: false
            }
        }
        guard !stored.isEmpty else { return [:] }
        for change in stored where change.type == .symlink && change.symlinkTarget == nil {
            throw CordonError(.internal, "the change set lists the symlink \(TerminalText.escaped(change.path)) without its target")
        }
        let source = try AnchoredDirectory(contents)
        let marks = scratch + "/marks"
        // The stream: `blob`, `mark :N`, `data SIZE`, the bytes, for each; `done` at the end (with
        // --done, a stream cut short is an error, not a shorter import).
        var next = 0
        var reading: (fd: Int32, left: UInt64)?
        defer { if let reading { close(reading.fd) } }
        let chunk = 256 * 1024
        let input = { () throws(CordonError) -> [UInt8]? in
            if let current = reading {
                if current.left == 0 {
                    close(current.fd)
                    reading = nil
                    return [0x0a]
                }
                var buffer = [UInt8](repeating: 0, count: Int(min(UInt64(chunk), current.left)))
                let n = buffer.withUnsafeMutableBytes { Glibc.read(current.fd, $0.baseAddress, $0.count) }
                guard n > 0 else {
                    throw CordonError(
                        .io, "\(contents)/\(TerminalText.escaped(stored[next - 1].path)) changed size while it was committed",
                        hint: "nothing was committed; sync again")
                }
                reading = (current.fd, current.left - UInt64(n))
                return Array(buffer.prefix(n))
            }
            guard next < stored.count else {
                defer { next += 1 }
                return next == stored.count ? Array("done\n".utf8) : nil
            }
            let change = stored[next]
            next += 1
            let header = "blob\nmark :\(next)\ndata "
            if change.type == .symlink {
                let target = Array((change.symlinkTarget ?? "").utf8)
                return Array("\(header)\(target.count)\n".utf8) + target + [0x0a]
            }
            let fd = try source.openForReading(change.path)
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                close(fd)
                throw CordonError(
                    .io, "\(contents)/\(TerminalText.escaped(change.path)) is no longer a regular file", hint: "nothing was committed; sync again")
            }
            reading = (fd, UInt64(st.st_size))
            return Array("\(header)\(st.st_size)\n".utf8)
        }
        _ = try repository.require(
            ["fast-import", "--quiet", "--done", "--export-marks=" + marks], what: "store the changed files", input: input)
        // `:N SHA` per line.
        let bytes = try FileContents.read(marks)
        var ids: [String: String] = [:]
        for line in GitRepository.lines(bytes) {
            let parts = line.split(separator: " ")
            guard parts.count == 2, parts[0].hasPrefix(":"), let mark = Int(parts[0].dropFirst()), mark >= 1, mark <= stored.count,
                parts[1].count == repository.idLength
            else { throw CordonError(.io, "git fast-import wrote marks cordon cannot read", cause: line) }
            ids[stored[mark - 1].path] = String(parts[1])
        }
        guard ids.count == stored.count else { throw CordonError(.io, "git fast-import stored \(ids.count) of \(stored.count) files") }
        return ids
    }

    /// HEAD's tree, every entry (none when HEAD is unborn).
    func headEntries() throws(CordonError) -> [[UInt8]: Entry] {
        guard let head = repository.head else { return [:] }
        return try entriesOf(head)
    }

    /// Every non-tree entry of a tree (`ls-tree -r -z --full-tree`), by its path's bytes.
    func entriesOf(_ treeish: String) throws(CordonError) -> [[UInt8]: Entry] {
        let listed = try repository.require(["ls-tree", "-r", "-z", "--full-tree", treeish], what: "list the tree of \(treeish)").stdout
        var entries: [[UInt8]: Entry] = [:]
        for record in listed.split(separator: 0) {
            // `MODE TYPE ID<TAB>PATH`
            guard let tab = record.firstIndex(of: 0x09) else { throw CordonError(.io, "git ls-tree printed a line cordon cannot read") }
            let fields = String(decoding: record[record.startIndex..<tab], as: UTF8.self).split(separator: " ")
            guard fields.count == 3 else { throw CordonError(.io, "git ls-tree printed a line cordon cannot read") }
            entries[Array(record[(tab + 1)...])] = Entry(mode: String(fields[0]), id: String(fields[2]))
        }
        return entries
    }

    /// `changes` applied to `entries`, in change-set order.
    func apply(_ changes: [Change], blobs: [String: String], to entries: inout [[UInt8]: Entry]) {
        // Every directory that holds an entry (or did): only those are searched for entries below.
        var directories = Set<[UInt8]>()
        for path in entries.keys { Self.parents(of: path) { directories.insert($0) } }
        // Removes the entry at `path` and every entry under `path/`.
        func remove(_ path: [UInt8]) {
            entries[path] = nil
            guard directories.contains(path) else { return }
            let under = path + [0x2f]
            let below = entries.keys.filter { $0.starts(with: under) }
            for key in below { entries[key] = nil }
        }
        // A file or directory at `path`: no entry may stand at one of its parents.
        func clearParents(_ path: [UInt8]) {
            var index = path.endIndex
            while let slash = path[..<index].lastIndex(of: 0x2f) {
                entries[Array(path[..<slash])] = nil
                index = slash
            }
        }
        for change in changes {
            let path = repositoryPath(change.path)
            switch change.kind {
            case .added, .modified, .modeChanged:
                guard let id = blobs[change.path] else { continue }
                remove(path)
                clearParents(path)
                let mode = change.type == .symlink ? "120000" : change.mode & 0o100 != 0 ? "100755" : "100644"
                entries[path] = Entry(mode: mode, id: id)
                Self.parents(of: path) { directories.insert($0) }
            case .deleted, .dirRemoved:
                remove(path)
            case .dirAdded:
                // A directory now: a file at its place (or above it) goes.
                entries[path] = nil
                clearParents(path)
            case .dirModeChanged, .dirReplaced:
                break
            }
        }
    }

    /// Calls `body` with each parent directory of `path` (`a/b` and `a` for `a/b/c`), deepest first.
    static func parents(of path: [UInt8], _ body: ([UInt8]) -> Void) {
        var index = path.endIndex
        while let slash = path[..<index].lastIndex(of: 0x2f) {
            body(Array(path[..<slash]))
            index = slash
        }
    }

    // MARK: - The message

    /// The default message: one line naming the sandbox and its profile, a blank line, then the
    /// changed paths (as `git diff --name-status` shows them, quoted as git quotes them), at most
    /// `listLimit` of them and a count of the rest.
    public static func defaultMessage(sandbox: String, profile: String, changes: [Change], prefix: String, listLimit: Int = 100) -> String {
        let shown = changes.filter { !($0.kind == .dirAdded || $0.kind == .dirModeChanged || $0.kind == .dirReplaced) }
        var message = "cordon: changes from sandbox \(sandbox) (profile \(profile))\n"
        guard !shown.isEmpty else { return message }
        message += "\n"
        for change in shown.prefix(listLimit) {
            message += "\(change.kind.letter)\t\(GitRepository.quoted(Array((prefix + change.path).utf8)))\n"
        }
        if shown.count > listLimit { message += "… and \(shown.count - listLimit) more\n" }
        return message
    }
}

public import CordonCore
public import CordonFS
import CordonOS
public import CordonScan
public import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// The checks between a change set and the host: secrets, path policy, host-execution traps,
/// filesystem tricks, conflicts. Reads the upper and lower layers; writes nothing.
///
/// Fails closed: if the scanner cannot be built from its rules, `init` throws and nothing can be
/// evaluated, so nothing can be applied.
public struct SyncGate: Sendable {
    public let policy: GatePolicy
    public let scanner: SecretScanner
    let allow: PathPatterns
    let deny: PathPatterns
    /// `policy.blockedExtensions`, normalized once.
    let blockedExtensions: [String]

    /// `scannerCache`: where compiled scanner databases are kept between runs (nil: compile each time).
    public init(policy: GatePolicy, scanner: SecretScanner? = nil, scannerCache: String? = nil) throws(CordonError) {
        self.policy = policy
        if let scanner {
            self.scanner = scanner
        } else {
            let rules: RuleSet
            if let path = policy.scannerConfig { rules = try RuleSet.load(path: path) } else { rules = try RuleSet.defaults() }
            self.scanner = try SecretScanner(rules, cacheDirectory: scannerCache)
        }
        allow = PathPatterns(policy.allow)
        deny = PathPatterns(policy.deny)
        blockedExtensions = policy.blockedExtensions.map(GatePolicy.normalized)
    }

    /// The gate's verdict on a change set.
    public struct Report: Sendable, Codable, Equatable {
        public var changes: [Change]
        public var findings: [Finding]
        public init(changes: [Change], findings: [Finding]) {
            self.changes = changes
            self.findings = findings
        }

        /// The most severe finding about `path` (findings with an empty path apply to every change).
        public func severity(of path: String) -> Finding.Severity? {
            findings.filter { $0.path == path || $0.path.isEmpty }.map(\.severity).max()
        }
        public var highest: Finding.Severity? { findings.map(\.severity).max() }
    }

    /// Evaluates every change. `created` is when the sandbox started (host changes after it are conflicts).
    public func evaluate(_ set: ChangeSet, created: Date?) throws(CordonError) -> Report {
        var findings: [Finding] = []
        let session = SecretScanner.Session(scanner: scanner)
        var total: UInt64 = 0
        let createdSeconds = created?.timeIntervalSince1970
        var hostTypes: [String: FileInfo.FileType?] = [:]
        // The agent's files are read beneath their root only, never through a symlink.
        let contents = try AnchoredDirectory(set.contents)
        let view = ResultingTree(set: set)
        for change in set.changes {
            findings += pathChecks(change)
            findings += trickChecks(change, tree: view)
            // Deeper than a system call reaches by path: blocked, and neither the host nor the file is read.
            if ChangeSet.pathTooLong(change.path, lower: set.lower) {
                findings.append(
                    Finding(
                        ruleID: "fs-path-too-long", severity: .block, path: change.path,
                        message:
                            "the path is \(change.path.utf8.count) bytes long: under \(set.lower) it passes the \(ChangeSet.pathLimit) bytes a system call takes",
                        fix: "move it higher up, or shorten its directories' names, inside the sandbox"))
                continue
            }
            findings += try hostChecks(change, set: set, created: createdSeconds, types: &hostTypes)
            // A secret in a name or a symlink target reaches the host as surely as one in a file.
            if !change.kind.isDeletion { findings += nameScan(change, session: session) }
            // An unsafe name is held by pathChecks; its escaped path names no file to read.
            if change.kind.isDeletion || change.flags.unsafeName != nil { continue }
            if change.type == .file && (change.kind == .added || change.kind == .modified) {
                total += change.size
                if change.size > policy.maxFileSize {
                    findings.append(
                        Finding(
                            ruleID: "size-file", severity: .block, path: change.path,
                            message: "\(change.size) bytes exceeds sync.max_file_size (\(policy.maxFileSize))",
                            fix: "remove the file from the sandbox, or raise sync.max_file_size in the profile"))
                    continue
                }
                // Past the total the whole set is blocked (`size-total`), and a snapshot holds none of
                // the files after this point (`SnapshotLimits`): nothing more is read.
                if total > policy.maxTotalSize { continue }
                let bytes = try contents.read(change.path, limit: policy.maxFileSize)
                findings += contentChecks(change, bytes: bytes, set: set)
                findings += session.scan(bytes, path: change.path)
            }
        }
        if total > policy.maxTotalSize {
            findings.append(
                Finding(
                    ruleID: "size-total", severity: .block, path: "",
                    message: "the change set adds \(total) bytes, over sync.max_total_size (\(policy.maxTotalSize))",
                    fix: "sync in smaller steps with --partial after removing large files, or raise sync.max_total_size"))
        }
        findings += caseCollisions(set)
        return Report(changes: set.changes, findings: findings)
    }

    func pathChecks(_ change: Change) -> [Finding] {
        var findings: [Finding] = []
        let isDir = change.type == .directory
        if let guarded = protection(of: change) {
            findings.append(
                Finding(
                    ruleID: "policy-protected", severity: .block, path: change.path,
                    message:
                        "\(guarded.path.isEmpty ? "the workspace" : TerminalText.escaped(guarded.path)) is \(guarded.what): the sandbox may not change its own policy",
                    fix: "make the change on the host yourself if you want it; no sync flag applies it"))
        }
        if let pattern = deny.match(change.path, isDirectory: isDir) {
            findings.append(
                Finding(
                    ruleID: "path-deny", severity: .block, path: change.path, message: "matches sync.deny pattern \(pattern)",
                    fix: "leave the file out, or change sync.deny"))
        }
        if !allow.isEmpty && !allow.matches(change.path, isDirectory: isDir) && !(isDir && change.kind.isDeletion == false && allowsSomethingBelow(change.path))
        {
            findings.append(
                Finding(
                    ruleID: "path-not-allowed", severity: .block, path: change.path, message: "matches no sync.allow pattern",
                    fix: "add a pattern to sync.allow, or leave the file out"))
        }
        if !change.kind.isDeletion, !isDir, let ext = GatePolicy.blockedExtension(of: change.path, in: blockedExtensions) {
            findings.append(
                Finding(
                    ruleID: "path-blocked-extension", severity: .block, path: change.path,
                    message: "\(ext) files never sync (credentials, keys or native code)",
                    fix: "copy the file out by hand if you really need it; remove \(ext) from sync.blocked_extensions only if it is safe"))
        }
        if let problem = change.flags.unsafeName {
            findings.append(
                Finding(
                    ruleID: "fs-unsafe-name", severity: .block, path: change.path, message: problem,
                    fix: "rename it inside the sandbox: a valid UTF-8 name, not in the form of a whiteout"))
        } else if change.path.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            findings.append(
                Finding(
                    ruleID: "fs-control-char", severity: .block, path: change.path,
                    message: "the name \(TerminalText.escaped(change.path)) contains control characters",
                    fix: "rename the file inside the sandbox"))
        } else if TerminalText.hasInvisibleFormatting(change.path) {
            findings.append(
                Finding(
                    ruleID: "fs-bidi-name", severity: .block, path: change.path,
                    message: "the name \(TerminalText.escaped(change.path)) contains bidi controls or invisible characters that change how it reads",
                    fix: "rename the file inside the sandbox"))
        }
        if let trap = HostTraps.match(change.path, isDirectory: isDir) {
            // A link here makes its target the trap, and the target's later changes are not checked as one.
            let linked =
                change.type == .symlink
                ? "; it is a symlink to \(TerminalText.escaped(change.symlinkTarget ?? "")), whose later changes sync as ordinary files" : ""
            findings.append(
                Finding(
                    ruleID: trap.id, severity: .approval, path: change.path, message: trap.why + linked,
                    fix: "review the change; approve with --yes or at the prompt"))
        }
        if change.flags.executableAdded && !change.flags.setuid && !change.flags.setgid {
            findings.append(
                Finding(
                    ruleID: "trap-executable-bit", severity: .approval, path: change.path, message: "the file becomes executable",
                    fix: "review it; approve with --yes or at the prompt"))
        }
        return findings
    }

    /// The protected path `change` touches: the path itself or anything beneath it, or a directory
    /// above it that the change removes, replaces or turns into something else.
    func protection(of change: Change) -> ProtectedPath? {
        policy.protectedPaths.first { guarded in
            if guarded.path.isEmpty || change.path == guarded.path || change.path.hasPrefix(guarded.path + "/") { return true }
            guard guarded.path.hasPrefix(change.path + "/") else { return false }
            switch change.kind {
            case .dirAdded, .dirModeChanged: return false
            default: return true
            }
        }
    }

    /// Whether an allow pattern could match something under directory `path` (so the dir itself may be created).
    func allowsSomethingBelow(_ path: String) -> Bool {
        policy.allow.contains { pattern in
            let p = pattern.hasPrefix("/") ? String(pattern.dropFirst()) : pattern
            return p.hasPrefix(path + "/") || !p.contains("/") || p.hasPrefix("**")
        }
    }

    func trickChecks(_ change: Change, tree: ResultingTree) -> [Finding] {
        guard !change.kind.isDeletion else { return [] }
        var findings: [Finding] = []
        let f = change.flags
        if f.hardLinked {
            findings.append(
                Finding(
                    ruleID: "fs-hardlink", severity: .block, path: change.path, message: "the file has other hard links",
                    fix: "replace the hard link with a copy inside the sandbox"))
        }
        if f.special {
            findings.append(
                Finding(
                    ruleID: "fs-special-file", severity: .block, path: change.path, message: "\(change.type.rawValue) files never sync",
                    fix: "remove it inside the sandbox"))
        }
        if f.setuid || f.setgid || f.sticky {
            let bits = [f.setuid ? "setuid" : nil, f.setgid ? "setgid" : nil, f.sticky ? "sticky" : nil].compactMap { $0 }.joined(separator: ", ")
            findings.append(
                Finding(
                    ruleID: "fs-setid", severity: .block, path: change.path, message: "\(bits) bit set",
                    fix: "chmod it away inside the sandbox (chmod u-s,g-s,-t)"))
        }
        if change.type == .symlink, let target = change.symlinkTarget {
            if TerminalText.hasUnsafeCharacters(target) {
                findings.append(
                    Finding(
                        ruleID: "fs-symlink-target-chars", severity: .block, path: change.path,
                        message: "symlink target \(TerminalText.escaped(target)) contains control, bidi or invisible characters",
                        fix: "recreate the link with a plain target inside the sandbox"))
            }
            if !Self.symlinkStaysInside(path: change.path, target: target) {
                findings.append(
                    Finding(
                        ruleID: "fs-symlink-escape", severity: .block, path: change.path,
                        message: "symlink target \(TerminalText.escaped(target)) resolves outside the workspace",
                        fix: "use a relative link that stays inside the workspace"))
            } else if LinkResolver.escapes(path: change.path, target: target, entry: tree.entry) {
                findings.append(
                    Finding(
                        ruleID: "fs-symlink-escape", severity: .block, path: change.path,
                        message:
                            "symlink target \(TerminalText.escaped(target)) leads outside the workspace (or loops) through symlinks on the host or in the change set",
                        fix: "point the link at the file itself, by a path without symlinks, inside the workspace"))
            }
        }
        return findings
    }

    /// Resolves `target` lexically from the link's directory; absolute targets always leave.
    static func symlinkStaysInside(path: String, target: String) -> Bool {
        if target.hasPrefix("/") || target.isEmpty { return false }
        var parts = path.split(separator: "/").dropLast().map(String.init)
        for part in target.split(separator: "/") {
            switch part {
            case ".": continue
            case "..":
                if parts.isEmpty { return false }
                parts.removeLast()
            default: parts.append(String(part))
            }
        }
        return true
    }

    /// `types` remembers what each host ancestor is, so siblings share one lstat.
    func hostChecks(_ change: Change, set: ChangeSet, created: Double?, types: inout [String: FileInfo.FileType?]) throws(CordonError) -> [Finding] {
        var findings: [Finding] = []
        // Every ancestor on the host must be a real directory: a symlink there would redirect the write.
        var prefix = ""
        for part in change.path.split(separator: "/").dropLast() {
            prefix += prefix.isEmpty ? String(part) : "/" + part
            let type: FileInfo.FileType?
            if let known = types[prefix] {
                type = known
            } else {
                type = try FileInfo.lstat(set.lower + "/" + prefix)?.type
                types.updateValue(type, forKey: prefix)
            }
            guard let type else { break }
            if type == .symlink {
                findings.append(
                    Finding(
                        ruleID: "fs-host-symlink", severity: .block, path: change.path, message: "\(prefix) is a symlink on the host",
                        fix: "cordon never writes through host symlinks; apply this change by hand"))
                break
            }
            if type != .directory { break }
        }
        if let created, change.kind != .added && change.kind != .dirAdded, let lower = try FileInfo.lstat(set.lower + "/" + change.path) {
            if lower.type != .directory && max(lower.modified, lower.changed) > created {
                findings.append(
                    Finding(
                        ruleID: "conflict-host-changed", severity: .conflict, path: change.path, message: "the host file changed after the sandbox started",
                        fix: "compare with `cordon diff --patch`; overwrite with --force, or leave it out with --partial"))
            }
        }
        return findings
    }

    /// Secrets in the last component of the change's path and in its symlink target (the
    /// directories above are changes of their own). Rules that match a path alone are left to
    /// the file's own scan.
    func nameScan(_ change: Change, session: SecretScanner.Session) -> [Finding] {
        var carried = Array((change.path.split(separator: "/").last.map(String.init) ?? change.path).utf8)
        if let target = change.symlinkTarget { carried += [0x0A] + Array(target.utf8) }
        return session.scan(carried, path: "").filter { $0.line != nil }.map { found in
            var finding = found
            finding.path = change.path
            finding.message = "in the \(found.line == 1 ? "name" : "symlink target"): " + found.message
            finding.fix =
                "rename it inside the sandbox (its \(found.line == 1 ? "name" : "link target") carries the secret), and rotate the secret if it was real"
            finding.line = nil
            finding.column = nil
            return finding
        }
    }

    func contentChecks(_ change: Change, bytes: [UInt8], set: ChangeSet) -> [Finding] {
        var findings: [Finding] = []
        if let format = Self.executableFormat(bytes) {
            findings.append(
                Finding(
                    ruleID: "path-executable-binary", severity: .block, path: change.path, message: "\(format) executable or library",
                    fix: "build binaries on the host from reviewed sources instead"))
        }
        if policy.flagArchives, let format = Self.archiveFormat(bytes) {
            findings.append(
                Finding(
                    ruleID: "path-archive", severity: .approval, path: change.path,
                    message:
                        "\(format) archive, held for review (--flag-archives; the scanner reads gzip, zip and tar members within its limits, not other formats)",
                    fix: "unpack it in the sandbox so the gate checks the files, or review it and approve with --yes or at the prompt"))
        }
        if let config = HostTraps.SharedConfig(path: change.path) {
            let old = (try? FileContents.read(set.lower + "/" + change.path, limit: policy.maxFileSize)) ?? []
            let after = config.settings(bytes)
            if after == nil || after != config.settings(old) {
                findings.append(
                    Finding(
                        ruleID: "trap-tool-config", severity: .approval, path: change.path,
                        message: after == nil
                            ? "cannot be read as \(change.path.split(separator: "/").last ?? ""): its \(config.sections) settings (plugins, hooks) may have changed"
                            : "a \(config.sections) section changed: test runners and linters load plugins and run hooks from it",
                        fix: "review the file; approve with --yes or at the prompt"))
            }
        }
        if HostTraps.folded(String(change.path.split(separator: "/").last ?? "")) == "package.json" {
            let old = (try? FileContents.read(set.lower + "/" + change.path, limit: policy.maxFileSize)) ?? []
            // An unreadable old file counts as one without scripts: every script in the new one is new.
            let before = (try? Self.npmScripts(old)) ?? [:]
            do throws(UnreadableScripts) {
                let after = try Self.npmScripts(bytes)
                for name in HostTraps.npmLifecycle where after[name] != nil && after[name] != before[name] {
                    findings.append(
                        Finding(
                            ruleID: "trap-npm-lifecycle", severity: .approval, path: change.path,
                            message: "npm \"\(name)\" script added or changed: \(TerminalText.escaped(after[name] ?? ""))",
                            fix: "review the script; npm runs it on install; approve with --yes or at the prompt"))
                }
                // corepack downloads and runs the package manager this names (a version, or a URL).
                let manager = (Self.npmField("packageManager", bytes), Self.npmField("packageManager", old))
                if manager.0 != nil && manager.0 != manager.1 {
                    findings.append(
                        Finding(
                            ruleID: "trap-npm-lifecycle", severity: .approval, path: change.path,
                            message: "\"packageManager\" added or changed: corepack fetches and runs \(TerminalText.escaped(manager.0 ?? ""))",
                            fix: "review the package manager it names; approve with --yes or at the prompt"))
                }
            } catch {
                findings.append(
                    Finding(
                        ruleID: "trap-npm-lifecycle", severity: .approval, path: change.path,
                        message: "not one strict JSON object (\(error.reason)): npm, yarn and pnpm may read install scripts from it that the gate cannot see",
                        fix: "review the whole file; approve with --yes or at the prompt"))
            }
        }
        return findings
    }

    /// ELF, Mach-O (thin and fat) or PE, by magic number.
    static func executableFormat(_ bytes: [UInt8]) -> String? {
        guard bytes.count >= 4 else { return nil }
        let magic = Array(bytes.prefix(4))
        if magic == [0x7f, 0x45, 0x4c, 0x46] { return "ELF" }
        if [[0xfe, 0xed, 0xfa, 0xce], [0xfe, 0xed, 0xfa, 0xcf], [0xce, 0xfa, 0xed, 0xfe], [0xcf, 0xfa, 0xed, 0xfe]].contains(magic) { return "Mach-O" }
        if magic == [0xca, 0xfe, 0xba, 0xbe], bytes.count >= 8, bytes[4] == 0, bytes[5] == 0, bytes[6] == 0, bytes[7] < 0x20 { return "Mach-O universal" }
        if magic[0] == 0x4d, magic[1] == 0x5a, bytes.count >= 0x40 {
            let offset = Int(bytes[0x3c]) | Int(bytes[0x3d]) << 8 | Int(bytes[0x3e]) << 16 | Int(bytes[0x3f]) << 24
            if offset >= 0, offset + 4 <= bytes.count, Array(bytes[offset..<offset + 4]) == [0x50, 0x45, 0, 0] { return "PE" }
        }
        return nil
    }

    /// zip, gzip, bzip2, xz, zstd, 7z, rar or tar (ustar at offset 257), by magic number.
    static func archiveFormat(_ bytes: [UInt8]) -> String? {
        let magics: [(String, [UInt8])] = [
            ("zip", [0x50, 0x4b, 0x03, 0x04]), ("zip", [0x50, 0x4b, 0x05, 0x06]), ("zip", [0x50, 0x4b, 0x07, 0x08]), ("gzip", [0x1f, 0x8b]),
            ("bzip2", [0x42, 0x5a, 0x68]), ("xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), ("zstd", [0x28, 0xb5, 0x2f, 0xfd]),
            ("7z", [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]), ("rar", [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07]),
        ]
        if let (name, _) = magics.first(where: { bytes.starts(with: $0.1) }) { return name }
        if bytes.count >= 262, Array(bytes[257..<262]) == Array("ustar".utf8) { return "tar" }
        return nil
    }

    /// The `scripts` of a package.json, read strictly (RFC 8259, a repeated key or a byte-order
    /// mark is an error: package managers disagree about them); empty bytes have none. A
    /// lifecycle script that is not a string is an error too.
    static func npmScripts(_ bytes: [UInt8]) throws(UnreadableScripts) -> [String: String] {
        guard !bytes.isEmpty else { return [:] }
        let document: JSONValue
        do { document = try JSONValue.parse(bytes) } catch { throw UnreadableScripts(reason: error.description) }
        guard case .object = document else { throw UnreadableScripts(reason: "the top level is not an object") }
        guard let scripts = document["scripts"] else { return [:] }
        guard case .object(let pairs) = scripts else { throw UnreadableScripts(reason: "\"scripts\" is not an object") }
        var result: [String: String] = [:]
        for (name, value) in pairs {
            if case .string(let text) = value {
                result[name] = text
            } else if HostTraps.npmLifecycle.contains(name) {
                throw UnreadableScripts(reason: "script \"\(name)\" is not a string")
            }
        }
        return result
    }

    /// A top-level field of a package.json, as JSON text (nil when absent or unreadable).
    static func npmField(_ name: String, _ bytes: [UInt8]) -> String? {
        guard let document = try? JSONValue.parse(bytes), let value = document[name] else { return nil }
        if case .string(let text) = value { return text }
        return "\(value)"
    }

    struct UnreadableScripts: Error {
        var reason: String
    }

    /// Names in one directory of the resulting tree that differ only by case.
    func caseCollisions(_ set: ChangeSet) -> [Finding] {
        var additions: [String: [String]] = [:]
        var deleted = Set<String>()
        for change in set.changes {
            if change.kind.isDeletion { deleted.insert(change.path) }
            if change.kind == .added || change.kind == .dirAdded { additions[Self.parent(change.path), default: []].append(change.path) }
        }
        var findings: [Finding] = []
        for (dir, added) in additions {
            var seen: [String: String] = [:]
            let lowerDir = dir.isEmpty ? set.lower : set.lower + "/" + dir
            let existing = ((try? DirectoryListing.sortedNames(lowerDir)) ?? []).map { dir.isEmpty ? $0 : dir + "/" + $0 }.filter { !deleted.contains($0) }
            for path in existing + added {
                let key = path.lowercased()
                if let other = seen[key], other != path {
                    findings.append(
                        Finding(
                            ruleID: "fs-case-collision", severity: .block, path: path, message: "differs from \(other) only by case",
                            fix: "rename one of them inside the sandbox (they collide on macOS and Windows filesystems)"))
                } else {
                    seen[key] = path
                }
            }
        }
        return findings
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

}

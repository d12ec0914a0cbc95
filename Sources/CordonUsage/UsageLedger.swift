public import CordonCore
import CordonOS

#if canImport(Glibc)
    import Glibc
#endif

extension CordonPaths {
    /// The usage ledgers, one JSON-lines file per sandbox (`cordon usage`).
    public var usageDirectory: String { stateHome + "/usage" }
}

/// The usage ledger: append-only JSON lines, one file per sandbox
/// (`<state>/usage/SANDBOX.jsonl`, the file 0600 in a 0700 directory), kept after the sandbox is
/// removed so `cordon usage` and a profile's budgets still see what it spent.
public struct UsageLedger: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public init(paths: CordonPaths) { self.init(directory: paths.usageDirectory) }

    /// Lines longer than this are no record cordon wrote: skipped when read.
    static let lineLimit = 8192

    /// The ledger file of `sandbox`; the name must be a single path component.
    public func path(sandbox: String) throws(CordonError) -> String {
        guard !sandbox.isEmpty, sandbox.utf8.count <= 255, sandbox != ".", sandbox != "..", !sandbox.contains("/"), !sandbox.utf8.contains(0),
            !sandbox.hasPrefix(".")
        else {
            throw CordonError(.invalidArgument, "\"\(sandbox)\" cannot name a usage ledger", hint: "use the sandbox's name")
        }
        return directory + "/" + sandbox + ".jsonl"
    }

    /// Opens `sandbox`'s ledger for appending, making the directory (0700) and the file (0600). A
    /// last line torn by a crash is ended first, so the next record starts a line of its own.
    public func writer(sandbox: String) throws(CordonError) -> Writer {
        let path = try path(sandbox: sandbox)
        do throws(SystemError) { try FileIO.makeDirectories(directory, mode: 0o700) } catch {
            throw CordonError(.io, "cannot make the usage directory \(directory)", cause: error.description)
        }
        // Made by an older cordon or by hand with a wider mode: private again.
        _ = chmod(directory, 0o700)
        let writer = try JSONLinesWriter(path: path)
        _ = chmod(path, 0o600)
        if Self.endsTorn(path) { writer.write(lines: "\n") }
        return Writer(lines: writer)
    }

    private static func endsTorn(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > 0 else { return false }
        var last: UInt8 = 0
        return pread(fd, &last, 1, st.st_size - 1) == 1 && last != 0x0A
    }

    /// Appends records to one sandbox's ledger; each line is one `write(2)` on an `O_APPEND` file.
    public final class Writer: Sendable {
        let lines: JSONLinesWriter
        init(lines: JSONLinesWriter) { self.lines = lines }
        public var path: String { lines.path }
        public func append(_ record: UsageRecord) { lines.append(pairs: record.fields) }
    }

    /// The sandboxes with a ledger, sorted.
    public func sandboxes() -> [String] {
        (DirectoryListing.names(at: directory) ?? []).compactMap { name in
            name.hasSuffix(".jsonl") && !name.hasPrefix(".") ? String(name.dropLast(6)) : nil
        }.sorted()
    }

    /// The records of `sandbox`'s ledger, or of every ledger. Lines that are not records (a last
    /// line torn by a crash, anything foreign) are skipped.
    public func records(sandbox: String? = nil) -> [UsageRecord] {
        var result: [UsageRecord] = []
        for name in sandbox.map({ [$0] }) ?? sandboxes() {
            guard let path = try? path(sandbox: name) else { continue }
            Self.forEachLine(path) { line in
                if let value = try? JSONValue.parse(line), let record = UsageRecord(json: value) { result.append(record) }
            }
        }
        return result
    }

    /// Calls `body` with each line of `path` (without its newline), read in bounded chunks.
    static func forEachLine(_ path: String, _ body: ([UInt8]) -> Void) {
        let fd: FileDescriptor
        do throws(SystemError) { fd = try FileDescriptor.open(path, O_RDONLY | O_NOFOLLOW) } catch { return }
        var pending: [UInt8] = []
        var skipping = false
        while true {
            guard let chunk = try? fd.read(upTo: 256 * 1024), !chunk.isEmpty else { break }
            var start = 0
            while let newline = chunk[start...].firstIndex(of: 0x0A) {
                if !skipping {
                    pending += chunk[start..<newline]
                    if pending.count <= lineLimit { body(pending) }
                }
                pending.removeAll(keepingCapacity: true)
                skipping = false
                start = newline + 1
            }
            if !skipping {
                pending += chunk[start...]
                if pending.count > lineLimit {
                    pending.removeAll()
                    skipping = true
                }
            }
        }
        if !skipping, !pending.isEmpty { body(pending) }
    }
}

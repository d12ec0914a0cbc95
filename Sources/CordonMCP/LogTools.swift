import CordonCore
import FoundationEssentials
import Glibc
import MCP

/// `network_log`, `audit_log` and `usage`: the last lines of a sandbox's network log and audit
/// log (read from their end, so a long log costs no more than the lines asked), and
/// `cordon usage --json`.
enum LogTools {
    static func networkLog(_ arguments: ToolArguments, _ context: MCPContext) throws(ToolError) -> Value {
        let (name, lines) = try selection(arguments)
        let layout = try context.existingSandbox(name)
        return document(name: name, key: "entries", lines: try tail(layout.networkLog, lines: lines))
    }

    static func auditLog(_ arguments: ToolArguments, _ context: MCPContext) throws(ToolError) -> Value {
        let (name, lines) = try selection(arguments)
        let layout = try context.existingSandbox(name)
        return document(name: name, key: "records", lines: try tail(layout.auditLog, lines: lines))
    }

    static func usage(_ arguments: ToolArguments, _ context: MCPContext) async throws(ToolError) -> Value {
        var command = ["usage", "--json"]
        if let since = try arguments.string("since") { command.append("--since=" + since) }
        if let name = try arguments.string("sandbox") {
            _ = try context.existingSandbox(name)
            command.append(name)
        }
        return try await context.document(command)
    }

    static func selection(_ arguments: ToolArguments) throws(ToolError) -> (String, Int) {
        (try arguments.requiredString("sandbox"), try arguments.int("lines", in: 1...ToolCatalogue.maximumLines) ?? ToolCatalogue.defaultLines)
    }

    /// `{version, sandbox, KEY: [each line parsed], lines: [each line's text]}`: a line that is not
    /// a JSON object (one being written) is in `lines` only, as `null` in KEY.
    static func document(name: String, key: String, lines: [String]) -> Value {
        let parsed: [Value] = lines.map { line in
            guard let value = try? JSONDecoder().decode(Value.self, from: Data(line.utf8)), value.objectValue != nil else { return .null }
            return value
        }
        return ["version": 1, "sandbox": .string(name), .init(stringLiteral: key): .array(parsed), "lines": .array(lines.map { .string($0) })]
    }

    /// The last `lines` whole lines of `path` (none when it does not exist), read from at most
    /// the last 4 MiB; the file is opened without following a symlink.
    static func tail(_ path: String, lines: Int, window: Int = 4 << 20) throws(ToolError) -> [String] {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 {
            if errno == ENOENT { return [] }
            throw ToolError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { throw ToolError("\(path) is not a regular file") }
        let size = Int(info.st_size)
        let start = max(0, size - window)
        var bytes = [UInt8](repeating: 0, count: size - start)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            done += n
        }
        bytes.removeLast(bytes.count - done)
        var split = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
        // A window that starts mid-file starts mid-line: that part line is dropped.
        if start > 0, !split.isEmpty { split.removeFirst() }
        return split.suffix(lines).map { String(decoding: $0, as: UTF8.self) }
    }
}

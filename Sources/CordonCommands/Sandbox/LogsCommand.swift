import ArgumentParser
import CordonCore
import CordonOS
import CordonSandbox
import Glibc

/// `cordon logs NAME [-f]`: the sandbox's supervisor log and its events, escaped for the terminal
/// (the agent's doing can reach both: host names it looked up, file names, command lines).
struct LogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Show a sandbox's supervisor log and events (events.jsonl); -f keeps following them.")

    @OptionGroup var sandbox: SandboxSelection

    @Flag(name: [.customShort("f"), .long], help: "Keep printing what is added (until interrupted).")
    var follow = false

    func run() throws {
        let status = Console.exitOnError {
            let layout = try SandboxLifecycle.existing(sandbox)
            var files = [Tail(path: layout.supervisorLog, prefix: ""), Tail(path: layout.events, prefix: "event: ")]
            for index in files.indices { files[index].printNew() }
            while follow {
                usleep(250_000)
                for index in files.indices { files[index].printNew() }
            }
            return 0
        }
        throw ExitCode(status)
    }

    /// A file printed line by line from where it was last read (whole lines only).
    struct Tail {
        let path: String
        let prefix: String
        var offset: off_t = 0

        mutating func printNew() {
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { return }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0 else { return }
            if st.st_size < offset { offset = 0 }  // replaced or truncated
            guard st.st_size > offset, lseek(fd, offset, SEEK_SET) == offset else { return }
            guard let bytes = try? FileIO.readAll(fd: fd, limit: 16 * 1024 * 1024), let end = bytes.lastIndex(of: 0x0A) else { return }
            offset += off_t(end + 1)
            var out = ""
            for line in bytes[...end].split(separator: 0x0A, omittingEmptySubsequences: false).dropLast() {
                out += prefix + TerminalText.escapedContent(String(decoding: line, as: UTF8.self)) + "\n"
            }
            var pending = Array(out.utf8)[...]
            while !pending.isEmpty {
                let n = pending.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return }
                pending = pending.dropFirst(n)
            }
        }
    }
}

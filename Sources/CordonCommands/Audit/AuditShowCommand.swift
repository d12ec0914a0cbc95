import ArgumentParser
import CordonAudit
import CordonCore
import CordonOS
import Glibc

/// `cordon audit [show] NAME`: the records, one escaped line each, or as stored (`--json`).
struct AuditShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a sandbox's audit log (the default: `cordon audit NAME`).",
        discussion: """
            Text: one line per record (time, seq, kind, then its fields; text the agent chose is \
            escaped). --json prints the records' JSON lines exactly as stored (docs/json.md, "cordon \
            audit"), so a program can check the chain itself. --since takes an RFC 3339 time \
            (2026-01-02T03:04:05Z) or a duration back from now (90s, 10m, 2h, 1d).
            """
    )

    @OptionGroup var sandbox: SandboxSelection

    @Flag(help: "Keep printing new records as they are written (until interrupted).")
    var follow = false

    @Flag(help: "Print the records' JSON lines as stored.")
    var json = false

    @Option(help: ArgumentHelp("Only records from this time on: RFC 3339, or a duration such as 10m.", valueName: "TIME"))
    var since: String?

    func validate() throws {
        if let since, AuditTime.since(since) == nil {
            throw ValidationError("--since \(since): expected an RFC 3339 time such as 2026-01-02T03:04:05Z, or a duration such as 90s, 10m, 2h or 1d")
        }
    }

    func run() throws {
        let layout: SandboxLayout
        do {
            layout = try sandbox.layout()
            _ = try layout.loadRecord()
        } catch {
            Console.error(error)
            throw ExitCode(2)
        }
        let start = since.flatMap { AuditTime.since($0) }
        guard FileIO.kind(layout.auditLog, followSymlinks: false) == .file else {
            if !json { print("\(sandbox.name): no audit log yet (it starts with the sandbox's next run)") }
            return
        }
        do {
            var lines = try AuditLines(path: layout.auditLog)
            while true {
                while let line = try lines.next(partial: false) { emit(line.bytes, since: start) }
                guard follow else { break }
                fflush(nil)
                usleep(200_000)
            }
        } catch {
            Console.error(error)
            throw ExitCode(2)
        }
    }

    private func emit(_ line: [UInt8], since: Int?) {
        guard !line.isEmpty else { return }
        let value = try? JSONValue.parse(line)
        if let since {
            guard case .string(let time)? = value?["time"], let at = AuditTime.milliseconds(rfc3339: time), at >= since else { return }
        }
        if json {
            print(String(decoding: line, as: UTF8.self))
        } else if let value, case .object(let pairs) = value {
            print(Self.text(pairs))
        } else {
            print("(not a record) " + TerminalText.escaped(String(decoding: line, as: UTF8.self)))
        }
    }

    /// `TIME  #SEQ  KIND  key=value …`: the chain's `prev` left out, every value escaped.
    static func text(_ pairs: [(String, JSONValue)]) -> String {
        var time = "", seq = "", kind = ""
        var fields: [String] = []
        for (key, value) in pairs {
            switch key {
            case "time": time = plain(value)
            case "seq": seq = plain(value)
            case "kind": kind = plain(value)
            case "prev", "version": continue
            default: fields.append("\(key)=\(plain(value))")
            }
        }
        return TerminalText.escaped("\(time)  #\(seq)  \(kind)  " + fields.joined(separator: " "))
    }

    /// A value as text: strings bare when they hold no space or quote, JSON otherwise.
    static func plain(_ value: JSONValue) -> String {
        if case .string(let text) = value, !text.isEmpty, !text.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) { return text }
        return value.encoded()
    }
}

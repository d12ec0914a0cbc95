import ArgumentParser
import CordonCore
import CordonOS
import FoundationEssentials
import Glibc

/// `cordon net log NAME`: one line per egress decision (connections, DNS queries, dropped UDP).
struct NetLogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Show a sandbox's network log: every connection and DNS query, allowed or refused, and why.",
        discussion: """
            Columns: time, decision, protocol or method, host:port, the rule that decided, bytes up/down, \
            and the reason. --json prints the log's JSON lines as written, each with "version": 1 added (fields: version, time, sandbox, client, \
            method, host, port, address, decision, rule, reason, bytes_up, bytes_down, duration_ms).
            """
    )

    @OptionGroup var sandbox: SandboxSelection

    @Flag(help: "Keep printing new entries as they are written (until interrupted).")
    var follow = false

    @Flag(help: "Print the JSON lines as written (each with a version field).")
    var json = false

    struct Entry: Decodable {
        var time: String
        var method: String
        var host: String
        var port: Int
        var address: String?
        var decision: String
        var rule: String
        var reason: String
        var bytes_up: Int
        var bytes_down: Int
    }

    func run() throws {
        let name = sandbox.name
        let layout: SandboxLayout
        do { layout = try sandbox.layout() } catch {
            Console.error(error)
            throw ExitCode(2)
        }
        let path = layout.networkLog
        var offset = 0
        var pending: [UInt8] = []
        while true {
            let chunk = Self.read(path, from: offset)
            offset += chunk.count
            pending += chunk
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                emit(Array(pending[..<newline]))
                pending.removeSubrange(...newline)
            }
            guard follow else { break }
            usleep(200_000)
        }
        if !pending.isEmpty { emit(pending) }
        if offset == 0 && !follow && !json { print("\(name): no network activity logged") }
    }

    func emit(_ line: [UInt8]) {
        guard !line.isEmpty else { return }
        if json {
            print(Self.versioned(line))
            return
        }
        guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(line)) else {
            print(TerminalText.escaped(String(decoding: line, as: UTF8.self)))
            return
        }
        print(Self.format(entry))
        fflush(nil)
    }

    /// A log line as `--json` prints it: unchanged but for a leading `"version":1` (docs/json.md),
    /// which the log file itself does not carry. A line that already has a version, or is not a
    /// JSON object (a torn last line), is printed as written.
    static func versioned(_ line: [UInt8]) -> String {
        let text = String(decoding: line, as: UTF8.self)
        struct Probe: Decodable { var version: Int? }
        guard line.first == UInt8(ascii: "{"), let probe = try? JSONDecoder().decode(Probe.self, from: Data(line)), probe.version == nil else {
            return text
        }
        let rest = text.dropFirst().drop { $0 == " " }
        return "{\"version\":\(JSONOutput.version)" + (rest.first == "}" ? "" : ",") + rest
    }

    /// One entry as a line for the terminal. Host names, addresses and reasons carry what the
    /// agent asked for (a DNS name, a SOCKS or CONNECT host): escaped, so no control sequence or
    /// bidi override in them reaches the terminal.
    static func format(_ e: Entry) -> String {
        TerminalText.escaped(plain(e))
    }

    static func plain(_ e: Entry) -> String {
        let time = e.time.split(separator: "T").last.map { String($0.prefix(12)) } ?? e.time
        let target = e.method == "dns" ? "\(e.host) (\(dnsType(e.port)))" : e.method == "udp" ? "-" : "\(e.host):\(e.port)"
        var text = "\(time)  \(e.decision.padding(5))  \(e.method.padding(7))  \(target)"
        if let address = e.address, address != e.host { text += " → \(address)" }
        text += "  [\(e.rule)]"
        if e.bytes_up + e.bytes_down > 0 { text += "  ↑\(e.bytes_up) ↓\(e.bytes_down)" }
        if e.decision != "allow" || e.method == "dns" { text += "  \(e.reason)" }
        return text
    }

    static func dnsType(_ type: Int) -> String {
        switch type {
        case 1: "A"
        case 28: "AAAA"
        case 16: "TXT"
        case 65: "HTTPS"
        default: "type \(type)"
        }
    }

    /// Bytes of `path` from `offset` to its end (nothing when it does not exist yet).
    static func read(_ path: String, from offset: Int) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var position = off_t(offset)
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, position) }
            if n <= 0 { break }
            result += buffer.prefix(n)
            position += off_t(n)
        }
        return result
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

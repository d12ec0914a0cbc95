import ArgumentParser
import CordonCore
import CordonNet
import CordonOS
import CordonPolicy
import Glibc

/// `cordon blocklist build|query`: DNS blocklists compiled for instant loading.
struct BlocklistCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blocklist",
        abstract: "Compile and query DNS blocklists (hosts files, domain lists, ||domain^ lines).",
        discussion: """
            A blocked domain (and every subdomain of it) is refused at the DNS stub and at the proxy, \
            even when the profile allows it. Name the compiled file in the profile's egress.blocklists.
            """,
        subcommands: [BlocklistBuildCommand.self, BlocklistQueryCommand.self]
    )

    static var defaultPath: String { CordonPaths.current().configHome + "/blocklists/blocklist.cbl" }
}

struct BlocklistBuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Merge list files into one compiled blocklist (a Bloom filter plus the exact sorted names)."
    )

    @Argument(help: "List files: hosts format, plain domains, or ||domain^ lines.")
    var files: [String]

    @Option(name: .shortAndLong, help: "Where to write it (default: <config>/blocklists/blocklist.cbl).")
    var output: String?

    func run() throws {
        let path = output ?? BlocklistCommand.defaultPath
        do {
            let started = WallClock.monotonic()
            let list = try Blocklist.load(paths: files)
            let bytes = list.compiled()
            do { try FileIO.writeAtomically(path, bytes) } catch { throw CordonError(.io, "cannot write \(path)", cause: error.description) }
            let seconds = WallClock.monotonic() - started
            print(
                "\(path): \(list.count) domains from \(files.count) file\(files.count == 1 ? "" : "s"), \(bytes.count / 1024) KiB, in \(Int(seconds * 1000)) ms"
            )
            print("use it: egress.blocklists: [\"\(path)\"]")
        } catch let error as CordonError {
            Console.error(error)
            throw ExitCode(2)
        }
    }
}

struct BlocklistQueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Say whether DOMAIN is blocked, and by which entry. Exit status: 0 blocked, 1 not listed, 2 error."
    )

    @Argument(help: "The domain to look up.")
    var domain: String

    @Option(name: .long, help: "Blocklist files, compiled or not (default: <config>/blocklists/blocklist.cbl).")
    var list: [String] = []

    func run() throws {
        let paths = list.isEmpty ? [BlocklistCommand.defaultPath] : list
        do {
            guard let host = Host(domain), let name = host.name else {
                throw CordonError(.invalidArgument, "\"\(domain)\" is not a domain name")
            }
            let blocklist = try Blocklist.load(paths: paths)
            if let entry = blocklist.match(name) {
                print("\(name): blocked by \(entry)")
                return
            }
            print("\(name): not listed (\(blocklist.count) domains checked)")
            throw ExitCode(1)
        } catch let error as CordonError {
            Console.error(error)
            throw ExitCode(2)
        }
    }
}

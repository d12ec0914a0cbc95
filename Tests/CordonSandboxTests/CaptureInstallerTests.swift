import CordonTestSupport
import CCordon
import CordonIsolation
import CordonOS
import Foundation
import Glibc
import Testing

/// The capture's link, made with rtnetlink (no `ip` exec), in a throwaway network namespace
/// that only one thread of the test process enters: when it works there is the veth pair, its
/// addresses and the default route; when any step fails nothing of it is left, only `lo`.
@Suite(.enabled(if: SandboxHarness.isRoot, "entering a network namespace from a thread needs CAP_SYS_ADMIN"), .timeLimit(.minutes(5)))
struct CaptureInstallerTests {
    struct NetState: Sendable {
        var interfaces: [String]
        var routes: [String]
        var localAddresses: Set<String>
    }

    /// Foundation starts the machinery that watches child processes on the first `Process` run,
    /// with a wakeup socket pair over 127.0.0.1: started from inside a fresh namespace (whose `lo`
    /// is down) it fails, and every later child is never seen to exit. Start it here first.
    static let processMachineryStarted: Bool = (try? SandboxHarness.runBlocking(["/bin/true"], environment: nil, timeout: 10))?.status == 0

    /// Runs `body` on a new thread in a new network namespace (unshare affects that thread only).
    static func inFreshNetworkNamespace<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        #expect(processMachineryStarted)
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do {
                    try NamespaceSet.unshare(.net)
                    continuation.resume(returning: try body())
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }

    /// The calling thread's interfaces, IPv4 routes ("iface destination gateway", hex as the
    /// kernel prints them) and local IPv4 addresses.
    static func netState() throws -> NetState {
        let dev = try String(contentsOfFile: "/proc/thread-self/net/dev", encoding: .utf8)
        let interfaces = dev.split(separator: "\n").dropFirst(2).compactMap { $0.split(separator: ":").first?.trimmingCharacters(in: .whitespaces) }
        let route = try String(contentsOfFile: "/proc/thread-self/net/route", encoding: .utf8)
        let routes = route.split(separator: "\n").dropFirst().map { $0.split(separator: "\t").prefix(3).joined(separator: " ") }
        // fib_trie lists each local address on a line followed by "/32 host LOCAL".
        let trie = try String(contentsOfFile: "/proc/thread-self/net/fib_trie", encoding: .utf8).split(separator: "\n").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        var local: Set<String> = []
        for (index, line) in trie.enumerated() where line == "/32 host LOCAL" && index > 0 {
            if let address = trie[index - 1].split(separator: " ").last { local.insert(String(address)) }
        }
        return NetState(interfaces: interfaces.sorted(), routes: routes.sorted(), localAddresses: local)
    }

    /// `nft list ruleset` in the calling thread's network namespace.
    static func listRuleset() throws -> SandboxHarness.Result {
        // "PID/task/TID": the child nft runs in cannot name this thread as /proc/thread-self.
        let thread = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")
        return try SandboxHarness.runBlocking(["/usr/bin/nsenter", "--net=/proc/\(thread)/ns/net", "/usr/sbin/nft", "list", "ruleset"], environment: nil)
    }

    /// The rules cordon-init sends over netlink are exactly `CaptureInstaller.ruleset` as nft
    /// itself loads it (nft is the oracle; cordon does not need it).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft"), "nft (the oracle) is not installed"))
    func theNetlinkRulesAreTheDocumentedRuleset() async throws {
        let installer = CaptureInstaller(capture: .standard)
        let (problem, listed) = try await Self.inFreshNetworkNamespace {
            (installer.loadRules(), try Self.listRuleset())
        }
        #expect(problem == nil, "\(problem ?? "")")
        let reference = try await SandboxHarness.run(
            ["/usr/bin/unshare", "--net", "/bin/sh", "-c", "/usr/sbin/nft -f - && /usr/sbin/nft list ruleset"], environment: nil, stdin: installer.ruleset)
        #expect(reference.status == 0, "\(reference.stderr)")
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("redirect to :15001"))
        #expect(listed.stdout == reference.stdout)
    }

    /// Opens a TCP connection to 127.0.0.1:`port` (the listener's backlog completes it); the
    /// descriptor, or -errno.
    static func connectLoopback(_ port: UInt16) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -errno }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { let e = errno; close(fd); return -e }
        return fd
    }

    /// The explicit proxy's loopback connections are not tracked (no conntrack entry each, kept
    /// minutes after the close), other loopback connections still are: the redirected flows'
    /// replies need the tracking to be translated back.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/net/nf_conntrack"), "this kernel lists no conntrack table (/proc/net/nf_conntrack)"))
    func theProxysLoopbackConnectionsAreNotTracked() async throws {
        let capture = SandboxPlan.EgressCapture.standard
        let other: UInt16 = 3129
        let (problem, table) = try await Self.inFreshNetworkNamespace { () -> (String?, String) in
            if let problem = CaptureInstaller(capture: capture).loadRules() { return (problem, "") }
            guard ccordon_loopback_up() == 0 else { return ("cannot bring up lo", "") }
            let listeners = [capture.proxyPort, other].map { ccordon_listen_loopback(Int32(SOCK_STREAM.rawValue), $0, 16) }
            let clients = [capture.proxyPort, other].map { Self.connectLoopback($0) }
            defer { (listeners + clients).filter { $0 >= 0 }.forEach { close($0) } }
            guard listeners.allSatisfy({ $0 >= 0 }), clients.allSatisfy({ $0 >= 0 }) else { return ("listen \(listeners), connect \(clients)", "") }
            return (nil, try String(contentsOfFile: "/proc/thread-self/net/nf_conntrack", encoding: .utf8))
        }
        #expect(problem == nil, "\(problem ?? "")")
        #expect(table.contains("dport=\(other) "), "the control connection was not tracked: \(table)")
        #expect(!table.contains("port=\(capture.proxyPort) "), "a connection to the proxy port was tracked: \(table)")
    }

    /// A proxy port that is also a redirect target would leave redirected flows untracked (their
    /// replies never translated back): such ports are refused before anything is loaded.
    @Test func portsThatCoincideAreRefused() async throws {
        let (problem, listed) = try await Self.inFreshNetworkNamespace {
            (CaptureInstaller(capture: .init(relayPort: 3128, proxyPort: 3128)).loadRules(), try Self.listRuleset())
        }
        #expect(problem?.contains("ports must all differ") == true, "\(problem ?? "no problem reported")")
        #expect(listed.status == 0 && !listed.stdout.contains("table"), "\(listed.stdout)")
    }

    /// Fail closed and all or nothing: rules already in the namespace make a second load fail
    /// at its first step, and nothing of the second batch is added.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft"), "nft (to list the rules) is not installed"))
    func aSecondLoadIsRefusedWhole() async throws {
        let installer = CaptureInstaller(capture: .standard)
        let (first, second, listed) = try await Self.inFreshNetworkNamespace {
            let first = installer.loadRules()
            let listedOnce = try Self.listRuleset()
            let other = CaptureInstaller(capture: .init(relayPort: 16001))
            return (first, other.loadRules(), (listedOnce, try Self.listRuleset()))
        }
        #expect(first == nil, "\(first ?? "")")
        #expect(second?.contains("create table inet cordon") == true, "\(second ?? "no problem reported")")
        #expect(listed.0.stdout == listed.1.stdout)
        #expect(!listed.1.stdout.contains("16001"))
    }

    @Test func theLinkHasBothEndsTheirAddressesAndTheDefaultRoute() async throws {
        let (problem, state) = try await Self.inFreshNetworkNamespace {
            (CaptureInstaller(capture: .standard).makeLink(), try Self.netState())
        }
        #expect(problem == nil, "\(problem ?? "")")
        #expect(state.interfaces == ["cordon0", "cordon1", "lo"])
        // 10.200.0.2 is 0200C80A as the kernel prints it: the default route goes via the peer.
        #expect(state.routes.contains("cordon0 00000000 0200C80A"), "\(state.routes)")
        #expect(state.localAddresses.isSuperset(of: ["10.200.0.1", "10.200.0.2"]), "\(state.localAddresses)")
    }

    /// Fail closed: a gateway that is not on the link's /30 makes the route step fail after the
    /// pair exists; the pair is deleted again, so there is no route and only `lo`.
    @Test(arguments: [
        ("10.200.0.1", "10.201.0.2", "add the default route"),
        ("10.200.0.1", "not-an-address", "parse the link's addresses"),
    ])
    func aFailedStepLeavesOnlyLoopback(address: String, gateway: String, step: String) async throws {
        let capture = SandboxPlan.EgressCapture(address: address, gateway: gateway)
        let (problem, state) = try await Self.inFreshNetworkNamespace {
            (CaptureInstaller(capture: capture).makeLink(), try Self.netState())
        }
        #expect(problem?.contains(step) == true, "\(problem ?? "no problem reported")")
        #expect(state.interfaces == ["lo"])
        #expect(state.routes.isEmpty, "\(state.routes)")
    }

    /// The same link cannot be made twice (a leftover would be an error, never silently reused),
    /// and the failed second attempt leaves the first intact.
    @Test func aSecondLinkIsRefused() async throws {
        let (first, second, state) = try await Self.inFreshNetworkNamespace {
            let installer = CaptureInstaller(capture: .standard)
            return (installer.makeLink(), installer.makeLink(), try Self.netState())
        }
        #expect(first == nil)
        #expect(second?.contains("create the veth pair") == true, "\(second ?? "")")
        #expect(state.interfaces == ["cordon0", "cordon1", "lo"])
    }
}

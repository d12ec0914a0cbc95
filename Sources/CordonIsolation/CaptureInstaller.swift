import CCordon
public import CordonOS
import Glibc

/// Installs the egress capture from inside the sandbox's network namespace (cordon-init, which
/// is root of the namespace's owning user namespace: no host privilege involved).
///
/// Order matters for failing closed: the nftables rules go in first (their default is drop), and
/// only then the veth pair and the default route (rtnetlink, in the C shim). If the rules fail,
/// no link or route is ever added, and if the link fails half-way it is deleted again: the
/// sandbox keeps only `lo`.
public struct CaptureInstaller {
    public let capture: SandboxPlan.EgressCapture

    public init(capture: SandboxPlan.EgressCapture) { self.capture = capture }

    /// Interface names inside the sandbox.
    public static let interface = "cordon0"
    public static let peerInterface = "cordon1"

    /// Where nft is looked for (init starts it before pivot_root, so on the host's root).
    static let searchPath = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]

    /// The ruleset: TCP is redirected to the relay, UDP 53 to the DNS stub, other UDP to the
    /// sink that counts it; IPv6, ICMP and anything else that would leave `lo` is dropped and
    /// counted. Loopback traffic inside the sandbox is left alone.
    public var ruleset: String {
        """
        table inet cordon {
          counter dropped_ipv6 {}
          counter dropped_icmp {}
          counter dropped_other {}
          chain capture {
            type nat hook output priority -100; policy accept;
            oifname "lo" return
            meta nfproto ipv4 meta l4proto tcp redirect to :\(capture.relayPort)
            meta nfproto ipv4 udp dport 53 redirect to :\(capture.dnsPort)
            meta nfproto ipv4 meta l4proto udp redirect to :\(capture.sinkPort)
          }
          chain guard {
            type filter hook output priority 0; policy drop;
            oifname "lo" accept
            ip daddr 127.0.0.0/8 accept
            meta nfproto ipv6 counter name dropped_ipv6 drop
            meta l4proto { icmp, icmpv6 } counter name dropped_icmp drop
            counter name dropped_other drop
          }
          chain inbound {
            type filter hook input priority 0; policy drop;
            iifname "lo" accept
            ip daddr 127.0.0.0/8 accept
            ct state established,related accept
            counter name dropped_other drop
          }
        }

        """
    }

    /// Prefix length of the link's /30 (the address and the gateway).
    static let prefixLength: Int32 = 30

    public enum Outcome {
        /// Relay, proxy, DNS and sink listeners, in that order.
        case installed([Int32])
        /// Why the capture is not in place; the sandbox has only `lo`.
        case unavailable(String)
    }

    /// The nftables rules being loaded by `nft`, a separate process: init starts it first and
    /// builds the root meanwhile. `finish()` waits for it (before pivot_root moves the root).
    public struct Rules {
        enum State {
            case running(pid: pid_t, output: Int32)
            case done(problem: String?)
        }
        var state: State

        /// nil when the rules are in place, else why not.
        public mutating func finish() -> String? {
            switch state {
            case .done(let problem):
                return problem
            case .running(let pid, let output):
                var text = [CChar](repeating: 0, count: 2048)
                let status = text.withUnsafeMutableBufferPointer { ccordon_wait_program(pid, output, $0.baseAddress, $0.count) }
                let problem = status == 0 ? nil : "the nftables rules could not be installed: \(CaptureInstaller.describe(status: status, output: text, program: "nft"))"
                state = .done(problem: problem)
                return problem
            }
        }
    }

    /// How the ruleset is loaded: `nft -f -` with the ruleset on stdin; nil when nft is missing.
    public var rulesProgram: (path: String, arguments: [String], input: [UInt8])? {
        Self.find("nft").map { ($0, ["nft", "-f", "-"], Array(ruleset.utf8)) }
    }

    /// Starts loading the ruleset (default drop) into the current network namespace.
    public func startRules() -> Rules {
        guard let program = rulesProgram else { return Rules(state: .done(problem: "nft (the nftables package) is not installed")) }
        var pid: pid_t = -1
        var output: Int32 = -1
        let rc = withCStrings(program.arguments) { argv in
            program.input.withUnsafeBytes { input in
                ccordon_start_program(
                    program.path, UnsafeRawPointer(argv.baseAddress!).assumingMemoryBound(to: UnsafeMutablePointer<CChar>?.self),
                    input.baseAddress, input.count, &pid, &output)
            }
        }
        guard rc == 0 else { return Rules(state: .done(problem: "the nftables rules could not be installed: \(program.path): \(String(cString: strerror(-rc)))")) }
        return Rules(state: .running(pid: pid, output: output))
    }

    /// The rules the supervisor's spawner already started (`rulesProgram`, before init's exec):
    /// their output is at `SandboxPlan.rulesOutputDescriptor`, and nft is init's only child.
    /// nil when they were not started that way.
    public static func startedRules() -> Rules? {
        guard fcntl(SandboxPlan.rulesOutputDescriptor, F_GETFD) >= 0 else { return nil }
        return Rules(state: .running(pid: -1, output: SandboxPlan.rulesOutputDescriptor))
    }

    /// Completes the capture once `rules` are loaded: the veth pair, its addresses and the
    /// default route (rtnetlink), then the listeners. Nothing is linked unless the rules hold.
    public func install(after rules: inout Rules) -> Outcome {
        if let problem = rules.finish() { return .unavailable(problem) }
        if let problem = makeLink() { return .unavailable(problem) }
        // IPv6 stays off on the link (the rules drop it as well).
        _ = try? FileIO.writeFile("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1")
        var listeners: [Int32] = []
        for (type, port) in [(SOCK_STREAM, capture.relayPort), (SOCK_STREAM, capture.proxyPort), (SOCK_DGRAM, capture.dnsPort), (SOCK_DGRAM, capture.sinkPort)] {
            let fd = ccordon_listen_loopback(Int32(type.rawValue), port, 4096)
            guard fd >= 0 else {
                listeners.forEach { close($0) }
                // Without the link (and its default route) nothing leaves: only lo stays.
                Self.removeLink()
                return .unavailable("cannot listen on 127.0.0.1:\(port) inside the sandbox: \(String(cString: strerror(-fd)))")
            }
            listeners.append(fd)
        }
        return .installed(listeners)
    }

    /// The veth pair (both ends in the current network namespace), its addresses and the default
    /// route. nil when all is in place; else why not, and nothing of it is left behind.
    public func makeLink() -> String? {
        var step: UnsafePointer<CChar>?
        let rc = ccordon_capture_link(Self.interface, Self.peerInterface, capture.address, capture.gateway, Self.prefixLength, &step)
        guard rc != 0 else { return nil }
        let what = step.map { String(cString: $0) } ?? "create the link"
        return "the sandbox's network link could not be created: \(what): \(String(cString: strerror(-rc)))"
    }

    /// Deletes the veth pair and with it the default route.
    public static func removeLink() {
        _ = ccordon_capture_link_remove(interface)
    }

    /// Sends the outcome to the supervisor and closes what init no longer needs.
    public static func report(_ outcome: Outcome, to socket: Int32) throws(SystemError) {
        switch outcome {
        case .installed(let fds):
            let message = Array("ok".utf8)
            let rc = fds.withUnsafeBufferPointer { f in message.withUnsafeBytes { ccordon_send_fds(socket, f.baseAddress, Int32(fds.count), $0.baseAddress, $0.count) } }
            fds.forEach { close($0) }
            try check("hand the network listeners to the supervisor", nil, rc)
        case .unavailable(let reason):
            let message = Array(reason.utf8.prefix(4000))
            let rc = message.withUnsafeBytes { ccordon_send_fds(socket, nil, 0, $0.baseAddress, $0.count) }
            try check("report the network state to the supervisor", nil, rc)
        }
    }

    static func find(_ name: String) -> String? {
        for dir in searchPath {
            let path = dir + "/" + name
            if access(path, X_OK) == 0 { return path }
        }
        return nil
    }

    /// A program's failure in one line: its first output lines, or its status.
    static func describe(status: Int32, output: [CChar], program: String) -> String {
        if status < 0 { return "\(program): \(String(cString: strerror(-status)))" }
        let text = output.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            .split(separator: "\n").prefix(3).joined(separator: "; ")
        return text.isEmpty ? "\(program) exited \(status)" : text
    }
}

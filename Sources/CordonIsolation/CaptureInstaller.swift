import CCordon
public import CordonOS
import Glibc

/// Installs the egress capture from inside the sandbox's network namespace (cordon-init, which
/// is root of the namespace's owning user namespace: no host privilege involved).
///
/// Order matters for failing closed: the nftables rules go in first (their default is drop), and
/// only then the veth pair and the default route. If the rules fail, no route is ever added and
/// the sandbox keeps only `lo`.
public struct CaptureInstaller {
    public let capture: SandboxPlan.EgressCapture

    public init(capture: SandboxPlan.EgressCapture) { self.capture = capture }

    /// Interface names inside the sandbox.
    public static let interface = "cordon0"
    public static let peerInterface = "cordon1"

    /// Where nft and ip are looked for (inside the sandbox, /usr is the host's, read-only).
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

    /// `ip -batch` commands: the veth pair (both ends inside), addresses, the default route.
    public var linkCommands: String {
        """
        link add \(Self.interface) type veth peer name \(Self.peerInterface)
        addr add \(capture.address)/30 dev \(Self.interface)
        addr add \(capture.gateway)/30 dev \(Self.peerInterface)
        link set \(Self.peerInterface) up
        link set \(Self.interface) up
        route add default via \(capture.gateway) dev \(Self.interface)

        """
    }

    public enum Outcome {
        /// Relay, proxy, DNS and sink listeners, in that order.
        case installed([Int32])
        /// Why the capture is not in place; the sandbox has only `lo`.
        case unavailable(String)
    }

    public func install() -> Outcome {
        guard let nft = Self.find("nft") else { return .unavailable("nft (the nftables package) is not installed") }
        guard let ip = Self.find("ip") else { return .unavailable("ip (the iproute2 package) is not installed") }
        if let problem = Self.runProgram(nft, ["nft", "-f", "-"], input: ruleset) {
            return .unavailable("the nftables rules could not be installed: \(problem)")
        }
        if let problem = Self.runProgram(ip, ["ip", "-batch", "-"], input: linkCommands) {
            // Without the route nothing leaves; take the half-made link away too.
            _ = Self.runProgram(ip, ["ip", "link", "del", Self.interface], input: "")
            return .unavailable("the sandbox's network link could not be created: \(problem)")
        }
        // IPv6 stays off on the link (the rules drop it as well).
        _ = try? FileIO.writeFile("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1")
        var listeners: [Int32] = []
        for (type, port) in [(SOCK_STREAM, capture.relayPort), (SOCK_STREAM, capture.proxyPort), (SOCK_DGRAM, capture.dnsPort), (SOCK_DGRAM, capture.sinkPort)] {
            let fd = ccordon_listen_loopback(Int32(type.rawValue), port, 4096)
            guard fd >= 0 else {
                listeners.forEach { close($0) }
                _ = Self.runProgram(ip, ["ip", "route", "del", "default"], input: "")
                return .unavailable("cannot listen on 127.0.0.1:\(port) inside the sandbox: \(String(cString: strerror(-fd)))")
            }
            listeners.append(fd)
        }
        return .installed(listeners)
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

    /// Runs a program with `input` on stdin; nil on success, else its output (or why it failed).
    static func runProgram(_ path: String, _ arguments: [String], input: String) -> String? {
        var output = [CChar](repeating: 0, count: 2048)
        let bytes = Array(input.utf8)
        let status = withCStrings(arguments) { argv in
            bytes.withUnsafeBytes { inputBuffer in
                output.withUnsafeMutableBufferPointer { out in
                    ccordon_run_program(
                        path, UnsafeRawPointer(argv.baseAddress!).assumingMemoryBound(to: UnsafeMutablePointer<CChar>?.self),
                        inputBuffer.baseAddress, inputBuffer.count, out.baseAddress, out.count)
                }
            }
        }
        if status == 0 { return nil }
        let text = output.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            .split(separator: "\n").prefix(3).joined(separator: "; ")
        if status < 0 { return "\(path): \(String(cString: strerror(-status)))" }
        return text.isEmpty ? "\(path) exited \(status)" : text
    }
}

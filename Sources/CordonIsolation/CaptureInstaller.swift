public import CordonCore
public import CordonOS
import Glibc

/// Installs the egress capture from inside the sandbox's network namespace (cordon-init, which
/// is root of the namespace's owning user namespace: no host privilege involved).
///
/// Order matters for failing closed: the nftables rules go in first (their default is drop), and
/// only then the veth pair and the default route. Both are netlink messages from the C shim (no
/// `nft` or `ip` process). If the rules fail, no link or route is ever added, and if the link
/// fails half-way it is deleted again: the sandbox keeps only `lo`.
public struct CaptureInstaller: Sendable {
    public let capture: SandboxPlan.EgressCapture

    public init(capture: SandboxPlan.EgressCapture) { self.capture = capture }

    /// Interface names inside the sandbox.
    public static let interface = "cordon0"
    public static let peerInterface = "cordon1"

    /// The ruleset `CaptureNetwork.loadRules` installs, in nft's syntax (what `nft list ruleset`
    /// shows inside; a test loads both and compares): TCP is redirected to the relay, UDP 53 to
    /// the DNS stub, other UDP to the sink that counts it; IPv6, ICMP and anything else that
    /// would leave `lo` is dropped and counted. Loopback traffic inside the sandbox is left alone,
    /// and the explicit proxy's loopback connections are not tracked (they are never redirected;
    /// tracking them cost a conntrack entry each, kept two minutes after the close, and lookups
    /// on every packet).
    public var ruleset: String {
        """
        table inet cordon {
          counter dropped_ipv6 {}
          counter dropped_icmp {}
          counter dropped_other {}
          chain untracked {
            type filter hook output priority raw; policy accept;
            oifname "lo" tcp dport \(capture.proxyPort) notrack
            oifname "lo" tcp sport \(capture.proxyPort) notrack
          }
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
            meta l4proto icmp counter name dropped_icmp drop
            meta l4proto ipv6-icmp counter name dropped_icmp drop
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
        /// Relay, proxy, DNS and sink listeners.
        case installed(CaptureListeners)
        /// Why the capture is not in place; the sandbox has only `lo`.
        case unavailable(String)
    }

    /// Loads the ruleset (default drop) into the current network namespace, all or nothing.
    /// nil when the rules are in place, else why not.
    public func loadRules() -> String? {
        guard let failure = sendRules() else { return nil }
        var hint = ""
        if [ENOENT, EOPNOTSUPP, EPROTONOSUPPORT, EAFNOSUPPORT].contains(failure.errno) {
            hint = " (does this kernel have nf_tables with NAT? `cordon doctor` checks)"
        }
        return "the nftables rules could not be installed: \(failure)\(hint)"
    }

    /// cordon-init's argument for `cordon doctor`'s probe: load the rules and exit.
    public static let probeArgument = "--probe-capture-rules"

    /// Loads the rules (with the standard ports) into the current network namespace: 0, or the
    /// errno why not (for an exit status).
    public static func probeRules() -> Int32 {
        guard let failure = CaptureInstaller(capture: .standard).sendRules() else { return 0 }
        return min(failure.errno, 255)
    }

    /// The ruleset as one nf_tables batch: nil, or the step that failed and its errno.
    private func sendRules() -> SystemError? {
        do throws(SystemError) {
            try CaptureNetwork.loadRules(relayPort: capture.relayPort, proxyPort: capture.proxyPort, dnsPort: capture.dnsPort, sinkPort: capture.sinkPort)
            return nil
        } catch {
            return error
        }
    }

    /// IPv6 off in the current network namespace, for the devices there (`all`) and those made
    /// later (`default`), before the capture's link exists (the rules drop IPv6 as well).
    public static func disableIPv6() {
        for scope in ["default", "all"] { _ = try? FileIO.writeFile("/proc/sys/net/ipv6/conf/\(scope)/disable_ipv6", "1") }
    }

    /// The capture: rules first, then the veth pair, its addresses and the default route
    /// (rtnetlink), then the listeners. Nothing is linked unless the rules hold. Touches no
    /// file-system path (cordon-init runs it beside the root's construction).
    public func install() -> Outcome {
        if let problem = loadRules() { return .unavailable(problem) }
        if let problem = makeLink() { return .unavailable(problem) }
        var listeners: [Int32] = []
        for (type, port) in [(SOCK_STREAM, capture.relayPort), (SOCK_STREAM, capture.proxyPort), (SOCK_DGRAM, capture.dnsPort), (SOCK_DGRAM, capture.sinkPort)]
        {
            do throws(SystemError) {
                listeners.append(try CaptureNetwork.listenLoopback(type, port: port).take())
            } catch {
                listeners.forEach { close($0) }
                // Without the link (and its default route) nothing leaves: only lo stays.
                Self.removeLink()
                return .unavailable("cannot listen on 127.0.0.1:\(port) inside the sandbox: \(error.errnoText)")
            }
        }
        return .installed(CaptureListeners(relay: listeners[0], proxy: listeners[1], dns: listeners[2], sink: listeners[3]))
    }

    /// The veth pair (both ends in the current network namespace), its addresses and the default
    /// route. nil when all is in place; else why not, and nothing of it is left behind.
    public func makeLink() -> String? {
        do throws(SystemError) {
            try CaptureNetwork.makeLink(
                name: Self.interface, peer: Self.peerInterface, address: capture.address, gateway: capture.gateway, prefix: Self.prefixLength)
            return nil
        } catch {
            return "the sandbox's network link could not be created: \(error)"
        }
    }

    /// Deletes the veth pair and with it the default route.
    public static func removeLink() {
        CaptureNetwork.removeLink(interface)
    }

    /// Sends the outcome to the supervisor and closes what init no longer needs.
    public static func report(_ outcome: Outcome, to socket: Int32) throws(CordonError) {
        switch outcome {
        case .installed(let listeners): try CaptureChannel.report(listeners, over: socket)
        case .unavailable(let reason): try CaptureChannel.report(unavailable: reason, over: socket)
        }
    }
}

import CordonCore
import CordonOS
import CordonTestSupport
import CordonPolicy
import NIOCore
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@testable import CordonNet

/// The host side of a sandbox's network, on listeners made the way cordon-init makes them.
@Suite(.serialized, .timeLimit(.minutes(2))) struct SandboxEgressTests {
    /// Four loopback listeners on free ports (relay, proxy, DNS, sink).
    static func listeners() throws -> (SandboxEgress.Listeners, proxyPort: Int) {
        var fds: [Int32] = []
        var proxyPort = 0
        for (index, type) in [SOCK_STREAM, SOCK_STREAM, SOCK_DGRAM, SOCK_DGRAM].enumerated() {
            var fd: Int32 = -1
            for _ in 0..<50 {
                let port = UInt16.random(in: 20000...60000)
                fd = (try? CaptureNetwork.listenLoopback(type, port: port, backlog: 128).take()) ?? -1
                if fd >= 0 {
                    if index == 1 { proxyPort = Int(port) }
                    break
                }
            }
            guard fd >= 0 else { throw CordonError(.io, "no free port") }
            fds.append(fd)
        }
        return (SandboxEgress.Listeners(fds)!, proxyPort)
    }

    func status(through port: Int) async throws -> String {
        try await run(["curl", "-sS", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}", "-x", "http://127.0.0.1:\(port)", "http://unlisted.test/"]).stdout
    }

    /// The profile's limits reach the proxy and the policy; absent, the defaults apply.
    @Test func theLimitsReachTheProxy() throws {
        let set = try SandboxEgress(
            configuration: try EgressConfiguration(
                domains: [".github.com"], dnsBound: .init(namesPerMinute: 7, maxLabelLength: 9, maxEntropy: 3),
                maxConnections: 64, requestTimeout: 2.5),
            sandbox: "box", logPath: nil)
        #expect(set.proxy.options.maxConnections == 64)
        #expect(set.proxy.options.firstBytesTimeout == .milliseconds(2500))
        #expect(set.policy.wildcardBound.limits == .init(namesPerMinute: 7, maxLabelLength: 9, maxEntropy: 3))
        let defaults = try SandboxEgress(configuration: EgressConfiguration(), sandbox: "box", logPath: nil)
        #expect(defaults.proxy.options.maxConnections == 512)
        #expect(defaults.proxy.options.firstBytesTimeout == .seconds(10))
        #expect(defaults.policy.wildcardBound.limits == .init())
        // 0 is never "unlimited".
        #expect(EgressProxy.Options(maxConnections: 0).maxConnections == 512)
    }

    @Test func aListenerThatDiesIsServedAgainAndStopLeavesNothing() async throws {
        let (listeners, port) = try Self.listeners()
        let events = Mutex<[String]>([])
        let egress = try SandboxEgress(
            configuration: try EgressConfiguration(domains: ["allowed.test"]), sandbox: "t", logPath: nil,
            onEvent: { message in events.withLock { $0.append(message) } })
        try await egress.start(listeners)
        #expect(try await status(through: port) == "403")
        // Take the proxy's listeners down as a failure would: they come back from the kept sockets.
        await egress.proxy.stop()
        for _ in 0..<100 where events.withLock({ $0.filter { $0.contains("restarted") }.count }) < 2 {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(events.withLock { $0.filter { $0.contains("restarted") }.count } == 2, "\(events.withLock { $0 })")
        #expect(try await status(through: port) == "403")
        // A deliberate stop restarts nothing and closes the sockets: no egress at all afterwards.
        await egress.stop()
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await status(through: port) == "000")
        #expect(events.withLock { $0.count } == 2)
    }

    /// Fail closed: an `https://` parent proxy whose CA file cannot be read stops the sandbox's
    /// network from being set up at all (nothing would check the parent's certificate).
    @Test func anUnreadableParentCAStopsTheSetUp() {
        let error = #expect(throws: CordonError.self) {
            _ = try SandboxEgress(
                configuration: EgressConfiguration(
                    domains: ["allowed.test"], parentProxy: .init(url: "https://proxy.corp.test:3129", caFile: "/nonexistent/corp-ca.pem")),
                sandbox: "t", logPath: nil)
        }
        #expect(error?.message.contains("egress.parent_proxy.ca_file") == true, "\(String(describing: error))")
    }
}

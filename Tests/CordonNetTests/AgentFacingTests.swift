import CordonTestSupport
import CordonCore
import CordonPolicy
import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing

@testable import CordonNet

/// ClientHellos built field by field, so a test can break exactly one rule.
enum Hello {
    static func sniExtension(_ entries: [(type: UInt8, name: String)]) -> [UInt8] {
        var list: [UInt8] = []
        for entry in entries {
            let name = Array(entry.name.utf8)
            list += [entry.type, UInt8(name.count >> 8), UInt8(name.count & 0xFF)] + name
        }
        let data = [UInt8(list.count >> 8), UInt8(list.count & 0xFF)] + list
        return [0, 0, UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
    }

    static func record(_ extensions: [UInt8]) -> [UInt8] {
        var body: [UInt8] = [0x03, 0x03] + [UInt8](repeating: 7, count: 32) + [0] + [0, 2, 0x13, 0x01] + [1, 0]
        body += [UInt8(extensions.count >> 8), UInt8(extensions.count & 0xFF)] + extensions
        let handshake: [UInt8] = [0x01, 0, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
        return [0x16, 0x03, 0x01, UInt8(handshake.count >> 8), UInt8(handshake.count & 0xFF)] + handshake
    }

    static func with(_ name: String) -> [UInt8] { record(sniExtension([(0, name)])) }
}

/// Issue #22, section 4: one parse per protocol element, strict.
@Suite struct StrictParsingTests {
    func isMalformed(_ result: FirstBytes) -> Bool {
        if case .malformed = result { return true }
        return false
    }

    @Test func clientHelloWithASecondNameIsRefused() {
        #expect(FirstBytes.inspect(Hello.with("allowed.test")) == .tls(serverName: "allowed.test"))
        // Two entries in one server_name list: the allowed name first, then another.
        #expect(isMalformed(FirstBytes.inspect(Hello.record(Hello.sniExtension([(0, "allowed.test"), (0, "evil.test")])))))
        // A second server_name extension after the first (a duplicate extension, RFC 8446 4.2).
        let two = Hello.sniExtension([(0, "allowed.test")]) + Hello.sniExtension([(0, "evil.test")])
        #expect(isMalformed(FirstBytes.inspect(Hello.record(two))))
        // Any other extension twice.
        let alpn: [UInt8] = [0, 16, 0, 5, 0, 3, 2, 0x68, 0x32]
        #expect(isMalformed(FirstBytes.inspect(Hello.record(Hello.sniExtension([(0, "allowed.test")]) + alpn + alpn))))
        // An entry of another name type, alone or after the host_name.
        #expect(isMalformed(FirstBytes.inspect(Hello.record(Hello.sniExtension([(1, "allowed.test")])))))
        #expect(isMalformed(FirstBytes.inspect(Hello.record(Hello.sniExtension([(0, "allowed.test"), (1, "evil.test")])))))
        // An empty list.
        #expect(isMalformed(FirstBytes.inspect(Hello.record(Hello.sniExtension([])))))
    }

    @Test func ambiguousRequestHeadsAreRefused() {
        func inspect(_ text: String) -> FirstBytes { FirstBytes.inspect(Array(text.utf8)) }
        #expect(inspect("GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n") == .http(method: "GET", host: "allowed.test"))
        for attack in [
            "GET / HTTP/1.1\r\nHost: allowed.test\nHost: evil.test\r\n\r\n",  // a second Host behind a bare LF
            "GET / HTTP/1.1\r\nHost: allowed.test\r\nX: y\nHost: evil.test\r\n\r\n",
            "GET / HTTP/1.1\nHost: allowed.test\n\n",
            "GET / HTTP/1.1\r\nHost : evil.test\r\nHost: allowed.test\r\n\r\n",  // space before the colon
            "GET / HTTP/1.1\r\nHost: allowed.test, evil.test\r\n\r\n",  // a Host list
            "GET / HTTP/1.1\r\nHost: allowed.test\r\nHost: allowed.test\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: allowed.test\r\n evil.test\r\n\r\n",  // obs-fold
            "GET / HTTP/1.1\r\nHost: allowed.test\revil\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 5, 5\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: allowed.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: allowed.test\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        ] {
            #expect(isMalformed(inspect(attack)), "\(attack.debugDescription)")
        }
    }

    func listener(firstBytesTimeout: TimeAmount = .seconds(10)) throws -> (EmbeddedChannel, EgressProxy) {
        let proxy = EgressProxy(
            policy: try EgressPolicy(EgressConfiguration(domains: ["allowed.test"])), log: try NetworkLog(sandbox: "box", path: nil),
            resolver: NoResolver(), options: .init(sandbox: "box", firstBytesTimeout: firstBytesTimeout))
        let record = FlowRecord(client: "test", log: proxy.log)
        let channel = EmbeddedChannel()
        channel.closeFuture.whenComplete { _ in record.finish() }
        try channel.connect(to: SocketAddress(ipAddress: "10.0.0.1", port: 40000)).wait()
        try channel.pipeline.syncOperations.addHandler(ProtocolSniffer(proxy: proxy, record: record))
        return (channel, proxy)
    }

    func reply(_ channel: EmbeddedChannel) throws -> String {
        var out: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out += buffer.readableBytesView }
        return String(decoding: out, as: UTF8.self)
    }

    /// The same heads on the proxy listener (NIO's decoder, then `RequestHeadRules`): 400 and a line.
    @Test func theListenerAnswers400() throws {
        for attack in [
            "GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test, evil.test\r\n\r\n",
            "GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\nHost: evil.test\r\n\r\n",
            "GET http://allowed.test/ HTTP/1.1\r\nHost : evil.test\r\n\r\n",
            "POST http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 5, 5\r\n\r\n",
            "POST http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            let (channel, proxy) = try listener()
            try channel.writeInbound(channel.allocator.buffer(string: attack))
            let answer = try reply(channel)
            #expect(answer.hasPrefix("HTTP/1.1 400 "), "\(attack.debugDescription): \(answer)")
            channel.embeddedEventLoop.advanceTime(by: .seconds(3))
            _ = try? channel.finish()
            #expect(proxy.log.summary.refused == 1, "\(attack.debugDescription)")
        }
    }
}

/// Issue #22, section 4: deadlines on every read that waits for the agent.
@Suite struct DeadlineTests {
    let helper = StrictParsingTests()

    @Test func aHalfSentRequestHeadTimesOut() throws {
        let (channel, proxy) = try helper.listener()
        try channel.writeInbound(channel.allocator.buffer(string: "GET http://allowed.test/ HTTP/1.1\r\nHost: allo"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(try helper.reply(channel).isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(try helper.reply(channel).hasPrefix("HTTP/1.1 408 "))
        channel.embeddedEventLoop.advanceTime(by: HTTPProxyHandler.lingerTime)
        #expect(!channel.isActive)
        #expect(proxy.log.summary.refused == 1)
    }

    @Test func aSilentClientIsClosed() throws {
        let (channel, _) = try helper.listener()
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
    }

    @Test func aHalfSentSOCKSRequestTimesOut() throws {
        let (channel, proxy) = try helper.listener()
        try channel.writeInbound(channel.allocator.buffer(bytes: [0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x03, 20]))
        #expect(try helper.reply(channel).utf8.count == 2)  // the greeting's answer
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
        #expect(proxy.log.summary.refused == 1)
    }

    /// A gate armed on an embedded client and upstream (one loop), as CONNECT arms it.
    func armedGate() throws -> (client: EmbeddedChannel, upstream: EmbeddedChannel, proxy: EgressProxy) {
        let (_, proxy) = try helper.listener()
        let client = EmbeddedChannel()
        let upstream = EmbeddedChannel(loop: client.embeddedEventLoop)
        let record = FlowRecord(client: "test", log: proxy.log)
        client.closeFuture.whenComplete { _ in record.finish() }
        let gate = TunnelGate(proxy: proxy, record: record, expected: Host("allowed.test")!)
        try client.pipeline.syncOperations.addHandler(gate)
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try upstream.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        let decision = Decision(verdict: .allow, host: "allowed.test", port: 443, rule: "allow:allowed.test", reason: "listed")
        gate.arm(context: try client.pipeline.syncOperations.context(handler: gate), upstream: upstream, decision: decision)
        return (client, upstream, proxy)
    }

    @Test func anUnfinishedClientHelloTimesOut() throws {
        let (client, upstream, proxy) = try armedGate()
        try client.writeInbound(client.allocator.buffer(bytes: Array(Hello.with("allowed.test").prefix(30))))
        client.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(client.isActive && upstream.isActive)
        client.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!client.isActive)
        #expect(!upstream.isActive)
        #expect(proxy.log.summary.refused == 1)
    }

    @Test func aClientThatClosesTakesTheUpstreamWithIt() throws {
        let (client, upstream, _) = try armedGate()
        try client.writeInbound(client.allocator.buffer(bytes: Array(Hello.with("allowed.test").prefix(30))))
        client.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(!client.isActive)
        #expect(!upstream.isActive)
    }

    @Test func aSecondNameInTheHelloIsRefusedAndLogged() throws {
        let (client, upstream, proxy) = try armedGate()
        try client.writeInbound(client.allocator.buffer(bytes: Hello.record(Hello.sniExtension([(0, "allowed.test"), (0, "evil.test")]))))
        #expect(!client.isActive)
        #expect(!upstream.isActive)
        #expect(try upstream.readOutbound(as: ByteBuffer.self) == nil)
        client.embeddedEventLoop.run()
        #expect(proxy.log.summary.refused == 1)
    }

    /// The transparent path: the same hello is refused with a line in the log.
    @Test func aSecondNameOnTheTransparentPathIsLogged() throws {
        struct Names: NameLookup {
            func names(for address: IPAddress) -> [String] { ["allowed.test"] }
        }
        let lines = Mutex<[NetworkLogEntry]>([])
        let log = try NetworkLog(sandbox: "box", path: nil)
        log.observe { entry in lines.withLock { $0.append(entry) } }
        let proxy = EgressProxy(
            policy: try EgressPolicy(EgressConfiguration(domains: ["allowed.test"])), log: log, resolver: NoResolver(), nameLookup: Names())
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "10.0.0.1", port: 40000)).wait()
        _ = proxy.handleTransparent(channel: channel, originalDestination: IPAddress("93.184.216.34")!, port: 443)
        channel.embeddedEventLoop.run()
        try channel.writeInbound(channel.allocator.buffer(bytes: Hello.record(Hello.sniExtension([(0, "allowed.test"), (0, "evil.test")]))))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
        let logged = lines.withLock { $0 }
        #expect(logged.count == 1)
        #expect(logged.first?.rule == "bad-request")
        #expect(logged.first?.reason.contains("more than one name") == true)
    }
}

/// Issue #22, section 4: plain HTTP in a tunnel, the connection cap, descriptors of closed tunnels.
@Suite(.serialized, .timeLimit(.minutes(3))) struct AgentFacingLoopbackTests {
    /// Opens a CONNECT (or SOCKS5) tunnel to `rec.test:PORT`, then sends stdin through it and
    /// prints what comes back.
    static let tunnelClient = """
        import socket, sys
        port, target, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
        s = socket.create_connection(("127.0.0.1", port)); s.settimeout(10)
        if mode == "connect":
            s.sendall(b"CONNECT rec.test:%d HTTP/1.1\\r\\nHost: rec.test:%d\\r\\n\\r\\n" % (target, target))
            head = b""
            while b"\\r\\n\\r\\n" not in head: head += s.recv(1)
            sys.stdout.write(head.decode())
        else:
            s.sendall(b"\\x05\\x01\\x00"); s.recv(2)
            name = b"rec.test"
            s.sendall(b"\\x05\\x01\\x00\\x03" + bytes([len(name)]) + name + target.to_bytes(2, "big"))
            reply = b""
            while len(reply) < 10: reply += s.recv(10 - len(reply))
            sys.stdout.write("socks %d\\n" % reply[1])
        s.sendall(sys.stdin.read().encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
        sys.stdout.write(data.decode(errors="replace"))
        """

    @Test(arguments: ["connect", "socks"])
    func everyRequestInATunnelIsChecked(mode: String) async throws {
        let (lb, port, recorder) = try await Loopback.startRecording()
        defer { Task { await lb.stop() } }
        let requests = "GET /first HTTP/1.1\r\nHost: rec.test:\(port)\r\n\r\n" + "GET /second HTTP/1.1\r\nHost: evil.example\r\n\r\n"
        let result = try await run(["python3", "-c", Self.tunnelClient, "\(lb.proxyPort)", "\(port)", mode], input: requests)
        #expect(result.stdout.contains("HTTP/1.1 200 OK"), "\(result)")
        #expect(result.stdout.contains("HTTP/1.1 403 "), "\(result)")
        let received = String(decoding: recorder.bytes.withLock { $0 }, as: UTF8.self)
        #expect(received.contains("GET /first HTTP/1.1"))
        #expect(!received.contains("evil.example"), "\(received)")
        #expect(await lb.waitForLog { $0.contains("\"rule\":\"host-mismatch\"") && $0.contains("evil.example") } != nil)
    }

    /// 300 tunnels whose clients closed during the ClientHello: every descriptor is released, on
    /// the client's side and upstream, long before any deadline.
    @Test func closedTunnelsReleaseBothDescriptors() async throws {
        let open = Atomic<Int>(0)
        let origin = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .childChannelInitializer { channel in
                open.add(1, ordering: .relaxed)
                channel.closeFuture.whenComplete { _ in open.subtract(1, ordering: .relaxed) }
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { origin.close(promise: nil) }
        let port = try #require(origin.localAddress?.port)
        let lb = try await Loopback.start(extraDomains: ["rec.test:\(port)"], configure: { try $0.pin("rec.test", "127.0.0.1") })
        defer { Task { await lb.stop() } }
        let hello = Hello.with("rec.test").prefix(40).map { String(format: "\\x%02x", $0) }.joined()
        let client = """
            import socket, sys
            port, target = int(sys.argv[1]), int(sys.argv[2])
            socks = []
            for i in range(300):
                s = socket.create_connection(("127.0.0.1", port)); s.settimeout(10)
                s.sendall(b"CONNECT rec.test:%d HTTP/1.1\\r\\n\\r\\n" % target)
                head = b""
                while b"\\r\\n\\r\\n" not in head: head += s.recv(1)
                s.sendall(b"\(hello)")
                socks.append(s)
            for s in socks: s.close()
            print("done")
            """
        let result = try await run(["python3", "-c", client, "\(lb.proxyPort)", "\(port)"])
        #expect(result.stdout == "done\n", "\(result)")
        // Up to 30 s (beyond the gate's own 10 s deadline): the origin sees the closes late when
        // the host is loaded (seen at load 25).
        for _ in 0..<1500 where lb.proxy.connectionCount > 0 || open.load(ordering: .relaxed) > 0 {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(lb.proxy.connectionCount == 0)
        #expect(open.load(ordering: .relaxed) == 0)
    }

    @Test func connectionsOverTheCapAreRefusedLoggedAndCounted() async throws {
        let lb = try await Loopback.start(options: { $0.maxConnections = 4 })
        defer { Task { await lb.stop() } }
        let client = """
            import socket, sys, time
            port = int(sys.argv[1])
            socks = [socket.create_connection(("127.0.0.1", port)) for i in range(7)]
            time.sleep(0.5)
            closed = 0
            for s in socks:
                s.settimeout(0.3)
                try:
                    if s.recv(1) == b"": closed += 1
                except socket.timeout:
                    pass
                except OSError:
                    closed += 1
            print("closed", closed)
            for s in socks: s.close()
            time.sleep(0.5)
            s = socket.create_connection(("127.0.0.1", port)); s.settimeout(10)
            s.sendall(b"CONNECT evil.test:443 HTTP/1.1\\r\\n\\r\\n")
            print(s.recv(100).decode().split("\\r\\n")[0])
            """
        let result = try await run(["python3", "-c", client, "\(lb.proxyPort)"])
        #expect(result.stdout.contains("closed 3"), "\(result)")
        #expect(result.stdout.contains("HTTP/1.1 403 Forbidden"), "\(result)")
        let line = await lb.waitForLog { $0.contains("\"rule\":\"connection-limit\"") }
        #expect(line?.contains("4 connections already open") == true)
        // Three refusals within a second: one line, every one counted.
        #expect(lb.logLines.filter { $0.contains("connection-limit") }.count == 1)
        #expect(lb.proxy.log.summary.overConnectionLimit == 3)
        #expect(lb.proxy.log.summary.description.contains("3 over the connection limit"))
    }
}

/// Issue #22, section 4: DNS under an allowed wildcard is bounded.
@Suite struct WildcardBoundTests {
    @Test func namesLabelsAndEntropyAreBounded() throws {
        let clock = Mutex(0.0)
        let bound = WildcardNameBound(.init(namesPerMinute: 5), now: { clock.withLock { $0 } })
        let pattern = try DomainPattern(".github.com")
        #expect(bound.check(name: "github.com", pattern: pattern) == nil)
        for index in 0..<5 { #expect(bound.check(name: "n\(index).github.com", pattern: pattern) == nil) }
        #expect(bound.check(name: "n0.github.com", pattern: pattern) == nil)  // seen this minute
        #expect(bound.check(name: "n5.github.com", pattern: pattern)?.contains("more than 5 distinct names") == true)
        clock.withLock { $0 = 60 }
        #expect(bound.check(name: "n5.github.com", pattern: pattern) == nil)
        #expect(bound.check(name: String(repeating: "a", count: 41) + ".github.com", pattern: pattern)?.contains("exceeds 40") == true)
        #expect(bound.check(name: "mzxw6ytboi4dsnzqgezdgnbvgy3tqojq.github.com", pattern: pattern)?.contains("look random") == true)
        #expect(bound.check(name: "objects-origin.github.com", pattern: pattern) == nil)
        // Exact entries are not wildcards.
        #expect(bound.check(name: "x.github.com", pattern: try DomainPattern("github.com")) == nil)
    }

    /// The proxy resolves names for CONNECT and forward requests too: the same bound, shared
    /// with the stub (a name counted by one is free for the other).
    @Test func theProxyAppliesTheSameBound() throws {
        let policy = try EgressPolicy(EgressConfiguration(domains: [".github.com"], dnsBound: .init(namesPerMinute: 2)))
        let proxy = EgressProxy(policy: policy, log: try NetworkLog(sandbox: "box", path: nil), resolver: NoResolver())
        #expect(proxy.admitNow(host: "a.github.com", port: 443)?.isAllowed == true)
        #expect(policy.bounded(policy.decideName("b.github.com")).isAllowed)  // as the stub counts it
        #expect(proxy.admitNow(host: "b.github.com", port: 443)?.isAllowed == true)
        let third = proxy.admitNow(host: "c.github.com", port: 443)
        #expect(third?.isAllowed == false)
        #expect(third?.rule == "dns-bound:.github.com")
        #expect(proxy.admitNow(host: "github.com", port: 443)?.isAllowed == true)
    }

    @Test func theStubRefusesAndAlertsPastTheBound() async throws {
        let log = try NetworkLog(sandbox: "box", path: nil)
        let lines = Mutex<[NetworkLogEntry]>([])
        log.observe { entry in lines.withLock { $0.append(entry) } }
        let policy = try EgressPolicy(EgressConfiguration(domains: [".github.com"], dnsBound: .init(namesPerMinute: 3)))
        let stub = DNSStub(policy: policy, resolver: FakeResolver(table: [:]), log: log)
        var codes: [UInt8] = []
        for label in ["a", "b", "c", "d", "e"] {
            let reply = try DNSMessage.parse(try #require(await stub.answer(DNSStubTests.query("\(label).github.com", type: 1), client: "t")))
            codes.append(reply.responseCode)
        }
        // The first three go to the (failing) resolver; the rest are refused as names.
        #expect(codes.suffix(2) == [DNSMessage.ResponseCode.nameError.rawValue, DNSMessage.ResponseCode.nameError.rawValue])
        let refused = lines.withLock { $0 }.filter { $0.rule == "dns-bound:.github.com" }
        #expect(refused.count == 2)
        #expect(log.summary.dnsOverWildcardBound == 2)
        let long = try DNSMessage.parse(
            try #require(await stub.answer(DNSStubTests.query(String(repeating: "x", count: 50) + ".github.com", type: 1), client: "t")))
        #expect(long.responseCode == DNSMessage.ResponseCode.nameError.rawValue)
    }
}

/// A resolver whose lookups wait until the test releases them.
final class HeldResolver: CordonNet.Resolver, Sendable {
    private let state = Mutex<(released: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func resolve(_ name: String) async throws -> [IPAddress] {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state in
                if !state.released { state.waiting.append(continuation) }
                return state.released
            }
            if now { continuation.resume() }
        }
        return [IPAddress("93.184.216.34")!]
    }

    func release() {
        let waiting = state.withLock { state in
            state.released = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }
}

/// Issue #22, section 4: a flood of queries for names that resolve slowly holds at most
/// `maxLookupsInFlight` lookups; the rest are answered SERVFAIL at once, with one line.
@Suite struct DNSLookupBoundTests {
    @Test(.timeLimit(.minutes(1))) func lookupsInFlightAreBounded() async throws {
        let log = try NetworkLog(sandbox: "box", path: nil)
        let lines = Mutex<[NetworkLogEntry]>([])
        log.observe { entry in lines.withLock { $0.append(entry) } }
        let resolver = HeldResolver()
        let stub = DNSStub(policy: try EgressPolicy(EgressConfiguration(domains: ["allowed.test"])), resolver: resolver, log: log)
        let extra = 44
        let codes = await withTaskGroup(of: UInt8.self) { group in
            for _ in 0..<(DNSStub.maxLookupsInFlight + extra) {
                group.addTask {
                    let reply = await stub.answer(DNSStubTests.query("allowed.test", type: 1), client: "t")
                    return (try? DNSMessage.parse(reply ?? []))?.responseCode ?? 255
                }
            }
            var codes: [UInt8] = []
            for await code in group {
                codes.append(code)
                if codes.count == extra { resolver.release() }
            }
            return codes
        }
        #expect(codes.prefix(extra).allSatisfy { $0 == DNSMessage.ResponseCode.serverFailure.rawValue })
        #expect(codes.dropFirst(extra).allSatisfy { $0 == 0 })
        #expect(lines.withLock { $0 }.filter { $0.rule == "dns-busy" }.count == 1)
    }
}

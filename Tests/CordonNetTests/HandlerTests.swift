import CordonCore
import CordonPolicy
import NIOCore
import NIOEmbedded
import Testing

@testable import CordonNet

@Suite struct FirstBytesTests {
    @Test func httpHostAndBanners() {
        let request = Array("GET / HTTP/1.1\r\nHost: Example.com:8080\r\nAccept: */*\r\n\r\n".utf8)
        #expect(FirstBytes.inspect(Array(request.prefix(10))) == .needMore)
        #expect(FirstBytes.inspect(request) == .http(method: "GET", host: "Example.com"))
        #expect(FirstBytes.inspect(Array("SSH-2.0-OpenSSH_9.6\r\n".utf8)) == .other)
        #expect(
            FirstBytes.inspect(Array("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".utf8))
                == .malformed(reason: "HTTP request carries more than one Host header"))
        #expect(FirstBytes.inspect([0x00, 0x01]) == .other)
        #expect(FirstBytes.stripPort("[::1]:443") == "[::1]")
    }

    @Test func clientHelloSNI() {
        // A minimal TLS 1.2 ClientHello with SNI "a.test", then the same without extensions.
        func hello(_ extensions: [UInt8]) -> [UInt8] {
            var body: [UInt8] = [0x03, 0x03] + [UInt8](repeating: 7, count: 32) + [0] + [0, 2, 0x13, 0x01] + [1, 0]
            if !extensions.isEmpty { body += [UInt8(extensions.count >> 8), UInt8(extensions.count & 0xFF)] + extensions }
            let handshake: [UInt8] = [0x01, 0, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
            return [0x16, 0x03, 0x01, UInt8(handshake.count >> 8), UInt8(handshake.count & 0xFF)] + handshake
        }
        let name = Array("a.test".utf8)
        let sni: [UInt8] = [0, 0, 0, UInt8(name.count + 5), 0, UInt8(name.count + 3), 0, 0, UInt8(name.count)] + name
        let withSNI = hello(sni)
        #expect(FirstBytes.inspect(withSNI) == .tls(serverName: "a.test"))
        #expect(FirstBytes.inspect(Array(withSNI.prefix(20))) == .needMore)
        #expect(FirstBytes.inspect(hello([])) == .tls(serverName: nil))
        // Split across two records.
        let handshake = Array(withSNI.dropFirst(5))
        let split = [0x16, 0x03, 0x01, 0, 10] + handshake.prefix(10) + [0x16, 0x03, 0x01, 0, UInt8(handshake.count - 10)] + handshake.dropFirst(10)
        #expect(FirstBytes.inspect(Array(split)) == .tls(serverName: "a.test"))
    }
}

/// The request-target and header-list parsing every proxied request goes through.
@Suite struct RequestTargetTests {
    @Test func authorities() {
        #expect(parseAuthority("example.com:443").map { "\($0.host) \($0.port)" } == "example.com 443")
        #expect(parseAuthority("[::1]:8443").map { "\($0.host) \($0.port)" } == "[::1] 8443")
        for bad in ["example.com", ":443", "a:b:443", "a:0", "a:65536", "a:+80", "a: 80", "a:", "[::1]", "[::1]443", "[::1", "a:８０"] {
            #expect(parseAuthority(bad) == nil, "\(bad)")
        }
        #expect(FirstBytes.stripPort("a.test:80") == "a.test")
        #expect(FirstBytes.stripPort("a:b:c") == "a:b:c")
        #expect(FirstBytes.stripPort("a.test") == "a.test")
    }

    @Test func absoluteForms() {
        let target = ForwardTarget(uri: "HTTP://Example.com/path?q=1#fragment")
        #expect(target.map { "\($0.host) \($0.port) \($0.authority) \($0.pathAndQuery)" } == "Example.com 80 Example.com /path?q=1")
        #expect(ForwardTarget(uri: "http://a.test:8080?x")?.pathAndQuery == "/?x")
        #expect(ForwardTarget(uri: "http://a.test:8080?x")?.port == 8080)
        #expect(ForwardTarget(uri: "http://a.test")?.pathAndQuery == "/")
        #expect(ForwardTarget(uri: "http://[::1]:81/")?.host == "[::1]")
        for bad in ["http://user@a.test/", "http:///x", "https://a.test/", "http://a.test:/", "http://a:b:c/", "/relative", "http:/a.test/", "htt"] {
            #expect(ForwardTarget(uri: bad) == nil, "\(bad)")
        }
        #expect(ForwardTarget(uri: "http://a.test/")?.matches(hostHeader: "A.TEST:80") == true)
        #expect(ForwardTarget(uri: "http://a.test/")?.matches(hostHeader: "a.test:8080") == false)
    }

    @Test func headerLists() {
        #expect(HTTPProxyHandler.listContains(["keep-alive, Upgrade"], token: "upgrade"))
        #expect(HTTPProxyHandler.listContains(["x", " \tCLOSE "], token: "close"))
        #expect(!HTTPProxyHandler.listContains(["closed", "enclose"], token: "close"))
        #expect(!HTTPProxyHandler.listContains([], token: "close"))
    }
}

@Suite struct EmbeddedHandlerTests {
    func channel() throws -> (EmbeddedChannel, EgressProxy) {
        let proxy = EgressProxy(
            policy: try EgressPolicy(EgressConfiguration(domains: ["allowed.test"])), log: try NetworkLog(sandbox: "box", path: nil),
            resolver: NoResolver())
        let record = FlowRecord(client: "test", log: proxy.log)
        let channel = EmbeddedChannel()
        channel.closeFuture.whenComplete { _ in record.finish() }
        try channel.pipeline.syncOperations.addHandler(ProtocolSniffer(proxy: proxy, record: record))
        return (channel, proxy)
    }

    func feedByteByByte(_ channel: EmbeddedChannel, _ bytes: [UInt8]) throws {
        for byte in bytes { try channel.writeInbound(channel.allocator.buffer(bytes: [byte])) }
    }

    func readAll(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var out: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out += buffer.readableBytesView }
        return out
    }

    @Test func socksGreetingAndUnsupportedCommand() throws {
        let (channel, _) = try channel()
        try feedByteByByte(channel, [0x05, 0x02, 0x02, 0x00])
        #expect(try readAll(channel) == [0x05, 0x00])
        // BIND (0x02) to 1.2.3.4:80
        try feedByteByByte(channel, [0x05, 0x02, 0x00, 0x01, 1, 2, 3, 4, 0, 80])
        #expect(try readAll(channel).prefix(2) == [0x05, 0x07])
    }

    @Test func socksWithoutNoAuthIsRejected() throws {
        let (channel, _) = try channel()
        try feedByteByByte(channel, [0x05, 0x01, 0x02])
        #expect(try readAll(channel) == [0x05, 0xFF])
    }

    @Test func badConnectAuthorityIs400AndLogged() throws {
        let (channel, proxy) = try channel()
        try feedByteByByte(channel, Array("CONNECT nonsense HTTP/1.1\r\n\r\n".utf8))
        let reply = String(decoding: try readAll(channel), as: UTF8.self)
        #expect(reply.hasPrefix("HTTP/1.1 400 Bad Request"))
        channel.embeddedEventLoop.run()
        _ = try? channel.finish()
        channel.embeddedEventLoop.run()
        #expect(proxy.log.summary.refused == 1)
    }

    @Test func originFormRequestIs400() throws {
        let (channel, _) = try channel()
        try feedByteByByte(channel, Array("GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n".utf8))
        #expect(String(decoding: try readAll(channel), as: UTF8.self).contains("absolute http:// URI"))
    }
}

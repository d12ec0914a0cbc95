import CordonCore
import CordonPolicy
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import CordonNet

/// A server that speaks first (a banner on connect, like ssh or smtp) and then echoes each read
/// as `ECHO …`, recording every byte it receives.
final class BannerOriginHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let recorder: Recorder

    init(recorder: Recorder) { self.recorder = recorder }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: "BANNER srv\r\n")), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        recorder.bytes.withLock { $0 += buffer.readableBytesView }
        var reply = context.channel.allocator.buffer(string: "ECHO ")
        reply.writeImmutableBuffer(buffer)
        context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
    }
}

/// The attack net.silent-fronting found: on a port the profile lists explicitly (where opaque
/// traffic may pass), a client that said nothing until the sniff timeout got a raw byte tunnel,
/// and its HTTP or TLS then went to the server unjudged, with any Host or SNI (a CI run of
/// AgentFacingLoopbackTests saw it: the client was slow, and a second Host went through). Now the
/// server may speak first, but the client's first bytes are judged whenever they come.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SilentClientTests {
    /// `mode` (connect, socks, direct) to `srv.test:TARGET` through `PORT`; reads the server's
    /// banner before saying anything (so it is silent past the sniff timeout), then sends the hex
    /// PAYLOAD and prints what comes back.
    static let client = """
        import binascii, socket, sys
        mode, port, target, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), binascii.unhexlify(sys.argv[4])
        s = socket.create_connection(("127.0.0.1", port)); s.settimeout(10)
        if mode == "connect":
            s.sendall(b"CONNECT srv.test:%d HTTP/1.1\\r\\nHost: srv.test:%d\\r\\n\\r\\n" % (target, target))
            head = b""
            while b"\\r\\n\\r\\n" not in head: head += s.recv(1)
        elif mode == "socks":
            s.sendall(b"\\x05\\x01\\x00"); s.recv(2)
            s.sendall(b"\\x05\\x01\\x00\\x03\\x08srv.test" + target.to_bytes(2, "big"))
            r = b""
            while len(r) < 10: r += s.recv(10 - len(r))
        banner = b""
        while not banner.endswith(b"\\n"):
            c = s.recv(1)
            if not c: break
            banner += c
        print("banner", banner.decode().strip(), flush=True)
        s.sendall(payload)
        data = b""
        s.settimeout(3)
        try:
            while True:
                c = s.recv(65536)
                if not c: break
                data += c
                if data.startswith(b"ECHO") and data.endswith(b"\\n"): break
        except OSError as e:
            print("ended:", e)
        print("reply", data.decode(errors="replace"))
        """

    struct Setup {
        let loopback: Loopback
        let recorder: Recorder
        let serverPort: Int
        /// A listener whose flows "were going to" 127.0.0.1:serverPort (the relay's stand-in).
        let transparentPort: Int
    }

    func start() async throws -> Setup {
        let recorder = Recorder()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(BannerOriginHandler(recorder: recorder)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let serverPort = try #require(server.localAddress?.port)
        var loopback = try await Loopback.start(extraDomains: ["srv.test:\(serverPort)"], configure: { try $0.pin("srv.test", "127.0.0.1") })
        let names = HandedOutNames()
        _ = names.record("srv.test", [IPAddress("127.0.0.1")!])
        let transparent = EgressProxy(
            policy: loopback.proxy.policy, log: loopback.proxy.log, resolver: NoResolver(), nameLookup: names,
            options: .init(sandbox: "box", sniffTimeout: .milliseconds(300)))
        let relay = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                transparent.handleTransparent(channel: channel, originalDestination: IPAddress("127.0.0.1")!, port: serverPort)
            }
            .bind(host: "127.0.0.1", port: 0).get()
        loopback.extraChannels = [server, relay]
        return Setup(loopback: loopback, recorder: recorder, serverPort: serverPort, transparentPort: try #require(relay.localAddress?.port))
    }

    func talk(_ setup: Setup, _ mode: String, _ payload: [UInt8]) async throws -> String {
        let port = mode == "direct" ? setup.transparentPort : setup.loopback.proxyPort
        let hex = payload.map { String(format: "%02x", $0) }.joined()
        let result = try await run(["python3", "-c", Self.client, mode, "\(port)", "\(setup.serverPort)", hex])
        return result.stdout + result.stderr
    }

    /// A server that speaks first still works for a silent client, on every path.
    @Test(arguments: ["connect", "socks", "direct"])
    func aServerThatSpeaksFirstIsHeard(mode: String) async throws {
        let setup = try await start()
        defer { Task { await setup.loopback.stop() } }
        let output = try await talk(setup, mode, Array("HELO me\r\n".utf8))
        #expect(output.contains("banner BANNER srv"), "\(output)")
        #expect(output.contains("reply ECHO HELO me"), "\(output)")
    }

    /// After the silence, HTTP naming another host is refused and never reaches the server.
    @Test(arguments: ["connect", "socks", "direct"])
    func aLateRequestForAnotherHostIsRefused(mode: String) async throws {
        let setup = try await start()
        defer { Task { await setup.loopback.stop() } }
        let output = try await talk(setup, mode, Array("GET /late HTTP/1.1\r\nHost: evil.example\r\n\r\n".utf8))
        #expect(output.contains("banner BANNER srv"), "\(output)")
        #expect(!output.contains("ECHO"), "\(output)")
        try await Task.sleep(for: .milliseconds(200))
        let received = String(decoding: setup.recorder.bytes.withLock { $0 }, as: UTF8.self)
        #expect(received.isEmpty, "the server received \(received.debugDescription)")
        let rule = mode == "direct" ? "name-mismatch" : "host-mismatch"
        #expect(await setup.loopback.waitForLog { $0.contains("\"rule\":\"\(rule)\"") } != nil, "\(setup.loopback.logLines)")
    }

    /// After the silence, a ClientHello naming another host is refused and never reaches the server.
    @Test(arguments: ["connect", "socks", "direct"])
    func aLateClientHelloForAnotherHostIsRefused(mode: String) async throws {
        let setup = try await start()
        defer { Task { await setup.loopback.stop() } }
        let output = try await talk(setup, mode, Hello.with("evil.example"))
        #expect(output.contains("banner BANNER srv"), "\(output)")
        #expect(!output.contains("ECHO"), "\(output)")
        try await Task.sleep(for: .milliseconds(200))
        #expect(setup.recorder.bytes.withLock { $0 }.isEmpty, "the server received the hello")
        let rule = mode == "direct" ? "name-mismatch" : "sni-mismatch"
        #expect(await setup.loopback.waitForLog { $0.contains("\"rule\":\"\(rule)\"") } != nil, "\(setup.loopback.logLines)")
    }

    /// After the silence, a ClientHello naming the flow's own host goes through.
    @Test(arguments: ["connect", "direct"])
    func aLateClientHelloForItsOwnHostPasses(mode: String) async throws {
        let setup = try await start()
        defer { Task { await setup.loopback.stop() } }
        let output = try await talk(setup, mode, Hello.with("srv.test"))
        #expect(output.contains("reply ECHO"), "\(output)")
        #expect(String(decoding: setup.recorder.bytes.withLock { $0 }, as: UTF8.self).contains("srv.test"))
    }
}

import CordonCore
import CordonOS
import CordonTestSupport
import CordonPolicy
import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
import NIOSSL
import Synchronization
import Testing

@testable import CordonNet

/// Echoes what it receives and, at the end of input, ends its output once the echo is out: a
/// peer that half-closes properly, so a relay that loses or reorders a byte, or the end of a
/// direction, shows.
final class HalfClosingEchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            // Behind the echo's writes: NIO makes this half-close a full one (input ended), which
            // would drop writes still queued.
            context.closeBehindWrites(.output)
        }
    }
}

/// Tunnels that carry bulk data leave NIO for the splice relay (`TunnelMover`, `SpliceRelay`):
/// every byte must arrive once and in order both ways, ends of input must pass, idle and stopped
/// tunnels must close, and the log line must count what the relay moved.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SpliceRelayTests {
    /// A proxy (`Loopback`) whose `echo.test` is a half-closing echo server on a listed port.
    static func startEcho(threshold: Int?, idleTimeout: TimeAmount = .seconds(300)) async throws -> (Loopback, target: String) {
        let echo = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(HalfClosingEchoHandler()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(echo.localAddress?.port)
        let origin = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let configuration: (inout EgressConfiguration) throws -> Void = { try $0.pin("echo.test", "127.0.0.1") }
        var loopback = try await Loopback.start(extraDomains: ["echo.test:\(port)"], idleTimeout: idleTimeout, configure: configuration)
        // Loopback.start made a proxy with the default options: make one with this threshold.
        await loopback.proxy.stop()
        let proxy = EgressProxy(
            policy: loopback.proxy.policy, log: loopback.proxy.log, resolver: NoResolver(),
            options: .init(sandbox: "box", connectTimeout: .seconds(2), idleTimeout: idleTimeout, sniffTimeout: .milliseconds(300), spliceThreshold: threshold))
        let proxyPort = try #require(await proxy.start().port)
        try? await origin.close()
        loopback = Loopback(
            origin: loopback.origin, originPort: loopback.originPort, proxy: proxy, proxyPort: proxyPort, logPath: loopback.logPath, scratch: loopback.scratch,
            extraChannels: [echo])
        return (loopback, "echo.test:\(port)")
    }

    /// CONNECT to argv[2], then `size` random bytes up (first byte 0: not TLS, not HTTP) while
    /// reading the echo; half-close after the last; prints the status line, the bytes echoed and
    /// whether they are the bytes sent.
    static let echoClient = """
        import hashlib, os, socket, sys, threading
        port, target, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
        s = socket.create_connection(("127.0.0.1", port)); s.settimeout(30)
        s.sendall(("CONNECT %s HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n" % (target, target)).encode())
        head = b""
        while b"\\r\\n\\r\\n" not in head:
            head += s.recv(1)
        print(head.split(b"\\r\\n")[0].decode())
        data = b"\\0" + os.urandom(size - 1)
        def send():
            view = memoryview(data)
            for i in range(0, size, 65536):
                s.sendall(view[i:i + 65536])
            s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send); t.start()
        got = hashlib.sha256(); n = 0
        while True:
            chunk = s.recv(1 << 20)
            if not chunk: break
            got.update(chunk); n += len(chunk)
        t.join()
        print(n, got.hexdigest() == hashlib.sha256(data).hexdigest())
        """

    /// The start of a client script: a tunnel through the proxy at argv[1] to argv[2], `count`
    /// bytes sent and their echo read back (then `s`, `got` and `time` are there to use).
    static func echoed(_ count: Int) -> String {
        """
        import socket, sys, time
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.settimeout(10)
        s.sendall(("CONNECT %s HTTP/1.1\\r\\n\\r\\n" % sys.argv[2]).encode())
        head = b""
        while b"\\r\\n\\r\\n" not in head: head += s.recv(1)
        s.sendall(b"\\0" * \(count))
        got = 0
        while got < \(count):
            chunk = s.recv(4096)
            if not chunk: sys.exit("the tunnel closed after %d of \(count) bytes" % got)
            got += len(chunk)

        """
    }

    static func bytes(_ field: String, in line: String) -> Int {
        line.split(separator: "\"\(field)\":").last.flatMap { Int($0.prefix { $0.isNumber }) } ?? -1
    }

    /// 16 MiB each way through a tunnel that moves after 64 KiB, with bytes in flight both ways
    /// when it moves: all arrive, in order, the client's end of input reaches the server and the
    /// server's comes back; the single log line counts both directions.
    @Test func bothDirectionsSurviveTheMove() async throws {
        let (lb, target) = try await Self.startEcho(threshold: 64 * 1024)
        defer { Task { await lb.stop() } }
        let size = 16 << 20
        let result = try await run(["python3", "-c", Self.echoClient, "\(lb.proxyPort)", target, "\(size)"])
        #expect(result.stdout == "HTTP/1.1 200 Connection Established\n\(size) True\n", "\(result)")
        #expect(lb.proxy.tunnelRelay?.adoptedCount == 1)
        let line = try #require(await lb.waitForLog { $0.contains("CONNECT") && $0.contains("echo.test") })
        #expect(Self.bytes("bytes_up", in: line) == size, "\(line)")
        #expect(Self.bytes("bytes_down", in: line) == size, "\(line)")
        #expect(lb.logLines.filter { $0.contains("echo.test") }.count == 1, "\(lb.logLines)")
        for _ in 0..<100 where lb.proxy.tunnelRelay?.activeCount != 0 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(lb.proxy.tunnelRelay?.activeCount == 0)
    }

    /// A client that sends 24 MiB before it reads a byte, then half-closes: the echo backs up
    /// towards it, and the tunnel reaches its threshold (12 MiB up) while NIO still holds bytes for
    /// the client. The move must wait for a quiet point without holding anything back (holding
    /// the upward reads until the client drained would deadlock this client), and every byte
    /// arrives, in order, glued or moved. (Glued, this found NIO's traps: a half-close of a channel
    /// whose input ended, and the end of a connection shut both ways, each dropped queued writes.)
    @Test func aClientThatSendsBeforeItReadsIsNotStalled() async throws {
        let client = """
            import hashlib, os, socket, sys
            port, target, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
            s = socket.create_connection(("127.0.0.1", port)); s.settimeout(30)
            s.sendall(("CONNECT %s HTTP/1.1\\r\\n\\r\\n" % target).encode())
            head = b""
            while b"\\r\\n\\r\\n" not in head: head += s.recv(1)
            data = b"\\0" + os.urandom(size - 1)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = hashlib.sha256(); n = 0
            while True:
                chunk = s.recv(1 << 20)
                if not chunk: break
                got.update(chunk); n += len(chunk)
            print(n, got.hexdigest() == hashlib.sha256(data).hexdigest())
            """
        for threshold in [nil, 12 << 20] {
            let (lb, target) = try await Self.startEcho(threshold: threshold)
            let size = 24 << 20
            let result = try await run(["python3", "-c", client, "\(lb.proxyPort)", target, "\(size)"])
            #expect(result.stdout == "\(size) True\n", "threshold \(threshold ?? 0): \(result)")
            print("a client that sends before it reads, threshold \(threshold ?? 0): moved \(lb.proxy.tunnelRelay?.adoptedCount ?? 0) tunnel(s)")
            await lb.stop()
        }
    }

    /// The same bytes without the relay (the threshold off): the baseline the test above matches,
    /// and proof that small tunnels stay in NIO.
    @Test func withoutAThresholdTunnelsStayGlued() async throws {
        let (lb, target) = try await Self.startEcho(threshold: nil)
        defer { Task { await lb.stop() } }
        let result = try await run(["python3", "-c", Self.echoClient, "\(lb.proxyPort)", target, "\(1 << 20)"])
        #expect(result.stdout.hasSuffix("\(1 << 20) True\n"), "\(result)")
        #expect(lb.proxy.tunnelRelay == nil)
        let (small, smallTarget) = try await Self.startEcho(threshold: 4 << 20)
        defer { Task { await small.stop() } }
        let under = try await run(["python3", "-c", Self.echoClient, "\(small.proxyPort)", smallTarget, "\(1 << 20)"])
        #expect(under.stdout.hasSuffix("\(1 << 20) True\n"), "\(under)")
        #expect(small.proxy.tunnelRelay?.adoptedCount == 0)
    }

    /// A bulk download of plain HTTP inside a CONNECT tunnel: every request in such a tunnel is
    /// checked on its own (its Host against the tunnel's), so it stays in NIO and does not move;
    /// the body arrives whole and the request's line counts it. (Tunnels of TLS or opaque bytes
    /// move: the echo tests above.)
    @Test func aPlainHTTPDownloadInATunnelIsCarriedPerRequest() async throws {
        let lb = try await Loopback.start()
        defer { Task { await lb.stop() } }
        let mib = 32
        let target = "allowed.test:\(lb.originPort)"
        let result = try await run([
            "curl", "-sS", "--max-time", "30", "-p", "-x", "http://127.0.0.1:\(lb.proxyPort)", "-o", "/dev/null", "-w", "%{size_download}",
            "http://\(target)/big/\(mib)",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "\(mib << 20)")
        #expect(lb.proxy.tunnelRelay?.adoptedCount == 0)
        #expect(await lb.waitForLog { $0.contains("CONNECT") && $0.contains("\"decision\":\"allow\"") } != nil)
        let line = try #require(await lb.waitForLog { $0.contains("\"method\":\"GET\"") && $0.contains("\"decision\":\"allow\"") })
        let down = Self.bytes("bytes_down", in: line)
        #expect(down >= mib << 20 && down < (mib << 20) + 1024, "\(line)")
    }

    /// A moved tunnel that goes quiet is closed after the idle timeout, and logged then.
    @Test func aMovedTunnelIsClosedWhenIdle() async throws {
        let (lb, target) = try await Self.startEcho(threshold: 1, idleTimeout: .milliseconds(500))
        defer { Task { await lb.stop() } }
        let script =
            Self.echoed(1000) + """
                started = time.monotonic()
                rest = s.recv(10)
                print(got, repr(rest), "closed after %.1f s" % (time.monotonic() - started) if time.monotonic() - started < 5 else "late")
                """
        let result = try await run(["python3", "-c", script, "\(lb.proxyPort)", target])
        #expect(result.stdout.hasPrefix("1000 b'' closed after"), "\(result)")
        #expect(lb.proxy.tunnelRelay?.adoptedCount == 1)
        let line = try #require(await lb.waitForLog { $0.contains("echo.test") })
        #expect(Self.bytes("bytes_up", in: line) == 1000 && Self.bytes("bytes_down", in: line) == 1000, "\(line)")
    }

    /// Stopping the proxy ends the tunnels the relay carries (the peer sees the close) and writes
    /// their lines; a stopped relay takes no more.
    @Test func stoppingTheProxyEndsMovedTunnels() async throws {
        let (lb, target) = try await Self.startEcho(threshold: 1)
        defer { Task { await lb.stop() } }
        let script =
            Self.echoed(100) + """
                print("echoed", flush=True)
                print(repr(s.recv(10)))
                """
        var environment = ProcessInfo.processInfo.environment
        for key in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"] { environment[key] = nil }
        let client = try RunningProcess(["/usr/bin/env", "python3", "-c", script, "\(lb.proxyPort)", target], environment: environment)
        // The echo is through (the relay carried it) before the stop: stopping earlier would end
        // the tunnel before the client could print, and test nothing.
        let echoed = try await client.readLine(timeout: .seconds(30))
        #expect(echoed == "echoed")
        for _ in 0..<1500 where lb.proxy.tunnelRelay?.activeCount != 1 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(lb.proxy.tunnelRelay?.activeCount == 1)
        await lb.proxy.stop()
        let result = try await client.finish(timeout: .seconds(30))
        #expect(result.stdout == "echoed\nb''\n", "\(result)")
        #expect(lb.proxy.tunnelRelay?.activeCount == 0)
        #expect(await lb.waitForLog { $0.contains("echo.test") && $0.contains("\"bytes_up\":100,") } != nil, "\(lb.logLines)")
        #expect(lb.proxy.tunnelRelay?.adopt(SpliceRelay.Handover(client: -1, upstream: -1, pipes: .init(up: (-1, -1), down: (-1, -1), capacity: 0))) == false)
    }

    /// Descriptors are found by socket cookie, duplicated and checked; an unknown cookie finds none.
    @Test func descriptorsAreFoundByCookie() throws {
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { for fd in pair { close(fd) } }
        let cookies = pair.map { SocketCookie.of($0) }
        #expect(!cookies.contains(0) && cookies[0] != cookies[1])
        let copies = try #require(SocketCookie.duplicates(of: [cookies[1], cookies[0]]))
        defer { for fd in copies { close(fd) } }
        #expect(copies.map { SocketCookie.of($0) } == [cookies[1], cookies[0]])
        #expect(!pair.contains(copies[0]) && !pair.contains(copies[1]))
        #expect(SocketCookie.duplicates(of: [cookies[0], cookies[0] &+ 1_000_000_007]) == nil)
    }

    /// Bytes behind cordon's own TLS (an https parent proxy) are not the socket's: such tunnels
    /// are never moved.
    @Test func tunnelsUnderCordonsTLSStayGlued() throws {
        let context = try NIOSSLContext(configuration: .makeClientConfiguration())
        let tls = EmbeddedChannel()
        try tls.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: "proxy.test"))
        #expect(TunnelMover.transformsBytes(tls))
        #expect(!TunnelMover.transformsBytes(EmbeddedChannel()))
    }
}

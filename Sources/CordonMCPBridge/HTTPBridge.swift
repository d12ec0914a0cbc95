public import CordonCore
public import CordonSandbox
import CordonOS
import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix

/// `cordon mcp bridge --http PORT`: the bridged server as Streamable HTTP on 127.0.0.1 only,
/// behind a bearer token (`BridgeToken`); `HTTPBridgeHandler` says what each request gets.
extension MCPBridge {
    /// Where the bridge listens, said once it does.
    public struct Listening: Sendable {
        public var url: String
        public var token: BridgeToken
    }

    /// Serves the server over HTTP until it ends; its exit status. `port` 0: one the kernel picks.
    public static func serveHTTP(
        name: String, layout: SandboxLayout, command: ExecClient.Request, filter: TerminalFilter.Level, port: Int, paths: CordonPaths,
        note: @escaping @Sendable (String) -> Void, listening: (Listening) -> Void
    ) throws(CordonError) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let router = BridgeRouter(loop: group.next(), note: note)
        let listener: any Channel
        do {
            listener = try ServerBootstrap(group: router.loop)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(HTTPBridgeHandler(router: router))
                    }
                }
                .bind(host: "127.0.0.1", port: port).wait()
        } catch {
            throw CordonError(.io, "cannot listen on 127.0.0.1:\(port)", hint: "choose another port (--http 0 picks a free one)", cause: "\(error)")
        }
        defer { listener.close(promise: nil) }
        let bound = listener.localAddress?.port ?? port
        let token = try BridgeToken.create(paths: paths, port: bound)
        defer { token.remove() }
        try? router.loop.submit { router.token = token }.wait()

        let server = try BridgedServer.start(name: name, layout: layout, command: command, filter: filter)
        let channel: any Channel
        do {
            channel = try NIOPipeBootstrap(group: router.loop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(ServerOutputHandler(router: router)) }
                }
                .takingOwnershipOfDescriptors(input: server.output, output: server.input).wait()
            try router.loop.submit { router.attach(server: channel) }.wait()
        } catch {
            server.end()
            throw CordonError(.io, "cannot relay the MCP server's streams", cause: "\(error)")
        }
        listening(Listening(url: "http://127.0.0.1:\(bound)\(HTTPBridgeHandler.path)", token: token))
        let status = try server.wait() ?? 125
        // Its last responses are answered before the bridge goes: the relay reads to the end of
        // its stdout (bounded: a process it left behind may hold that open).
        let deadline = WallClock.monotonic() + drainGrace
        while channel.isActive && WallClock.monotonic() < deadline { usleep(10_000) }
        try? router.loop.submit {}.wait()
        server.stderrShown(by: deadline)
        return status
    }
}

import CordonPolicy
import CordonTestSupport
import Dispatch
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import CordonNet

/// What needs no approval and no name lookup (a pinned name, a parent proxy named by address, a
/// refused DNS name) is decided and answered on its event loop. A concurrency pool held by
/// CPU-bound work elsewhere in the process (a sync scan, a blocklist load) cannot hold the agent's
/// connections and queries back.
@Suite(.serialized, .timeLimit(.minutes(2))) struct PoolIndependenceTests {
    /// Keeps every thread of the concurrency pool spinning until `release()`, or for 3 s if the
    /// work under test waits for the pool (on Linux the pool is Dispatch's global root queue, as
    /// wide as the machine has cores, so `DispatchQueue.global()` blocks occupy it).
    final class BusyPool: Sendable {
        private let released = Atomic<Bool>(false)
        private let gaveUp = Atomic<Int>(0)
        private let spinners = DispatchGroup()

        init() {
            let deadline = DispatchTime.now() + .seconds(3)
            for _ in 0..<(ProcessInfo.processInfo.activeProcessorCount + 2) {
                spinners.enter()
                DispatchQueue.global().async { [self] in
                    while !released.load(ordering: .acquiring) {
                        if DispatchTime.now() > deadline {
                            gaveUp.add(1, ordering: .relaxed)
                            break
                        }
                    }
                    spinners.leave()
                }
            }
        }

        func release() { released.store(true, ordering: .releasing) }

        /// Whether the work had to wait until the spinners gave up.
        func waited() async throws -> Bool {
            let spinners = spinners
            try await onOwnThread { spinners.wait() }
            return gaveUp.load(ordering: .relaxed) > 0
        }
    }

    @Test(arguments: [false, true]) func aFlowNeedingNoLookupOpensWhileThePoolIsBusy(throughParent: Bool) async throws {
        let parent = throughParent ? try await ParentProxyTests.Parent.start() : nil
        defer { parent?.stop() }
        let lb = try await Loopback.start { configuration in
            if let parent { configuration.parentProxy = try .init(url: "http://127.0.0.1:\(parent.port)", noProxy: []) }
        }
        defer { Task { await lb.stop() } }

        let busy = BusyPool()
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let result = eventLoop.makePromise(of: EgressProxy.Opened.self)
        let proxy = lb.proxy
        let port = lb.originPort
        eventLoop.execute {
            proxy.open(host: "allowed.test", port: port, on: eventLoop) { outcome in
                busy.release()
                result.succeed(outcome)
            }
        }
        let outcome = try await result.futureResult.get()

        #expect(try await !busy.waited(), "the flow waited for the concurrency pool")
        guard case .connected(let decision, let channel, _) = outcome else {
            Issue.record("not connected: \(outcome)")
            return
        }
        #expect(decision.isAllowed)
        try await channel.close()
        if let parent {
            #expect(parent.requests == ["CONNECT allowed.test:\(lb.originPort) HTTP/1.1"])
        }
    }

    /// A refused name, a record type that is not served and a pinned name are answered at once;
    /// only a real lookup goes through the pool.
    @Test(arguments: [("evil.test", UInt16(1), UInt8(3)), ("allowed.test", UInt16(16), UInt8(5)), ("pinned.test", UInt16(1), UInt8(0))])
    func theStubAnswersWithoutThePool(name: String, type: UInt16, responseCode: UInt8) async throws {
        let policy = try EgressPolicy(EgressConfiguration(domains: ["allowed.test", "pinned.test"], resolve: ["pinned.test": "93.184.216.34"]))
        let stub = DNSStub(policy: policy, resolver: NoResolver(), log: try NetworkLog(sandbox: "box", path: nil))
        let port = try #require(try await stub.start()?.port)
        defer { Task { await stub.stop() } }

        let busy = BusyPool()
        let query = DNSMessage(id: 0x4242, flags: 0x0100, questions: [.init(name: name, type: type)]).encoded()
        let reply = try await onOwnThread {
            defer { busy.release() }
            return try Self.exchange(query, port: port)
        }
        #expect(try await !busy.waited(), "the answer waited for the concurrency pool")
        let message = try DNSMessage.parse(reply)
        #expect(message.id == 0x4242 && message.responseCode == responseCode)
        if name == "pinned.test" { #expect(message.answers.map(\.0) == [IPAddress("93.184.216.34")!]) }
    }

    /// One UDP query to 127.0.0.1:`port` and its reply (2 s at most), with plain blocking calls.
    static func exchange(_ query: [UInt8], port: Int) throws -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, query, query.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard sent == query.count else { throw POSIXError(.EIO) }
        var buffer = [UInt8](repeating: 0, count: 1500)
        let received = recv(fd, &buffer, buffer.count, 0)
        guard received > 0 else { throw POSIXError(.ETIMEDOUT) }
        return Array(buffer[..<received])
    }
}

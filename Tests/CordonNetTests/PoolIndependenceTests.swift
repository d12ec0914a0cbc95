import CordonTestSupport
import Dispatch
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import CordonNet

/// A flow that needs no approval and no name lookup (a pinned name, a parent proxy named by
/// address) is decided and dialled on its event loop. A concurrency pool held by CPU-bound work
/// elsewhere in the process (a sync scan, a blocklist load) cannot hold the agent's connection
/// back.
@Suite(.serialized) struct PoolIndependenceTests {
    @Test(arguments: [false, true]) func aFlowNeedingNoLookupOpensWhileThePoolIsBusy(throughParent: Bool) async throws {
        let parent = throughParent ? try await ParentProxyTests.Parent.start() : nil
        defer { parent?.stop() }
        let lb = try await Loopback.start { configuration in
            if let parent { configuration.parentProxy = .init(url: "http://127.0.0.1:\(parent.port)", noProxy: []) }
        }
        defer { Task { await lb.stop() } }

        // Every thread of the pool busy: the spinners stop when the flow has opened, or at the
        // deadline if the flow waits for the pool.
        let opened = Atomic<Bool>(false)
        let spinnersTimedOut = Atomic<Int>(0)
        let spinners = DispatchGroup()
        let deadline = DispatchTime.now() + .seconds(3)
        for _ in 0..<(ProcessInfo.processInfo.activeProcessorCount + 2) {
            spinners.enter()
            DispatchQueue.global().async {
                while !opened.load(ordering: .acquiring) {
                    if DispatchTime.now() > deadline {
                        spinnersTimedOut.add(1, ordering: .relaxed)
                        break
                    }
                }
                spinners.leave()
            }
        }
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let result = eventLoop.makePromise(of: EgressProxy.Opened.self)
        let proxy = lb.proxy
        let port = lb.originPort
        eventLoop.execute {
            proxy.open(host: "allowed.test", port: port, on: eventLoop) { outcome in
                opened.store(true, ordering: .releasing)
                result.succeed(outcome)
            }
        }
        let outcome = try await result.futureResult.get()
        try await onOwnThread { spinners.wait() }

        #expect(spinnersTimedOut.load(ordering: .relaxed) == 0, "the flow waited for the concurrency pool")
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
}

import CordonCore
import CordonPolicy
import CordonTestSupport
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import CordonNet

struct FakeResolver: CordonNet.Resolver {
    var table: [String: [IPAddress]]
    func resolve(_ name: String) async throws -> [IPAddress] {
        guard let found = table[name] else { throw DialError.resolutionFailed("\(name): not found") }
        return found
    }
}

@Suite(.timeLimit(.minutes(2))) struct DNSStubTests {
    static func query(_ name: String, type: UInt16, id: UInt16 = 0x1234) -> [UInt8] {
        DNSMessage(id: id, flags: 0x0100, questions: [.init(name: name, type: type)]).encoded()
    }

    func stub() throws -> DNSStub {
        let policy = try EgressPolicy(
            EgressConfiguration(domains: ["allowed.test", ".cdn.test", "meta.test"], resolve: ["meta.test": "169.254.169.254"]))
        let resolver = FakeResolver(table: [
            "allowed.test": [IPAddress("93.184.216.34")!, IPAddress("2606:2800::1")!], "x.cdn.test": [IPAddress("10.0.0.1")!, IPAddress("1.2.3.4")!],
        ])
        return DNSStub(policy: policy, resolver: resolver, log: try NetworkLog(sandbox: "box", path: nil))
    }

    @Test func parsesCompressedNames() throws {
        // Header, question "a.example.com" A, then an answer whose name is a pointer to offset 12.
        var bytes: [UInt8] = [0xAB, 0xCD, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]
        bytes += [1, 0x61, 7] + Array("example".utf8) + [3] + Array("com".utf8) + [0, 0, 1, 0, 1]
        bytes += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]
        let message = try DNSMessage.parse(bytes)
        #expect(message.id == 0xABCD)
        #expect(message.questions == [.init(name: "a.example.com", type: 1)])
        #expect(message.answers.map(\.0) == [IPAddress("1.2.3.4")!])
        // A pointer to itself (a loop) is refused rather than followed.
        var loop: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 0x0C, 0, 1, 0, 1]
        #expect(throws: DNSMessage.ParseError.self) { try DNSMessage.parse(loop) }
        loop = [0, 1]
        #expect(throws: DNSMessage.ParseError.truncated) { try DNSMessage.parse(loop) }
    }

    @Test func answersOnlyAllowedNames() async throws {
        let stub = try stub()
        let a = try DNSMessage.parse(try #require(await stub.answer(Self.query("Allowed.Test", type: 1), client: "t")))
        #expect(a.id == 0x1234 && a.responseCode == 0 && a.isResponse)
        #expect(a.answers.map(\.0) == [IPAddress("93.184.216.34")!])
        let aaaa = try DNSMessage.parse(try #require(await stub.answer(Self.query("allowed.test", type: 28), client: "t")))
        #expect(aaaa.answers.map(\.0) == [IPAddress("2606:2800::1")!])
        #expect(stub.handedOut.names(for: IPAddress("93.184.216.34")!) == ["allowed.test"])

        let unlisted = try DNSMessage.parse(try #require(await stub.answer(Self.query("evil.test", type: 1), client: "t")))
        #expect(unlisted.responseCode == DNSMessage.ResponseCode.nameError.rawValue)
        #expect(unlisted.answers.isEmpty)

        let txt = try DNSMessage.parse(try #require(await stub.answer(Self.query("allowed.test", type: 16), client: "t")))
        #expect(txt.responseCode == DNSMessage.ResponseCode.refused.rawValue)
        let txtUnlisted = try DNSMessage.parse(try #require(await stub.answer(Self.query("data.evil.test", type: 16), client: "t")))
        #expect(txtUnlisted.responseCode == DNSMessage.ResponseCode.nameError.rawValue)

        // Private answers are filtered out; a name with only private answers gets none.
        let mixed = try DNSMessage.parse(try #require(await stub.answer(Self.query("x.cdn.test", type: 1), client: "t")))
        #expect(mixed.answers.map(\.0) == [IPAddress("1.2.3.4")!])
        let metadata = try DNSMessage.parse(try #require(await stub.answer(Self.query("meta.test", type: 1), client: "t")))
        #expect(metadata.responseCode == 0 && metadata.answers.isEmpty)
        #expect(stub.handedOut.names(for: IPAddress("169.254.169.254")!).isEmpty)

        var notQuery = DNSMessage(id: 9, flags: 0x2800, questions: [.init(name: "allowed.test", type: 1)])
        let notImplemented = try DNSMessage.parse(try #require(await stub.answer(notQuery.encoded(), client: "t")))
        #expect(notImplemented.responseCode == DNSMessage.ResponseCode.notImplemented.rawValue)
        notQuery.flags = 0x8000
        #expect(await stub.answer(notQuery.encoded(), client: "t") == nil)
    }

    @Test func servesOverUDPAndLogsEachQuery() async throws {
        let scratch = try TempTree(prefix: "cordon-dns")
        let path = scratch.path("network.jsonl")
        let policy = try EgressPolicy(EgressConfiguration(domains: ["allowed.test"], resolve: ["allowed.test": "93.184.216.34"]))
        let stub = DNSStub(policy: policy, resolver: NoResolver(), log: try NetworkLog(sandbox: "box", path: path))
        let port = try #require(try await stub.start()?.port)
        defer { Task { await stub.stop() } }
        let script = """
            import socket, struct, sys
            def q(name, qtype):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(60)
                body = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\\0"
                s.sendto(struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + body + struct.pack(">HH", qtype, 1), ("127.0.0.1", int(sys.argv[1])))
                data = s.recv(512)
                rcode = data[3] & 15; ancount = struct.unpack(">H", data[6:8])[0]
                return "%s:%d:%d:%s" % (name, rcode, ancount, ".".join(str(b) for b in data[-4:]) if ancount else "-")
            print(q("allowed.test", 1), q("evil.test", 1), q("allowed.test", 16))
            """
        let result = try await run(["python3", "-c", script, "\(port)"])
        #expect(result.stdout.trimmingSpaces() == "allowed.test:0:1:93.184.216.34 evil.test:3:0:- allowed.test:5:0:-", "\(result.stderr)")
        let lines = (try String(contentsOfFile: path, encoding: .utf8)).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { $0.contains("\"method\":\"dns\"") })
    }
}

/// Answers from a table and counts how often it was asked.
final class FakeApprovals: ApprovalProvider {
    let answers: [String: ApprovalAnswer]
    let asked = Mutex(0)
    init(_ answers: [String: ApprovalAnswer]) { self.answers = answers }
    func decide(host: String, port: Int) async -> ApprovalAnswer {
        asked.withLock { $0 += 1 }
        return answers[host] ?? .deny
    }
}

@Suite(.timeLimit(.minutes(2))) struct AdmissionTests {
    @Test func promptAsksOnceAndRemembers() async throws {
        let approvals = FakeApprovals(["ask.test": .allowOnce, "always.test": .allowAlways])
        let proxy = EgressProxy(
            policy: try EgressPolicy(EgressConfiguration(domains: ["listed.test"], prompt: true)), log: try NetworkLog(sandbox: "box", path: nil),
            resolver: NoResolver(), approvals: approvals)
        #expect(await proxy.admit(host: "listed.test", port: 443).rule == "allow:listed.test")
        #expect(await proxy.admit(host: "ask.test", port: 443).rule == "approval:once")
        #expect(await proxy.admit(host: "ask.test", port: 443).rule == "approval:once")
        #expect(await proxy.admit(host: "always.test", port: 443).rule == "approval:always")
        #expect(await proxy.admit(host: "no.test", port: 443).rule == "approval:deny")
        // An approval covers the exact host only.
        #expect(await proxy.admit(host: "sub.ask.test", port: 443).rule == "approval:deny")
        #expect(approvals.asked.withLock { $0 } == 4)
        #expect(proxy.log.summary.approvalsAsked == 4)
    }

    @Test func approvalTimeoutDenies() async throws {
        struct Silent: ApprovalProvider {
            func decide(host: String, port: Int) async -> ApprovalAnswer {
                try? await Task.sleep(for: .seconds(30))
                return .allowAlways
            }
        }
        let proxy = EgressProxy(
            policy: try EgressPolicy(EgressConfiguration(prompt: true)), log: try NetworkLog(sandbox: "box", path: nil), resolver: NoResolver(),
            approvals: Silent(), options: .init(approvalTimeout: .milliseconds(100)))
        #expect(await proxy.admit(host: "slow.test", port: 443).rule == "approval:timeout")
    }

    @Test func rateLimitPerPattern() async throws {
        let clock = Mutex(1000.0)
        let proxy = EgressProxy(
            policy: try EgressPolicy(EgressConfiguration(domains: [".api.test"], rateLimits: [".api.test": 2])),
            log: try NetworkLog(sandbox: "box", path: nil), resolver: NoResolver(), now: { clock.withLock { $0 } })
        #expect(await proxy.admit(host: "a.api.test", port: 443).isAllowed)
        #expect(await proxy.admit(host: "b.api.test", port: 443).isAllowed)
        let third = await proxy.admit(host: "api.test", port: 443)
        #expect(third.rule == "rate-limit:.api.test")
        #expect(proxy.refusalResponse(third).hasPrefix("HTTP/1.1 429"))
        clock.withLock { $0 += 61 }
        #expect(await proxy.admit(host: "api.test", port: 443).isAllowed)
    }
}

@Suite(.serialized, .timeLimit(.minutes(3))) struct TransparentTests {
    @Test func sniffsHostAndChecksHandedOutAddresses() async throws {
        let lb = try await Loopback.start()
        defer { Task { await lb.stop() } }
        let names = HandedOutNames()
        names.record("allowed.test", [IPAddress("127.0.0.1")!])
        let proxy = EgressProxy(
            policy: lb.proxy.policy, log: lb.proxy.log, resolver: NoResolver(), nameLookup: names,
            // Long enough for a curl started on a loaded machine to send its request: a sniff that
            // times out first would reset the flow and test nothing of the Host checks.
            options: .init(sandbox: "box", sniffTimeout: .seconds(10)))
        // Stands in for the relay: every accepted flow "was going to" 127.0.0.X:originPort.
        func relay(_ destination: String) async throws -> any Channel {
            try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { channel in
                    proxy.handleTransparent(channel: channel, originalDestination: IPAddress(destination)!, port: lb.originPort)
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }
        let toHandedOut = try await relay("127.0.0.1")
        let toUnknown = try await relay("127.0.0.9")
        defer {
            toHandedOut.close(promise: nil)
            toUnknown.close(promise: nil)
        }
        let handedPort = try #require(toHandedOut.localAddress?.port)
        let unknownPort = try #require(toUnknown.localAddress?.port)
        let ok = try await run([
            "curl", "-sS", "--max-time", "15", "--noproxy", "*", "http://allowed.test:\(handedPort)/", "--resolve", "allowed.test:\(handedPort):127.0.0.1",
        ])
        #expect(ok.stdout == "hello allowed.test:\(handedPort)\n", "\(ok.stderr)")
        let fronted = try await run(["curl", "-sS", "--max-time", "15", "--noproxy", "*", "-H", "Host: evil.test", "http://127.0.0.1:\(handedPort)/"])
        #expect(fronted.stdout.contains("rule name-mismatch"), "\(fronted)")
        let direct = try await run(["curl", "-sS", "--max-time", "15", "--noproxy", "*", "http://127.0.0.1:\(unknownPort)/"])
        #expect(direct.stdout.contains("rule ip-literal"), "\(direct)")
        // One connection, two requests: the second names a host this address was not handed out
        // for, and is refused although the first was allowed.
        let keptAlive = try await run(
            ["python3", "-c", ProxyLoopbackTests.rawClient, "\(handedPort)"],
            input: "GET / HTTP/1.1\r\nHost: allowed.test:\(handedPort)\r\n\r\nGET / HTTP/1.1\r\nHost: evil.test\r\n\r\n")
        #expect(keptAlive.stdout.hasPrefix("HTTP/1.1 200 OK\r\n") && !keptAlive.stdout.hasPrefix("HTTP/1.1 200 OK\r\nConnection: close"), "\(keptAlive.stdout)")
        #expect(keptAlive.stdout.contains("hello allowed.test:\(handedPort)\nHTTP/1.1 403 Forbidden\r\n"), "\(keptAlive.stdout)")
        #expect(keptAlive.stdout.contains("rule name-mismatch"))
        #expect(await lb.waitForLog { $0.contains("\"rule\":\"name-mismatch\"") } != nil)
        #expect(await lb.waitForLog { $0.contains("\"rule\":\"ip-literal\"") && $0.contains("\"method\":\"GET\"") } != nil)
    }
}

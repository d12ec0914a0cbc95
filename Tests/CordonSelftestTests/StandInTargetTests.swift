import CordonSelftest
import Foundation
import Glibc
import Testing

/// The stand-in targets the verdicts rest on: they must see what reached them, and only that.
@Suite struct StandInTargetTests {
    @Test(.timeLimit(.minutes(1))) func serverRecordsTheBytesItReceived() async throws {
        let server = try StandInServer()
        defer { server.stop() }
        #expect(!server.saw("CANARY-abc"))
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = server.port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        let payload = Array("POST /x HTTP/1.1\r\n\r\nCANARY-abc".utf8)
        #expect(send(fd, payload, payload.count, 0) == payload.count)
        shutdown(fd, Int32(SHUT_WR))
        // The server's own thread takes it in; bounded by the suite's time limit.
        while !server.saw("CANARY-abc") { try await Task.sleep(for: .milliseconds(20)) }
        #expect(server.connections == 1)
        #expect(!server.saw("CANARY-abd"))
    }

    @Test func canaryObservesWritesAndReads() throws {
        let environment = try SelftestEnvironment(cordon: "/bin/true")
        defer { environment.cleanup() }
        let canary = try CanaryFile(environment, at: environment.hostDirectory + "/c.txt")
        #expect(canary.intact)
        #expect(!canary.writeObservation("w", ProcessOutput(status: 0, stdout: "", stderr: "")).succeeded)
        #expect(!canary.readObservation("r", ProcessOutput(status: 0, stdout: "nothing", stderr: "")).succeeded)
        #expect(canary.readObservation("r", ProcessOutput(status: 1, stdout: "", stderr: "x \(canary.marker) y")).succeeded)
        try "changed\n".write(toFile: canary.path, atomically: false, encoding: .utf8)
        #expect(canary.writeObservation("w", ProcessOutput(status: 1, stdout: "", stderr: "")).succeeded)
        try canary.reset(environment)
        #expect(canary.intact)
        let root = environment.root
        environment.cleanup()
        #expect(!FileManager.default.fileExists(atPath: root))
    }
}

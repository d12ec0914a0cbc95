import CordonCore
@testable import CordonOS
@testable import CordonSandbox
import Foundation
import Testing

/// events.jsonl as a typed value: each event writes the same keys, in the same order, with the
/// same values as the free-form lines before it, and every line reads back as the event written.
struct SandboxEventTests {
    static let time = "2026-12-06T13:00:00Z"

    static let cases: [(SandboxEvent, String)] = [
        (
            SandboxEvent(
                sandbox: "s",
                .start(
                    .init(
                        profile: "/p.yaml", mode: "secure", workspace: "/w", command: ["sh", "-c", "echo \"hi\""], limits: "cgroup v2",
                        landlockABI: 4, network: "proxy", diskLimitBytes: 1024, inodeLimit: 10)), time: time),
            #"{"time":"2026-12-06T13:00:00Z","event":"start","sandbox":"s","profile":"/p.yaml","mode":"secure","workspace":"/w","command":["sh","-c","echo \"hi\""],"limits":"cgroup v2","landlock_abi":4,"network":"proxy","disk_limit_bytes":1024,"inode_limit":10}"#
        ),
        (
            SandboxEvent(sandbox: "s", .network(state: "proxied"), time: time),
            #"{"time":"2026-12-06T13:00:00Z","event":"network","sandbox":"s","state":"proxied"}"#
        ),
        (
            SandboxEvent(sandbox: "s", .setupFailed(error: "no\nway"), time: time),
            #"{"time":"2026-12-06T13:00:00Z","event":"setup_failed","sandbox":"s","error":"no\nway"}"#
        ),
        (
            SandboxEvent(sandbox: "s", .exit(.init(status: 5, durationMS: 12, oomKills: 0, supervisorPeakRSSKB: 20000)), time: time),
            #"{"time":"2026-12-06T13:00:00Z","event":"exit","sandbox":"s","status":5,"duration_ms":12,"oom_kills":0,"supervisor_peak_rss_kb":20000}"#
        ),
        (
            SandboxEvent(
                sandbox: "s", .diskLimit(.init(bytes: 2048, inodes: 3, limitBytes: 1024, limitInodes: 100, frozenBy: "SIGSTOP", reason: "r")), time: time),
            #"{"time":"2026-12-06T13:00:00Z","event":"disk_limit","sandbox":"s","bytes":2048,"inodes":3,"limit_bytes":1024,"limit_inodes":100,"frozen_by":"SIGSTOP","reason":"r"}"#
        ),
        (
            SandboxEvent(sandbox: "s", .sync(.round(applied: ["a"], held: [], rules: ["aws"], raced: false)), time: time),
            #"{"time":"2026-12-06T13:00:00Z","event":"sync","sandbox":"s","applied":["a"],"held":[],"rules":["aws"],"raced":false}"#
        ),
        (
            SandboxEvent(sandbox: "s", .sync(.unavailable(error: "e")), time: time),
            #"{"time":"2026-12-06T13:00:00Z","event":"sync","sandbox":"s","state":"unavailable","error":"e"}"#
        ),
        (
            SandboxEvent(sandbox: "s", .sync(.failed(error: "e")), time: time),
            #"{"time":"2026-12-06T13:00:00Z","event":"sync","sandbox":"s","state":"failed","error":"e"}"#
        ),
    ]

    @Test func eachEventWritesTheLineItWroteBefore() {
        for (event, line) in Self.cases {
            #expect(JSONLinesWriter.line(event.fields) == line + "\n")
        }
    }

    @Test func everyWrittenLineDecodesToTheEventWritten() throws {
        for (event, line) in Self.cases {
            #expect(try JSONDecoder().decode(SandboxEvent.self, from: Data(line.utf8)) == event)
        }
    }

    /// `Codable`'s keys are the written ones: an encoder's output has the same fields and values.
    @Test func encodingWritesTheSameFields() throws {
        for (event, line) in Self.cases {
            let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(event)) as? NSDictionary
            let written = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? NSDictionary
            #expect(encoded == written, "\(line)")
        }
    }

    @Test func anUnknownEventIsRefused() {
        let line = #"{"time":"t","event":"exfiltrate","sandbox":"s"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SandboxEvent.self, from: Data(line.utf8)) }
    }

    @Test func limitsEnforcementReadsAsBefore() {
        #expect(LimitsEnforcement.none.description == "none")
        #expect(LimitsEnforcement.rlimits.description == "rlimits")
        #expect(LimitsEnforcement.cgroup(.v1).description == "cgroup v1")
        #expect(LimitsEnforcement.cgroup(.v2).description == "cgroup v2")
    }
}

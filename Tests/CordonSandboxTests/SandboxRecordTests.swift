import CordonCore
import Foundation
import Testing

/// `sandbox.json` is written by hand (no Foundation encoder in the supervisor) and read back with
/// JSONDecoder by every other command: the two must agree on every value.
struct SandboxRecordTests {
    @Test func theHandWrittenRecordDecodesToTheSameValue() throws {
        var record = SandboxRecord(
            name: "box-1", profile: "builtin:default", mode: "secure", workspace: "/home/a \"quoted\"/wörk\\space\n\t\u{1}",
            overlayMounts: [.init(host: "/srv/data", sandbox: "/data", upper: "/state/mounts/0/upper")], created: "2026-11-23T10:00:00Z")
        for lastStarted in [nil, "2026-11-23T11:00:00Z"] {
            record.lastStarted = lastStarted
            let decoded = try JSONDecoder().decode(SandboxRecord.self, from: Data(record.jsonText.utf8))
            #expect(decoded == record)
        }
        record.overlayMounts = []
        #expect(try JSONDecoder().decode(SandboxRecord.self, from: Data(record.jsonText.utf8)) == record)
    }
}

import CordonCore
import Testing

@testable import CordonConfig

/// `mounts` and `copy` entries are read by one parser: a host path, a sandbox path and one more
/// key (`mode`, `optional`). Each list is held to the same checks, each with its own third key.
@Suite struct HostEntryParsingTests {
    struct List: Sendable, CustomStringConvertible {
        var name: String
        var extraKey: String
        var badExtra: String
        var badExtraMessage: String
        var description: String { name }
    }

    static let lists = [
        List(name: "mounts", extraKey: "mode", badExtra: "wr", badExtraMessage: "wr"),
        List(name: "copy", extraKey: "optional", badExtra: "maybe", badExtraMessage: "expected true or false"),
    ]

    @Test(arguments: lists)
    func eachListChecksItsEntriesAlike(_ list: List) throws {
        func first(_ entry: String) throws -> ProfileDiagnostic {
            try #require(try Fixture.diagnostics("\(list.name):\n  - \(entry)\n").first, "no error for \(list.name): \(entry)")
        }
        let relative = try first("{host: data, sandbox: /data}")
        #expect(relative.field == "\(list.name)[0].host" && relative.message.contains("relative path"), "\(relative)")
        let reserved = try first("{host: /data, sandbox: /workspace}")
        #expect(reserved.field == "\(list.name)[0].sandbox" && reserved.message.contains("reserved"), "\(reserved)")
        let missing = try first("{sandbox: /data}")
        #expect(missing.field == "\(list.name)[0].host" && missing.message.contains("is required"), "\(missing)")
        let bad = try first("{host: /data, sandbox: /data, \(list.extraKey): \(list.badExtra)}")
        #expect(bad.field == "\(list.name)[0].\(list.extraKey)" && bad.message.contains(list.badExtraMessage), "\(bad)")
        let unknown = try first("{host: /data, sandbox: /data, other: x}")
        #expect(unknown.field == "\(list.name)[0].other" && unknown.message.contains("unknown field"), "\(unknown)")
        let claimed = try Fixture.diagnostics("\(list.name):\n  - {host: /a, sandbox: /data}\n  - {host: /b, sandbox: /data}\n")
        #expect(claimed.map(\.field) == ["\(list.name)[1].sandbox"], "\(claimed)")
    }

    @Test func theThirdKeyHasItsDefaultWhenAbsent() throws {
        let profile = try Fixture.parse("mounts:\n  - {host: /srv, sandbox: /srv}\ncopy:\n  - {host: /etc/x, sandbox: /x}\n")
        #expect(profile.mounts == [Profile.Mount(host: "/srv", sandbox: "/srv", mode: .ro)])
        #expect(profile.copy == [Profile.Copy(host: "/etc/x", sandbox: "/x", optional: true)])
    }
}

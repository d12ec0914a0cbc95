import CordonCore
import Testing

@testable import CordonConfig

/// Valid settings that hand the agent the host are warned about, whichever way they are spelled.
@Suite struct ProfileWarningTests {
    func warnings(_ yaml: String, resolve: (String) -> String = { $0 }) throws -> [ProfileWarning] {
        try Fixture.parse(yaml).riskWarnings(homeDirectory: Fixture.home, resolve: resolve)
    }

    @Test(arguments: [
        "{host: /, sandbox: /host, mode: rw}", "{host: '~', sandbox: /h, mode: rw}", "{host: /home, sandbox: /h, mode: rw}",
        "{host: /home/tester/, sandbox: /h, mode: rw}", "{host: /home/tester/../tester, sandbox: /h, mode: rw}",
        "{host: /srv/../, sandbox: /h, mode: rw}", "{host: ~/.ssh, sandbox: /s, mode: rw}", "{host: ~/.config/autostart, sandbox: /a, mode: rw}",
        "{host: /home/tester/.bashrc, sandbox: /b, mode: rw}",
    ])
    func aReadWriteMountOfRootOrHomeIsWarnedAbout(mount: String) throws {
        let found = try warnings("mounts:\n  - {host: /srv/data, sandbox: /data, mode: rw}\n  - \(mount)\n")
        #expect(found.map(\.field) == ["mounts[1]"], "\(mount)")
        #expect(found.first?.message.contains("read-write") == true)
    }

    @Test func aSymlinkToTheHomeIsResolved() throws {
        let found = try warnings("mounts:\n  - {host: /srv/me, sandbox: /me, mode: rw}\n") { $0 == "/srv/me" ? "/home/tester" : $0 }
        #expect(found.map(\.field) == ["mounts[0]"])
    }

    @Test func narrowerOrNotWritableMountsAreQuiet() throws {
        let yaml = """
            mounts:
              - {host: /, sandbox: /host, mode: ro}
              - {host: '~', sandbox: /h, mode: overlay}
              - {host: ~/projects, sandbox: /p, mode: rw}
              - {host: /home/testers, sandbox: /t, mode: rw}
              - {host: ~/.ssh, sandbox: /s, mode: ro}
              - {host: ~/.sshkeys-backup, sandbox: /k, mode: rw}
              - {host: ~/projects/.config, sandbox: /c, mode: rw}
            """
        #expect(try warnings(yaml).isEmpty)
    }

    @Test func hostNetworkAndAnUnsafeHomeWorkspaceAreWarnedAbout() throws {
        let found = try warnings("network: host\nmode: unsafe\nworkspace: \"~\"\n")
        #expect(found.map(\.field) == ["workspace", "network"])
        #expect(try warnings("network: none\nmode: unsafe\nworkspace: ~/project\n").isEmpty)
    }
}

import CordonCore
import CordonTestSupport
import Foundation
import Testing

@testable import CordonConfig

/// In-workspace profiles are used only with the content the user trusted: the digest covers the
/// profile, its user presets and the files it names; the grants shown are what it allows beyond
/// the default profile, escaped.
struct ProfileTrustTests {
    /// A scratch tree: `config/` (cordon's config dir), `state/`, `repo/` (a workspace).
    final class Scratch {
        let root: String
        var paths: CordonPaths { CordonPaths(configHome: root + "/config/cordon", stateHome: root + "/state/cordon") }
        var repo: String { root + "/repo" }

        init() throws {
            root = try TempTree.makeDirectory(prefix: "cordon-trust")
            try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: paths.presetsDirectory, withIntermediateDirectories: true)
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func write(_ path: String, _ text: String) throws {
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        }

        func load(_ path: String) throws -> LoadedProfile {
            try ProfileLoader(paths: paths, homeDirectory: root + "/home").load(reference: path, currentDirectory: repo)
        }

        func digest(_ path: String) throws -> String {
            ProfileTrust.digest(ProfileTrust.inputs(of: try load(path)))
        }

        func verdict(_ path: String) throws -> ProfileTrust.Verdict {
            try ProfileTrust.verdict(for: try load(path), workspace: repo, currentDirectory: repo, paths: paths)
        }
    }

    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func sha256MatchesTheStandardVectors(_ input: String, _ expected: String) {
        #expect(ContentHash.sha256Hex(Array(input.utf8)) == expected)
    }

    @Test func sha256InPiecesEqualsSha256AtOnce() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let expected = "945acdf575d6a2430bf4d6163e1d03b4b0b896fcef107c8b24bf7ff07a621fa3"
        #expect(ContentHash.sha256Hex(bytes) == expected)
        var pieces = ContentHash()
        var start = 0
        for size in [1, 63, 64, 65, 200, 607] {
            pieces.update(bytes[start..<start + size])
            start += size
        }
        #expect(start == bytes.count)
        #expect(pieces.finalizeHex() == expected)
        #expect(ContentHash.sha256Hex(Array(repeating: 0x61, count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func oneChangedByteOfTheProfileOrOfAnyFileItNamesChangesTheDigest() throws {
        let s = try Scratch()
        let profile = s.repo + "/cordon.yaml"
        try s.write(s.paths.presetsDirectory + "/mine.yaml", "egress:\n  domains: [mine.example]\n")
        try s.write(s.repo + "/block.txt", "evil.example\n")
        try s.write(s.repo + "/gitleaks.toml", "title = \"x\"\n")
        try s.write(profile, "presets: [mine]\negress:\n  blocklists: [block.txt]\nsync:\n  gitleaks_config: gitleaks.toml\n")
        let first = try s.digest(profile)
        #expect(try s.digest(profile) == first, "stable")
        let inputs = ProfileTrust.inputs(of: try s.load(profile))
        #expect(inputs.map(\.role) == ["profile", "preset", "sync.gitleaks_config", "egress.blocklists[0]"])

        var seen: Set<String> = [first]
        for (file, original, edited) in [
            (
                profile, "presets: [mine]\negress:\n  blocklists: [block.txt]\nsync:\n  gitleaks_config: gitleaks.toml\n",
                "presets: [mine]\negress:\n  blocklists: [block.txt]\nsync:\n  gitleaks_config: gitleaks.toml \n"
            ),
            (s.paths.presetsDirectory + "/mine.yaml", "egress:\n  domains: [mine.example]\n", "egress:\n  domains: [mind.example]\n"),
            (s.repo + "/block.txt", "evil.example\n", "evil.exampla\n"),
            (s.repo + "/gitleaks.toml", "title = \"x\"\n", "title = \"y\"\n"),
        ] {
            try s.write(file, edited)
            let changed = try s.digest(profile)
            #expect(!seen.contains(changed), "editing \(file) must change the digest")
            seen.insert(changed)
            try s.write(file, original)
            #expect(try s.digest(profile) == first)
        }
        try FileManager.default.removeItem(atPath: s.repo + "/block.txt")
        #expect(try s.digest(profile) != first, "a named file that disappears changes the digest")
    }

    /// A FIFO or a device as a "blocklist" would block the run or never end: not regular, not read.
    @Test(.timeLimit(.minutes(1)))
    func namedFilesThatAreNotRegularAreNotRead() throws {
        let s = try Scratch()
        #expect(mkfifo(s.repo + "/pipe", 0o600) == 0)
        let profile = s.repo + "/cordon.yaml"
        try s.write(profile, "egress:\n  blocklists: [pipe, /dev/zero]\n")
        let inputs = ProfileTrust.inputs(of: try s.load(profile))
        #expect(inputs.dropFirst().map(\.sha256) == [nil, nil])
    }

    @Test func anInWorkspaceProfileIsUntrustedUntilTrustedAndAgainAfterAnEdit() throws {
        let s = try Scratch()
        let profile = s.repo + "/cordon.yaml"
        try s.write(profile, "mounts:\n  - {host: /srv, sandbox: /srv, mode: rw}\n")
        guard case .untrusted(_, nil) = try s.verdict(profile) else { Issue.record("a new profile must be untrusted"); return }
        let store = TrustStore(paths: s.paths)
        try store.trust(ProfileTrust.key(profile), digest: try s.digest(profile))
        #expect(try s.verdict(profile) == .trusted)
        try s.write(profile, "mounts:\n  - {host: /srv, sandbox: /srv, mode: rw}\n  - {host: /etc, sandbox: /e, mode: rw}\n")
        guard case .untrusted(_, let previously) = try s.verdict(profile), previously != nil else {
            Issue.record("an edited profile must be untrusted"); return
        }
        #expect(try store.revoke(ProfileTrust.key(profile)))
        #expect(try store.entries().isEmpty)
        #expect(try store.revoke(ProfileTrust.key(profile)) == false)
    }

    @Test func onlyProfilesInTheWorkspaceOrCurrentDirectoryNeedTrust() throws {
        let s = try Scratch()
        let elsewhere = s.root + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: elsewhere + "/link", withDestinationPath: s.repo)
        let needs = { (path: String) in ProfileTrust.needsTrust(source: path, workspace: s.repo, currentDirectory: elsewhere, paths: s.paths) }
        #expect(needs(s.repo + "/cordon.yaml"))
        #expect(needs(s.repo + "/sub/dir/p.yaml"))
        #expect(needs(elsewhere + "/link/cordon.yaml"), "through a symlink into the workspace")
        #expect(needs(s.root + "/elsewhere/../repo/cordon.yaml"), "spelled with ..")
        #expect(needs(elsewhere + "/p.yaml"), "in the current directory")
        #expect(!needs(s.root + "/p.yaml"), "the user's own file outside")
        #expect(!needs(s.paths.profilesDirectory + "/work.yaml"), "cordon's config dir")
        #expect(!needs("builtin:default"))
        try FileManager.default.createSymbolicLink(atPath: s.repo + "/cordon.yaml", withDestinationPath: s.root + "/p.yaml")
        #expect(needs(s.repo + "/cordon.yaml"), "a link in the workspace to a file outside: the repository chose that file")
        let fromRoot = ProfileTrust.needsTrust(source: s.root + "/p.yaml", workspace: s.repo, currentDirectory: "/", paths: s.paths)
        #expect(!fromRoot, "a current directory of / is no project")
        let fromHome = ProfileTrust.needsTrust(source: s.root + "/p.yaml", workspace: s.repo, currentDirectory: s.root, paths: s.paths)
        #expect(!fromHome, "nor one that holds cordon's config dir")
        #expect(
            try ProfileTrust.verdict(
                for: LoadedProfile(profile: .defaults, source: "builtin:default"), workspace: s.repo, currentDirectory: s.repo, paths: s.paths) == .own)
    }

    @Test func grantsListWhatTheDefaultProfileDoesNotAllow() throws {
        #expect(ProfileTrust.grants(.defaults).isEmpty)
        let p = try Fixture.parse(
            """
            name: work
            mode: unsafe
            network: host
            mounts:
              - {host: /srv/data, sandbox: /data, mode: rw}
              - {host: /opt, sandbox: /opt2}
            env: {TOKEN: abc}
            resources: {memory: 64g, pids: 100}
            egress:
              domains: [api.example.com]
            sync:
              max_file_size: 100m
            """)
        let grants = ProfileTrust.grants(p)
        let text = grants.map { "\($0.field): \($0.text)" }.joined(separator: "\n")
        for expected in [
            "name: work", "mode: unsafe", "network: host", "mounts: /srv/data at /data, read-write", "mounts: /opt at /opt2, read-only",
            "env: TOKEN=abc", "resources.memory: 64g", "egress.domains: api.example.com", "sync.max_file_size: 100m",
        ] {
            #expect(text.contains(expected), "\(expected) in:\n\(text)")
        }
        #expect(!text.contains("resources.pids"), "a lower limit is no grant")
    }

    @Test func grantsAreEscapedForTheTerminal() throws {
        var p = Profile.defaults
        p.env = ["X": "\u{1b}]52;c;cGF5bG9hZA==\u{07}ok\u{202e}txt.exe\u{1b}[2A"]
        let shown = try #require(ProfileTrust.grants(p).first).text
        #expect(!shown.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x202e })
        #expect(shown.contains("\\x1B]52;c;cGF5bG9hZA==\\x07ok\\u{202E}txt.exe\\x1B[2A"))
    }

    @Test func aDamagedTrustStoreIsAnErrorNamingTheLine() throws {
        let s = try Scratch()
        try s.write(s.paths.trustStore, "# header\nnot-a-digest /x\n")
        #expect {
            try TrustStore(paths: s.paths).entries()
        } throws: { error in
            (error as? CordonError)?.message.contains("trusted-profiles:2:") == true
        }
    }
}

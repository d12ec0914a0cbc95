import CordonTestSupport
import FoundationEssentials
#if canImport(Glibc)
    import Glibc
#endif
import CordonCore
import Testing
@testable import CordonConfig

@Suite struct ProfileMergeTests {
    static let base = """
        description: base
        mode: yolo
        network: none
        mounts:
          - {host: /a, sandbox: /data, mode: ro}
        env: {A: base, B: base}
        resources: {memory: 1g, cpus: 1}
        egress:
          domains: [one.example, two.example]
          deny: [{domain: "x.example", reason: base}]
        sync:
          deny: ["*.pem"]
          interval: 10s
        """
    static let extra = """
        mode: unsafe
        mounts:
          - {host: /b, sandbox: /data, mode: rw}
        env: {B: extra, C: extra}
        egress:
          domains: [two.example, three.example]
          deny: [{domain: "x.example", reason: extra}]
        """
    static let user: [(name: String, path: String, yaml: String)] = [("base", "/u/base.yaml", base), ("extra", "/u/extra.yaml", extra)]

    @Test func presetsApplyInOrderWithTheMergeRules() throws {
        let p = try Fixture.parse("presets: [base, extra]\n", user: Self.user)
        #expect(p.mode == .unsafe)
        #expect(p.network == Profile.Network.none)
        #expect(p.mounts == [.init(host: "/b", sandbox: "/data", mode: .rw)])
        #expect(p.env == ["A": "base", "B": "extra", "C": "extra"])
        #expect(p.egress.domains.map(\.text) == ["one.example", "two.example", "three.example"])
        #expect(try p.egress.deny == [.init(domain: "x.example", reason: "extra")])
        #expect(p.resources.memory == 1 << 30)
        #expect(p.resources.pids == Profile.defaults.resources.pids)
        #expect(p.presets == ["base", "extra"])
    }

    @Test func theProfileWinsOverItsPresetsEvenWithDefaultValues() throws {
        let yaml = "presets: [base]\nmode: secure\nnetwork: proxy\nenv: {A: mine}\nsync: {interval: 30s}\n"
        let p = try Fixture.parse(yaml, user: Self.user)
        #expect(p.mode == .secure)
        #expect(p.network == .proxy)
        #expect(p.env["A"] == "mine")
        #expect(p.sync.interval == 30)
        #expect(p.sync.deny == ["*.pem"])
    }

    @Test func laterPresetOrderChangesTheWinner() throws {
        #expect(try Fixture.parse("presets: [extra, base]\n", user: Self.user).mode == .yolo)
        #expect(try Fixture.parse("presets: [extra, base]\n", user: Self.user).mounts.first?.host == "/a")
    }

    @Test func aSandboxPathHasOneOwnerAcrossMountsDataAndCopy() throws {
        let yaml = "presets: [base]\ndata:\n  - {name: d, path: /data}\n"
        let p = try Fixture.parse(yaml, user: Self.user)
        #expect(p.mounts.isEmpty)
        #expect(p.data == [.init(name: "d", path: "/data")])
    }

    @Test func nestedPresetsComposeDepthFirstAndOnce() throws {
        let user = Self.user + [("outer", "/u/outer.yaml", "presets: [base, inner]\n"), ("inner", "/u/inner.yaml", "presets: [base]\nmode: secure\n")]
        let p = try Fixture.parse("presets: [outer, base]\n", user: user)
        #expect(p.presets == ["base", "inner", "outer"])
        #expect(p.mode == .secure)
    }

    @Test func cyclesAreReportedWhereTheyClose() throws {
        let user: [(name: String, path: String, yaml: String)] = [
            ("a", "/u/a.yaml", "presets: [b]\n"), ("b", "/u/b.yaml", "mode: yolo\npresets:\n  - a\n"),
        ]
        let first = try #require(try Fixture.diagnostics("presets: [a]\n", user: user).first)
        #expect(first.message == "preset cycle: a → b → a")
        #expect(first.location == .init(file: "/u/b.yaml", line: 3, column: 5))
        #expect(first.hint?.contains("remove \"a\"") == true)
    }

    @Test func selfReferenceIsACycle() throws {
        let first = try #require(try Fixture.diagnostics("presets: [me]\n", user: [("me", "/u/me.yaml", "presets: [me]\n")]).first)
        #expect(first.message == "preset cycle: me → me")
    }

    @Test func unknownPresetListsTheAvailableOnes() throws {
        let first = try #require(try Fixture.diagnostics("presets: [githb]\n").first)
        #expect(first.message == "unknown preset \"githb\"")
        #expect(first.hint?.hasPrefix("did you mean \"github\"? available presets: github, npm") == true)
    }

    @Test func errorsInsideAPresetNameThePresetFile() throws {
        let first = try #require(try Fixture.diagnostics("presets: [bad]\n", user: [("bad", "/u/bad.yaml", "egress:\n  domains: [\"*.com\"]\n")]).first)
        #expect(first.location == .init(file: "/u/bad.yaml", line: 2, column: 13))
        #expect(first.field == "egress.domains[0]")
    }

    @Test func userPresetReplacesTheBuiltinOne() throws {
        let user: [(name: String, path: String, yaml: String)] = [("github", "/u/github.yaml", "egress:\n  domains: [git.corp.example]\n")]
        let catalog = PresetCatalog(user: user)
        #expect(catalog.entry(named: "github")?.overridesBuiltin == true)
        #expect(catalog.entry(named: "github")?.source == "/u/github.yaml")
        let p = try Fixture.parse("presets: [github]\n", user: user)
        #expect(p.egress.domains.map(\.text) == ["git.corp.example"])
    }

    @Test func userPresetsLoadFromTheConfigDirectory() throws {
        let scratch = try TempTree(prefix: "cordon-config")
        let dir = scratch.root
        let paths = CordonPaths(configHome: dir, stateHome: dir + "/state")
        try FileManager.default.createDirectory(atPath: paths.presetsDirectory, withIntermediateDirectories: true)
        try "egress:\n  domains: [mine.example]\n".write(toFile: paths.presetsDirectory + "/mine.yaml", atomically: true, encoding: .utf8)
        try "presets: [mine, npm]\nmode: yolo\n".write(toFile: dir + "/p.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: paths.profilesDirectory, withIntermediateDirectories: true)
        try "presets: [mine]\n".write(toFile: paths.profilesDirectory + "/named.yaml", atomically: true, encoding: .utf8)

        let loader = ProfileLoader(paths: paths, homeDirectory: Fixture.home)
        let loaded = try loader.load(reference: "p.yaml", currentDirectory: dir)
        #expect(loaded.source == dir + "/p.yaml")
        #expect(loaded.profile.egress.domains.map(\.text) == ["mine.example", "registry.npmjs.org", "registry.yarnpkg.com"])
        #expect(try loader.load(reference: "named", currentDirectory: "/").profile.egress.domains.map(\.text) == ["mine.example"])
        #expect(try loader.load(reference: nil, currentDirectory: "/").source == "builtin:default")
        #expect(try loader.load(reference: "default", currentDirectory: "/").profile == .defaults)
        #expect(throws: CordonError.self) { try loader.load(reference: "missing", currentDirectory: "/") }
        #expect(throws: CordonError.self) { try loader.load(reference: "./missing.yaml", currentDirectory: dir) }
    }
}

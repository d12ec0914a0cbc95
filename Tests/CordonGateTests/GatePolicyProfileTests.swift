import CordonFS
import CordonGate
import CordonScan
import CordonTestSupport
import Testing

@Suite struct GatePolicyProfileTests {
    @Test func profileSettingsReplaceDefaultsAndExtendBlockedExtensions() {
        let policy = GatePolicy(
            syncAllow: ["src/**"], deny: ["*.log"], blockedExtensions: ["SQLite", ".pem", ".bak"], maxFileSize: 1024, maxTotalSize: 4096,
            gitleaksConfig: "/etc/gitleaks.toml")
        #expect(policy.allow == ["src/**"])
        #expect(policy.deny == ["*.log"])
        #expect(policy.maxFileSize == 1024)
        #expect(policy.maxTotalSize == 4096)
        #expect(policy.scannerConfig == "/etc/gitleaks.toml")
        // The defaults stay blocked; additions are normalized and not duplicated.
        #expect(policy.blockedExtensions.starts(with: GatePolicy.defaultBlockedExtensions))
        #expect(policy.blockedExtensions.count == GatePolicy.defaultBlockedExtensions.count + 2)
        #expect(policy.blockedExtension(of: "db/app.sqlite") == ".sqlite")
        #expect(policy.blockedExtension(of: "notes.bak") == ".bak")
        #expect(policy.blockedExtension(of: "certs/server.pem") == ".pem")
        #expect(policy.blockedExtension(of: "main.swift") == nil)
    }

    @Test func emptyProfileSectionIsTheDefaultPolicy() {
        let policy = GatePolicy(
            syncAllow: [], deny: [], blockedExtensions: [], maxFileSize: 10 * 1024 * 1024, maxTotalSize: 1024 * 1024 * 1024, gitleaksConfig: nil)
        #expect(policy == GatePolicy())
    }

    @Test(
        arguments: [(nil, "/profile.toml", "/profile.toml"), ("/flag.toml", "/profile.toml", "/flag.toml"), ("/flag.toml", nil, "/flag.toml"), (nil, nil, nil)]
            as [(String?, String?, String?)])
    func explicitFlagOverridesProfile(flag: String?, profile: String?, expected: String?) {
        let policy = GatePolicy(syncAllow: [], deny: [], blockedExtensions: [], maxFileSize: 1, maxTotalSize: 1, gitleaksConfig: profile)
        #expect(policy.overriding(scannerConfig: flag).scannerConfig == expected)
    }

    @Test func profileLimitsBlockThroughTheGate() throws {
        let policy = GatePolicy(syncAllow: [], deny: ["secret/**"], blockedExtensions: ["bak"], maxFileSize: 8, maxTotalSize: 1024, gitleaksConfig: nil)
        let upper = try TempTree()
        let lower = try TempTree()
        upper.write("big.txt", "more than eight bytes\n")
        upper.write("notes.bak", "x")
        upper.write("secret/a", "x")
        upper.write("ok", "x")
        let report = try SyncGate(policy: policy).evaluate(try ChangeSet.read(upper: upper.root, lower: lower.root), created: nil)
        let blocked = Set(report.findings.filter { $0.severity == .block }.map(\.path))
        #expect(blocked == ["big.txt", "notes.bak", "secret/a"])
    }
}

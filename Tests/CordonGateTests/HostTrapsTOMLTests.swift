import CordonFS
import CordonTestSupport
import Testing

@testable import CordonGate

/// pyproject.toml is read with CordonTOML: a file TOMLKit's toml++ aborted the host on (an
/// agent wrote it; `cordon sync` died on SIGABRT) is unreadable, so held as a trap change.
@Suite struct HostTrapsTOMLTests {
    /// The lead's reproducer from a release build, and the same shape inside a tool section.
    static let aborting: [[UInt8]] = [
        Array("[extend]\nusfault = true\ndisabledRules =[ }".utf8) + [0, 0] + Array("ric-a".utf8),
        Array("x =[ }".utf8),
        Array("[project]\nname = \"app\"\n[tool.pytest.ini_options]\naddopts =[ }\n".utf8),
        Array("[\u{E9}]\n".utf8),
        Array("a = [".utf8) + Array(repeating: UInt8(ascii: "["), count: 100_000),
    ]

    @Test(arguments: aborting) func aMalformedPyprojectHasNoSettings(_ bytes: [UInt8]) {
        #expect(HostTraps.SharedConfig.pyproject.settings(bytes) == nil)
    }

    @Test func spellingsOfOneToolTableCompareEqualAndAChangeDoesNot() throws {
        let pyproject = HostTraps.SharedConfig.pyproject
        let header = pyproject.settings(Array("[tool.pytest.ini_options]\naddopts = \"-q\"\ntestpaths = [\"t\"]\n".utf8))
        let dotted = pyproject.settings(Array("tool.pytest.ini_options.testpaths = ['t']\ntool.pytest.ini_options.addopts = '-q'\n".utf8))
        let inline = pyproject.settings(Array("[tool]\npytest = { ini_options = { addopts = \"\"\"-q\"\"\", testpaths = [ \"t\" ] } }\n".utf8))
        #expect(header != nil && header == dotted && header == inline)
        #expect(header != pyproject.settings(Array("[tool.pytest.ini_options]\naddopts = \"-q -p evil\"\ntestpaths = [\"t\"]\n".utf8)))
        // Outside the tool sections nothing counts.
        #expect(pyproject.settings(Array("[project]\nname = \"a\"\n".utf8)) == pyproject.settings(Array("[project]\nname = \"b\"\n".utf8)))
    }

    @Test func aMalformedPyprojectChangeIsHeldAsATrap() async throws {
        try await onOwnThread {
            let lower = try TempTree()
            let upper = try TempTree()
            let base = "[project]\nname = \"app\"\n\n[tool.pytest.ini_options]\ntestpaths = [\"tests\"]\n"
            lower.write("pyproject.toml", base)
            lower.write("sub/pyproject.toml", base)
            upper.writeBytes("pyproject.toml", Array(base.utf8) + Array("addopts =[ }".utf8) + [0, 0])
            upper.write("sub/pyproject.toml", base.replacingOccurrences(of: "\"app\"", with: "\"app2\""))
            let report = try SyncGate(policy: GatePolicy()).evaluate(try ChangeSet.read(upper: upper.root, lower: lower.root), created: nil)
            #expect(report.findings.filter { $0.path == "pyproject.toml" }.map(\.ruleID) == ["trap-tool-config"])
            #expect(report.findings.filter { $0.path == "sub/pyproject.toml" }.isEmpty)
        }
    }
}

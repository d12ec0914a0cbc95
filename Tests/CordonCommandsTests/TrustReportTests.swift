@testable import CordonCommands
import CordonConfig
import Testing

/// What `cordon run` shows when it stops for an untrusted profile: a hostile file name can
/// neither rewrite the terminal nor break the command it names out of one shell word.
struct TrustReportTests {
    @Test func theTrustCommandIsOneShellWord() {
        #expect(TrustReport.shellQuoted("/work/repo/cordon.yaml") == "/work/repo/cordon.yaml")
        #expect(TrustReport.shellQuoted("/work/my repo/it's.yaml") == "'/work/my repo/it'\\''s.yaml'")
        #expect(TrustReport.shellQuoted("/w/$(rm -rf ~).yaml") == "'/w/$(rm -rf ~).yaml'")
    }

    @Test func aHostileFileNameIsShownEscaped() {
        let source = "/w/\u{1b}[2J\u{202e}lmay.nodroc"
        let text = TrustReport.untrusted(source: source, changed: false, grants: [], inputs: [.init(role: "profile", path: source, sha256: "00")])
        #expect(!text.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x202e })
        #expect(text.contains("/w/\\x1B[2J\\u{202E}lmay.nodroc"))
        #expect(text.contains("nothing was started"))
    }
}

import CordonTestSupport
import Foundation
import Glibc
import Testing

/// `cordon --generate-completion-script bash`, sourced in a real bash with the completion
/// variables set as bash sets them on TAB: sandbox names for `exec`, profile names for
/// `--profile`, preset names for `--preset`, and never a name that is not valid (a file named
/// to run a command when the shell expands it).
@Suite(.timeLimit(.minutes(2)))
struct CompletionScriptTests {
    /// What bash would offer for `cordon WORDS… <TAB>` (the last word is the one completed):
    /// bash calls the completion function with the command, the current and the previous word.
    static func complete(_ h: SandboxHarness, _ words: [String]) async throws -> [String] {
        let script = h.root + "/cordon.bash"
        let generated = try await h.cordon(["--generate-completion-script", "bash"])
        #expect(generated.status == 0, "\(generated.stderr)")
        try generated.stdout.write(toFile: script, atomically: false, encoding: .utf8)
        let quoted = ([SandboxHarness.cordon] + words).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let driver = """
            source "$1"
            COMP_WORDS=(\(quoted.joined(separator: " ")))
            COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            COMP_LINE="${COMP_WORDS[*]}"
            COMP_POINT=${#COMP_LINE}
            COMPREPLY=()
            _cordon "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let r = try await SandboxHarness.run(["/bin/bash", "-c", driver, "bash", script], environment: h.environment(), directory: h.root)
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }.sorted()
    }

    @Test func sandboxNamesCompleteAfterASandboxCommand() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let sandboxes = h.state + "/cordon/sandboxes"
        for name in ["alpha", "beta-2", "Bad$(touch pwned)", "has space"] {
            try FileManager.default.createDirectory(atPath: sandboxes + "/" + name, withIntermediateDirectories: true)
        }
        #expect(try await Self.complete(h, ["exec", ""]) == ["alpha", "beta-2"])
        #expect(try await Self.complete(h, ["status", "al"]) == ["alpha"])
        #expect(try await Self.complete(h, ["restart", ""]) == ["alpha", "beta-2"])
        #expect(!FileManager.default.fileExists(atPath: h.root + "/pwned"))
    }

    @Test func profileAndPresetNamesComplete() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let config = h.root + "/config/cordon"
        for file in ["profiles/work.yaml", "profiles/ci.yml", "profiles/notes.txt", "profiles/$(touch pwned).yaml", "profiles/a b.yaml", "presets/mine.yaml"] {
            try h.write(file, "name: x\n", in: config)
        }
        let profiles = try await Self.complete(h, ["run", "--profile", ""])
        #expect(profiles == ["ci", "default", "work"])
        #expect(try await Self.complete(h, ["up", "--profile", "w"]) == ["work"])
        let presets = try await Self.complete(h, ["run", "--preset", ""])
        #expect(presets.contains("mine") && presets.contains("pypi"), "\(presets)")
        #expect(try await Self.complete(h, ["presets", "show", "mi"]) == ["mine"])
        #expect(!FileManager.default.fileExists(atPath: h.root + "/pwned"))
    }
}

import Foundation
import Testing

@testable import CordonGate

@Suite struct PathPatternTests {
    static let patterns: [String] =
        HostTraps.rules.flatMap(\.patterns) + [
            "*.log", "!keep.log", "/build/", "docs/**/*.tmp", "a?c", "[0-9]*.txt", "\\#hash", "src/*/gen", "**/node_modules/**",
            "é/*.md", "a\\*b", "x[", "**", "/**/z", "lib/**", "**/.env*",
        ]
    static let paths: [String] = [
        ".git", ".git/config", "a/.git/hooks/pre-commit", ".gitmodules", "sub/.gitattributes", ".husky/pre-commit", "lefthook.yml",
        ".envrc", "a/b/.env.sh", ".vscode/tasks.json", "x.code-workspace", "a/b.code-workspace", ".devcontainer/devcontainer.json",
        ".bashrc", "home/.zshrc", ".config/fish/config.fish", "a/.config/fish/functions/f.fish", ".mcp.json", "CLAUDE.md",
        "pkg/AGENTS.md", ".claude/commands/x.md", ".github/workflows/ci.yml", ".github/actions/a/action.yml", ".gitlab-ci.yml",
        ".gitlab/x", "Jenkinsfile", "sub/Jenkinsfile", "debug.log", "x/keep.log", "build", "build/out.o", "src/build/out.o",
        "docs/a/b/c.tmp", "docs/c.tmp", "abc", "abbc", "3rd.txt", "#hash", "src/x/gen", "src/x/y/gen", "a/node_modules/b/c",
        "é/readme.md", "e\u{301}/readme.md", "a*b", "axb", "x[", "q/z", "z", "lib/a/b", ".env.local", "deep/.env", "pkg003/new00042.py",
    ]

    /// The prefilter is exact only if every string the regex matches contains the literal.
    @Test func everyMatchContainsThePatternsLiteral() throws {
        var matched = 0
        for pattern in Self.patterns {
            var body = pattern.hasPrefix("!") ? String(pattern.dropFirst()) : pattern
            if body.hasSuffix("/") && body.count > 1 { body.removeLast() }
            let translated = PathPatterns.translate(body)
            let regex = try NSRegularExpression(pattern: translated.regex)
            for path in Self.paths {
                guard regex.firstMatch(in: path, range: NSRange(location: 0, length: (path as NSString).length)) != nil else { continue }
                matched += 1
                var copy = path
                #expect(copy.withUTF8 { PathPatterns.contains($0, translated.literal) }, "\(pattern) matches \(path) without \(translated.literal)")
            }
        }
        #expect(matched > 60)
    }

    @Test(arguments: [
        (".git/**", ".git/"), ("**/.bashrc", ".bashrc"), ("docs/**/*.tmp", "docs/"), ("**/*.code-workspace", ".code-workspace"),
        ("a?c", "a"), ("\\#hash", "#hash"), ("**", ""), ("[0-9]*.txt", ".txt"),
    ])
    func literalIsTheLongestRun(pattern: String, literal: String) {
        #expect(PathPatterns.translate(pattern).literal == Array(literal.utf8))
    }

    @Test func trapPatternsStillMatchThroughThePrefilter() {
        func trap(_ path: String) -> String? { HostTraps.match(path)?.id }
        #expect(trap("a/.git/hooks/pre-commit") == "trap-git")
        #expect(trap("x/.zshrc") == "trap-shell-rc")
        #expect(trap("team.code-workspace") == "trap-editor")
        #expect(trap("pkg003/new00042.py") == nil)
        #expect(trap("src/gitignore.py") == nil)
    }
}

import CordonCore
import CordonTestSupport
import Testing

/// Names the agent chose reach the user's terminal only through `TerminalText`: nothing that
/// acts on a terminal or changes how a name reads may pass unescaped.
struct TerminalTextTests {
    @Test(arguments: [
        ("a\u{1B}[2Kb", "a\\x1B[2Kb"),
        ("bell\u{07}", "bell\\x07"),
        ("line\nbreak", "line\\x0Abreak"),
        ("cr\rover", "cr\\x0Dover"),
        ("del\u{7F}", "del\\x7F"),
        ("csi\u{9B}31m", "csi\\x9B31m"),
        ("invoice\u{202E}fdp.exe", "invoice\\u{202E}fdp.exe"),
        ("iso\u{2066}late", "iso\\u{2066}late"),
        ("zero\u{200B}width", "zero\\u{200B}width"),
        ("\u{FEFF}bom", "\\u{FEFF}bom"),
        ("arabic\u{061C}mark", "arabic\\u{061C}mark"),
    ])
    func controlAndInvisibleCharactersAreWrittenOut(input: String, shown: String) {
        #expect(TerminalText.escaped(input) == shown)
        #expect(TerminalText.hasUnsafeCharacters(input))
    }

    @Test func plainNamesAreUntouched() {
        for name in ["plain name.txt", "bücher/ß.md", "日本語", "dir\\file", "soft\u{00AD}hyphen", "emoji 🎉"] {
            #expect(TerminalText.escaped(name) == name)
            #expect(!TerminalText.hasUnsafeCharacters(name))
        }
    }

    @Test func invisibleFormattingIsToldApartFromControls() {
        #expect(TerminalText.hasInvisibleFormatting("a\u{202E}b"))
        #expect(TerminalText.hasInvisibleFormatting("a\u{2060}b"))
        #expect(!TerminalText.hasInvisibleFormatting("a\u{1B}b"))
        #expect(!TerminalText.hasInvisibleFormatting("plain"))
    }

    @Test func contentKeepsTabsAndNewlinesOnly() {
        #expect(TerminalText.escapedContent("a\tb\nc") == "a\tb\nc")
        #expect(TerminalText.escapedContent("a\r\nb") == "a\\x0D\nb")
        #expect(TerminalText.escapedContent("x\u{1B}]52;c;ZWNobw==\u{07}") == "x\\x1B]52;c;ZWNobw==\\x07")
        #expect(TerminalText.escapedContent("if a\u{202E} {") == "if a\\u{202E} {")
    }

    /// Whatever the input, the escaped form holds nothing a terminal acts on or hides.
    @Test func escapingLeavesNothingUnsafe() {
        var random = SplitMix(seed: 23)
        let alphabet: [UInt32] = [
            0x00, 0x07, 0x09, 0x0A, 0x0D, 0x1B, 0x5C, 0x61, 0x7F, 0x80, 0x9B, 0x9F, 0xAD, 0xE9,
            0x061C, 0x200B, 0x200E, 0x202A, 0x202E, 0x2066, 0x2069, 0xFEFF, 0xFFF9, 0x1F389, 0xE0001,
        ]
        for _ in 0..<2000 {
            var text = ""
            for _ in 0..<Int.random(in: 0...12, using: &random) {
                if let scalar = Unicode.Scalar(alphabet[Int.random(in: 0..<alphabet.count, using: &random)]) {
                    text.unicodeScalars.append(scalar)
                }
            }
            let shown = TerminalText.escaped(text)
            #expect(!TerminalText.hasUnsafeCharacters(shown), "\(text.unicodeScalars.map { $0.value })")
            #expect(!TerminalText.hasUnsafeCharacters(TerminalText.escapedContent(text).replacingTabsAndNewlines()))
        }
    }
}

extension String {
    fileprivate func replacingTabsAndNewlines() -> String {
        String(String.UnicodeScalarView(unicodeScalars.filter { $0 != "\t" && $0 != "\n" }))
    }
}

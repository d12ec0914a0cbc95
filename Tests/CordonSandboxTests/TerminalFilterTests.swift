import CordonConfig
import CordonSandbox
import CordonTestSupport
import Testing

/// The pty relay's escape-sequence filter, fed as the sandbox would write: whole, split at every
/// position, byte by byte. Sequences that act outside the screen never come out; screen output does.
struct TerminalFilterTests {
    static let esc = "\u{1B}"
    static let bel = "\u{07}"
    static let st = "\u{1B}\\"

    /// Output for `input` fed whole; every two-chunk split and byte-by-byte feeding must agree.
    static func filtered(_ input: [UInt8], _ level: TerminalFilter.Level = .standard) -> [UInt8] {
        var whole = TerminalFilter(level: level)
        let expected = whole.filter(input)
        for cut in 0...input.count {
            var split = TerminalFilter(level: level)
            var out: [UInt8] = []
            split.filter(input[..<cut], into: &out)
            split.filter(input[cut...], into: &out)
            #expect(out == expected, "split at \(cut) of \(escaped(input))")
        }
        for cut in 0...input.count {
            // The relay's path (plain-text runs copied whole) agrees with the byte-wise one.
            var buffered = TerminalFilter(level: level)
            var out: [UInt8] = []
            input.withUnsafeBufferPointer { all in
                buffered.filter(UnsafeBufferPointer(rebasing: all[..<cut]), into: &out)
                buffered.filter(UnsafeBufferPointer(rebasing: all[cut...]), into: &out)
            }
            #expect(out == expected, "buffer split at \(cut) of \(escaped(input))")
        }
        var bytewise = TerminalFilter(level: level)
        var out: [UInt8] = []
        for byte in input { bytewise.filter([byte], into: &out) }
        #expect(out == expected, "byte by byte: \(escaped(input))")
        return expected
    }

    static func filtered(_ input: String, _ level: TerminalFilter.Level = .standard) -> String {
        String(decoding: filtered(Array(input.utf8), level), as: UTF8.self)
    }

    static func escaped(_ bytes: some Collection<UInt8>) -> String {
        bytes.map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
    }

    static let dropped: [(String, String)] = [
        ("OSC 52 clipboard write, BEL", "\(esc)]52;c;SGVsbG8=\(bel)"),
        ("OSC 52 clipboard write, ST", "\(esc)]52;c;SGVsbG8=\(st)"),
        ("OSC 52 clipboard read", "\(esc)]52;c;?\(bel)"),
        ("OSC 0 title", "\(esc)]0;pwned\(bel)"),
        ("OSC 1 icon", "\(esc)]1;pwned\(st)"),
        ("OSC 2 title", "\(esc)]2;pwned\(bel)"),
        ("OSC l legacy title", "\(esc)]lpwned\(st)"),
        ("OSC L legacy icon", "\(esc)]Lpwned\(st)"),
        ("title report", "\(esc)[21t"),
        ("icon report", "\(esc)[20t"),
        ("window move", "\(esc)[3;0;0t"),
        ("DECRQSS", "\(esc)P$qm\(st)"),
        ("XTGETTCAP", "\(esc)P+q544e\(st)"),
        ("tmux pass-through", "\(esc)Ptmux;\(esc)\(esc)]52;c;eA==\(bel)\(st)"),
        ("sixel", "\(esc)Pq#0;2;0;0;0#0~~\(st)"),
        ("background colour query", "\(esc)]11;?\(bel)"),
        ("foreground colour query", "\(esc)]10;?\(st)"),
        ("cursor colour query", "\(esc)]12;?\(bel)"),
        ("palette query", "\(esc)]4;1;?\(bel)"),
        ("palette set", "\(esc)]4;0;#ffffff\(bel)"),
        ("OSC 7 directory", "\(esc)]7;file://host/etc\(bel)"),
        ("iTerm file transfer", "\(esc)]1337;File=name=eA==;inline=0:eA==\(bel)"),
        ("kitty file transfer", "\(esc)]5113;ac=send;id=1\(st)"),
        ("kitty graphics APC", "\(esc)_Gf=100,t=f;L2V0Yy9wYXNzd2Q=\(st)"),
        ("PM", "\(esc)^private\(st)"),
        ("SOS", "\(esc)Xstring\(st)"),
        ("screen title", "\(esc)kpwned\(st)"),
        ("notification OSC 9", "\(esc)]9;sudo needs your password\(bel)"),
        ("media copy", "\(esc)[5i"),
        ("answerback", "\u{05}"),
        ("8-bit OSC 52", "\u{9D}52;c;eA==\u{9C}"),
        ("UTF-8 C1 OSC 52", "\u{C2}\u{9D}52;c;eA==\u{07}"),
        ("8-bit DCS", "\u{90}$qm\u{9C}"),
        ("8-bit CSI title report", "\u{9B}21t"),
    ]

    @Test(arguments: dropped)
    func dangerousSequencesAreDropped(_ name: String, _ sequence: String) {
        // U+0080-U+00FF stand for raw bytes here (8-bit C1, or a UTF-8 C1 spelled byte by byte).
        let raw: [UInt8] = sequence.unicodeScalars.flatMap { scalar -> [UInt8] in
            scalar.value >= 0x80 && scalar.value <= 0xFF ? [UInt8(scalar.value)] : Array(String(scalar).utf8)
        }
        let input = Array("a".utf8) + raw + Array("b\n".utf8)
        for level in [TerminalFilter.Level.standard, .strict] {
            let out = Self.filtered(input, level)
            #expect(out == Array("ab\n".utf8), "\(name) [\(level)]: \(Self.escaped(out))")
        }
    }

    static let kept: [(String, String)] = [
        ("colours", "\(esc)[31mred\(esc)[0m \(esc)[1;38;5;208mx\(esc)[38:2:1:2:3m\(esc)[m"),
        ("cursor movement", "\(esc)[H\(esc)[2J\(esc)[10;5H\(esc)[3A\(esc)[K\(esc)7\(esc)8"),
        ("alternate screen", "\(esc)[?1049hfull\(esc)[?1049l"),
        ("bracketed paste", "\(esc)[?2004h\(esc)[?2004l"),
        ("mouse modes", "\(esc)[?1000h\(esc)[?1006h\(esc)[?1006l\(esc)[?1000l"),
        ("cursor position report", "\(esc)[6n"),
        ("device attributes", "\(esc)[c\(esc)[>c"),
        ("scroll region", "\(esc)[1;20r"),
        ("charset", "\(esc)(0qqq\(esc)(B"),
        ("cursor style", "\(esc)[2 q"),
        ("UTF-8 text with C1-range continuation bytes", "ě › € 😀 ü"),
        ("tabs and bells", "a\tb\u{07}c\r\n"),
    ]

    @Test(arguments: kept)
    func screenOutputPasses(_ name: String, _ sequence: String) {
        for level in [TerminalFilter.Level.standard, .strict] {
            #expect(Self.filtered(sequence, level) == sequence, "\(name) [\(level)]")
        }
    }

    @Test func hyperlinksPassInStandardOnlyAndEndWithST() {
        let link = "\(Self.esc)]8;;https://example.com/a?b=1\(Self.bel)text\(Self.esc)]8;;\(Self.bel)"
        #expect(Self.filtered(link, .standard) == "\(Self.esc)]8;;https://example.com/a?b=1\(Self.st)text\(Self.esc)]8;;\(Self.st)")
        #expect(Self.filtered(link, .strict) == "text")
        // A link target holding anything but printable ASCII is dropped whole.
        #expect(Self.filtered("\(Self.esc)]8;;https://e.com/\u{202E}x\(Self.bel)t", .standard) == "t")
    }

    /// 8-bit and UTF-8-encoded C1 controls are read as their ESC forms: kept ones come out in
    /// 7-bit form, so the terminal reads them as the filter did.
    @Test func c1ControlsAreNormalised() {
        #expect(Self.filtered([0x9B] + Array("31mx".utf8)) == Array("\(Self.esc)[31mx".utf8))
        #expect(Self.filtered([0xC2, 0x9B] + Array("1mx".utf8)) == Array("\(Self.esc)[1mx".utf8))
        #expect(Self.filtered([0xC2, 0xA9]) == [0xC2, 0xA9], "©, not a C1")
    }

    /// A kept string is cut short by anything a terminal might end it with, and dropped whole:
    /// an OSC 52 hidden inside a hyperlink never comes out.
    @Test func aStringInterruptedIsDroppedWhole() {
        let esc = Self.esc, bel = Self.bel
        #expect(Self.filtered("\(esc)]8;;http://a\(esc)]52;c;eA==\(bel)x") == "x")
        #expect(Self.filtered("\(esc)]8;;http://a\u{18}x") == "x", "CAN cancels")
        #expect(Self.escaped(Self.filtered(Array("\(esc)]8;;http://a".utf8) + [0x9C] + Array("x".utf8))) == "\\x1b]8;;http://a\\x1b\\x")
    }

    @Test func titleStackPassesInStandardOnly() {
        #expect(Self.filtered("\(Self.esc)[22;0t\(Self.esc)[23;0t", .standard) == "\(Self.esc)[22;0t\(Self.esc)[23;0t")
        #expect(Self.filtered("\(Self.esc)[22;0t", .strict) == "")
    }

    /// A sequence that never ends holds a bounded number of bytes and reaches nothing.
    @Test func unterminatedSequencesStayBounded() {
        for opener in ["\(Self.esc)]52;c;", "\(Self.esc)]8;;", "\(Self.esc)P", "\(Self.esc)[", "\(Self.esc)]"] {
            var filter = TerminalFilter(level: .standard)
            var out: [UInt8] = []
            filter.filter(Array(opener.utf8), into: &out)
            let chunk = [UInt8](repeating: UInt8(ascii: "1"), count: 64 * 1024)
            for _ in 0..<32 {
                filter.filter(chunk, into: &out)
                #expect(filter.heldBytes <= TerminalFilter.maxHeld, "\(opener)")
            }
            // A CSI ends at its final byte, the strings at BEL: either way it is dropped whole.
            filter.filter(Array((opener == "\(Self.esc)[" ? "m" : "\u{07}").utf8) + Array("after".utf8), into: &out)
            #expect(String(decoding: out, as: UTF8.self) == "after", "\(opener): \(Self.escaped(out.prefix(40)))")
        }
    }

    /// Random streams of escape-heavy bytes: splitting never changes the output, and no dangerous
    /// introducer ever comes out.
    @Test func randomStreamsNeverLeakAndSplitConsistently() {
        var rng = SplitMix(seed: 22)
        let alphabet: [UInt8] = Array("\u{1B}]52;c?0128[tP$q\\_kl".utf8) + [0x07, 0x9C, 0x9D, 0x90, 0x9B, 0xC2, 0x18, 0x05, 0x41, 0xE2, 0x80]
        for _ in 0..<300 {
            let length = Int(rng.next() % 60)
            let input = (0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            let out = Self.filtered(input)
            #expect(Self.violations(out).isEmpty, "\(Self.escaped(input)) -> \(Self.escaped(out)): \(Self.violations(out))")
        }
    }

    /// What in `out` should never reach a terminal: string introducers other than OSC 8, ENQ,
    /// 8-bit or UTF-8 C1 controls, CSI t other than 22/23, CSI i.
    static func violations(_ out: [UInt8]) -> [String] {
        var found: [String] = []
        var i = 0
        while i < out.count {
            let b = out[i]
            if b == 0x05 { found.append("ENQ") }
            if (0x80...0x9F).contains(b) && (i == 0 || out[i - 1] == 0xC2 || out[i - 1] < 0x80) { found.append("C1 \(b)") }
            if b == 0x1B, i + 1 < out.count {
                let next = out[i + 1]
                if next == UInt8(ascii: "]") && !(i + 3 < out.count && out[i + 2] == UInt8(ascii: "8") && out[i + 3] == UInt8(ascii: ";")) {
                    found.append("OSC other than 8")
                }
                if "PX^_k".utf8.contains(next) { found.append("string \(Character(UnicodeScalar(next)))") }
                if next == UInt8(ascii: "[") {
                    var j = i + 2
                    while j < out.count, (0x20...0x3F).contains(out[j]) { j += 1 }
                    if j < out.count {
                        let params = String(decoding: out[(i + 2)..<j], as: UTF8.self)
                        if out[j] == UInt8(ascii: "t") && !params.hasPrefix("22") && !params.hasPrefix("23") { found.append("CSI \(params)t") }
                        if out[j] == UInt8(ascii: "i") { found.append("CSI \(params)i") }
                    }
                }
            }
            i += 1
        }
        return found
    }

    @Test func modesLeftOnAreUndoneAtTheEnd() {
        var filter = TerminalFilter(level: .standard)
        _ = filter.filter(Array("\(Self.esc)[?1049h\(Self.esc)[?1000h\(Self.esc)[?2004h\(Self.esc)[?2004l\(Self.esc)[?25l\(Self.esc)[7m\(Self.esc)=".utf8))
        let reset = String(decoding: filter.finish(), as: UTF8.self)
        #expect(reset.contains("\(Self.esc)[?1000l") && reset.contains("\(Self.esc)[?1049l") && reset.contains("\(Self.esc)[?25h"))
        #expect(reset.contains("\(Self.esc)[0m") && reset.contains("\(Self.esc)>"))
        #expect(!reset.contains("2004"), "turned off again by the sandbox: \(reset)")
        var clean = TerminalFilter(level: .standard)
        _ = clean.filter(Array("plain \(Self.esc)[31mx\(Self.esc)[0m".utf8))
        #expect(clean.finish().isEmpty)
    }

    @Test func droppedSequencesAreCountedForTheNotice() {
        var filter = TerminalFilter(level: .standard)
        _ = filter.filter(Array("\(Self.esc)]52;c;eA==\(Self.bel)\(Self.esc)]52;c;eA==\(Self.bel)\(Self.esc)]0;t\(Self.bel)".utf8))
        #expect(filter.dropped[.clipboard] == 2)
        #expect(filter.dropped[.title] == 1)
        #expect(filter.droppedSummary?.contains("2 clipboard") == true)
    }
}

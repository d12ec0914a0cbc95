public import CordonConfig

/// What the sandbox writes to its pty, on its way to the user's terminal: a streaming parser (the
/// DEC VT500 state machine, as tmux and mosh run it) that passes text, colours, cursor movement,
/// the alternate screen, bracketed paste and mouse modes, and drops what acts outside the screen:
/// clipboard access (OSC 52), window and icon titles, colour and title queries whose answers the
/// terminal types into the sandbox's input, every DCS/APC/PM/SOS string (DECRQSS, XTGETTCAP,
/// sixel, kitty graphics, tmux pass-through), file transfer (OSC 1337/5113), media copy and
/// window manipulation. See docs/threat-model.md, "The user's terminal".
///
/// Invariant: the filter only ever emits ground-state text, C0 controls and complete, well-formed
/// sequences it has checked, so the terminal is in its ground state whenever the filter is; a
/// sequence is emitted whole or not at all. Memory is bounded: a sequence longer than its cap is
/// dropped whole. 8-bit and UTF-8-encoded C1 controls are read as their ESC forms.
public struct TerminalFilter: Sendable {
    public typealias Level = Profile.Terminal.Filter

    /// Kinds of dropped sequences, counted for the end-of-run notice.
    public enum Dropped: String, Sendable, CaseIterable, Comparable {
        case clipboard = "clipboard access (OSC 52)"
        case title = "window/icon title (OSC 0/1/2, l/L, ESC k)"
        case colours = "colour set or query (OSC 4/10-19/104/110-119)"
        case directory = "working-directory report (OSC 7)"
        case hyperlink = "hyperlink (OSC 8)"
        case fileTransfer = "file transfer (OSC 1337/5113)"
        case otherOSC = "other OSC"
        case deviceControl = "DCS/APC/PM/SOS string (DECRQSS, XTGETTCAP, graphics, pass-through)"
        case windowOps = "window manipulation or report (CSI t)"
        case mediaCopy = "media copy (CSI i)"
        case versionQuery = "terminal version query (CSI > q)"
        case answerback = "answerback request (ENQ)"
        case malformed = "malformed or oversized sequence"

        public static func < (a: Dropped, b: Dropped) -> Bool {
            (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
        }
    }

    static let escapeCap = 16
    static let csiCap = 256
    static let oscCommandCap = 16
    static let keptStringCap = 4096
    /// Most bytes `filter` can emit beyond its input (a held sequence released).
    public static let maxHeld = keptStringCap + 32

    private enum State: Sendable, Equatable {
        case ground
        /// 0xC2 seen: a UTF-8-encoded C1 control if 0x80-0x9F follows.
        case leadC2
        case escape
        case csi
        /// After OSC: its command (digits, or a letter) up to ';'.
        case oscCommand
        /// An OSC body being kept (buffered until its terminator).
        case oscKeep
        /// A string being dropped until its terminator.
        case discard
        /// ESC inside a kept or dropped string: ST if '\' follows, else the string ended.
        case stringEscape(keeping: Bool)
    }

    public let level: Level
    private var state = State.ground
    private var buffer: [UInt8] = []
    private var poisoned = false
    private var dropKind = Dropped.malformed
    private var utf8Need = 0
    private var utf8Low: UInt8 = 0x80
    private var utf8High: UInt8 = 0xBF
    public private(set) var dropped: [Dropped: Int] = [:]
    /// DEC private modes the sandbox left set (or reset, for 7 and 25), to undo at the end.
    private var modes: Set<Int> = []
    private var sgrDirty = false
    private var keypadApplication = false
    private var kittyKeyboardPushes = 0
    private var modifyOtherKeys = false

    public init(level: Level) {
        self.level = level
        buffer.reserveCapacity(64)
    }

    /// Filters `input`, appending what may reach the terminal to `out`.
    public mutating func filter(_ input: some Sequence<UInt8>, into out: inout [UInt8]) {
        for byte in input { step(byte, &out) }
    }

    /// The same over a buffer, with runs of plain text (printable ASCII, CR, LF, TAB) in the
    /// ground state copied whole: the relay's path.
    public mutating func filter(_ input: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var i = 0
        let end = input.count
        while i < end {
            if state == .ground && utf8Need == 0 {
                var j = i
                while j < end, Self.isPlain(input[j]) { j += 1 }
                if j > i {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: input[i..<j]))
                    i = j
                    continue
                }
            }
            step(input[i], &out)
            i += 1
        }
    }

    @inline(__always)
    static func isPlain(_ b: UInt8) -> Bool {
        (0x20...0x7E).contains(b) || b == 0x0A || b == 0x0D || b == 0x09
    }

    /// Convenience for tests: the filtered bytes of one chunk.
    public mutating func filter(_ input: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        filter(input, into: &out)
        return out
    }

    /// The end of the stream: a held incomplete sequence is dropped; returns the sequences that
    /// put back the terminal modes the sandbox changed and left (mouse, alternate screen, cursor…).
    public mutating func finish() -> [UInt8] {
        switch state {
        case .ground, .leadC2: break
        default: count(dropKind)
        }
        state = .ground
        buffer.removeAll(keepingCapacity: false)
        var reset = ""
        let restoreOn: Set<Int> = [7, 25]
        for mode in modes.sorted() {
            reset += "\u{1B}[?\(mode)\(restoreOn.contains(mode) ? "h" : "l")"
        }
        if keypadApplication { reset += "\u{1B}>" }
        if modifyOtherKeys { reset += "\u{1B}[>4m" }
        if kittyKeyboardPushes > 0 { reset += "\u{1B}[<\(min(kittyKeyboardPushes, 99))u" }
        if sgrDirty { reset += "\u{1B}[0m" }
        modes.removeAll()
        keypadApplication = false
        modifyOtherKeys = false
        kittyKeyboardPushes = 0
        sgrDirty = false
        return Array(reset.utf8)
    }

    /// Bytes held for a sequence not yet complete (bounded by `maxHeld`).
    public var heldBytes: Int { buffer.count }

    /// One line for the user, or nil when nothing was dropped.
    public var droppedSummary: String? {
        guard !dropped.isEmpty else { return nil }
        return dropped.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ")
    }

    private mutating func count(_ kind: Dropped) {
        dropped[kind, default: 0] += 1
    }

    // MARK: The state machine

    private mutating func step(_ b: UInt8, _ out: inout [UInt8]) {
        switch state {
        case .ground: ground(b, &out)
        case .leadC2:
            state = .ground
            if (0x80...0x9F).contains(b) {
                c1(b, &out)
            } else {
                out.append(0xC2)
                if (0xA0...0xBF).contains(b) { out.append(b) } else { ground(b, &out) }
            }
        case .escape: escape(b, &out)
        case .csi: csi(b, &out)
        case .oscCommand: oscCommand(b, &out)
        case .oscKeep: stringByte(b, keeping: true, &out)
        case .discard: stringByte(b, keeping: false, &out)
        case .stringEscape(let keeping):
            if b == 0x5C {  // ESC \ = ST
                endString(keeping: keeping, &out)
            } else {
                // The string ended unterminated (the terminal would cancel it): drop it, and read
                // this byte as following a fresh ESC.
                count(keeping ? .malformed : dropKind)
                startEscape()
                escape(b, &out)
            }
        }
    }

    private mutating func ground(_ b: UInt8, _ out: inout [UInt8]) {
        if utf8Need > 0 {
            if b >= utf8Low && b <= utf8High {
                out.append(b)
                utf8Need -= 1
                utf8Low = 0x80
                utf8High = 0xBF
                return
            }
            utf8Need = 0
        }
        utf8Low = 0x80
        utf8High = 0xBF
        switch b {
        case 0x1B: startEscape()
        case 0x05: count(.answerback)
        case 0x80...0x9F: c1(b, &out)  // not a continuation here: an 8-bit C1 control
        case 0xC2: state = .leadC2
        case 0xC3...0xDF: out.append(b); utf8Need = 1
        case 0xE0: out.append(b); utf8Need = 2; utf8Low = 0xA0
        case 0xED: out.append(b); utf8Need = 2; utf8High = 0x9F
        case 0xE1...0xEF: out.append(b); utf8Need = 2
        case 0xF0: out.append(b); utf8Need = 3; utf8Low = 0x90
        case 0xF4: out.append(b); utf8Need = 3; utf8High = 0x8F
        case 0xF1...0xF3: out.append(b); utf8Need = 3
        default: out.append(b)
        }
    }

    /// A C1 control (8-bit or UTF-8-encoded) is read as ESC and its 7-bit final.
    private mutating func c1(_ b: UInt8, _ out: inout [UInt8]) {
        startEscape()
        escape(b - 0x40, &out)
    }

    private mutating func startEscape() {
        state = .escape
        buffer.removeAll(keepingCapacity: true)
        buffer.append(0x1B)
        poisoned = false
        dropKind = .malformed
        utf8Need = 0
    }

    /// C0 controls inside a sequence: the terminal executes them where they stand, so they pass
    /// (ENQ excepted); ESC restarts, CAN and SUB cancel. Returns true when `b` was one of those.
    private mutating func controlInSequence(_ b: UInt8, _ out: inout [UInt8]) -> Bool {
        switch b {
        case 0x1B:
            if buffer.count > 1 || state != .escape { count(.malformed) }
            startEscape()
        case 0x18, 0x1A:
            count(.malformed)
            state = .ground
        case 0x05: count(.answerback)
        case 0x00...0x1F: out.append(b)
        case 0x7F: break  // ignored by terminals inside sequences
        default: return false
        }
        return true
    }

    private mutating func escape(_ b: UInt8, _ out: inout [UInt8]) {
        if controlInSequence(b, &out) { return }
        switch b {
        case 0x20...0x2F:
            if buffer.count < Self.escapeCap { buffer.append(b) } else { poisoned = true }
        case 0x30...0x7E:
            if buffer.count == 1 {
                switch b {
                case UInt8(ascii: "["):
                    buffer.append(b)
                    state = .csi
                    return
                case UInt8(ascii: "]"):
                    buffer = [0x1B, b]
                    state = .oscCommand
                    return
                case UInt8(ascii: "P"), UInt8(ascii: "X"), UInt8(ascii: "^"), UInt8(ascii: "_"):
                    startDiscard(.deviceControl)
                    return
                case UInt8(ascii: "k"):  // screen/tmux window title
                    startDiscard(.title)
                    return
                case UInt8(ascii: "\\"):  // a lone ST ends nothing: left out
                    state = .ground
                    return
                case UInt8(ascii: "="): keypadApplication = true
                case UInt8(ascii: ">"): keypadApplication = false
                default: break
                }
            }
            state = .ground
            if poisoned { count(.malformed); return }
            buffer.append(b)
            out.append(contentsOf: buffer)
        default:
            // A byte no escape sequence holds: the sequence is dropped and the byte read afresh.
            count(.malformed)
            state = .ground
            ground(b, &out)
        }
    }

    private mutating func csi(_ b: UInt8, _ out: inout [UInt8]) {
        if controlInSequence(b, &out) { return }
        switch b {
        case 0x20...0x3F:
            // Parameters after an intermediate are malformed.
            if (0x30...0x3F).contains(b), let last = buffer.last, (0x20...0x2F).contains(last) { poisoned = true }
            // A private marker (< = > ?) only leads the parameters.
            if (0x3C...0x3F).contains(b) && buffer.count > 2 { poisoned = true }
            if buffer.count < Self.csiCap { buffer.append(b) } else { poisoned = true }
        case 0x40...0x7E:
            state = .ground
            if poisoned { count(.malformed); return }
            buffer.append(b)
            if let kind = csiVerdict() {
                count(kind)
            } else {
                out.append(contentsOf: buffer)
            }
        default:
            count(.malformed)
            state = .ground
            ground(b, &out)
        }
    }

    /// nil to pass the CSI sequence in `buffer` (ESC [ … final), else why it is dropped.
    /// Also notes the modes it changes, to undo at the end.
    private mutating func csiVerdict() -> Dropped? {
        let body = buffer[2..<(buffer.count - 1)]
        let final = buffer[buffer.count - 1]
        let prefix: UInt8? = body.first.flatMap { (0x3C...0x3F).contains($0) ? $0 : nil }
        let intermediates = body.filter { (0x20...0x2F).contains($0) }
        let paramText = body.dropFirst(prefix == nil ? 0 : 1).filter { (0x30...0x3B).contains($0) }
        let params = paramText.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false).map { part -> Int in
            var value = 0
            for d in part where (0x30...0x39).contains(d) { value = min(value * 10 + Int(d - 0x30), 100_000) }
            return value
        }
        switch (prefix, intermediates.isEmpty, final) {
        case (nil, true, UInt8(ascii: "t")):
            // XTWINOPS: title stack push/pop may pass (standard); moving, resizing, iconifying
            // and every report (title 20/21, sizes 13-19) are dropped.
            if level == .standard, let first = params.first, first == 22 || first == 23 { return nil }
            return .windowOps
        case (_, _, UInt8(ascii: "t")):
            return .windowOps  // xterm title modes (CSI > t), DECSLPP variants
        case (_, _, UInt8(ascii: "i")):
            return .mediaCopy
        case (UInt8(ascii: ">"), true, UInt8(ascii: "q")):
            return level == .strict ? .versionQuery : nil
        case (UInt8(ascii: "?"), true, UInt8(ascii: "h")), (UInt8(ascii: "?"), true, UInt8(ascii: "l")):
            let set = final == UInt8(ascii: "h")
            for mode in params where Self.trackedModes.contains(mode) {
                // 7 (autowrap) and 25 (cursor shown) are on by default: remember them when turned off.
                if (mode == 7 || mode == 25) ? !set : set { modes.insert(mode) } else { modes.remove(mode) }
            }
        case (nil, true, UInt8(ascii: "m")):
            sgrDirty = !params.allSatisfy { $0 == 0 }
        case (UInt8(ascii: ">"), true, UInt8(ascii: "m")):
            if params.first == 4 { modifyOtherKeys = params.count > 1 && params[1] != 0 }
        case (UInt8(ascii: ">"), true, UInt8(ascii: "u")):
            kittyKeyboardPushes = min(kittyKeyboardPushes + 1, 99)
        case (UInt8(ascii: "<"), true, UInt8(ascii: "u")):
            kittyKeyboardPushes = max(kittyKeyboardPushes - max(params.first ?? 1, 1), 0)
        default:
            break
        }
        return nil
    }

    /// Modes a TUI turns on and must turn off again: cursor keys, mouse reporting, focus events,
    /// alternate screen, bracketed paste, synchronized output; autowrap and cursor visibility.
    static let trackedModes: Set<Int> = [1, 7, 9, 25, 47, 66, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1015, 1016, 1047, 1049, 2004, 2026]

    private mutating func oscCommand(_ b: UInt8, _ out: inout [UInt8]) {
        switch b {
        case UInt8(ascii: ";"):
            let command = String(decoding: buffer.dropFirst(2), as: UTF8.self)
            let kind = Self.oscKind(command)
            if kind == .hyperlink && level == .standard && !poisoned {
                buffer.append(b)
                state = .oscKeep
            } else {
                startDiscard(kind)
            }
        case 0x20...0x7E:
            if buffer.count < Self.oscCommandCap { buffer.append(b) } else { poisoned = true }
        default:
            // Terminated or broken before its ';': no OSC without one is let through.
            let command = String(decoding: buffer.dropFirst(2), as: UTF8.self)
            startDiscard(Self.oscKind(command))
            stringByte(b, keeping: false, &out)
        }
    }

    static func oscKind(_ command: String) -> Dropped {
        switch command {
        case "52": return .clipboard
        case "0", "1", "2", "l", "L", "21": return .title
        case "4", "5", "104", "105": return .colours
        case "7": return .directory
        case "8": return .hyperlink
        case "1337", "5113", "5522": return .fileTransfer
        default:
            if let n = Int(command), (10...19).contains(n) || (110...119).contains(n) { return .colours }
            // dtterm's OSC l (title) and OSC L (icon) carry their text with no ';'.
            if command.hasPrefix("l") || command.hasPrefix("L") { return .title }
            return .otherOSC
        }
    }

    private mutating func startDiscard(_ kind: Dropped) {
        state = .discard
        dropKind = kind
        buffer.removeAll(keepingCapacity: true)
    }

    /// A byte of an OSC/DCS/APC/PM/SOS string. BEL, ST (ESC \ or 8-bit 0x9C) end it; CAN and
    /// SUB cancel it; ESC followed by anything else ends it too. A kept string holds printable
    /// ASCII only (OSC 8 URIs are percent-encoded): anything else and it is dropped whole.
    private mutating func stringByte(_ b: UInt8, keeping: Bool, _ out: inout [UInt8]) {
        switch b {
        case 0x07, 0x9C:
            endString(keeping: keeping, &out)
        case 0x1B:
            state = .stringEscape(keeping: keeping)
        case 0x18, 0x1A:
            count(keeping ? .malformed : dropKind)
            state = .ground
        default:
            guard keeping else { return }
            if (0x20...0x7E).contains(b) && buffer.count < Self.keptStringCap {
                buffer.append(b)
            } else {
                startDiscard(.malformed)
            }
        }
    }

    private mutating func endString(keeping: Bool, _ out: inout [UInt8]) {
        state = .ground
        if keeping {
            out.append(contentsOf: buffer)
            out.append(contentsOf: [0x1B, 0x5C])
        } else {
            count(dropKind)
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

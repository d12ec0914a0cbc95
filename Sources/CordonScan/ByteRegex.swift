import CPCRE2

/// A PCRE2 regex matched directly over UTF-8 bytes, JIT-compiled where the CPU allows.
///
/// The scanner's exact engine: gitleaks writes rules in Go's RE2 syntax, which PCRE2 reads as is
/// (named groups `(?P<…>)`, inline flags, `\x60`, POSIX classes), and `\w`, `\d`, `\s` stay ASCII
/// as in RE2. Invalid UTF-8 in a file is matched around, not rejected (PCRE2_MATCH_INVALID_UTF).
/// Immutable once built, so one instance is shared; every match needs a `Scratch` (one per thread).
final class ByteRegex: @unchecked Sendable {
    private let code: OpaquePointer
    /// Capturing groups in the pattern (group 0, the whole match, not counted).
    let groupCount: Int
    /// PCRE2's lower bound on the characters any match consumes (0 when it cannot tell).
    let minLength: Int

    struct CompileError: Error, CustomStringConvertible {
        var message: String
        var offset: Int
        var description: String { "\(message) at offset \(offset)" }
    }

    /// The engine stopped before deciding (its match or depth limit): the caller must not treat
    /// this as "no match".
    struct LimitError: Error, CustomStringConvertible {
        var code: Int32
        var description: String { ByteRegex.message(for: code) }
    }

    /// `anchored`: matches must start exactly at the offset given to `firstMatch` (compiled in, so
    /// the JIT still runs; PCRE2 falls back to its interpreter for match-time anchoring).
    init(_ pattern: String, anchored: Bool = false) throws(CompileError) {
        var errorCode: Int32 = 0
        var errorOffset = 0
        let bytes = Array(pattern.utf8)
        let options = UInt32(PCRE2_UTF) | UInt32(PCRE2_MATCH_INVALID_UTF) | (anchored ? UInt32(PCRE2_ANCHORED) : 0)
        let compiled = bytes.withUnsafeBufferPointer { buffer in
            pcre2_compile_8(buffer.baseAddress, buffer.count, options, &errorCode, &errorOffset, nil)
        }
        guard let compiled else { throw CompileError(message: Self.message(for: errorCode), offset: errorOffset) }
        // Without JIT (an unsupported CPU) the interpreter gives the same answers, slower.
        _ = pcre2_jit_compile_8(compiled, UInt32(PCRE2_JIT_COMPLETE))
        var count: UInt32 = 0
        pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_CAPTURECOUNT), &count)
        var length: UInt32 = 0
        pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_MINLENGTH), &length)
        code = compiled
        groupCount = Int(count)
        minLength = Int(length)
    }

    deinit { pcre2_code_free_8(code) }

    /// One match: the byte range of the whole match and of each group (nil when a group did not take part).
    struct Match {
        var range: Range<Int>
        var groups: [Range<Int>?]
    }

    /// The first match starting at or after `start` in `subject`, or nil.
    func firstMatch(in subject: UnsafeBufferPointer<UInt8>, from start: Int = 0, scratch: Scratch) throws(LimitError) -> Match? {
        guard start <= subject.count else { return nil }
        // An empty buffer still needs a valid pointer for PCRE2.
        var zero: UInt8 = 0
        let rc = withUnsafePointer(to: &zero) { fallback in
            pcre2_match_8(code, subject.baseAddress ?? fallback, subject.count, start, 0, scratch.matchData, scratch.context)
        }
        if rc == PCRE2_ERROR_NOMATCH || rc == PCRE2_ERROR_PARTIAL { return nil }
        if rc < 0 { throw LimitError(code: rc) }
        let ovector = pcre2_get_ovector_pointer_8(scratch.matchData)!
        let pairs = min(Int(pcre2_get_ovector_count_8(scratch.matchData)), groupCount + 1)
        var groups: [Range<Int>?] = []
        groups.reserveCapacity(groupCount)
        for index in 1..<max(1, groupCount + 1) {
            guard index < pairs else {
                groups.append(nil)
                continue
            }
            let lower = ovector[2 * index]
            let upper = ovector[2 * index + 1]
            // PCRE2_UNSET is SIZE_MAX, which Swift sees as -1.
            groups.append(lower < 0 || upper < lower ? nil : lower..<upper)
        }
        return Match(range: ovector[0]..<max(ovector[0], ovector[1]), groups: groups)
    }

    /// Whether a match can begin with `byte` at the subject's start: a full or partial match of
    /// that one byte (PCRE2_PARTIAL_HARD; runs on the interpreter, for set-up only).
    func couldStart(with byte: UInt8, scratch: Scratch) -> Bool {
        var subject = byte
        let rc = withUnsafePointer(to: &subject) { pointer in
            pcre2_match_8(code, pointer, 1, 0, UInt32(PCRE2_PARTIAL_HARD), scratch.matchData, scratch.context)
        }
        return rc >= 0 || rc == PCRE2_ERROR_PARTIAL
    }

    /// Every non-overlapping match in `subject`, left to right.
    func matches(in subject: UnsafeBufferPointer<UInt8>, scratch: Scratch) throws(LimitError) -> [Match] {
        var found: [Match] = []
        var start = 0
        while start <= subject.count, let match = try firstMatch(in: subject, from: start, scratch: scratch) {
            found.append(match)
            start = match.range.isEmpty ? match.range.upperBound + 1 : match.range.upperBound
        }
        return found
    }

    /// Whether `text` contains a match; `onLimit` is the answer when the engine gives up, chosen by
    /// the caller so that "unsure" never lets a secret through.
    func contains(_ text: String, scratch: Scratch, onLimit: Bool) -> Bool {
        var text = text
        return text.withUTF8 { buffer in
            do { return try firstMatch(in: buffer, scratch: scratch) != nil } catch { return onLimit }
        }
    }

    /// Per-thread matching state: PCRE2 match data, a match context with limits and a JIT stack.
    final class Scratch {
        fileprivate let matchData: OpaquePointer
        fileprivate let context: OpaquePointer
        private let jitStack: OpaquePointer?

        /// `groups`: the most capturing groups any regex matched with this scratch has.
        init(groups: Int) {
            matchData = pcre2_match_data_create_8(UInt32(groups + 1), nil)!
            context = pcre2_match_context_create_8(nil)!
            // Bounds for the interpreter and JIT alike: a pathological rule on a hostile file ends
            // in a LimitError (reported, fail closed) instead of running for hours.
            pcre2_set_match_limit_8(context, 50_000_000)
            pcre2_set_depth_limit_8(context, 100_000)
            jitStack = pcre2_jit_stack_create_8(32 * 1024, 8 * 1024 * 1024, nil)
            if let jitStack { pcre2_jit_stack_assign_8(context, nil, UnsafeMutableRawPointer(jitStack)) }
        }

        deinit {
            pcre2_match_data_free_8(matchData)
            pcre2_match_context_free_8(context)
            if let jitStack { pcre2_jit_stack_free_8(jitStack) }
        }
    }

    static func message(for code: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let length = pcre2_get_error_message_8(code, &buffer, buffer.count)
        return length > 0 ? String(decoding: buffer.prefix(Int(length)), as: UTF8.self) : "PCRE2 error \(code)"
    }
}

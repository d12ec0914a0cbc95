import Foundation

/// A gitignore-syntax glob list: the last pattern that matches decides, `!` re-includes.
///
/// Supported: `*`, `?`, `[…]` (with `!` negation), `**/`, `/**`, `/**/`, a leading or inner `/`
/// anchoring to the root, a trailing `/` matching directories only, `\` escapes, `#` comments.
/// A pattern that matches a directory also matches everything under it.
public struct PathPatterns: Sendable {
    struct Pattern: @unchecked Sendable {
        var source: String
        var negated: Bool
        var directoryOnly: Bool
        var regex: NSRegularExpression
        /// Bytes every match contains (the pattern's longest literal run): a path without them is
        /// skipped before ICU runs, which is most paths for most patterns.
        var literal: [UInt8]
    }

    let patterns: [Pattern]
    public var isEmpty: Bool { patterns.isEmpty }

    public init(_ lines: [String]) {
        var patterns: [Pattern] = []
        for raw in lines {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            var negated = false
            if line.hasPrefix("!") {
                negated = true
                line.removeFirst()
            }
            var directoryOnly = false
            if line.hasSuffix("/") && line.count > 1 {
                directoryOnly = true
                line.removeLast()
            }
            let translated = Self.translate(line)
            guard let regex = try? NSRegularExpression(pattern: translated.regex) else { continue }
            patterns.append(Pattern(source: raw, negated: negated, directoryOnly: directoryOnly, regex: regex, literal: translated.literal))
        }
        self.patterns = patterns
    }

    /// The pattern that decides `path`, if any matched and it was not negated.
    public func match(_ path: String, isDirectory: Bool = false) -> String? {
        var decided: String?
        var range: NSRange?
        var bytes = path
        for pattern in patterns {
            if !pattern.literal.isEmpty && !bytes.withUTF8({ Self.contains($0, pattern.literal) }) { continue }
            let whole = range ?? NSRange(location: 0, length: (path as NSString).length)
            range = whole
            guard let m = pattern.regex.firstMatch(in: path, range: whole) else { continue }
            // A directory-only pattern matches a file only through a directory above it.
            if pattern.directoryOnly && !isDirectory && m.range(at: 1).location == NSNotFound { continue }
            decided = pattern.negated ? nil : pattern.source
        }
        return decided
    }

    public func matches(_ path: String, isDirectory: Bool = false) -> Bool { match(path, isDirectory: isDirectory) != nil }

    /// Whether `needle` occurs in `haystack`.
    static func contains(_ haystack: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, needle.count <= haystack.count else { return needle.isEmpty }
        var start = 0
        while start <= haystack.count - needle.count {
            if haystack[start] == first {
                var k = 1
                while k < needle.count && haystack[start + k] == needle[k] { k += 1 }
                if k == needle.count { return true }
            }
            start += 1
        }
        return false
    }

    static func regex(for pattern: String) -> String { translate(pattern).regex }

    /// The pattern as an ICU regex, and its longest run of literal characters (as UTF-8), which
    /// every match contains.
    static func translate(_ pattern: String) -> (regex: String, literal: [UInt8]) {
        var body = pattern
        let anchored = body.hasPrefix("/") || body.dropLast().contains("/")
        if body.hasPrefix("/") { body.removeFirst() }
        var out = anchored ? "^" : "^(?:.*/)?"
        var run: [UInt8] = []
        var longest: [UInt8] = []
        let chars = Array(body)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            // Only the default and escape cases below extend the run; every other token ends it.
            if c == "*" || c == "?" || c == "[" {
                if run.count > longest.count { longest = run }
                run = []
            }
            switch c {
            case "*":
                if i + 1 < chars.count && chars[i + 1] == "*" {
                    let atStart = i == 0 || chars[i - 1] == "/"
                    let atEnd = i + 2 == chars.count
                    let slashNext = i + 2 < chars.count && chars[i + 2] == "/"
                    if atStart && slashNext {
                        out += "(?:.*/)?"
                        i += 3
                        continue
                    }
                    if atStart && atEnd {
                        out += ".*"
                        i += 2
                        continue
                    }
                    out += "[^/]*"
                    i += 2
                    continue
                }
                out += "[^/]*"
            case "?": out += "[^/]"
            case "[":
                var j = i + 1
                var cls = "["
                if j < chars.count && (chars[j] == "!" || chars[j] == "^") {
                    cls += "^"
                    j += 1
                }
                while j < chars.count && chars[j] != "]" {
                    if chars[j] == "\\" || chars[j] == "[" { cls += "\\" }
                    cls.append(chars[j])
                    j += 1
                }
                if j < chars.count {
                    out += cls + "]"
                    i = j
                } else {
                    out += "\\["
                }
            case "\\":
                if i + 1 < chars.count {
                    out += NSRegularExpression.escapedPattern(for: String(chars[i + 1]))
                    run += Array(String(chars[i + 1]).utf8)
                    i += 1
                }
            default:
                out += NSRegularExpression.escapedPattern(for: String(c))
                run += Array(String(c).utf8)
            }
            i += 1
        }
        if run.count > longest.count { longest = run }
        return (out + "(/.*)?$", longest)
    }
}

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
            guard let regex = try? NSRegularExpression(pattern: Self.regex(for: line)) else { continue }
            patterns.append(Pattern(source: raw, negated: negated, directoryOnly: directoryOnly, regex: regex))
        }
        self.patterns = patterns
    }

    /// The pattern that decides `path`, if any matched and it was not negated.
    public func match(_ path: String, isDirectory: Bool = false) -> String? {
        var decided: String?
        let range = NSRange(location: 0, length: (path as NSString).length)
        for pattern in patterns {
            guard let m = pattern.regex.firstMatch(in: path, range: range) else { continue }
            // A directory-only pattern matches a file only through a directory above it.
            if pattern.directoryOnly && !isDirectory && m.range(at: 1).location == NSNotFound { continue }
            decided = pattern.negated ? nil : pattern.source
        }
        return decided
    }

    public func matches(_ path: String, isDirectory: Bool = false) -> Bool { match(path, isDirectory: isDirectory) != nil }

    static func regex(for pattern: String) -> String {
        var body = pattern
        let anchored = body.hasPrefix("/") || body.dropLast().contains("/")
        if body.hasPrefix("/") { body.removeFirst() }
        var out = anchored ? "^" : "^(?:.*/)?"
        let chars = Array(body)
        var i = 0
        while i < chars.count {
            let c = chars[i]
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
                    i += 1
                }
            default:
                out += NSRegularExpression.escapedPattern(for: String(c))
            }
            i += 1
        }
        return out + "(/.*)?$"
    }
}

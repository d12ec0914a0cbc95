import Foundation

/// Rewriting gitleaks (RE2) patterns for the two engines: the confirm regex PCRE2 runs, the
/// Hyperscan expression and literal escapes, the literals a rule is anchored on, and how far back
/// of a reported end the confirm step reads.
extension SecretScanner {
    /// The regex the confirm step runs: a leading lazy, optional class run (gitleaks' generic
    /// `[\w.-]{0,50}?` before the key name) is dropped. It only widens the match to the left and
    /// holds no group, but makes a backtracking engine retry up to 50 prefix lengths at every offset (the scan's
    /// main cost on source code). The match then starts at the key name.
    static func confirmSyntax(_ pattern: String) -> String {
        guard let prefix = pattern.range(of: #"^(\(\?[a-zA-Z]+\))?\[(?:\\.|[^\]\\])*\](?:\{0,\d+\}\?|\*\?)"#, options: .regularExpression) else {
            return pattern
        }
        let flags = pattern.range(of: #"^\(\?[a-zA-Z]+\)"#, options: .regularExpression).map { String(pattern[$0]) } ?? ""
        let rest = pattern[prefix.upperBound...]
        // A quantifier or alternation right after would change the meaning without the prefix.
        if rest.isEmpty || "*+?{|)".contains(rest.first!) { return pattern }
        return flags + rest
    }

    /// The literals a pattern must begin with, when it is `(?i)?(?:lit|lit|…)` followed by something
    /// other than a quantifier (a literal is letters, digits and `_`); nil otherwise.
    static func leadingLiterals(_ pattern: String) -> [String]? {
        guard let head = pattern.range(of: #"^(\(\?i\))?\(\?:[A-Za-z0-9_]+(\|[A-Za-z0-9_]+)*\)"#, options: .regularExpression) else { return nil }
        let rest = pattern[head.upperBound...]
        if let next = rest.first, "*+?{|".contains(next) { return nil }
        let body = pattern[head].drop { $0 != ":" }.dropFirst().dropLast()
        let literals = body.split(separator: "|").map(String.init)
        return literals.isEmpty ? nil : literals
    }

    static func hyperscanSyntax(_ pattern: String) -> String {
        pattern.replacingOccurrences(of: "(?P<", with: "(?<")
    }

    static func escapeLiteral(_ word: String) -> String {
        var out = ""
        for scalar in word.unicodeScalars {
            if scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar)) {
                out.unicodeScalars.append(scalar)
            } else {
                out += String(format: "\\x%02x", scalar.value & 0xff)
            }
        }
        return out
    }

    /// Bytes before a reported match end worth re-reading: the pattern's longest match when
    /// Hyperscan can bound it, else a short or long guess from its quantifiers.
    static func lookback(for pattern: String, hyperscan: Bool) -> Int {
        if hyperscan, let width = HyperscanDatabase.maxWidth(hyperscanSyntax(pattern)) { return min(width + 16, 64 * 1024) }
        return lookback(for: pattern)
    }

    static func lookback(for pattern: String) -> Int {
        // Drop escapes and bracket expressions, then look for *, + or {n,} outside them.
        var outside = ""
        var inClass = false
        var escaped = false
        for ch in pattern {
            if escaped {
                escaped = false
                continue
            }
            if ch == "\\" {
                escaped = true
                continue
            }
            if inClass {
                if ch == "]" { inClass = false }
                continue
            }
            if ch == "[" {
                inClass = true
                continue
            }
            outside.append(ch)
        }
        let unbounded = outside.contains("*") || outside.contains("+") || outside.range(of: #"\{\d+,\}"#, options: .regularExpression) != nil
        return unbounded ? 64 * 1024 : 1024
    }
}

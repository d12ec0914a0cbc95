public import CordonCore

/// A git author or committer: `Name <email>`, as `git commit --author` takes it, read strictly.
public struct GitIdentity: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var email: String

    public init(name: String, email: String) {
        self.name = name
        self.email = email
    }

    /// Who commits when neither `--author` nor the repository's `user.name`/`user.email` says.
    public static let fallback = GitIdentity(name: "cordon", email: "cordon@localhost")

    public var description: String { "\(name) <\(email)>" }

    /// `Name <email>`: a name that is not empty, one space, the address in angle brackets and
    /// nothing after it. No `<`, `>`, control character or line break in either part, no space in
    /// the address: git would otherwise cut or rewrite the header (`git commit-tree` strips what
    /// it calls crud), so the commit would not name whom the user said.
    public static func parse(_ text: String, option: String = "--author") throws(CordonError) -> GitIdentity {
        func refuse(_ why: String) -> CordonError {
            CordonError(
                .invalidArgument, "\(option) \(TerminalText.escaped(text)): \(why)",
                hint: "write it as git does: \(option) \"Jane Doe <jane@example.com>\"")
        }
        guard text.hasSuffix(">"), let open = text.lastIndex(of: "<") else { throw refuse("expected \"Name <email>\"") }
        let rawName = text[..<open]
        guard rawName.hasSuffix(" ") else { throw refuse("expected a space between the name and <email>") }
        let name = String(rawName.dropLast())
        let email = String(text[text.index(after: open)..<text.index(before: text.endIndex)])
        guard !name.trimmingWhitespace.isEmpty, name == name.trimmingWhitespace else {
            throw refuse("the name is empty or starts or ends with a space")
        }
        guard !email.isEmpty else { throw refuse("the email is empty") }
        for (part, value) in [("name", name), ("email", email)] {
            if value.unicodeScalars.contains(where: { $0 == "<" || $0 == ">" || $0.value < 0x20 || $0.value == 0x7f }) {
                throw refuse("the \(part) holds <, > or a control character")
            }
        }
        if email.contains(" ") { throw refuse("the email holds a space") }
        return GitIdentity(name: name, email: email)
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmingWhitespace: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}

/// How the proxy is to put a secret's value into a request to its domains (`secrets[].inject`):
/// `bearer`, `token` and `basic` in `Authorization` (keeping the prefix), the `x-api-key` and
/// `x-goog-api-key` headers, a query parameter (`query:PARAM`), or AWS SigV4 re-signing. Parsed
/// and applied by the proxy to requests it terminates for the bound domains (`SecretInjector`).
public struct SecretInjection: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Scheme: String, Sendable, CaseIterable {
        case bearer, token, basic
        case xAPIKey = "x-api-key"
        case xGoogAPIKey = "x-goog-api-key"
        case query, sigv4
    }

    public var scheme: Scheme
    /// The query parameter's name (`query:PARAM`); nil for the other schemes.
    public var parameter: String?

    /// The schemes as the error and the docs list them.
    public static let expected = "bearer, token, basic, x-api-key, x-goog-api-key, query:PARAM or sigv4"

    /// The scheme written as `text`; nil with the reason when it is not one.
    public static func parse(_ text: String) -> Result<SecretInjection, InjectionProblem> {
        if text.hasPrefix("query:") {
            let name = String(text.dropFirst("query:".count))
            guard !name.isEmpty, name.utf8.count <= 64,
                name.utf8.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
            else {
                return .failure(InjectionProblem(message: "names no valid query parameter (letters, digits, '_', '-', '.'; at most 64)"))
            }
            return .success(SecretInjection(scheme: .query, parameter: name))
        }
        guard let scheme = Scheme(rawValue: text), scheme != .query else {
            return .failure(InjectionProblem(message: text == "query" ? "needs the parameter's name (query:PARAM)" : "is not an injection scheme"))
        }
        return .success(SecretInjection(scheme: scheme, parameter: nil))
    }

    public struct InjectionProblem: Error, Sendable, Equatable {
        public var message: String
    }

    public init(scheme: Scheme, parameter: String? = nil) {
        self.scheme = scheme
        self.parameter = parameter
    }

    /// As written in a profile: `bearer`, `query:key`, …
    public var description: String { parameter.map { "query:" + $0 } ?? scheme.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        switch Self.parse(text) {
        case .success(let value): self = value
        case .failure(let problem):
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\"\(text)\" \(problem.message)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

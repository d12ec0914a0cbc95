import CordonCore
import CordonPolicy
import CordonSecrets
import FoundationEssentials
import NIOHTTP1

/// What the proxy does with the head of a request it terminated for `host`: each placeholder of a
/// secret bound to `host` is replaced by the value where the secret's injection scheme puts it
/// (`Authorization` keeping its prefix, Basic decoded and encoded again, `x-api-key`,
/// `x-goog-api-key`, a `query:PARAM` parameter); a placeholder of a secret bound elsewhere, or one
/// left where its scheme does not put the value, refuses the request. The real value therefore
/// goes only into the places the user bound, and only to the bound domains: the secret is chosen
/// by the placeholder the sandbox was given, never by a name the request spells.
struct SecretInjector {
    let secrets: [BoundSecret]
    let aws: AWSSigning?

    enum Outcome {
        /// The head to send; `resign`: it is to be signed again (SigV4, `aws`) before it goes.
        case forward(HTTPRequestHead, resign: Bool)
        case refuse(rule: String, reason: String)
    }

    func apply(to head: HTTPRequestHead, host: Host) -> Outcome {
        var outgoing = head
        for secret in secrets where secret.isBound(to: host) {
            switch secret.injection?.scheme {
            case nil:
                _ = replaceInAuthorization(&outgoing.headers, secret, prefix: nil)
                _ = replaceInHeader(&outgoing.headers, "x-api-key", secret)
                _ = replaceInHeader(&outgoing.headers, "x-goog-api-key", secret)
            case .bearer?: _ = replaceInAuthorization(&outgoing.headers, secret, prefix: "bearer")
            case .token?: _ = replaceInAuthorization(&outgoing.headers, secret, prefix: "token")
            case .basic?: _ = replaceInAuthorization(&outgoing.headers, secret, prefix: "basic")
            case .xAPIKey?: _ = replaceInHeader(&outgoing.headers, "x-api-key", secret)
            case .xGoogAPIKey?: _ = replaceInHeader(&outgoing.headers, "x-goog-api-key", secret)
            case .query?:
                if let parameter = secret.injection?.parameter, let uri = Self.replacingQuery(outgoing.uri, parameter: parameter, secret: secret) {
                    outgoing.uri = uri
                }
            case .sigv4?: break
            }
        }
        // SigV4: the signature covers the headers, so it is made last, over what is sent.
        let signsAWS = aws?.signs(outgoing, host: host) ?? false
        // Whatever placeholder is still there goes nowhere: bound elsewhere, or not where its scheme puts the value.
        let remaining = Self.placeholders(in: [outgoing.uri] + outgoing.headers.map(\.value) + Self.decodedBasic(outgoing.headers))
        for found in remaining {
            guard let secret = secrets.first(where: { $0.placeholder == found }) else { continue }
            // The sigv4 placeholders (key id in the Credential, session token) go out replaced by the signer.
            if signsAWS, secret.injection?.scheme == .sigv4, secret.isBound(to: host) { continue }
            guard secret.isBound(to: host) else {
                return .refuse(
                    rule: "placeholder",
                    reason:
                        "the request to \(host) carries the placeholder of secret \(secret.name), which is bound to \(Self.list(secret.domains)) only: an attempt to send it elsewhere"
                )
            }
            return .refuse(
                rule: "placeholder",
                reason:
                    "the placeholder of secret \(secret.name) is in the request to \(host) where its injection (\(secret.injection?.description ?? "the Authorization, x-api-key and x-goog-api-key headers")) does not put the value; fix: set secrets[].inject for \(secret.name) to where the client sends it (e.g. query:key)"
            )
        }
        return .forward(outgoing, resign: signsAWS)
    }

    // MARK: Where values go

    /// `Authorization: <prefix> <placeholder>` (any prefix when nil; `Basic` decodes user:password).
    private func replaceInAuthorization(_ headers: inout HTTPHeaders, _ secret: BoundSecret, prefix: String?) -> Bool {
        let values = headers["authorization"]
        guard values.count == 1, let value = values.first else { return false }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2 else { return false }
        let scheme = parts[0].lowercased()
        if let prefix, scheme != prefix { return false }
        let credential = String(parts[1])
        let replaced: String
        if scheme == "basic" {
            guard let decoded = Self.base64Decoded(credential), let text = Self.replacing(secret, in: decoded) else { return false }
            replaced = Self.base64Encoded(Array(text.utf8))
        } else {
            guard let text = Self.replacing(secret, in: credential) else { return false }
            replaced = text
        }
        headers.replaceOrAdd(name: "Authorization", value: parts[0] + " " + replaced)
        return true
    }

    /// A header whose whole value is the placeholder (`x-api-key: <placeholder>`).
    private func replaceInHeader(_ headers: inout HTTPHeaders, _ name: String, _ secret: BoundSecret) -> Bool {
        let values = headers[name]
        guard values.count == 1, let value = values.first, value.trimmingSpaces().lowercased() == secret.placeholder else { return false }
        headers.replaceOrAdd(name: name, value: secret.valueText())
        return true
    }

    /// `text` with `secret`'s placeholder (any letter case) replaced by the value; nil when absent.
    private static func replacing(_ secret: BoundSecret, in text: String) -> String? {
        let lowered = text.asciiLowercasedBytes
        let needle = Array(secret.placeholder.utf8)
        guard lowered.count >= needle.count,
            let offset = (0...(lowered.count - needle.count)).first(where: { lowered[$0..<($0 + needle.count)].elementsEqual(needle) })
        else { return nil }
        let bytes = Array(text.utf8)
        return String(decoding: bytes[..<offset], as: UTF8.self) + secret.valueText()
            + String(decoding: bytes[(offset + needle.count)...], as: UTF8.self)
    }

    /// The target with `parameter`'s value replaced by the value when it is `secret`'s placeholder.
    static func replacingQuery(_ uri: String, parameter: String, secret: BoundSecret) -> String? {
        guard let mark = uri.firstIndex(of: "?") else { return nil }
        var changed = false
        let items = uri[uri.index(after: mark)...].split(separator: "&", omittingEmptySubsequences: false).map { item -> String in
            guard let equals = item.firstIndex(of: "="), item[..<equals] == parameter[...],
                item[item.index(after: equals)...].lowercased() == secret.placeholder
            else { return String(item) }
            changed = true
            return parameter + "=" + percentEncoded(secret.valueText())
        }
        return changed ? String(uri[...mark]) + items.joined(separator: "&") : nil
    }

    // MARK: Finding placeholders

    /// The placeholders (lower-cased) anywhere in `texts`, in any letter case.
    static func placeholders(in texts: [String]) -> Set<String> {
        var found: Set<String> = []
        let prefix = Array(PlaceholderFormat.prefix.utf8)
        for text in texts where PlaceholderFormat.mentionsPrefix(text) {
            let bytes = text.asciiLowercasedBytes
            guard bytes.count >= prefix.count + PlaceholderFormat.randomLength else { continue }
            var index = 0
            while index + prefix.count + PlaceholderFormat.randomLength <= bytes.count {
                if bytes[index] == prefix[0], bytes[index..<index + prefix.count].elementsEqual(prefix) {
                    let random = bytes[(index + prefix.count)..<(index + prefix.count + PlaceholderFormat.randomLength)]
                    if random.allSatisfy({ PlaceholderFormat.alphabet.contains($0) }) {
                        found.insert(String(decoding: bytes[index..<(index + prefix.count + PlaceholderFormat.randomLength)], as: UTF8.self))
                    }
                }
                index += 1
            }
        }
        return found
    }

    /// `Authorization: Basic …` decoded, so a placeholder hidden in it is seen.
    private static func decodedBasic(_ headers: HTTPHeaders) -> [String] {
        headers["authorization"].compactMap { value in
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "basic" else { return nil }
            return base64Decoded(String(parts[1]))
        }
    }

    private static func list(_ domains: [DomainPattern]) -> String { domains.map(\.description).joined(separator: ", ") }

    // MARK: Encodings

    static func base64Encoded(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    /// Standard base64; nil when it is not base64 or not UTF-8.
    static func base64Decoded(_ text: String) -> String? {
        guard let data = Data(base64Encoded: text) else { return nil }
        return String(validating: Array(data), as: UTF8.self)
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let unreserved =
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
            if unreserved {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]], as: UTF8.self)
            }
        }
        return out
    }
}

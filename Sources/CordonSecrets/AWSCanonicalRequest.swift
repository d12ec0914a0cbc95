import CordonCore
import Crypto

/// AWS SigV4's canonical request, built from a request as it was sent: method, origin-form target
/// (`path?query`), headers and payload hash. Pure text work; the signing is in `AWSSigV4`.
///
/// The path: for S3 (`s3`, `s3-outposts`, `s3-object-lambda`, `s3express`) each segment is
/// decoded and URI-encoded once, without normalisation; for every other service the path is
/// normalised (empty and `.` segments dropped, `..` removed with the segment before it) and the
/// path as sent, already encoded once, is URI-encoded again: double encoding, as AWS and botocore
/// define it. The query: each name and value decoded and URI-encoded, sorted by name then value.
/// Headers: the signed ones only, lowercase names, values trimmed with runs of white space as one
/// space, a repeated header's values joined by `,`.
struct AWSCanonicalRequest {
    /// The services whose paths are encoded once (S3 and its variants).
    static let singleEncodedServices: Set<String> = ["s3", "s3-outposts", "s3-object-lambda", "s3express"]

    var method: String
    var path: String
    var query: String
    var headers: String
    var signedHeaders: String
    var payloadHash: String

    /// The request's canonical form; refused (never guessed) when the target, a signed header or
    /// the payload hash cannot be put in it.
    init(
        method: String, target: String, headers: [(name: String, value: String)], signedHeaders: [String], service: String, payloadHash: String
    ) throws(CordonError) {
        guard !method.isEmpty, method.utf8.allSatisfy({ (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) else {
            throw AWSSigV4.refusal(.invalidArgument, "the request method is not an uppercase HTTP method")
        }
        guard target.hasPrefix("/"), !target.utf8.contains(UInt8(ascii: "#")), target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw AWSSigV4.refusal(.invalidArgument, "the request target is not an origin-form path (\"/path?query\", printable ASCII)")
        }
        self.method = method
        let (rawPath, rawQuery) = Self.split(target[...], at: "?")
        path = try Self.singleEncodedServices.contains(service) ? Self.singleEncodedPath(rawPath) : Self.doubleEncodedPath(rawPath)
        query = try Self.query(rawQuery)
        self.headers = try Self.headers(headers, signed: signedHeaders)
        self.signedHeaders = signedHeaders.joined(separator: ";")
        self.payloadHash = payloadHash
    }

    /// The text whose SHA-256 the string to sign carries.
    var text: String {
        [method, path, query, headers, signedHeaders, payloadHash].joined(separator: "\n")
    }

    var hash: String { AWSSigV4.hex(SHA256.hash(data: Array(text.utf8))) }

    // MARK: the path

    /// S3: each segment decoded, then encoded once (a `%2F` inside a segment stays one).
    static func singleEncodedPath(_ path: Substring) throws(CordonError) -> String {
        var segments: [String] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: false) {
            segments.append(encode(try decode(segment)))
        }
        return segments.joined(separator: "/")
    }

    /// Every other service: normalised as RFC 3986 removes dot segments (and empty ones, as AWS
    /// does), then the path as sent encoded again, `/` kept.
    static func doubleEncodedPath(_ path: Substring) throws(CordonError) -> String {
        // The sent path must itself be well-formed percent-encoding (refused otherwise).
        _ = try decode(path)
        var kept: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) where segment != "." {
            if segment == ".." {
                if !kept.isEmpty { kept.removeLast() }
            } else {
                kept.append(segment)
            }
        }
        let trailing = path.count > 1 && path.hasSuffix("/") && !kept.isEmpty ? "/" : ""
        return "/" + kept.map { encode(Array($0.utf8), keepingSlash: true) }.joined(separator: "/") + trailing
    }

    // MARK: the query

    static func query(_ query: Substring) throws(CordonError) -> String {
        var pairs: [(name: String, value: String)] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let (name, value) = split(pair, at: "=")
            pairs.append((encode(try decode(name)), encode(try decode(value))))
        }
        // All ASCII after encoding, so String order is byte order.
        pairs.sort { $0.name != $1.name ? $0.name < $1.name : $0.value < $1.value }
        return pairs.map { $0.name + "=" + $0.value }.joined(separator: "&")
    }

    /// What comes before the first `mark` and what after it (empty without one).
    static func split(_ text: Substring, at mark: Character) -> (Substring, Substring) {
        guard let at = text.firstIndex(of: mark) else { return (text, "") }
        return (text[..<at], text[text.index(after: at)...])
    }

    // MARK: the headers

    static func headers(_ headers: [(name: String, value: String)], signed: [String]) throws(CordonError) -> String {
        var lines = ""
        for name in signed {
            var values = headers.filter { $0.name.lowercased() == name }.map { normalise($0.value) }
            // HTTP/2 carries the host in :authority, where HTTP/1.1 has Host.
            if values.isEmpty, name == "host" { values = headers.filter { $0.name == ":authority" }.map { normalise($0.value) } }
            guard !values.isEmpty else {
                throw AWSSigV4.refusal(.invalidArgument, "SignedHeaders names \"\(name)\", and the request has no such header")
            }
            lines += name + ":" + values.joined(separator: ",") + "\n"
        }
        return lines
    }

    /// Trimmed, each run of white space one space (what botocore's `' '.join(value.split())` does).
    static func normalise(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}" })
            .joined(separator: " ")
    }

    // MARK: URI encoding

    /// AWS's URI encoding: unreserved characters (`A-Z a-z 0-9 - _ . ~`) kept, every other byte
    /// `%XX` with uppercase hex; `/` kept only when asked.
    static func encode(_ bytes: [UInt8], keepingSlash: Bool = false) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for byte in bytes {
            if isUnreserved(byte) || (keepingSlash && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `%XX` sequences decoded (a `+` stays a `+`); a `%` not followed by two hex digits refused.
    static func decode(_ text: Substring) throws(CordonError) -> [UInt8] {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                    throw AWSSigV4.refusal(.invalidArgument, "the request target has a '%' that is not followed by two hex digits")
                }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"): true
        default: false
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

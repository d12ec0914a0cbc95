public import CordonCore
import Crypto

/// AWS Signature Version 4 re-signing, for secrets bound with `inject: sigv4`. The sandbox holds
/// placeholder credentials, so its AWS SDK signs each request with them; on the bound domains the
/// proxy hands the request here, which checks that the client signed with the sandbox's
/// placeholders and signs the same request again, with the real credentials, over the same
/// signed headers, scope and `x-amz-date`.
///
/// Pure: no I/O, no clock. Refused with a `CordonError` (the proxy answers 4xx, nothing is sent
/// upstream): an `Authorization` that is not header-based SigV4 (`AWS4-HMAC-SHA256`), a key id
/// other than the placeholder, `SignedHeaders` without `host`, a scope date other than
/// `x-amz-date`'s, a session token other than the placeholder, and chunk-signed uploads
/// (`x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD` and the other signed
/// `STREAMING-…` forms), whose every chunk carries a signature chained to the seed one.
/// No error ever holds a real credential.
public enum AWSSigV4 {
    public static let algorithm = "AWS4-HMAC-SHA256"

    /// The real credentials: private copies, never changed after `init`, so one value may be
    /// shared by the proxy's threads.
    public struct Credentials: @unchecked Sendable {
        public let accessKeyID: String
        let secretAccessKey: SecretBytes
        let sessionToken: SecretBytes?

        /// Copies `secretAccessKey` and `sessionToken` (the caller keeps and drops its own).
        public init(accessKeyID: String, secretAccessKey: SecretBytes, sessionToken: SecretBytes?) throws(CordonError) {
            guard !accessKeyID.isEmpty, accessKeyID.utf8.count <= 128, accessKeyID.utf8.allSatisfy(Self.isAlphanumeric) else {
                throw AWSSigV4.refusal(.invalidArgument, "the AWS access key id bound for sigv4 is not one (letters and digits, at most 128)")
            }
            guard !secretAccessKey.isEmpty else { throw AWSSigV4.refusal(.invalidArgument, "the AWS secret access key bound for sigv4 is empty") }
            if let sessionToken {
                // It goes into a header as it is: printable ASCII without spaces (base64 in practice).
                let printable = sessionToken.withUnsafeBytes { $0.allSatisfy { $0 > 0x20 && $0 < 0x7F } }
                guard !sessionToken.isEmpty, printable else {
                    throw AWSSigV4.refusal(.invalidArgument, "the AWS session token bound for sigv4 is empty or holds spaces or non-ASCII bytes")
                }
            }
            self.accessKeyID = accessKeyID
            self.secretAccessKey = try secretAccessKey.withUnsafeBytes { buffer throws(CordonError) in try SecretBytes(copying: buffer) }
            self.sessionToken = try sessionToken.map { token throws(CordonError) in
                try token.withUnsafeBytes { buffer throws(CordonError) in try SecretBytes(copying: buffer) }
            }
        }

        private static func isAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
    }

    /// Which AWS credential a `sigv4` secret is, told by the variable it is bound to.
    public enum Role: String, Sendable, CaseIterable {
        case accessKeyID = "AWS_ACCESS_KEY_ID"
        case secretAccessKey = "AWS_SECRET_ACCESS_KEY"
        case sessionToken = "AWS_SESSION_TOKEN"

        public init?(env: String) { self.init(rawValue: env) }
    }

    /// The client's signature, parsed from its `Authorization` header:
    /// `AWS4-HMAC-SHA256 Credential=KEYID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b;c, Signature=hex`.
    public struct ClientSignature: Sendable, Equatable {
        public var keyID: String
        /// The scope's date, `YYYYMMDD`.
        public var date: String
        public var region: String
        public var service: String
        /// Lowercase, sorted, without repeats.
        public var signedHeaders: [String]
        /// 64 lowercase hex digits.
        public var signature: String

        public init(keyID: String, date: String, region: String, service: String, signedHeaders: [String], signature: String) {
            self.keyID = keyID
            self.date = date
            self.region = region
            self.service = service
            self.signedHeaders = signedHeaders
            self.signature = signature
        }

        public var scope: String { "\(date)/\(region)/\(service)/aws4_request" }
    }

    /// The client's signature; refused when the header is not SigV4 in the form every AWS SDK
    /// writes. Every part is checked against the characters it may hold, because each one goes
    /// back into the header cordon writes.
    public static func parse(authorization: String) throws(CordonError) -> ClientSignature {
        let prefix = algorithm + " "
        guard authorization.hasPrefix(prefix) else {
            let scheme = authorization.prefix { $0 != " " }
            let named = scheme.utf8.count <= 32 && scheme.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F } ? " (\(scheme))" : ""
            throw refusal(.invalidArgument, "the Authorization header is not AWS SigV4\(named); cordon re-signs only \(algorithm) header signatures")
        }
        var fields: [String: String] = [:]
        for part in authorization.dropFirst(prefix.count).split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = part.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()
            let field = String(trimmed)
            guard let equals = field.firstIndex(of: "="), ["Credential", "SignedHeaders", "Signature"].contains(field[..<equals]) else {
                throw refusal(.invalidArgument, "the SigV4 Authorization header has a part other than Credential=, SignedHeaders= and Signature=")
            }
            let key = String(field[..<equals])
            guard fields[key] == nil else { throw refusal(.invalidArgument, "the SigV4 Authorization header has \(key)= twice") }
            fields[key] = String(field[field.index(after: equals)...])
        }
        guard let credential = fields["Credential"], let signed = fields["SignedHeaders"], let signature = fields["Signature"] else {
            throw refusal(.invalidArgument, "the SigV4 Authorization header lacks Credential=, SignedHeaders= or Signature=")
        }
        let scope = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard scope.count == 5, scope[4] == "aws4_request" else {
            throw refusal(.invalidArgument, "the SigV4 Credential is not KEYID/DATE/REGION/SERVICE/aws4_request")
        }
        guard !scope[0].isEmpty, scope[0].utf8.count <= 128, scope[0].utf8.allSatisfy({ isName($0) || $0 == UInt8(ascii: "_") }) else {
            throw refusal(.invalidArgument, "the SigV4 Credential's key id is empty or holds characters other than letters, digits, '-' and '_'")
        }
        guard scope[1].utf8.count == 8, scope[1].utf8.allSatisfy(isDigit) else {
            throw refusal(.invalidArgument, "the SigV4 Credential's date is not YYYYMMDD")
        }
        for (index, what) in [(2, "region"), (3, "service")] {
            guard !scope[index].isEmpty, scope[index].utf8.count <= 64, scope[index].utf8.allSatisfy(isName) else {
                throw refusal(.invalidArgument, "the SigV4 Credential's \(what) is empty or holds characters other than letters, digits and '-'")
            }
        }
        let headers = signed.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        guard headers.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isHeaderNameByte) }) else {
            throw refusal(.invalidArgument, "the SigV4 SignedHeaders is not a ';'-separated list of lowercase header names")
        }
        guard zip(headers, headers.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw refusal(.invalidArgument, "the SigV4 SignedHeaders is not sorted or names a header twice")
        }
        guard signature.utf8.count == 64, signature.utf8.allSatisfy(isLowerHex) else {
            throw refusal(.invalidArgument, "the SigV4 Signature is not 64 lowercase hex digits")
        }
        return ClientSignature(keyID: scope[0], date: scope[1], region: scope[2], service: scope[3], signedHeaders: headers, signature: signature)
    }

    /// The payload hash values that stand for a body that carries no signature of its own.
    static let unsignedPayloads: Set<String> = ["UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"]

    /// The request's headers to send: `Authorization` holds a signature by the real credentials
    /// over the same signed headers, scope and `x-amz-date`, and `x-amz-security-token` the real
    /// session token where the client sent the placeholder one; every other header as it was, in
    /// its place. `target` is the origin-form `path?query` as sent; `body` the whole body (nil:
    /// none), hashed only when the client sent no `x-amz-content-sha256`.
    public static func resign(
        method: String, target: String, headers: [(name: String, value: String)], body: [UInt8]?, credentials: Credentials,
        placeholders: (keyID: String, sessionToken: String?)
    ) throws(CordonError) -> [(name: String, value: String)] {
        let authorization = try single("authorization", in: headers, required: true)
        let client = try parse(authorization: authorization?.value ?? "")
        guard client.keyID == placeholders.keyID else {
            throw refusal(.policyDenied, "the SigV4 Credential names a key id other than the sandbox's placeholder; only the placeholder is re-signed")
        }
        guard client.signedHeaders.contains("host") else {
            throw refusal(.policyDenied, "the SigV4 SignedHeaders lacks host; a signature that does not cover the host is not re-signed")
        }
        guard let amzDate = try single("x-amz-date", in: headers, required: true)?.value,
            amzDate.utf8.count == 16, Array(amzDate.utf8)[8] == UInt8(ascii: "T"), amzDate.hasSuffix("Z"),
            amzDate.utf8.enumerated().allSatisfy({ $0.offset == 8 || $0.offset == 15 || isDigit($0.element) })
        else {
            throw refusal(.invalidArgument, "the request's x-amz-date is missing or not YYYYMMDDTHHMMSSZ; cordon re-signs only requests that carry one")
        }
        guard amzDate.hasPrefix(client.date) else {
            throw refusal(.policyDenied, "the SigV4 Credential's date \(client.date) is not x-amz-date's date \(amzDate.prefix(8))")
        }

        var sent = headers
        let token = try single("x-amz-security-token", in: headers, required: false)
        switch (placeholders.sessionToken, credentials.sessionToken, token) {
        case (nil, nil, nil):
            break
        case (let placeholder?, let real?, let token?):
            guard token.value == placeholder else {
                throw refusal(
                    .policyDenied, "the request's x-amz-security-token is not the sandbox's placeholder session token; only the placeholder is re-signed")
            }
            sent[token.index].value = real.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        case (.some, .some, nil):
            throw refusal(
                .policyDenied, "the request carries no x-amz-security-token, and the bound credentials need one",
                hint: "let the AWS client read AWS_SESSION_TOKEN from the sandbox's environment")
        case (nil, nil, .some):
            throw refusal(.policyDenied, "the request carries an x-amz-security-token, and no session token is bound to this sandbox")
        default:
            throw refusal(.internal, "the sigv4 session token and its placeholder are not bound together")
        }

        let payloadHash: String
        if let declared = try single("x-amz-content-sha256", in: headers, required: false)?.value {
            if declared.hasPrefix("STREAMING-") && !unsignedPayloads.contains(declared) {
                let named = declared.utf8.count <= 64 && declared.utf8.allSatisfy { isName($0) && !(UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }
                throw refusal(
                    .unsupported, "the request's body is chunk-signed (x-amz-content-sha256: \(named ? declared : "STREAMING-…")), which cordon cannot re-sign",
                    hint: "have the AWS client sign the payload whole or send it unsigned (S3: UNSIGNED-PAYLOAD)")
            }
            guard unsignedPayloads.contains(declared) || (declared.utf8.count == 64 && declared.utf8.allSatisfy(isLowerHex)) else {
                throw refusal(.invalidArgument, "the request's x-amz-content-sha256 is neither a SHA-256 in lowercase hex nor UNSIGNED-PAYLOAD")
            }
            payloadHash = declared
        } else {
            payloadHash = hex(SHA256.hash(data: body ?? []))
        }

        let canonical = try AWSCanonicalRequest(
            method: method, target: target, headers: sent, signedHeaders: client.signedHeaders, service: client.service, payloadHash: payloadHash)
        let stringToSign = [algorithm, amzDate, client.scope, canonical.hash].joined(separator: "\n")
        let signature = try sign(stringToSign, scope: client, secret: credentials.secretAccessKey)
        let header =
            "\(algorithm) Credential=\(credentials.accessKeyID)/\(client.scope), SignedHeaders=\(client.signedHeaders.joined(separator: ";")), Signature=\(signature)"
        if let authorization { sent[authorization.index].value = header }
        return sent
    }

    /// HMAC-SHA256 of the string to sign under the key derived from the secret for the scope:
    /// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
    static func sign(_ stringToSign: String, scope: ClientSignature, secret: SecretBytes) throws(CordonError) -> String {
        let prefixed = try SecretBytes(capacity: secret.count + 4)
        for byte in "AWS4".utf8 { try prefixed.append(byte) }
        for index in 0..<secret.count { try prefixed.append(secret[index]) }
        var key = prefixed.withUnsafeBytes { SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(scope.date.utf8), using: SymmetricKey(data: $0))) }
        for step in [scope.region, scope.service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(step.utf8), using: key))
        }
        return hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    }

    /// The one header named `name` (any case) and where it is; refused when it is there twice
    /// (which of two would AWS read?), or missing and `required`.
    private static func single(
        _ name: String, in headers: [(name: String, value: String)], required: Bool
    ) throws(CordonError) -> (index: Int, value: String)? {
        let found = headers.indices.filter { headers[$0].name.lowercased() == name }
        guard found.count <= 1 else { throw refusal(.invalidArgument, "the request has \(found.count) \(name) headers; cordon re-signs a request with one") }
        guard let index = found.first else {
            if required { throw refusal(.invalidArgument, "the request has no \(name) header; cordon re-signs only SigV4-signed requests") }
            return nil
        }
        return (index, headers[index].value)
    }

    /// A refusal, worded for the proxy's log and its 4xx answer.
    static func refusal(_ code: CordonError.Code, _ message: String, hint: String? = nil) -> CordonError {
        CordonError(code, "AWS SigV4 re-signing refused: " + message, hint: hint)
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes { out += [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]] }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    private static func isLowerHex(_ byte: UInt8) -> Bool { isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) }

    /// Letters, digits and `-`: what a key id, a region or a service is made of.
    private static func isName(_ byte: UInt8) -> Bool {
        isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || byte == UInt8(ascii: "-")
    }

    /// A lowercase header name's bytes (RFC 9110 token, uppercase left out).
    private static func isHeaderNameByte(_ byte: UInt8) -> Bool {
        guard byte > 0x20, byte < 0x7F, !(UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) else { return false }
        return !"\"(),/:;<=>?@[\\]{}".utf8.contains(byte)
    }
}

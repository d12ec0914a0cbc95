import CordonCore
@testable import CordonSecrets
import Testing

/// SigV4 re-signing: AWS's published test vectors computed from scratch, the canonical request's
/// parts, and every refusal attacked with the request an agent would send.
@Suite struct AWSSigV4Tests {
    typealias Headers = [(name: String, value: String)]

    // The credentials of AWS's SigV4 test suite (aws-sig-v4-test-suite, AWS General Reference).
    static let exampleKeyID = "AKIDEXAMPLE"
    static let exampleSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let exampleToken = "FwoGZXIvYXdzEJr//////////wEaDLrealSessionTokenEXAMPLE=="
    static let placeholderKeyID = "cordon-ph-aaaabbbbccccddddeeeeffffgggghhhh"
    static let placeholderToken = "cordon-ph-sssstttt22223333444455556666777"
    static let zeros = String(repeating: "0", count: 64)

    static func secret(_ text: String) throws -> SecretBytes {
        try Array(text.utf8).withUnsafeBytes { buffer throws(CordonError) in try SecretBytes(copying: buffer) }
    }

    static func credentials(token: String? = nil) throws -> AWSSigV4.Credentials {
        try AWSSigV4.Credentials(accessKeyID: exampleKeyID, secretAccessKey: secret(exampleSecret), sessionToken: token.map(secret))
    }

    /// What the sandbox's SDK sends: signed with the placeholder key id (the signature itself is
    /// never checked, so zeros do).
    static func clientAuthorization(keyID: String = placeholderKeyID, date: String = "20150830", service: String = "service", signed: String) -> String {
        "AWS4-HMAC-SHA256 Credential=\(keyID)/\(date)/us-east-1/\(service)/aws4_request, SignedHeaders=\(signed), Signature=\(zeros)"
    }

    static func resign(
        _ method: String = "GET", _ target: String = "/", headers: Headers, body: [UInt8]? = nil, token: String? = nil, placeholderToken: String? = nil
    ) throws -> Headers {
        try AWSSigV4.resign(
            method: method, target: target, headers: headers, body: body, credentials: credentials(token: token),
            placeholders: (keyID: placeholderKeyID, sessionToken: placeholderToken))
    }

    static func value(_ name: String, in headers: Headers) -> String? {
        headers.first { $0.name.lowercased() == name }?.value
    }

    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var method: String
        var target: String
        var headers: [String]
        var body: String?
        var service: String
        var signed: String
        var signature: String
        var testDescription: String { name }
    }

    /// From AWS's SigV4 test suite (`get-vanilla`, `post-x-www-form-urlencoded`,
    /// `get-vanilla-query-order-key-case`, `get-header-value-trim`) and the IAM `ListUsers`
    /// example of AWS's signing documentation: the `.authz` signatures as published.
    static let vectors: [Vector] = [
        Vector(
            name: "get-vanilla", method: "GET", target: "/", headers: ["Host: example.amazonaws.com"], service: "service", signed: "host;x-amz-date",
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        Vector(
            name: "post-x-www-form-urlencoded", method: "POST", target: "/",
            headers: ["Content-Type: application/x-www-form-urlencoded", "Host: example.amazonaws.com"], body: "Param1=value1", service: "service",
            signed: "content-type;host;x-amz-date", signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
        Vector(
            name: "get-vanilla-query-order-key-case", method: "GET", target: "/?Param2=value2&Param1=value1", headers: ["Host: example.amazonaws.com"],
            service: "service", signed: "host;x-amz-date", signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        Vector(
            name: "get-header-value-trim", method: "GET", target: "/",
            headers: ["Host: example.amazonaws.com", "My-Header1:  value1 ", "My-Header2:  \"a   b   c\" "], service: "service",
            signed: "host;my-header1;my-header2;x-amz-date", signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
        Vector(
            name: "iam-list-users", method: "GET", target: "/?Action=ListUsers&Version=2010-05-08",
            headers: ["Content-Type: application/x-www-form-urlencoded; charset=utf-8", "Host: iam.amazonaws.com"], service: "iam",
            signed: "content-type;host;x-amz-date", signature: "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"),
    ]

    @Test(arguments: vectors) func publishedVectorsAreSignedAsAWSPublishesThem(vector: Vector) throws {
        var headers: Headers = vector.headers.map { line in
            let colon = line.firstIndex(of: ":") ?? line.endIndex
            return (String(line[..<colon]), String(line[line.index(after: colon)...]))
        }
        headers.append(("X-Amz-Date", "20150830T123600Z"))
        headers.append(("Authorization", Self.clientAuthorization(service: vector.service, signed: vector.signed)))
        let sent = try Self.resign(vector.method, vector.target, headers: headers, body: vector.body.map { Array($0.utf8) })
        #expect(
            Self.value("authorization", in: sent)
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/\(vector.service)/aws4_request, SignedHeaders=\(vector.signed), Signature=\(vector.signature)"
        )
        // Every other header goes on as it came, in its place.
        #expect(sent.map(\.name) == headers.map(\.name))
        #expect(zip(sent, headers).allSatisfy { $0.name == "Authorization" || $0.value == $1.value })
    }

    @Test func theCanonicalRequestIsAWSsForGetVanilla() throws {
        let canonical = try AWSCanonicalRequest(
            method: "GET", target: "/", headers: [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"), ("Unsigned", "x")],
            signedHeaders: ["host", "x-amz-date"], service: "service", payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            canonical.text
                == "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
        // get-vanilla.sts's last line.
        #expect(canonical.hash == "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63")
    }

    /// S3 encodes each path segment once, every other service the sent path again; both encode
    /// each query name and value and sort them.
    @Test(arguments: [
        ("s3", "/my%20key/a%2Fb/caf%C3%A9!.txt", "/my%20key/a%2Fb/caf%C3%A9%21.txt"),
        ("s3", "/a//b/../c/./", "/a//b/../c/./"),
        ("service", "/my%20key/caf%C3%A9", "/my%2520key/caf%25C3%25A9"),
        ("service", "/a//b/../c/./", "/a/c/"),
        ("service", "/../..", "/"),
        ("service", "/example/..", "/"),
        ("service", "/-_.~", "/-_.~"),
        ("iam", "/", "/"),
    ])
    func pathsAreEncodedOnceForS3AndTwiceElsewhere(service: String, sent: String, canonical: String) throws {
        let request = try AWSCanonicalRequest(
            method: "GET", target: sent, headers: [("Host", "h")], signedHeaders: ["host"], service: service, payloadHash: "UNSIGNED-PAYLOAD")
        #expect(request.path == canonical)
    }

    @Test(arguments: [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=1&a=10", "a=1&a=10&a=2"),
        ("acl", "acl="),
        ("a=&&b", "a=&b="),
        ("x=a+b&y=%7e%2f&%C3%A9=%20", "%C3%A9=%20&x=a%2Bb&y=~%2F"),
        ("Param2=value2&Param1=value1", "Param1=value1&Param2=value2"),
        ("list-type=2&prefix=a%2Fb&delimiter=%2F", "delimiter=%2F&list-type=2&prefix=a%2Fb"),
    ])
    func queryNamesAndValuesAreEncodedAndSorted(sent: String, canonical: String) throws {
        #expect(try AWSCanonicalRequest.query(sent[...]) == canonical)
    }

    @Test func repeatedSignedHeadersJoinWithCommasAndValuesCollapseWhiteSpace() throws {
        let headers = try AWSCanonicalRequest.headers(
            [("X-A", " one  two\t three "), ("Host", "h"), ("x-a", "four")], signed: ["host", "x-a"])
        #expect(headers == "host:h\nx-a:one two three,four\n")
        // HTTP/2: the host is in :authority.
        #expect(try AWSCanonicalRequest.headers([(":authority", "h2.example"), ("x-a", "1")], signed: ["host", "x-a"]) == "host:h2.example\nx-a:1\n")
    }

    @Test func theSessionTokenPlaceholderIsReplacedAndSigned() throws {
        let headers: Headers = [
            ("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"), ("X-Amz-Security-Token", Self.placeholderToken),
            ("Authorization", Self.clientAuthorization(signed: "host;x-amz-date;x-amz-security-token")),
        ]
        let sent = try Self.resign(headers: headers, token: Self.exampleToken, placeholderToken: Self.placeholderToken)
        #expect(Self.value("x-amz-security-token", in: sent) == Self.exampleToken)
        // The same request signed from scratch with the token already in place.
        var real = headers
        real[2].value = Self.exampleToken
        let canonical = try AWSCanonicalRequest(
            method: "GET", target: "/", headers: real, signedHeaders: ["host", "x-amz-date", "x-amz-security-token"], service: "service",
            payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let scope = try AWSSigV4.parse(authorization: Self.clientAuthorization(signed: "host;x-amz-date;x-amz-security-token"))
        let signature = try AWSSigV4.sign(
            ["AWS4-HMAC-SHA256", "20150830T123600Z", scope.scope, canonical.hash].joined(separator: "\n"), scope: scope,
            secret: Self.secret(Self.exampleSecret))
        #expect(Self.value("authorization", in: sent)?.hasSuffix("Signature=" + signature) == true)
        #expect(!sent.contains { $0.value.contains(Self.placeholderToken) || $0.value.contains(Self.placeholderKeyID) })
    }

    @Test func theDeclaredPayloadHashIsUsedAndUnsignedPayloadsPass() throws {
        for declared in ["UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", String(repeating: "ab", count: 32)] {
            let headers: Headers = [
                ("Host", "bucket.s3.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"), ("x-amz-content-sha256", declared),
                ("Authorization", Self.clientAuthorization(service: "s3", signed: "host;x-amz-content-sha256;x-amz-date")),
            ]
            // A body that differs from the declared hash: the declared value is what AWS checks.
            let withBody = try Self.resign("PUT", "/key", headers: headers, body: Array("body".utf8))
            let without = try Self.resign("PUT", "/key", headers: headers, body: nil)
            #expect(Self.value("authorization", in: withBody) == Self.value("authorization", in: without), "\(declared)")
        }
    }

    // MARK: refusals

    static func baseHeaders(authorization: String = clientAuthorization(signed: "host;x-amz-date")) -> Headers {
        [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"), ("Authorization", authorization)]
    }

    static func refusal(_ body: () throws -> Headers) -> CordonError? {
        do {
            _ = try body()
            return nil
        } catch let error as CordonError {
            return error
        } catch {
            return CordonError(.internal, "not a CordonError: \(error)")
        }
    }

    @Test(arguments: [
        "Bearer cordon-ph-aaaabbbbccccddddeeeeffffgggghhhh",
        "AWS cordon-ph-aaaabbbbccccddddeeeeffffgggghhhh:c2lnbmF0dXJl",
        "AWS4-ECDSA-P256-SHA256 Credential=cordon-ph-aaaabbbbccccddddeeeeffffgggghhhh/20150830/s3/aws4_request, SignedHeaders=host, Signature=00",
        "aws4-hmac-sha256 Credential=x/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=\(zeros)",
        "",
    ])
    func anAuthorizationThatIsNotSigV4IsRefused(authorization: String) {
        let error = Self.refusal { try Self.resign(headers: Self.baseHeaders(authorization: authorization)) }
        #expect(error?.code == .invalidArgument && error?.message.contains("not AWS SigV4") == true, "\(String(describing: error))")
    }

    /// The agent names a key id other than its placeholder (the real one it guessed, another
    /// account's): refused, never signed with the bound secret.
    @Test(arguments: [exampleKeyID, "AKIAIOSFODNN7EXAMPLE", "cordon-ph-aaaabbbbccccddddeeeeffffgggghhhi", "cordon-ph-aaaabbbbccccddddeeeeffffgggghhh"])
    func aKeyIDOtherThanThePlaceholderIsRefused(keyID: String) {
        let error = Self.refusal {
            try Self.resign(headers: Self.baseHeaders(authorization: Self.clientAuthorization(keyID: keyID, signed: "host;x-amz-date")))
        }
        #expect(error?.code == .policyDenied && error?.message.contains("key id other than") == true, "\(String(describing: error))")
    }

    @Test func signedHeadersWithoutHostAreRefused() {
        var headers = Self.baseHeaders(authorization: Self.clientAuthorization(signed: "x-amz-date"))
        let error = Self.refusal { try Self.resign(headers: headers) }
        #expect(error?.code == .policyDenied && error?.message.contains("lacks host") == true, "\(String(describing: error))")
        // Without a Host header too.
        headers.removeFirst()
        #expect(Self.refusal { try Self.resign(headers: headers) }?.code == .policyDenied)
    }

    @Test func aScopeDateOtherThanXAmzDatesIsRefused() {
        let error = Self.refusal {
            try Self.resign(headers: Self.baseHeaders(authorization: Self.clientAuthorization(date: "20150831", signed: "host;x-amz-date")))
        }
        #expect(error?.code == .policyDenied && error?.message.contains("is not x-amz-date's date 20150830") == true, "\(String(describing: error))")
    }

    @Test func aSessionTokenOtherThanThePlaceholderIsRefused() {
        let signed = Self.clientAuthorization(signed: "host;x-amz-date;x-amz-security-token")
        // Another token (the agent's own, or the real one it guessed), where the placeholder is expected.
        for other in ["cordon-ph-sssstttt22223333444455556666776", Self.exampleToken, ""] {
            let headers = Self.baseHeaders(authorization: signed) + [("X-Amz-Security-Token", other)]
            let error = Self.refusal { try Self.resign(headers: headers, token: Self.exampleToken, placeholderToken: Self.placeholderToken) }
            #expect(
                error?.code == .policyDenied && error?.message.contains("not the sandbox's placeholder session token") == true, "\(String(describing: error))")
        }
        // None, where one is needed.
        let missing = Self.refusal {
            try Self.resign(headers: Self.baseHeaders(), token: Self.exampleToken, placeholderToken: Self.placeholderToken)
        }
        #expect(missing?.code == .policyDenied && missing?.message.contains("no x-amz-security-token") == true, "\(String(describing: missing))")
        // One, where no session token is bound: it is not forwarded under the real signature.
        let unbound = Self.refusal { try Self.resign(headers: Self.baseHeaders(authorization: signed) + [("X-Amz-Security-Token", Self.placeholderToken)]) }
        #expect(unbound?.code == .policyDenied && unbound?.message.contains("no session token is bound") == true, "\(String(describing: unbound))")
    }

    @Test(arguments: ["STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"])
    func chunkSignedBodiesAreRefusedClearly(declared: String) {
        let headers = Self.baseHeaders(authorization: Self.clientAuthorization(service: "s3", signed: "host;x-amz-content-sha256;x-amz-date"))
        let error = Self.refusal { try Self.resign("PUT", "/key", headers: headers + [("x-amz-content-sha256", declared)]) }
        #expect(
            error?.code == .unsupported && error?.message.contains("chunk-signed (x-amz-content-sha256: \(declared))") == true, "\(String(describing: error))")
        #expect(error?.hint?.contains("UNSIGNED-PAYLOAD") == true)
    }

    /// Malformed or ambiguous requests: refused, never signed on a guess.
    @Test func ambiguousOrMalformedRequestsAreRefused() {
        let base = Self.baseHeaders()
        let cases: [(String, String, String, Headers)] = [
            ("two Authorization headers", "GET", "/", base + [("authorization", Self.clientAuthorization(signed: "host;x-amz-date"))]),
            ("two x-amz-date headers", "GET", "/", base + [("x-amz-date", "20150830T123601Z")]),
            ("no x-amz-date", "GET", "/", base.filter { $0.name != "X-Amz-Date" }),
            ("a bad x-amz-date", "GET", "/", [base[0], ("X-Amz-Date", "20150830123600Z0"), base[2]]),
            ("a signed header the request lacks", "GET", "/", [base[0], base[1], ("Authorization", Self.clientAuthorization(signed: "host;x-a;x-amz-date"))]),
            ("unsorted SignedHeaders", "GET", "/", [base[0], base[1], ("Authorization", Self.clientAuthorization(signed: "x-amz-date;host"))]),
            ("uppercase SignedHeaders", "GET", "/", [base[0], base[1], ("Authorization", Self.clientAuthorization(signed: "Host;x-amz-date"))]),
            ("a bad percent sequence", "GET", "/a%2", base),
            ("a bad percent sequence in the query", "GET", "/?a=%zz", base),
            ("an absolute-form target", "GET", "http://example.amazonaws.com/", base),
            ("a lowercase method", "get", "/", base),
            ("a bad payload hash", "PUT", "/", base + [("x-amz-content-sha256", "ABC")]),
            ("no Authorization", "GET", "/", [base[0], base[1]]),
        ]
        for (what, method, target, headers) in cases {
            let error = Self.refusal { try Self.resign(method, target, headers: headers) }
            #expect(error != nil && error?.code != .internal, "\(what): \(String(describing: error))")
        }
    }

    /// Each part of the client's header goes back into the one cordon writes: a part that could
    /// smuggle a line end, a comma or a space into it is refused.
    @Test(arguments: [
        "Credential=cordon-ph-x/20150830/us-east-1\r\nX-Evil: 1/service/aws4_request, SignedHeaders=host, Signature=\(zeros)",
        "Credential=cordon-ph-x/20150830/us-east-1/ser vice/aws4_request, SignedHeaders=host, Signature=\(zeros)",
        "Credential=cordon-ph-x/2015083/us-east-1/service/aws4_request, SignedHeaders=host, Signature=\(zeros)",
        "Credential=cordon-ph-x/20150830/us-east-1/service/aws4_request/x, SignedHeaders=host, Signature=\(zeros)",
        "Credential=cordon-ph-x/20150830/us-east-1/service/aws4_requesT, SignedHeaders=host, Signature=\(zeros)",
        "Credential=cordon-ph-x/20150830/us-east-1/service/aws4_request, SignedHeaders=host;;x, Signature=\(zeros)",
        "Credential=cordon-ph-x/20150830/us-east-1/service/aws4_request, SignedHeaders=host:x, Signature=\(zeros)",
        "Credential=cordon-ph-x/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=\(zeros)0",
        "Credential=cordon-ph-x/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=\(zeros), Extra=1",
        "Credential=cordon-ph-x/20150830/us-east-1/service/aws4_request, Credential=a/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=\(zeros)",
        "Credential=cordon-ph-x/20150830/us-east-1/service/aws4_request, SignedHeaders=host",
    ])
    func partsThatCouldInjectIntoTheHeaderAreRefused(rest: String) {
        #expect(throws: CordonError.self) { try AWSSigV4.parse(authorization: "AWS4-HMAC-SHA256 " + rest) }
    }

    @Test func theClientSignatureParsesAsSDKsWriteIt() throws {
        let parsed = try AWSSigV4.parse(
            authorization:
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request,SignedHeaders=content-type;host;x-amz-date, Signature=\(Self.zeros)"
        )
        #expect(
            parsed
                == AWSSigV4.ClientSignature(
                    keyID: "AKIDEXAMPLE", date: "20150830", region: "us-east-1", service: "iam", signedHeaders: ["content-type", "host", "x-amz-date"],
                    signature: Self.zeros))
    }

    /// No refusal, whatever the agent sent, holds the real secret, session token or key id.
    @Test func noErrorHoldsARealCredential() throws {
        var errors: [CordonError] = []
        let signedToken = Self.clientAuthorization(signed: "host;x-amz-date;x-amz-security-token")
        let attempts: [Headers] = [
            Self.baseHeaders(authorization: Self.clientAuthorization(keyID: Self.exampleKeyID, signed: "host;x-amz-date")),
            Self.baseHeaders(authorization: signedToken) + [("X-Amz-Security-Token", Self.exampleToken)],
            Self.baseHeaders(authorization: signedToken),
            Self.baseHeaders(authorization: Self.clientAuthorization(signed: "host;x-amz-date;x-b")),
            Self.baseHeaders(authorization: "Bearer " + Self.exampleSecret),
            Self.baseHeaders() + [("x-amz-content-sha256", "STREAMING-" + Self.exampleSecret)],
        ]
        for headers in attempts {
            if let error = Self.refusal({ try Self.resign(headers: headers, token: Self.exampleToken, placeholderToken: Self.placeholderToken) }) {
                errors.append(error)
            }
        }
        #expect(errors.count == attempts.count)
        // Credentials refused at binding time do not show theirs either.
        for (key, token) in [("AKID EXAMPLE", Self.exampleToken), (Self.exampleKeyID, "two words " + Self.exampleSecret)] {
            do {
                _ = try AWSSigV4.Credentials(accessKeyID: key, secretAccessKey: Self.secret(Self.exampleSecret), sessionToken: Self.secret(token))
                Issue.record("credentials \(key) were taken")
            } catch let error as CordonError { errors.append(error) }
        }
        for error in errors {
            let text = "\(error) \(error.hint ?? "") \(error.cause ?? "")"
            #expect(!text.contains(Self.exampleSecret) && !text.contains(Self.exampleToken) && !text.contains("AKIDEXAMPLE"), "\(text)")
        }
    }

    /// Hostile bytes in every position: a refusal or a signature, never a crash.
    @Test func randomHostileHeadersNeverCrash() {
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let alphabet = Array("AWS4-HMAC-SHA256 Credential=cordon-ph-aaaabbbbccccddddeeeeffffgggghhhh/20150830/us-east-1,;=%/ \r\n\u{0}é0af".unicodeScalars)
        let template = Self.clientAuthorization(signed: "host;x-amz-date")
        for _ in 0..<2000 {
            var authorization = Array(template.unicodeScalars)
            for _ in 0..<(1 + next() % 4) {
                let at = Int(next() % UInt64(authorization.count))
                switch next() % 3 {
                case 0: authorization[at] = alphabet[Int(next() % UInt64(alphabet.count))]
                case 1: authorization.remove(at: at)
                default: authorization.insert(alphabet[Int(next() % UInt64(alphabet.count))], at: at)
                }
            }
            var text = String.UnicodeScalarView()
            text.append(contentsOf: authorization)
            let target = ["/", "/%", "/a?%", "/?&&=", "/%%%", "/\u{7F}"][Int(next() % 6)]
            _ = Self.refusal { try Self.resign("GET", target, headers: Self.baseHeaders(authorization: String(text))) }
        }
    }
}

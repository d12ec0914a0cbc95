import CordonCore
import CordonSecrets
import CordonTestSupport
import Foundation
import Testing

/// SigV4 re-signing checked by a real verifier, botocore (Debian's `python3-botocore`): botocore
/// signs each request with the sandbox's placeholder credentials, cordon re-signs it, and the
/// result must equal, header for header, what botocore signs with the real credentials.
@Suite struct AWSSigV4BotocoreTests {
    static let python = "/usr/bin/python3"

    /// Skipped, with the reason in the test output, only when botocore does not import.
    static let botocoreImports: Bool = {
        (try? ProcessRunner.runBlocking([python, "-c", "import botocore.auth"], timeout: .seconds(10)))?.status == 0
    }()

    static let realKeyID = "AKIAIOSFODNN7EXAMPLE"
    static let realSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let realToken = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+real/session+token=="
    static let placeholderKeyID = "cordon-ph-aaaabbbbccccddddeeeeffffgggghhhh"
    static let placeholderSecret = "cordon-ph-iiiijjjjkkkkllllmmmmnnnnoooopppp"
    static let placeholderToken = "cordon-ph-sssstttt22223333444455556666777"

    /// Signs each case twice at one fixed instant (placeholder, then real credentials) and prints
    /// both as JSON. SigV4Auth for the other services, S3SigV4Auth (single-encoded paths, the
    /// x-amz-content-sha256 header) for S3, exactly as boto3 picks them.
    static let script = """
        import base64, binascii, datetime, hashlib, json, sys
        from unittest import mock
        from urllib.parse import urlsplit
        from botocore.auth import S3SigV4Auth, SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        placeholder_key, placeholder_secret, placeholder_token, real_key, real_secret, real_token = sys.argv[1:7]
        cases = [
            # name, service, region, method, url, headers, body, with a session token
            ("iam query, token", "iam", "us-east-1", "GET", "https://iam.amazonaws.com/?Version=2010-05-08&Action=ListUsers", {}, b"", True),
            ("sts form post", "sts", "us-east-1", "POST", "https://sts.amazonaws.com/",
             {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, b"Action=GetCallerIdentity&Version=2011-06-15", False),
            ("dynamodb json, spaces in a header", "dynamodb", "eu-west-1", "POST", "https://dynamodb.eu-west-1.amazonaws.com/",
             {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables", "X-Custom": "  a   b\\tc  "},
             b'{"Limit": 3}', True),
            ("lambda encoded path and repeated query", "lambda", "us-west-2", "GET",
             "https://lambda.us-west-2.amazonaws.com/2015-03-31/functions/my%20func%3Aalias/invocations?Qualifier=%24LATEST&a=b%2Fc&a=a&empty=",
             {}, b"", False),
            ("dot segments, non-s3", "execute-api", "us-east-1", "GET", "https://abc.execute-api.us-east-1.amazonaws.com/foo/./bar/../baz//qux/", {}, b"", False),
            ("binary body, non-s3", "kinesis", "us-east-1", "POST", "https://kinesis.us-east-1.amazonaws.com/",
             {"Content-Type": "application/x-amz-cbor-1.1"}, bytes(range(256)), True),
            ("s3 https put, odd key", "s3", "us-east-1", "PUT", "https://bucket.s3.amazonaws.com/dir/my%20file%2B%21%28x%29.txt",
             {"Content-Type": "text/plain", "x-amz-meta-note": "a  b"}, b"hello", True),
            ("s3 https put, unsigned payload", "s3", "us-east-1", "PUT", "https://bucket.s3.amazonaws.com/big.bin",
             {"Content-MD5": base64.b64encode(hashlib.md5(b"x" * 1000).digest()).decode()}, b"x" * 1000, True),
            ("s3 http list", "s3", "eu-central-1", "GET", "http://bucket.s3.eu-central-1.amazonaws.com/?list-type=2&prefix=a%2Fb&delimiter=%2F", {}, b"", False),
            ("s3 http put, unicode key", "s3", "us-east-1", "PUT", "http://bucket.s3.amazonaws.com/caf%C3%A9/%E2%82%AC%20x", {}, b"\\x00\\x01body", True),
            ("s3 subresource", "s3", "us-east-1", "GET", "http://bucket.s3.amazonaws.com/key?acl", {}, b"", False),
        ]
        instant = datetime.datetime(2026, 12, 6, 21, 30, 5)

        def signed(name, service, region, method, url, headers, body, credentials):
            request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
            # A streamed upload with a checksum, over HTTPS: boto3 sends UNSIGNED-PAYLOAD.
            request.context["has_streaming_input"] = "unsigned" in name
            auth = (S3SigV4Auth if service == "s3" else SigV4Auth)(credentials, service, region)
            with mock.patch("botocore.auth.datetime") as clock:
                clock.datetime.now.return_value = instant
                clock.datetime.utcnow.return_value = instant
                clock.timezone = datetime.timezone
                auth.add_auth(request)
            sent = [[name, value if isinstance(value, str) else value.decode()] for name, value in request.headers.items()]
            if not any(name.lower() == "host" for name, _ in sent):
                sent.insert(0, ["Host", urlsplit(url).netloc])
            return sent

        out = []
        for name, service, region, method, url, headers, body, token in cases:
            placeholder = Credentials(placeholder_key, placeholder_secret, placeholder_token if token else None)
            real = Credentials(real_key, real_secret, real_token if token else None)
            parts = urlsplit(url)
            out.append({
                "name": name, "method": method, "target": parts.path + ("?" + parts.query if parts.query else ""),
                "body": binascii.hexlify(body).decode(), "token": token,
                "client": signed(name, service, region, method, url, headers, body, placeholder),
                "expected": signed(name, service, region, method, url, headers, body, real),
            })
        print(json.dumps(out))
        """

    struct Case: Decodable {
        var name: String
        var method: String
        var target: String
        var body: String
        var token: Bool
        var client: [[String]]
        var expected: [[String]]
    }

    static func secret(_ text: String) throws -> SecretBytes {
        try Array(text.utf8).withUnsafeBytes { buffer throws(CordonError) in try SecretBytes(copying: buffer) }
    }

    @Test(.enabled(if: botocoreImports, "python3-botocore does not import: apt-get install python3-botocore (scripts/setup installs it)"))
    func botocoreAcceptsWhatCordonReSigns() async throws {
        let result = try await ProcessRunner.run(
            [
                Self.python, "-c", Self.script, Self.placeholderKeyID, Self.placeholderSecret, Self.placeholderToken, Self.realKeyID, Self.realSecret,
                Self.realToken,
            ]
        )
        try #require(result.status == 0, "\(result.stderr)")
        let cases = try JSONDecoder().decode([Case].self, from: Data(result.stdout.utf8))
        #expect(cases.count == 11)
        #expect(cases.contains { $0.client.contains { $0 == ["X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"] } })
        let withToken = try AWSSigV4.Credentials(
            accessKeyID: Self.realKeyID, secretAccessKey: Self.secret(Self.realSecret), sessionToken: Self.secret(Self.realToken))
        let withoutToken = try AWSSigV4.Credentials(accessKeyID: Self.realKeyID, secretAccessKey: Self.secret(Self.realSecret), sessionToken: nil)
        for test in cases {
            let body = stride(from: 0, to: test.body.count, by: 2).compactMap { at -> UInt8? in
                let start = test.body.index(test.body.startIndex, offsetBy: at)
                return UInt8(test.body[start..<test.body.index(start, offsetBy: 2)], radix: 16)
            }
            let client = test.client.map { (name: $0[0], value: $0[1]) }
            // What the sandbox sent never carries a real credential.
            #expect(!client.contains { $0.value.contains(Self.realKeyID) || $0.value.contains(Self.realToken) }, "\(test.name)")
            let sent = try AWSSigV4.resign(
                method: test.method, target: test.target, headers: client, body: test.body.isEmpty ? nil : body,
                credentials: test.token ? withToken : withoutToken,
                placeholders: (keyID: Self.placeholderKeyID, sessionToken: test.token ? Self.placeholderToken : nil))
            #expect(sent.map { [$0.name, $0.value] } == test.expected, "\(test.name)")
        }
    }
}

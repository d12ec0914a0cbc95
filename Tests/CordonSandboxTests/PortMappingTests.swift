import CordonCore
import CordonSandbox
import Testing

/// `cordon port`'s HOSTPORT:SANDBOXPORT: what is a mapping, and the error naming the part that is not.
struct PortMappingTests {
    @Test func mappingsParse() throws {
        #expect(try PortForward.parse("8080:3000") == PortForward(hostPort: 8080, sandboxPort: 3000))
        #expect(try PortForward.parse("0:1") == PortForward(hostPort: 0, sandboxPort: 1))
        #expect(try PortForward.parse("65535:65535") == PortForward(hostPort: 65535, sandboxPort: 65535))
        #expect(try PortForward.parse("08080:03000") == PortForward(hostPort: 8080, sandboxPort: 3000))
    }

    @Test(arguments: [
        ("", "is not a port mapping"), ("8080", "is not a port mapping"), ("1:2:3", "is not a port mapping"),
        ("127.0.0.1:8080:3000", "is not a port mapping"), ("a:3000", "the host port of \"a:3000\" is not a port number"),
        ("8080:", "the sandbox port of \"8080:\" is not a port number"), ("-1:3000", "the host port of \"-1:3000\" is not a port number"),
        ("+80:3000", "is not a port number"), (" 80:3000", "is not a port number"), ("70000:3000", "the host port of \"70000:3000\" is out of range"),
        ("8080:0", "the sandbox port of \"8080:0\" is out of range"), ("8080:99999", "out of range"), ("8080:123456", "is not a port number"),
        ("8080:３０００", "is not a port number"),
    ])
    func malformedMappingsAreRefusedNamingThePart(text: String, says: String) {
        #expect {
            _ = try PortForward.parse(text)
        } throws: { error in
            guard let error = error as? CordonError else { return false }
            return error.code == .invalidArgument && error.message.contains(says) && error.hint != nil
        }
    }

    @Test func removalPortIsChecked() throws {
        #expect(try PortForward.port("8080", what: "--rm's host port", allowZero: false) == 8080)
        #expect(throws: CordonError.self) { try PortForward.port("0", what: "--rm's host port", allowZero: false) }
    }
}

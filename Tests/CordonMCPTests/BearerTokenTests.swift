import CordonCore
import CordonTestSupport
import Foundation
import Glibc
import Testing

@testable import CordonMCP

/// The HTTP token: made once, 0600 in a 0700 directory, kept; a file others could read or a
/// symlink is refused; the header comparison takes only `Bearer <the token>`.
struct BearerTokenTests {
    @Test func madeOncePrivateAndKept() throws {
        let root = try TempTree.makeDirectory()
        let paths = CordonPaths(configHome: root + "/config", stateHome: root + "/state")
        let token = try BearerToken.load(paths: paths)
        #expect(token.count == 64 && token.allSatisfy(\.isHexDigit))
        var info = stat()
        #expect(lstat(BearerToken.path(paths: paths), &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(lstat(root + "/state/mcp", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        #expect(try BearerToken.load(paths: paths) == token)
        #expect(try BearerToken.load(paths: CordonPaths(configHome: root + "/c2", stateHome: root + "/s2")) != token)
    }

    @Test func aTokenFileOthersCanReadIsRefused() throws {
        let root = try TempTree.makeDirectory()
        let paths = CordonPaths(configHome: root + "/config", stateHome: root + "/state")
        _ = try BearerToken.load(paths: paths)
        chmod(BearerToken.path(paths: paths), 0o644)
        #expect(throws: CordonError.self) { try BearerToken.load(paths: paths) }
        unlink(BearerToken.path(paths: paths))
        try "x".write(toFile: root + "/elsewhere", atomically: false, encoding: .utf8)
        symlink(root + "/elsewhere", BearerToken.path(paths: paths))
        #expect(throws: CordonError.self) { try BearerToken.load(paths: paths) }
    }

    @Test func onlyTheExactBearerHeaderMatches() {
        let token = String(repeating: "ab", count: 32)
        #expect(BearerToken.matches("Bearer " + token, token: token))
        #expect(BearerToken.matches("bearer " + token, token: token))
        #expect(!BearerToken.matches(nil, token: token))
        #expect(!BearerToken.matches("", token: token))
        #expect(!BearerToken.matches("Bearer ", token: token))
        #expect(!BearerToken.matches("Bearer " + token.dropLast(), token: token))
        #expect(!BearerToken.matches("Bearer " + token + "0", token: token))
        #expect(!BearerToken.matches("Basic " + token, token: token))
        #expect(!BearerToken.matches("Bearer " + String(repeating: "ab", count: 31) + "ac", token: token))
    }
}

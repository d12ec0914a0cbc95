import CordonSelftest
import CordonTestSupport
import Foundation
import Testing

/// `cordon selftest`'s options, in the cordon binary (ArgumentParser) and in cordon-selftest.
@Suite struct OptionTests {
    @Test func unknownCategoryNamesTheValidOnes() throws {
        #expect(throws: SelftestUsageError.self) { try SelftestOptions(arguments: ["--only", "filesystem,bogus"]) }
        do {
            _ = try SelftestOptions(arguments: ["--only", "bogus"])
        } catch {
            for category in SelftestCategory.allCases { #expect(error.description.contains(category.rawValue)) }
        }
        #expect(try SelftestOptions(arguments: ["--only", "leaks,filesystem", "--json"]) == SelftestOptions(json: true, only: [.leaks, .filesystem]))
        #expect(throws: SelftestUsageError.self) { try SelftestOptions(arguments: ["--bogus"]) }
    }

    @Test func helperExitsSixtyFourOnAnUnknownCategory() {
        #expect(SelftestMain.main(arguments: ["--only", "bogus"]) == 64)
    }

    @Test func cordonSelftestOnlyBogusExitsSixtyFour() async throws {
        let result = try await ProcessRunner.run(
            [SelftestProducts.cordon, "selftest", "--only", "filesystem,bogus"], environment: ["PATH": "/usr/bin:/bin"], timeout: .seconds(60))
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("bogus"))
        for category in SelftestCategory.allCases { #expect(result.stderr.contains(category.rawValue), "\(result.stderr)") }
    }

    @Test func cordonSelftestListRunsNothing() async throws {
        let home = try TempTree.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let result = try await ProcessRunner.run(
            [SelftestProducts.cordon, "selftest", "--list", "--json"], environment: ["PATH": "/usr/bin:/bin", "HOME": home], timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let attacks = try #require(document["attacks"] as? [[String: String]])
        #expect(attacks.map { $0["id"] } == AttackCatalogue.all.map(\.id))
        #expect(try FileManager.default.contentsOfDirectory(atPath: home).isEmpty)
    }
}

/// The built products beside the test bundle.
enum SelftestProducts {
    static var directory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("cordon-selftest").path) && url.path != "/" {
            url = url.deletingLastPathComponent()
        }
        return url.path
    }

    static var cordon: String { directory + "/cordon" }
}

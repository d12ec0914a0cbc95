import CordonTestSupport
import Foundation
import Testing

/// `cordon selftest --only CATEGORIES --json` as the integration suites run it: in a fresh HOME,
/// with every verdict checked (0 OPEN, 0 invalid, at least `minimum` attacks, each of the
/// categories asked, every control succeeded, exit 0) and the HOME left untouched. What else a
/// run must not leave behind is each suite's own check.
struct SelftestCategoryRun {
    /// The run's standard output (the JSON report; evidence may name its temporary root).
    let stdout: String
    /// The selftest roots in /tmp before the run: a root that is new afterwards and still there
    /// may be this run's (or another suite's running at the same time).
    let rootsBefore: Set<String>

    /// The temporary roots of selftest runs in /tmp now.
    static func roots() -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: "/tmp"))?.filter { $0.hasPrefix("cordon-selftest-") } ?? [])
    }

    /// The roots new since the run started that are still there and hold `file` (a path inside
    /// a root that only this category's run makes).
    func rootsLeft(holding file: String) -> Set<String> {
        Self.roots().subtracting(rootsBefore).filter { FileManager.default.fileExists(atPath: "/tmp/" + $0 + "/" + file) }
    }

    /// `asUser`: run as that uid (and gid), not root (`setpriv`), with a HOME of its own.
    static func run(_ categories: String, minimum: Int, asUser: UInt32? = nil) async throws -> SelftestCategoryRun {
        let home = try TempTree.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: home) }
        var prefix: [String] = []
        if let uid = asUser {
            #expect(chown(home, uid, uid) == 0)
            prefix = ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "--"]
        }
        let before = roots()
        let result = try await ProcessRunner.run(
            prefix + [SelftestProducts.cordon, "selftest", "--only", categories, "--json"],
            environment: ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home, "LANG": "C.UTF-8"],
            timeout: .seconds(840))
        // A run that printed no report says why: its status and stderr.
        let parsed = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        let document = try #require(parsed as? [String: Any], "status \(result.status)\nstdout: \(result.stdout)\nstderr: \(result.stderr)")
        let summary = try #require(document["summary"] as? [String: Int])
        let attacks = try #require(document["attacks"] as? [[String: String]])
        let notHeld = attacks.filter { $0["result"] != "held" }.map { "\($0["id"] ?? "?"): \($0["result"] ?? "?") \($0["evidence"] ?? "")" }
        let asked = Set(categories.split(separator: ",").map(String.init))
        #expect(summary["open"] == 0, "\(notHeld)")
        #expect(summary["invalid"] == 0, "\(notHeld)")
        #expect(summary["total"] ?? 0 >= minimum)
        #expect(attacks.allSatisfy { asked.contains($0["category"] ?? "") })
        #expect(attacks.allSatisfy { $0["control_result"] == "succeeded" }, "\(notHeld)")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: home).isEmpty, "the selftest wrote into the caller's HOME")
        return SelftestCategoryRun(stdout: result.stdout, rootsBefore: before)
    }
}

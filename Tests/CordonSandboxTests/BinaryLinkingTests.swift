import CordonTestSupport
import Testing

/// `cordon` links libstdc++ and Hyperscan statically (link/static/README.md): binding their
/// symbols at load time cost ~1.5 ms of every sandbox's start. A system library directory put on
/// the link line ahead of link/static (a `pkgConfig:` in Package.swift does that) would bring the
/// shared libraries back without any other sign.
@Suite struct BinaryLinkingTests {
    @Test func cordonNeedsNeitherLibstdcxxNorHyperscanAtRunTime() async throws {
        let dynamic = try await ProcessRunner.run(["/usr/bin/readelf", "--dynamic", SandboxHarness.cordon], timeout: .seconds(60))
        try #require(dynamic.status == 0, "readelf: \(dynamic.stderr)")
        let needed = dynamic.stdout.split(separator: "\n").filter { $0.contains("(NEEDED)") }.map { line in
            line.split(separator: "[").last.map { String($0.prefix { $0 != "]" }) } ?? ""
        }
        // The listing was read: every binary here needs the C library.
        #expect(needed.contains("libc.so.6"), "\(needed)")
        #expect(!needed.contains { $0.hasPrefix("libstdc++.so") }, "\(needed)")
        #expect(!needed.contains { $0.hasPrefix("libhs.so") }, "\(needed)")
    }
}

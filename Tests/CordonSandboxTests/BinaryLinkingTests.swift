import CordonTestSupport
import Testing

/// A release `cordon` links libstdc++ and Hyperscan statically (link/static/README.md; the
/// start-up benchmark checks the binary it measures). A build whose Swift runtime is a shared
/// library (debug builds: what the tests run) must not: libswiftCore.so brings libstdc++.so, and
/// two copies of libstdc++ in one process broke toml++'s float parsing (`3.0` was refused).
@Suite struct BinaryLinkingTests {
    @Test func aCordonOnTheSharedSwiftRuntimeCarriesNoCopyOfLibstdcxx() async throws {
        let dynamic = try await ProcessRunner.run(["/usr/bin/readelf", "--dynamic", SandboxHarness.cordon], timeout: .seconds(60))
        try #require(dynamic.status == 0, "readelf: \(dynamic.stderr)")
        let needed = dynamic.stdout.split(separator: "\n").filter { $0.contains("(NEEDED)") }.map { line in
            line.split(separator: "[").last.map { String($0.prefix { $0 != "]" }) } ?? ""
        }
        try #require(needed.contains("libswiftCore.so"), "not a build on the shared Swift runtime: \(needed)")
        let symbols = try await ProcessRunner.run(["/usr/bin/nm", "--defined-only", SandboxHarness.cordon], timeout: .seconds(120))
        try #require(symbols.status == 0, "nm: \(symbols.stderr)")
        // The symbol table was read (cordon's own entry point is in it) …
        #expect(symbols.stdout.contains(" cordon_main\n"))
        // … and holds no libstdc++ of its own (std::locale::classic(), which any copy defines).
        #expect(!symbols.stdout.contains(" _ZNSt6locale7classicEv\n"))
    }
}

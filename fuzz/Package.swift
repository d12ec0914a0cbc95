// swift-tools-version: 6.2
// libFuzzer targets for cordon's parsers: a package of its own, so the main package's build and
// tests are untouched. Build with `-Xswiftc -sanitize=fuzzer` (fuzz/run does); see README.md.
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .treatAllWarnings(as: .error),
]

/// One libFuzzer target: main.swift defines `LLVMFuzzerTestOneInput` and hands it to libFuzzer's
/// driver (`runFuzzer`): a SwiftPM executable's `main` is its own, so libFuzzer's is not used.
func fuzzTarget(_ name: String) -> Target {
    .executableTarget(
        name: name,
        dependencies: ["FuzzSupport", .product(name: "CordonParsers", package: "cordon")],
        swiftSettings: strict
    )
}

let package = Package(
    name: "cordon-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "cordon", path: "..")],
    targets: [
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver", .product(name: "CordonParsers", package: "cordon")], swiftSettings: strict),
        fuzzTarget("FuzzPolicy"),
        fuzzTarget("FuzzHTTPRequest"),
        fuzzTarget("FuzzHTTPResponse"),
        fuzzTarget("FuzzChunked"),
        fuzzTarget("FuzzTLSHello"),
        fuzzTarget("FuzzSOCKS5"),
        fuzzTarget("FuzzDNS"),
        fuzzTarget("FuzzProfile"),
        fuzzTarget("FuzzRules"),
        fuzzTarget("FuzzAudit"),
        fuzzTarget("FuzzTOML"),
        // The overlay change-set reader: builds upper layers, so it sets overlay xattrs (CFuzzChangeSet).
        .target(name: "CFuzzChangeSet"),
        .executableTarget(
            name: "FuzzChangeSet",
            dependencies: ["FuzzSupport", "CFuzzChangeSet", .product(name: "CordonParsers", package: "cordon")],
            swiftSettings: strict
        ),
    ]
)

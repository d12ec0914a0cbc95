// swift-tools-version: 6.2
// The target graph is the architecture: dependencies point one way, from the `cordon`
// executable down to the C shim. docs/architecture.md describes each module.
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    // Not MemberImportVisibility: once swift-certificates (which imports Foundation) is in a
    // module's graph, Glibc's structs (`stat`, `timespec`) are owned by CoreFoundation's clang
    // module, and which files then fail depends on the order modules load in.
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
    // A concrete generic type's metadata is fetched by calling its accessor, not by demangling its
    // mangled name at run time (which also looks each generic requirement's conformance up in a
    // linear scan of every conformance record): ~100 first uses on every sandbox's start cost
    // ~1.7 ms of the supervisor's CPU that way. The price is a little code size.
    .unsafeFlags(["-Xfrontend", "-disable-concrete-type-metadata-mangled-name-accessors"]),
]

/// Set by scripts/build-release, which builds with the Swift runtime linked statically: then
/// `cordon` links libstdc++ and Hyperscan statically too (link/static/README.md). Never with a
/// shared Swift runtime, which brings libstdc++.so: two copies of libstdc++ in one process break.
let staticCXX = Context.environment["CORDON_STATIC_CXX"] == "1"

let package = Package(
    name: "cordon",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cordon", targets: ["cordon"]),
        .executable(name: "cordon-init", targets: ["cordon-init"]),
        .executable(name: "cordon-mcp", targets: ["cordon-mcp"]),
        .executable(name: "cordon-selftest", targets: ["cordon-selftest"]),
        // For fuzz/ (a package of its own that depends on this one by path): the modules whose
        // parsers read what an agent sends or a user writes. Not an API promise.
        .library(
            name: "CordonParsers",
            targets: ["CordonCore", "CordonTOML", "CordonPolicy", "CordonConfig", "CordonNet", "CordonScan", "CordonAudit", "CordonFS", "CordonGate"]
        ),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        // AEAD for the keystore; the range swift-certificates (the proxy's minted leaves) accepts too.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.1.0"),
        // The Model Context Protocol: `cordon mcp` serves sandboxes to agents and IDEs.
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", exact: "0.12.1"),
    ],
    targets: [
        // The one C target: syscalls and kernel structures Swift's Glibc does not expose.
        .target(
            name: "CCordon",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("seccomp")]
        ),
        // The system libraries' headers and libraries are in the compiler's default paths
        // (scripts/setup installs libhyperscan-dev, libpcre2-dev, zlib1g-dev, libargon2-dev); each
        // module map names its library. No pkgConfig: SwiftPM would put the system library
        // directory on the link line ahead of link/static, and scripts/build-release's `cordon`
        // would link libstdc++ and Hyperscan dynamically again (bench/ warns of such a binary).
        .systemLibrary(name: "CHyperscan"),
        .systemLibrary(name: "CPCRE2"),
        // gzip and zip's deflate, for the scanner's look into compressed files and archives.
        .systemLibrary(name: "CZlib"),
        // Argon2id, the keystore's passphrase KDF (the reference implementation, Debian's libargon2).
        .systemLibrary(name: "CArgon2"),

        // Errors, paths, JSON-lines event log: what every module shares.
        .target(
            name: "CordonCore",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // cordon's own strict TOML 1.0 parser (pure Swift, no dependencies): gitleaks rule files
        // and the pyproject.toml an agent wrote are read with it; errors carry line and column.
        .target(name: "CordonTOML", swiftSettings: strict),
        // Typed wrappers over CCordon: mounts, spawn, seccomp, Landlock, cgroups, capabilities.
        .target(name: "CordonOS", dependencies: ["CCordon", "CordonCore"], swiftSettings: strict),
        // The one egress grammar and the pure decisions: domain patterns, hosts, addresses, CIDRs,
        // the egress configuration and policy, blocklist lookups. No NIO, no I/O.
        .target(name: "CordonPolicy", dependencies: ["CordonCore"], swiftSettings: strict),
        // cordon's own certificate authority and the leaf certificates it mints for the proxy.
        .target(
            name: "CordonTLS",
            dependencies: [
                "CordonCore", "CordonOS", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"), .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        // LLM usage: the provider catalogue, token usage read from responses, the ledger, budgets,
        // and the meter the proxy calls for each request to an LLM API.
        .target(name: "CordonUsage", dependencies: ["CordonCore", "CordonOS"], swiftSettings: strict),
        // Profiles and presets: YAML with positions, merging, validation (reads files; writes only the approval file).
        .target(
            name: "CordonConfig",
            dependencies: ["CordonCore", "CordonOS", "CordonPolicy", "CordonSecrets", "CordonUsage", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        // The sandbox plan (a Codable value) and how cordon-init applies it inside.
        .target(name: "CordonIsolation", dependencies: ["CordonOS", "CordonCore"], swiftSettings: strict),
        // Overlay upper layers read as change sets (added, modified, deleted, whiteouts).
        .target(name: "CordonFS", dependencies: ["CordonCore", "CordonOS"], swiftSettings: strict),
        // The secret scanner: gitleaks rules, Hyperscan prefilter, PCRE2 confirm, entropy, decodings, archives, SARIF.
        .target(
            name: "CordonScan",
            dependencies: ["CordonCore", "CordonOS", "CordonTOML", "CHyperscan", "CPCRE2", "CZlib"],
            swiftSettings: strict
        ),
        // The sync gate: path policy, host-execution traps, atomic apply; secrets through CordonScan.
        .target(
            name: "CordonGate",
            dependencies: ["CordonScan", "CordonFS", "CordonCore", "CordonOS", "CordonTOML"],
            swiftSettings: strict
        ),
        // Network containment: proxy handlers, DNS stub, dialer (the decisions are CordonPolicy's).
        .target(
            name: "CordonNet",
            dependencies: [
                "CordonCore", "CordonOS", "CordonPolicy", "CordonSecrets", "CordonTLS", "CordonUsage", "CordonScan",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The audit log: hash-chained JSON lines per sandbox, its head, the verifier, the
        // file-write watcher (inotify). SHA-256 is CordonConfig's ContentHash.
        .target(name: "CordonAudit", dependencies: ["CordonCore", "CordonOS", "CordonConfig"], swiftSettings: strict),
        // The keystore: values sealed at rest (master key file or Argon2id passphrase), held in
        // memory kept out of core dumps; the placeholders a sandbox sees instead of the values.
        .target(
            name: "CordonSecrets",
            dependencies: ["CordonCore", "CordonOS", "CArgon2", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // The supervisor: profile -> plan, state dirs, cgroups, spawn, pty relay, event log.
        .target(
            name: "CordonSandbox",
            dependencies: [
                "CordonConfig", "CordonIsolation", "CordonOS", "CordonFS", "CordonGate", "CordonScan", "CordonNet", "CordonAudit", "CordonSecrets",
                "CordonUsage",
                "CordonCore",
            ],
            swiftSettings: strict
        ),
        // `cordon mcp bridge`: an MCP server run in a sandbox, its stdio relayed byte for byte to
        // the host's, or served as Streamable HTTP on host loopback behind a bearer token.
        .target(
            name: "CordonMCPBridge",
            dependencies: [
                "CordonSandbox", "CordonTLS", "CordonOS", "CordonCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // `cordon mcp`: the tool catalogue, the tools (over CordonSandbox, as the CLI does), the
        // resources, the server and its transports (stdio; Streamable HTTP on loopback with a token).
        .target(
            name: "CordonMCP",
            dependencies: [
                "CordonSandbox", "CordonConfig", "CordonTLS", "CordonCore", "CordonOS",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // `cordon selftest`: attacks run from inside real sandboxes, judged from the host (each
        // with a positive control). Runs the cordon executable; links nothing of the sandbox.
        .target(name: "CordonSelftest", dependencies: ["CordonCore", "CordonOS"], swiftSettings: strict),
        // One ParsableCommand per file; the executable only calls into this.
        .target(
            name: "CordonCommands",
            dependencies: [
                "CordonSandbox", "CordonConfig", "CordonFS", "CordonGate", "CordonScan", "CordonNet", "CordonAudit", "CordonSecrets", "CordonCore",
                "CordonOS", "CordonUsage", "CordonMCPBridge",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Every sandbox's start runs this binary, so its loader work is kept small:
        // - it exports none of its ~36,000 symbols (SwiftPM exports every symbol of an
        //   executable): the Swift runtime's start-up looks its own path up with dladdr, a linear
        //   scan of the exported symbols; nothing loads or looks up symbols in cordon;
        // - in scripts/build-release's build, libstdc++ and Hyperscan are linked statically
        //   (link/static/README.md): binding their ~2,100 symbols at load time cost ~1.5 ms of
        //   every start.
        .executableTarget(
            name: "cordon", dependencies: ["CordonCommands", "CordonConfig"], swiftSettings: strict,
            linkerSettings: [
                .unsafeFlags(["-Xlinker", "--no-export-dynamic"]),
                .unsafeFlags(staticCXX ? ["-L", Context.packageDirectory + "/link/static"] : [], .when(configuration: .release)),
            ]),
        // `cordon mcp` hands over to it (execve): the MCP SDK links Foundation's networking and
        // libcurl, which the cordon binary, every sandbox's supervisor, does without.
        .executableTarget(name: "cordon-mcp", dependencies: ["CordonMCP"], swiftSettings: strict),
        // `cordon selftest` hands over to it (execve), so the attack suite does not grow the
        // cordon binary, whose start-up time is benchmarked.
        .executableTarget(name: "cordon-selftest", dependencies: ["CordonSelftest"], swiftSettings: strict),
        // Single-threaded sandbox init: no async runtime, no NIO, no Yams. A static executable:
        // no dynamic loader, no shared libraries to map and bind (~3 ms of every start). Not
        // position-independent: glibc 2.36's static-pie start-up asserts on the $ORIGIN RUNPATH
        // SwiftPM gives every executable. cordon-init reads no input from the sandbox (see
        // docs/threat-model.md); its stack, heap and mappings are still randomized.
        .executableTarget(
            name: "cordon-init",
            dependencies: ["CordonIsolation", "CordonOS", "CCordon"],
            swiftSettings: strict,
            linkerSettings: [
                .unsafeFlags([
                    "-static-executable", "-Xlinker", "-l_FoundationCollections", "-Xlinker", "-l_FoundationCShims", "-Xlinker", "-lswiftSynchronization",
                ])
            ]
        ),

        .testTarget(name: "CordonCoreTests", dependencies: ["CordonCore", "CordonTestSupport"], swiftSettings: strict),
        .testTarget(name: "CordonTOMLTests", dependencies: ["CordonTOML"], swiftSettings: strict),
        .testTarget(name: "CordonIsolationTests", dependencies: ["CordonIsolation", "CordonOS", "CordonCore", "CordonTestSupport"], swiftSettings: strict),
        .testTarget(name: "CordonConfigTests", dependencies: ["CordonConfig", "CordonCore", "CordonSecrets", "CordonTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "CordonPolicyTests", dependencies: ["CordonPolicy", "CordonConfig", "CordonCore", "CordonTestSupport"], swiftSettings: strict),
        .target(name: "CordonTestSupport", dependencies: ["CCordon", "CZlib"], path: "Tests/CordonTestSupport", swiftSettings: strict),
        .testTarget(name: "CordonTestSupportTests", dependencies: ["CordonTestSupport"], swiftSettings: strict),
        .testTarget(name: "CordonFSTests", dependencies: ["CordonFS", "CordonOS", "CordonCore", "CordonTestSupport"], swiftSettings: strict),
        .testTarget(name: "CordonScanTests", dependencies: ["CordonScan", "CordonCore", "CordonTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "CordonGateTests", dependencies: ["CordonGate", "CordonScan", "CordonFS", "CordonOS", "CordonCore", "CordonTestSupport"],
            swiftSettings: strict),
        .testTarget(name: "CordonNetTests", dependencies: ["CordonNet", "CordonPolicy", "CordonOS", "CordonCore", "CordonTestSupport"], swiftSettings: strict),
        .testTarget(name: "CordonAuditTests", dependencies: ["CordonAudit", "CordonOS", "CordonCore", "CordonTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "CordonTLSTests",
            dependencies: ["CordonTLS", "CordonOS", "CordonCore", "CordonTestSupport", .product(name: "X509", package: "swift-certificates")],
            swiftSettings: strict),
        .testTarget(name: "CordonUsageTests", dependencies: ["CordonUsage", "CordonCore", "CordonTestSupport"], swiftSettings: strict),
        .testTarget(name: "CordonOSTests", dependencies: ["CordonOS", "CordonCore", "CordonTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "CordonSecretsTests", dependencies: ["CordonSecrets", "CordonOS", "CordonCore", "CordonTestSupport"], swiftSettings: strict),
        .testTarget(name: "CordonCommandsTests", dependencies: ["CordonCommands", "CordonConfig", "CordonScan"], swiftSettings: strict),
        .testTarget(
            name: "CordonMCPTests",
            dependencies: ["CordonMCP", "CordonCore", "CordonTestSupport", .product(name: "MCP", package: "swift-sdk")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CordonMCPBridgeTests",
            dependencies: [
                "CordonMCPBridge", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(name: "CordonSelftestTests", dependencies: ["CordonSelftest", "CordonCore", "CordonTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "CordonSandboxTests",
            dependencies: ["CordonSandbox", "CordonIsolation", "CordonOS", "CordonConfig", "CordonCore", "CordonTestSupport"],
            swiftSettings: strict
        ),
    ]
)

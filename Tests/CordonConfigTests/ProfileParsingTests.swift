import CordonCore
import Testing
@testable import CordonConfig

@Suite struct ProfileParsingTests {
    @Test func emptyProfileIsTheDefault() throws {
        #expect(try Fixture.parse("") == Profile.defaults)
        #expect(try Fixture.parse("# only a comment\n") == Profile.defaults)
    }

    /// The limits the proxy holds the agent to: defaults when absent, the written values otherwise.
    @Test func egressLimitsLoad() throws {
        let defaults = try Fixture.parse("").egress
        #expect(defaults.maxConnections == 512 && defaults.requestTimeout == 10)
        #expect(defaults.dnsNamesPerMinute == 120 && defaults.dnsMaxLabel == 40 && defaults.dnsMaxEntropy == 4.0)
        let egress = try Fixture.parse(
            "egress:\n  max_connections: 64\n  request_timeout: 2500ms\n  dns_names_per_minute: 30\n  dns_max_label: 20\n  dns_max_entropy: 3.5\n"
        ).egress
        #expect(egress.maxConnections == 64 && egress.requestTimeout == 2.5)
        #expect(egress.dnsNamesPerMinute == 30 && egress.dnsMaxLabel == 20 && egress.dnsMaxEntropy == 3.5)
    }

    @Test func fullProfileLoads() throws {
        let yaml = """
            name: web-app
            backend: namespace
            mode: yolo
            workspace: ../app
            network: proxy
            mounts:
              - host: ~/datasets
                sandbox: /data
              - host: /srv/cache/
                sandbox: ~/.cache/
                mode: overlay
            data:
              - name: claude
                path: ~/.claude
              - path: ~/.npm
            copy:
              - host: ~/.gitconfig
                sandbox: ~/.gitconfig
                optional: false
            env:
              EDITOR: vi
              RETRIES: 3
            resources:
              memory: 1.5G
              cpus: 2
              pids: 256
              disk: 512m
              strict: true
            egress:
              domains: [api.example.com, "*.example.org", .example.net:443, "[::1]:8080", 10.1.2.3]
              deny:
                - github.com:22
                - {domain: "*", reason: nothing else}
              allow_private: [10.0.0.0/8, fd00::/8]
              resolve: {api.internal: 10.0.0.5}
              prompt: true
              parent_proxy: {url: "http://proxy.corp:3128", no_proxy: [localhost, .corp]}
              rate_limits: {"*.example.org": 60}
              blocklists: [lists/bad.txt]
            secrets:
              - name: gh
                env: GITHUB_TOKEN
                domains: [api.github.com]
            sync:
              interval: 2m
              allow: ["src/**"]
              deny: [".git/hooks/**"]
              blocked_extensions: [.exe]
              max_file_size: 1m
              max_total_size: 2g
              gitleaks_config: .gitleaks.toml
            """
        let p = try Fixture.parse(yaml)
        #expect(p.name == "web-app")
        #expect(p.mode == .yolo)
        #expect(p.workspace == "/projects/app")
        #expect(
            p.mounts == [
                .init(host: "/home/tester/datasets", sandbox: "/data", mode: .ro),
                .init(host: "/srv/cache", sandbox: "~/.cache", mode: .overlay),
            ])
        #expect(p.data == [.init(name: "claude", path: "~/.claude"), .init(name: "npm", path: "~/.npm")])
        #expect(p.copy == [.init(host: "/home/tester/.gitconfig", sandbox: "~/.gitconfig", optional: false)])
        #expect(p.env == ["EDITOR": "vi", "RETRIES": "3"])
        let resources = Profile.Resources(memory: 1_610_612_736, cpus: 2, pids: 256, disk: 536_870_912, strict: true)
        #expect(p.resources == resources)
        #expect(p.egress.domains.map(\.text) == ["api.example.com", "*.example.org", ".example.net:443", "[::1]:8080", "10.1.2.3"])
        #expect(try p.egress.deny == [.init(domain: "github.com:22"), .init(domain: "*", reason: "nothing else")])
        #expect(p.egress.allowPrivate.map(\.text) == ["10.0.0.0/8", "fd00::/8"])
        #expect(p.egress.resolveText == ["api.internal": "10.0.0.5"])
        #expect(p.egress.prompt)
        #expect(try p.egress.parentProxy == .init(url: "http://proxy.corp:3128", noProxy: ["localhost", ".corp"]))
        #expect(p.egress.rateLimitsText == ["*.example.org": 60])
        #expect(p.egress.blocklists == ["/projects/app/lists/bad.txt"])
        #expect(p.secrets == [.init(name: "gh", env: "GITHUB_TOKEN", domains: ["api.github.com"])])
        let sync = Profile.Sync(
            interval: 120, allow: ["src/**"], deny: [".git/hooks/**"], blockedExtensions: [".exe"],
            maxFileSize: 1_048_576, maxTotalSize: 2_147_483_648, gitleaksConfig: "/projects/app/.gitleaks.toml")
        #expect(p.sync == sync)
    }

    struct BadCase: Sendable, CustomStringConvertible {
        var yaml: String
        var line: Int
        var column: Int
        var field: String
        var message: String
        var description: String { field + ": " + message }
    }

    static let badCases: [BadCase] = [
        .init(yaml: "nmae: x\n", line: 1, column: 1, field: "nmae", message: "unknown field \"nmae\""),
        .init(yaml: "egress:\n  allowPrivate: []\n", line: 2, column: 3, field: "egress.allowPrivate", message: "unknown field"),
        .init(yaml: "mode: secure\nbackend: docker\n", line: 2, column: 10, field: "backend", message: "\"docker\" is not one of namespace | vm"),
        .init(yaml: "mode: safe\n", line: 1, column: 7, field: "mode", message: "is not one of secure | yolo | unsafe"),
        .init(yaml: "network: off\n", line: 1, column: 10, field: "network", message: "is not one of"),
        .init(yaml: "mounts: /data\n", line: 1, column: 9, field: "mounts", message: "expected a list"),
        .init(yaml: "env: [A]\n", line: 1, column: 6, field: "env", message: "expected a mapping"),
        .init(yaml: "env:\n  1BAD: x\n", line: 2, column: 3, field: "env.1BAD", message: "not a valid environment variable name"),
        .init(yaml: "resources:\n  memory: 12q\n", line: 2, column: 11, field: "resources.memory", message: "\"12q\" is not a valid size"),
        .init(yaml: "resources:\n  disk: -1g\n", line: 2, column: 9, field: "resources.disk", message: "is not a valid size"),
        .init(yaml: "resources:\n  pids: 0\n", line: 2, column: 9, field: "resources.pids", message: "expected a positive whole number"),
        .init(yaml: "resources:\n  cpus: many\n", line: 2, column: 9, field: "resources.cpus", message: "expected a positive number"),
        .init(yaml: "resources:\n  strict: maybe\n", line: 2, column: 11, field: "resources.strict", message: "expected true or false"),
        .init(yaml: "sync:\n  interval: soon\n", line: 2, column: 13, field: "sync.interval", message: "\"soon\" is not a valid duration"),
        .init(yaml: "sync:\n  max_total_size: lots\n", line: 2, column: 19, field: "sync.max_total_size", message: "is not a valid size"),
        .init(
            yaml: "egress:\n  domains:\n    - github.com\n    - api.github.com\n    - \"*.github\"\n", line: 5, column: 7,
            field: "egress.domains[2]", message: "\"*.github\" is not a valid pattern"),
        .init(yaml: "egress:\n  domains: [\"**.x.com\"]\n", line: 2, column: 13, field: "egress.domains[0]", message: "is not a valid pattern"),
        .init(yaml: "egress:\n  domains: [\"https://x.com/\"]\n", line: 2, column: 13, field: "egress.domains[0]", message: "looks like a URL"),
        .init(yaml: "egress:\n  domains: [\"\"]\n", line: 2, column: 13, field: "egress.domains[0]", message: "must not be empty"),
        .init(yaml: "egress:\n  domains: [\"x.com:99999\"]\n", line: 2, column: 13, field: "egress.domains[0]", message: "1 to 65535"),
        .init(yaml: "egress:\n  domains: [\"*\"]\n", line: 2, column: 13, field: "egress.domains[0]", message: "every host"),
        .init(yaml: "egress:\n  deny:\n    - {domain: \"bad domain\"}\n", line: 3, column: 16, field: "egress.deny[0].domain", message: "contains whitespace"),
        .init(yaml: "egress:\n  deny:\n    - {reason: x}\n", line: 3, column: 7, field: "egress.deny[0].domain", message: "is required"),
        .init(yaml: "egress:\n  allow_private: [10.0.0.0/33]\n", line: 2, column: 19, field: "egress.allow_private[0]", message: "is not a valid CIDR"),
        .init(yaml: "egress:\n  resolve:\n    \"*.x.com\": 1.2.3.4\n", line: 3, column: 5, field: "egress.resolve.*.x.com", message: "not an exact host name"),
        .init(yaml: "egress:\n  resolve:\n    x.com: nowhere\n", line: 3, column: 12, field: "egress.resolve.x.com", message: "is not an IP address"),
        .init(
            yaml: "egress:\n  parent_proxy: {url: \"proxy:3128\"}\n", line: 2, column: 23, field: "egress.parent_proxy.url",
            message: "is not an http(s) proxy URL"),
        .init(
            yaml: "egress:\n  parent_proxy: {url: \"http://p:3128\", ca_file: /etc/ca.pem}\n", line: 2, column: 17, field: "egress.parent_proxy.ca_file",
            message: "applies to an https:// parent proxy only"),
        .init(
            yaml: "egress:\n  rate_limits: {x.com: fast}\n", line: 2, column: 24, field: "egress.rate_limits.x.com", message: "expected a positive whole number"
        ),
        .init(yaml: "egress:\n  max_connections: 0\n", line: 2, column: 20, field: "egress.max_connections", message: "expected a positive whole number"),
        .init(yaml: "egress:\n  request_timeout: soon\n", line: 2, column: 20, field: "egress.request_timeout", message: "is not a valid duration"),
        .init(yaml: "egress:\n  dns_max_label: 70\n", line: 2, column: 18, field: "egress.dns_max_label", message: "longer than a DNS label"),
        .init(yaml: "egress:\n  dns_max_entropy: high\n", line: 2, column: 20, field: "egress.dns_max_entropy", message: "expected a positive number"),
        .init(yaml: "mounts:\n  - host: data\n    sandbox: /data\n", line: 2, column: 11, field: "mounts[0].host", message: "\"data\" is a relative path"),
        .init(yaml: "mounts:\n  - host: /data\n    sandbox: data\n", line: 3, column: 14, field: "mounts[0].sandbox", message: "must be absolute"),
        .init(yaml: "mounts:\n  - host: /data\n    sandbox: /x/../etc\n", line: 3, column: 14, field: "mounts[0].sandbox", message: "\"..\""),
        .init(yaml: "mounts:\n  - host: /data\n    sandbox: /workspace\n", line: 3, column: 14, field: "mounts[0].sandbox", message: "reserved"),
        .init(
            yaml: "mounts:\n  - host: /data\n    sandbox: /data\n    mode: wr\n", line: 4, column: 11, field: "mounts[0].mode",
            message: "is not one of ro | overlay | rw"),
        .init(yaml: "mounts:\n  - sandbox: /data\n", line: 2, column: 5, field: "mounts[0].host", message: "is required"),
        .init(
            yaml: "mounts:\n  - {host: /a, sandbox: /data}\ndata:\n  - {name: d, path: /data/}\n", line: 4, column: 5,
            field: "data[0].path", message: "sandbox path \"/data\" is already used by mounts[0].sandbox"),
        .init(
            yaml: "copy:\n  - {host: ~/.a, sandbox: ~/.a}\n  - {host: ~/.b, sandbox: ~/.a}\n", line: 3, column: 5,
            field: "copy[1].sandbox", message: "already used by copy[0].sandbox"),
        .init(yaml: "copy:\n  - {host: ~bob/.a, sandbox: ~/.a}\n", line: 2, column: 12, field: "copy[0].host", message: "~user"),
        .init(yaml: "data:\n  - {name: \"../x\", path: /d}\n", line: 2, column: 12, field: "data[0].name", message: "must start with a letter or digit"),
        .init(yaml: "secrets:\n  - env: TOKEN\n", line: 2, column: 5, field: "secrets[0].name", message: "is required"),
        .init(yaml: "name: \"my profile\"\n", line: 1, column: 7, field: "name", message: "may contain only"),
        .init(yaml: "presets: [nope]\n", line: 1, column: 11, field: "presets", message: "unknown preset \"nope\""),
        .init(yaml: "mode: [secure\n", line: 2, column: 1, field: "", message: "YAML syntax error"),
        .init(yaml: "mode: secure\nmode: yolo\n", line: 1, column: 1, field: "", message: "duplicate key \"mode\""),
    ]

    @Test(arguments: badCases)
    func errorsNamePositionAndField(_ bad: BadCase) throws {
        let diagnostics = try Fixture.diagnostics(bad.yaml)
        let first = try #require(diagnostics.first, "no error for \(bad.field)")
        #expect(first.location == CordonError.Location(file: "profile.yaml", line: bad.line, column: bad.column), "\(first)")
        #expect(first.field == bad.field, "\(first)")
        #expect(first.message.contains(bad.message), "\(first)")
        #expect(first.hint?.isEmpty == false, "\(first) has no fix")
    }

    @Test func terminalFilterDefaultsToStandardAndTakesEachLevel() throws {
        #expect(try Fixture.parse("").terminal.filter == .standard)
        for level in Profile.Terminal.Filter.allCases {
            #expect(try Fixture.parse("terminal:\n  filter: \(level.rawValue)\n").terminal.filter == level)
        }
        let first = try #require(try Fixture.diagnostics("terminal:\n  filter: none\n").first)
        #expect(first.field == "terminal.filter" && first.location.line == 2, "\(first)")
        #expect(first.message.contains("strict | standard | off"), "\(first)")
        let unknown = try #require(try Fixture.diagnostics("terminal:\n  filtre: off\n").first)
        #expect(unknown.hint == "did you mean \"filter\"?", "\(unknown)")
        // A later layer wins, as for every scalar; the renderer writes it back.
        let profile = try Fixture.parse("terminal: {filter: strict}\n")
        #expect(ProfileRenderer.yaml(profile, minimal: true).contains("terminal:\n  filter: strict"))
    }

    @Test func errorTextHasTheDocumentedShape() throws {
        let yaml = "egress:\n  domains:\n    - a.com\n    - b.com\n    - \"*.github\"\n"
        let error = try #require(try Fixture.diagnostics(yaml).first).error
        #expect(error.code == .invalidProfile)
        #expect(error.description.hasPrefix("profile.yaml:5:7: egress.domains[2]: \"*.github\" is not a valid pattern"))
        #expect(error.description.contains("\n  fix: expected \"example.com\", \"*.example.com\" or \".example.com\""))
    }

    @Test func unknownFieldSuggestsTheNearestName() throws {
        let cases = [("egress:\n  allowPrivate: []\n", "allow_private"), ("sync:\n  max_filesize: 1m\n", "max_file_size"), ("mnts: []\n", "mounts")]
        for (yaml, suggestion) in cases {
            let first = try #require(try Fixture.diagnostics(yaml).first)
            #expect(first.hint == "did you mean \"\(suggestion)\"?")
        }
    }

    @Test func collectsEveryError() throws {
        let yaml = "mode: fast\nresources:\n  memory: lots\negress:\n  domains: [\"*.com\"]\nbogus: 1\n"
        let diagnostics = try Fixture.diagnostics(yaml)
        #expect(diagnostics.map(\.field) == ["mode", "resources.memory", "egress.domains[0]", "bogus"])
        #expect(diagnostics.map { $0.location.line ?? 0 } == [1, 3, 5, 6])
        let thrown = #expect(throws: CordonError.self) { try Fixture.loader().parse(yaml: yaml, file: "p.yaml") }
        #expect(thrown?.cause?.contains("3 more problems") == true)
    }

    @Test func presetsCannotSetNameOrWorkspace() throws {
        let diagnostics = try Fixture.diagnostics("presets: [mine]\n", user: [("mine", "/u/mine.yaml", "name: x\nworkspace: /tmp\n")])
        #expect(diagnostics.map(\.field) == ["name", "workspace"])
        #expect(diagnostics.allSatisfy { $0.location.file == "/u/mine.yaml" })
    }

    @Test(arguments: ["/processes", "/devel", "/workspaces", "~/.cache", "/opt/tool/"])
    func sandboxPathsNearReservedOnesAreFine(_ path: String) throws {
        let p = try Fixture.parse("mounts:\n  - {host: /srv, sandbox: \"\(path)\"}\n")
        #expect(p.mounts.first?.sandbox == SandboxPath.normalized(path))
    }

    @Test(arguments: ["/proc", "/proc/self", "/dev/shm", "/workspace/sub", "/", "~", "relative"])
    func reservedOrInvalidSandboxPaths(_ path: String) throws {
        let first = try #require(try Fixture.diagnostics("mounts:\n  - {host: /srv, sandbox: \"\(path)\"}\n").first)
        #expect(first.field == "mounts[0].sandbox")
    }

    @Test func workspaceResolution() throws {
        #expect(try Fixture.parse("workspace: ~/code/app\n").workspace == "/home/tester/code/app")
        #expect(try Fixture.parse("workspace: .\n").workspace == "/projects/app")
        #expect(try Fixture.parse("workspace: /srv/x/./y/\n").workspace == "/srv/x/y")
    }
}

@Suite struct ValueSyntaxTests {
    @Test(arguments: [
        ("1024", UInt64(1024)), ("512m", 512 << 20), ("2g", 2 << 30), ("1.5G", 1_610_612_736), ("4k", 4096), ("512MiB", 512 << 20), ("1t", 1 << 40),
    ])
    func sizes(_ text: String, _ bytes: UInt64) {
        #expect(ByteSize.parse(text) == bytes)
        #expect(ByteSize.parse(ByteSize.format(bytes)) == bytes)
    }

    @Test(arguments: ["", "m", "-1", "0", "1.2.3g", "12q", "1 g g"])
    func badSizes(_ text: String) { #expect(ByteSize.parse(text) == nil) }

    @Test(arguments: [("30s", 30.0), ("2m", 120), ("1h", 3600), ("500ms", 0.5), ("1.5s", 1.5), ("45", 45)])
    func durations(_ text: String, _ seconds: Double) {
        #expect(TimeSpan.parse(text) == seconds)
        #expect(TimeSpan.parse(TimeSpan.format(seconds)) == seconds)
    }

    @Test(arguments: [
        "example.com", "*.example.com", ".example.com", "example.com:443", "localhost", "[::1]", "[2001:db8::1]:443", "10.0.0.1:8080", "a-b.c_d.io", "x.com.",
        "bücher.de",
    ])
    func validPatterns(_ text: String) { #expect(DomainPattern.problem(text) == nil) }

    @Test(arguments: [
        "", "*.github", "*.com", ".com", "**.x.com", "x.*.com", "http://x.com", "x.com/path", "x..com", "x.com..", "example.123", "010.0.0.1", "-x.com",
        "x.com:0", "x.com:http", "::1", "[::1", "*",
    ])
    func invalidPatterns(_ text: String) { #expect(DomainPattern.problem(text) != nil) }
}

import CordonCore
import CordonPolicy
import Testing

@testable import CordonConfig

/// `ProfileFlags`: the command line's last layer over the composed profile.
struct ProfileFlagsTests {
    let base = """
        name: app
        env: {KEEP: profile, OVER: profile}
        resources: {memory: 1g, cpus: 2}
        egress:
          domains: [github.com]
        """

    func applied(_ flags: ProfileFlags, user: [(name: String, path: String, yaml: String)] = []) throws -> (Profile, [(path: String, bytes: [UInt8])]) {
        let profile = try Fixture.parse(base, user: user)
        return try flags.apply(to: profile, loader: Fixture.loader(user: user))
    }

    @Test func flagsLayerOverTheProfile() throws {
        let flags = ProfileFlags(
            env: ["OVER=flag", "NEW=1"], allow: ["example.com", "*.pkg.test:8443", "github.com"], memory: "64m", cpus: "0.5", network: Profile.Network.none)
        let (profile, files) = try applied(flags)
        #expect(profile.env == ["KEEP": "profile", "OVER": "flag", "NEW": "1"])
        #expect(profile.egress.domains.map(\.text) == ["github.com", "example.com", "*.pkg.test:8443"])
        #expect(profile.resources.memory == 64 << 20)
        #expect(profile.resources.cpus == 0.5)
        #expect(profile.network == Profile.Network.none)
        #expect(files.isEmpty)
    }

    @Test func noFlagsChangeNothing() throws {
        let (profile, _) = try applied(ProfileFlags())
        #expect(profile == (try Fixture.parse(base)))
    }

    @Test func presetsComposeAsAProfilesOwnDoAndUserPresetFilesAreReported() throws {
        let user = [(name: "mine", path: "/cfg/presets/mine.yaml", yaml: "presets: [pypi]\negress:\n  domains: [mine.test]\n")]
        let (profile, files) = try applied(ProfileFlags(presets: ["mine"]), user: user)
        #expect(profile.presets == ["pypi", "mine"])
        #expect(profile.egress.domains.map(\.text).contains("pypi.org"))
        #expect(profile.egress.domains.map(\.text).contains("mine.test"))
        #expect(files.map(\.path) == ["/cfg/presets/mine.yaml"])
    }

    @Test func anUnknownPresetNamesTheFlag() throws {
        let error = #expect(throws: CordonError.self) { _ = try applied(ProfileFlags(presets: ["pypii"])) }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("--preset pypii: unknown preset \"pypii\""), "\(text)")
        #expect(text.contains("pypi"), "the hint lists the presets: \(text)")
    }

    @Test(arguments: [
        (ProfileFlags(allow: ["exa mple.com"]), "--allow exa mple.com: not a valid pattern"),
        (ProfileFlags(allow: ["*"]), "--allow *: not a valid pattern"),
        (ProfileFlags(memory: "lots"), "--memory lots: not a valid size"),
        (ProfileFlags(memory: "-1g"), "--memory -1g: not a valid size"),
        (ProfileFlags(cpus: "0"), "--cpus 0: expected a positive number"),
        (ProfileFlags(cpus: "nan"), "--cpus nan: expected a positive number"),
        (ProfileFlags(cpus: "1e400"), "--cpus 1e400: expected a positive number"),
        (ProfileFlags(env: ["NO VALUE"]), "-e NO VALUE: not a variable name"),
    ])
    func aBadValueIsRefusedNamingTheFlagAndTheValue(flags: ProfileFlags, message: String) throws {
        let error = #expect(throws: CordonError.self) { _ = try applied(flags) }
        #expect(error.map { "\($0)".contains(message) } ?? false, "\(String(describing: error))")
    }

    /// The arguments and environment the detached supervisor gets: no `-e` value on its command line.
    @Test func supervisorArgumentsCarryNoEnvValue() {
        let flags = ProfileFlags(env: ["TOKEN=s3cret", "A=b=c"], presets: ["node"], network: .host)
        #expect(flags.arguments == ["--env", "TOKEN", "--env", "A", "--preset", "node", "--network", "host"])
        #expect(flags.environment == ["TOKEN": "s3cret", "A": "b=c"])
    }
}

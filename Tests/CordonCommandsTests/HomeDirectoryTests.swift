import CordonCore
import Testing

/// One rule for `$HOME` (`HomeDirectory`), used by cordon's paths, the profile loader's `~` and
/// the sandbox's host facts: a relative or empty HOME must not put cordon's state, config or a
/// profile's `~` beneath whatever directory the command runs in.
struct HomeDirectoryTests {
    static func passwd() -> String? { "/home/alice" }

    @Test(
        arguments: [
            (["HOME": "/home/bob"], "/home/bob"),
            (["HOME": ""], "/home/alice"),
            (["HOME": "work"], "/home/alice"),
            (["HOME": "../.."], "/home/alice"),
            ([:], "/home/alice"),
        ] as [([String: String], String)])
    func anAbsoluteHOMEIsUsedAnythingElseFallsBackToThePasswordDatabase(environment: [String: String], expected: String) {
        #expect(HomeDirectory.resolve(environment: environment, passwd: Self.passwd) == expected)
    }

    @Test func withoutAnAbsoluteHomeAnywhereItIsTheRoot() {
        #expect(HomeDirectory.resolve(environment: ["HOME": "rel"], passwd: { nil }) == "/")
        #expect(HomeDirectory.resolve(environment: [:], passwd: { "" }) == "/")
        #expect(HomeDirectory.resolve(environment: [:], passwd: { "relative" }) == "/")
    }

    @Test func aRelativeHOMENeverPlacesCordonsStateInTheCurrentDirectory() {
        let paths = CordonPaths.current(environment: ["HOME": "project"])
        #expect(paths.configHome.hasPrefix("/"), "\(paths.configHome)")
        #expect(paths.stateHome.hasPrefix("/"), "\(paths.stateHome)")
        let home = HomeDirectory.resolve(environment: [:])
        #expect(paths.configHome == home + "/.config/cordon")
        #expect(paths.stateHome == home + "/.local/state/cordon")
    }
}

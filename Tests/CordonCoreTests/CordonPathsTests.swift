import CordonCore
import CordonTestSupport
import Glibc
import Testing

/// Where cordon keeps its files, and how it tells whether a path touches them.
struct CordonPathsTests {
    @Test func xdgDirectoriesWinOverHome() {
        let paths = CordonPaths.current(environment: ["HOME": "/home/u", "XDG_CONFIG_HOME": "/cfg", "XDG_STATE_HOME": "/st"])
        #expect(paths == CordonPaths(configHome: "/cfg/cordon", stateHome: "/st/cordon"))
        #expect(paths.sandboxDirectory("box") == "/st/cordon/sandboxes/box")
        #expect(paths.presetsDirectory == "/cfg/cordon/presets")
        #expect(paths.profileDataDirectory("p") == "/st/cordon/profiles/p/data")
    }

    /// The XDG spec says relative values are invalid and must be ignored.
    @Test func relativeXDGDirectoriesAreIgnored() {
        let paths = CordonPaths.current(environment: ["HOME": "/home/u", "XDG_CONFIG_HOME": "cfg", "XDG_STATE_HOME": "./st"])
        #expect(paths == CordonPaths(configHome: "/home/u/.config/cordon", stateHome: "/home/u/.local/state/cordon"))
    }

    @Test(arguments: [
        ("/a/b", "/a/b", true), ("/a/b/c", "/a/b", true), ("/a/bc", "/a/b", false), ("/a", "/a/b", false), ("/anything", "/", true),
    ])
    func withinComparesWholeComponents(path: String, directory: String, within: Bool) {
        #expect(CordonPaths.isWithin(path, directory) == within)
    }

    @Test func canonicalResolvesSymlinksAndDotsPastWhatExists() throws {
        let tree = try TempTree(prefix: "cordon-paths")
        tree.mkdir("real/sub")
        tree.symlink("link", to: tree.path("real"))
        let real = CordonPaths.canonical(tree.root)
        #expect(CordonPaths.canonical(tree.path("link/sub")) == real + "/real/sub")
        #expect(CordonPaths.canonical(tree.path("link/sub/../sub/./new/../later")) == real + "/real/sub/later")
        #expect(CordonPaths.canonical(tree.path("link/not-yet/../../x")) == real + "/x")
        #expect(CordonPaths.canonical("/../../etc") == "/etc")
    }

    /// A workspace spelled through a symlink, or holding cordon's state, still overlaps it.
    @Test func ownDirectoriesAreFoundWhateverTheSpelling() throws {
        let tree = try TempTree(prefix: "cordon-paths")
        tree.mkdir("state/cordon")
        tree.mkdir("config/cordon")
        tree.mkdir("work")
        tree.symlink("alias", to: tree.path("state"))
        let paths = CordonPaths(configHome: tree.path("config/cordon"), stateHome: tree.path("state/cordon"))
        #expect(paths.ownDirectoryOverlapping(tree.path("alias/cordon/sandboxes"), mounts: MountTable.current())?.name == "state")
        #expect(paths.ownDirectoryOverlapping(tree.root, mounts: MountTable.current())?.name == "state")
        #expect(paths.ownDirectoryOverlapping(tree.path("config/cordon/../cordon/x"), mounts: MountTable.current())?.name == "config")
        #expect(paths.ownDirectoryOverlapping(tree.path("work"), mounts: MountTable.current()) == nil)
    }
}

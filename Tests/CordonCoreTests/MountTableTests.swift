import CordonCore
import Testing

/// The mount table as cordon reads it: what a mount point shows, found by device and root.
struct MountTableTests {
    let table = MountTable(
        parsing: """
            22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
            40 22 0:30 / /tmp rw - tmpfs tmpfs rw
            41 22 254:0 /root/.config /srv/proj/inner rw - ext4 /dev/vda rw
            42 22 254:0 /home/a\\040b /srv/space\\134dir rw - ext4 /dev/vda rw
            """)

    @Test func octalEscapesAreDecoded() {
        #expect(table.entries[3].root == "/home/a b")
        #expect(table.entries[3].mountPoint == "/srv/space\\dir")
    }

    @Test func aSubmountShowingTheDirectoryIsFound() {
        #expect(table.reaches(from: "/srv/proj", "/root/.config/cordon") == "/srv/proj/inner")
        #expect(table.reaches(from: "/srv/proj", "/root") == "/srv/proj/inner", "the submount lies inside /root")
        #expect(table.reaches(from: "/srv/proj", "/root/.local/state/cordon") == nil)
        #expect(table.reaches(from: "/tmp", "/root/.config/cordon") == nil, "another device")
    }

    @Test func aBindMountElsewhereIsSeenThroughItsRoot() {
        #expect(table.location(of: "/srv/proj/inner/cordon")?.path == "/root/.config/cordon")
        #expect(table.reaches(from: "/srv/proj/inner/cordon/x", "/root/.config/cordon") == "/srv/proj/inner/cordon/x")
    }
}

import Glibc

/// The filesystem attacks on devices and on another sandbox's upper layer.
enum FilesystemDeviceAttacks {
    static var all: [Attack] { [mknodDevice, hostDevice, otherUpper] }

    typealias Fixture = FilesystemFixture

    /// A loop device on the host over a small image that holds a marker: a device whose content
    /// the host knows, so reading it is an observation.
    struct LoopDevice {
        let path: String
        let major: UInt32
        let minor: UInt32
        let marker: String

        static func get(_ environment: SelftestEnvironment) throws(SelftestFailure) -> LoopDevice {
            try environment.fixture("loop") { (environment) throws(SelftestFailure) -> LoopDevice in
                let marker = environment.marker()
                let image = environment.hostDirectory + "/disk.img"
                try environment.write(image, marker + "\n" + String(repeating: "\0", count: 65536))
                let attached = try environment.host("losetup --find --show --read-only " + Shell.quote(image))
                let device = attached.stdout.trimming("\n")
                guard attached.status == 0, device.hasPrefix("/dev/loop") else {
                    throw SelftestFailure("cannot attach a loop device on the host (losetup): \(attached.summary)")
                }
                environment.atCleanup {
                    _ = try? ProcessRun.run(
                        ["/bin/sh", "-c", "losetup -d " + Shell.quote(device)], environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], timeout: 30)
                }
                var info = stat()
                guard stat(device, &info) == 0 else { throw SelftestFailure("cannot stat \(device): \(String(cString: strerror(errno)))") }
                let rdev = UInt64(info.st_rdev)
                let major = UInt32(truncatingIfNeeded: ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~UInt64(0xfff)))
                let minor = UInt32(truncatingIfNeeded: (rdev & 0xff) | ((rdev >> 12) & ~UInt64(0xff)))
                return LoopDevice(path: device, major: major, minor: minor, marker: marker)
            }
        }

        func observation(_ what: String, _ output: ProcessOutput) -> Observation {
            Observation.markerSeen(marker, in: output, what: what)
        }
    }

    static let mknodDevice = Attack(
        id: "fs.mknod-block-device", category: .filesystem,
        description: "create a node for a host block device (mknod(1), mknod(2)) and read the disk through it",
        defence: "no CAP_MKNOD over host devices; nodev on every writable mount; seccomp",
        control: "on the host as root, mknod of the same device and a read of it show the disk's content",
        controlNeedsRoot: "needs a loop device and a device node on the host",
        runControl: { (environment) throws(SelftestFailure) in
            let loop = try LoopDevice.get(environment)
            let node = Shell.quote(environment.hostDirectory + "/node")
            let output = try environment.host("rm -f \(node); mknod \(node) b \(loop.major) \(loop.minor) && head -c 65536 \(node); rm -f \(node)")
            return loop.observation("host mknod and read", output)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let loop = try LoopDevice.get(environment)
            let fixture = try Fixture.get(environment)
            var script = ""
            for dir in ["/tmp", "/workspace", "/dev/shm", "/run", "/var", "/home/agent"] {
                script += "mknod \(dir)/disk b \(loop.major) \(loop.minor) 2>&1 && head -c 65536 \(dir)/disk 2>&1\n"
            }
            script += "unshare -r sh -c 'mknod /tmp/disk2 b \(loop.major) \(loop.minor) && head -c 65536 /tmp/disk2' 2>&1\n"
            if environment.hasPython {
                _ = try PythonTool.install(in: fixture.workspace, environment)
                script += "python3 /workspace/.selftest/tool.py mknod /tmp/disk3 \(loop.major) \(loop.minor) 2>&1\n"
            }
            return loop.observation("sandbox mknod and read", try environment.exec(Fixture.sandbox, script + "echo done"))
        })

    static let hostDevice = Attack(
        id: "fs.host-block-device", category: .filesystem,
        description: "open the host's block devices (/dev/loopN, /dev/sda, /dev/vda, /dev/nvme0n1, /dev/mem) by path and read them",
        defence: "a minimal /dev (null, zero, full, random, urandom, tty, pts, shm)",
        control: "on the host, reading the loop device shows the disk's content",
        controlNeedsRoot: "needs a loop device on the host",
        runControl: { (environment) throws(SelftestFailure) in
            let loop = try LoopDevice.get(environment)
            return loop.observation("host read of \(loop.path)", try environment.host("head -c 65536 " + Shell.quote(loop.path)))
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let loop = try LoopDevice.get(environment)
            _ = try Fixture.get(environment)
            let output = try environment.exec(
                Fixture.sandbox,
                "for d in \(Shell.quote(loop.path)) /dev/loop* /dev/sda /dev/vda /dev/xvda /dev/nvme0n1 /dev/mem /dev/kmem /dev/port /dev/disk/by-id/*; do head -c 65536 \"$d\" 2>/dev/null; done; ls /dev; echo done"
            )
            return loop.observation("sandbox read of host devices", output)
        })

    static let otherSandbox = "selftest-fs-neighbour"

    static let otherUpper = Attack(
        id: "fs.other-sandbox-upper", category: .filesystem,
        description: "read a file another sandbox of the same workspace wrote (held in its upper layer)",
        defence: "one upper layer per sandbox, in cordon's state directory, which no sandbox sees",
        control: "on the host, the neighbour sandbox's upper layer holds the file",
        runControl: { (environment) throws(SelftestFailure) in
            let secret = try neighbourSecret(environment)
            let found = environment.read(environment.upper(otherSandbox) + "/.neighbour-secret") ?? ""
            return found.contains(secret) ? .succeeded("the neighbour's upper layer holds its secret") : .failed("the neighbour's upper layer lacks its secret")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let secret = try neighbourSecret(environment)
            let upper = Shell.quote(environment.upper(otherSandbox))
            let output = try environment.exec(
                Fixture.sandbox,
                """
                cat /workspace/.neighbour-secret \(upper)/.neighbour-secret 2>&1
                find / \\( -path /proc -o -path /sys \\) -prune -o -name .neighbour-secret -print 2>/dev/null | while read -r f; do cat "$f"; done
                echo done
                """, timeout: 180)
            return Observation.markerSeen(secret, in: output, what: "read from the other sandbox")
        })

    /// Starts the neighbour sandbox on the filesystem sandbox's workspace and has it write a
    /// secret; returns the secret.
    static func neighbourSecret(_ environment: SelftestEnvironment) throws(SelftestFailure) -> String {
        let fixture = try Fixture.get(environment)
        return try environment.fixture("neighbour") { (environment) throws(SelftestFailure) -> String in
            let secret = environment.marker()
            let profile = try environment.profile(otherSandbox, "name: \(otherSandbox)\nnetwork: none\n")
            try environment.up(otherSandbox, profile: profile, workspace: fixture.workspace)
            let wrote = try environment.exec(otherSandbox, "printf '%s\\n' \(secret) > /workspace/.neighbour-secret")
            guard wrote.status == 0 else { throw SelftestFailure("the neighbour sandbox could not write its secret: \(wrote.summary)") }
            return secret
        }
    }
}

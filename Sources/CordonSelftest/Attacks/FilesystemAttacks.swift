import Glibc

/// The filesystem attacks: host files outside the workspace, /proc walks, file handles, symlink
/// and mount tricks, writes through descriptors and the workspace, and cordon's state directory.
/// Devices and other sandboxes' layers are in FilesystemDeviceAttacks.swift.
enum FilesystemAttacks {
    static var all: [Attack] {
        [
            homeSecret, homeMask, procOneRoot, procWalk, openByHandle, symlinkWrite, remount, procFdWrite, secureWorkspace, hostTmpWrite, stateDirectory,
            configDirectory,
        ]
    }

    typealias Fixture = FilesystemFixture

    static let homeSecret = Attack(
        id: "fs.home-secret", category: .filesystem,
        description: "read a secret in the user's home (outside the workspace) by its host path",
        defence: "mount namespace: only the workspace and listed mounts are visible",
        control: "the same read on the host returns the secret",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try Fixture.get(environment)
            return fixture.homeSecret.readObservation("host read", try environment.host("cat " + Shell.quote(fixture.homeSecret.path)))
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let fixture = try Fixture.get(environment)
            let path = Shell.quote(fixture.homeSecret.path)
            let home = Shell.quote(environment.home)
            let output = try environment.exec(
                Fixture.sandbox, "cat \(path); ls -laR \(home) 2>&1 | head -50; find \(home) -type f -exec cat {} + 2>&1 | head -50")
            return fixture.homeSecret.readObservation("sandbox read", output)
        })

    /// The canary under `.ssh` in a directory that holds the user's home and is mounted in.
    struct MaskFixture {
        let secret: CanaryFile
        let visible: CanaryFile
        static let sandbox = "selftest-mask"
        static let mount = "/selftest-home"

        static func get(_ environment: SelftestEnvironment) throws(SelftestFailure) -> MaskFixture {
            let fixture = try environment.fixture("mask") { (environment) throws(SelftestFailure) in
                MaskFixture(
                    secret: try CanaryFile(environment, at: environment.home + "/.ssh/id_selftest"),
                    visible: try CanaryFile(environment, at: environment.home + "/project/readme.txt"))
            }
            _ = try environment.shared(sandbox) { (environment) throws(SelftestFailure) in
                let profile = try environment.profile(
                    sandbox,
                    """
                    name: \(sandbox)
                    network: none
                    mounts:
                      - {host: "\(environment.home)", sandbox: \(mount), mode: ro}
                    """)
                try environment.up(sandbox, profile: profile, workspace: try environment.workspace("mask"))
            }
            return fixture
        }
    }

    static let homeMask = Attack(
        id: "fs.sensitive-path-mask", category: .filesystem,
        description: "read ~/.ssh through a mount of a directory that holds the user's home",
        defence: "sensitive paths (~/.ssh, ~/.aws, …) masked inside every mounted directory",
        control: "a file beside ~/.ssh in the same mount is read out",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try MaskFixture.get(environment)
            let output = try environment.exec(MaskFixture.sandbox, "cat \(MaskFixture.mount)/project/readme.txt")
            return fixture.visible.readObservation("read through the mount", output)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let fixture = try MaskFixture.get(environment)
            let output = try environment.exec(
                MaskFixture.sandbox, "cat \(MaskFixture.mount)/.ssh/id_selftest; ls -la \(MaskFixture.mount)/.ssh; cat \(MaskFixture.mount)/.ssh/* 2>&1")
            return fixture.secret.readObservation("read of .ssh through the mount", output)
        })

    static let procOneRoot = Attack(
        id: "fs.proc-1-root", category: .filesystem,
        description: "walk /proc/1/root to a host file outside the workspace",
        defence: "pid namespace (pid 1 is the sandbox's init) and mount namespace",
        control: "on the host, in a pid namespace whose pid 1 shares the host's root, /proc/1/root leads to the secret",
        runControl: { (environment) throws(SelftestFailure) in
            // The host's own pid 1 may be out of reach even for root (another user namespace, a
            // VM's agent): the control's pid 1 is a host shell in a new pid namespace.
            let fixture = try Fixture.get(environment)
            let output = try environment.host(
                SelftestEnvironment.unshare("-pf --mount-proc") + " sh -c 'cat /proc/1/root\"$1\"' sh \(Shell.quote(fixture.hostSecret.path))")
            return fixture.hostSecret.readObservation("host read through /proc/1/root", output)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let fixture = try Fixture.get(environment)
            let output = try environment.exec(Fixture.sandbox, "cat /proc/1/root\(Shell.quote(fixture.hostSecret.path)); ls /proc/1/root/ 2>&1")
            return fixture.hostSecret.readObservation("sandbox read through /proc/1/root", output)
        })

    /// Every process's root and cwd, with the secret's absolute path and paths relative to a cwd
    /// in the temporary root.
    static func walkScript(_ fixture: Fixture, root: String) -> String {
        let absolute = Shell.quote(fixture.hostSecret.path)
        return """
            for p in /proc/[0-9]* /proc/self /proc/thread-self; do
              cat "$p/root"\(absolute) "$p/cwd/host/secret.txt" "$p/cwd/../host/secret.txt" "$p/cwd/../../host/secret.txt" 2>/dev/null
              for t in "$p"/task/*; do cat "$t/root"\(absolute) "$t/cwd/../host/secret.txt" 2>/dev/null; done
            done
            echo walked
            """
    }

    static let procWalk = Attack(
        id: "fs.proc-cwd-root-walk", category: .filesystem,
        description: "walk every /proc/*/cwd and /proc/*/root (and their tasks) to a host file",
        defence: "pid namespace: no host process is visible; mount namespace",
        control: "on the host, the same walk reaches the secret",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try Fixture.get(environment)
            return fixture.hostSecret.readObservation("host walk", try environment.host(walkScript(fixture, root: environment.root)))
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let fixture = try Fixture.get(environment)
            return fixture.hostSecret.readObservation(
                "sandbox walk", try environment.exec(Fixture.sandbox, walkScript(fixture, root: environment.root)))
        })

    static let openByHandle = Attack(
        id: "fs.open-by-handle-at", category: .filesystem,
        description: "open a host file by its file handle (open_by_handle_at, the 'shocker' escape)",
        defence: "no CAP_DAC_READ_SEARCH in the host's user namespace; seccomp",
        control: "on the host as root, open_by_handle_at of the secret's handle reads it",
        controlNeedsRoot: "opens a file by its handle, which takes CAP_DAC_READ_SEARCH on the host",
        runControl: { (environment) throws(SelftestFailure) in
            try PythonTool.require(environment)
            let fixture = try Fixture.get(environment)
            let tool = try PythonTool.install(in: fixture.workspace, environment)
            let output = try environment.host("python3 \(Shell.quote(tool)) host-handle \(Shell.quote(fixture.hostSecret.path))")
            return fixture.hostSecret.readObservation("host open_by_handle_at", output)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            try PythonTool.require(environment)
            let fixture = try Fixture.get(environment)
            let tool = try PythonTool.install(in: fixture.workspace, environment)
            // The handle is computed on the host (it carries no secret) and handed in.
            let made = try environment.host("python3 \(Shell.quote(tool)) handle \(Shell.quote(fixture.hostSecret.path))")
            let parts = made.stdout.split(separator: " ").map { $0.trimming("\n") }
            guard made.status == 0, parts.count == 2, Int(parts[0]) != nil else {
                throw SelftestFailure("cannot compute the secret's file handle on the host: \(made.summary) \(made.stdout.prefix(200))")
            }
            let output = try environment.exec(
                Fixture.sandbox, "python3 /workspace/.selftest/tool.py open-handle \(parts[0]) \(parts[1]) / /usr /etc /workspace /tmp /dev /proc/self/root")
            let seen = fixture.hostSecret.readObservation("sandbox open_by_handle_at", output)
            // The host's python3 may live outside what the sandbox sees: a tool that never ran
            // inside proves nothing (invalid, not held).
            guard seen.succeeded || output.combined.contains("open_by_handle_at via") else {
                throw SelftestFailure("python3 did not run the attack inside the sandbox (\(output.summary))")
            }
            return seen
        })

    static let symlinkWrite = Attack(
        id: "fs.symlink-write-out", category: .filesystem,
        description: "write through a workspace symlink (and a new one) that points at a host file",
        defence: "mount namespace: a symlink resolves inside the sandbox; the workspace is an overlay",
        control: "on the host, writing through the workspace's symlink changes the file",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try Fixture.get(environment)
            defer { try? fixture.linkTarget.reset(environment) }
            let output = try environment.host("echo pwned > \(Shell.quote(fixture.workspace + "/escape-link"))")
            return fixture.linkTarget.writeObservation("host write through the symlink", output)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let fixture = try Fixture.get(environment)
            try fixture.linkTarget.reset(environment)
            let target = Shell.quote(fixture.linkTarget.path)
            let output = try environment.exec(
                Fixture.sandbox,
                "echo pwned > /workspace/escape-link; echo pwned >> /workspace/escape-link; ln -sfn \(target) /workspace/new-link; echo pwned > /workspace/new-link; cp /etc/hostname /workspace/escape-link; echo done"
            )
            return fixture.linkTarget.writeObservation("sandbox write through symlinks", output)
        })

    static let remount = Attack(
        id: "fs.mount-remount", category: .filesystem,
        description: "remount a read-only host mount writable (mount(8), mount(2), in a nested user namespace) and write the host file",
        defence: "locked read-only mount flags in the sandbox's user namespace; no CAP_SYS_ADMIN over the host's mounts",
        control: "on the host as root, the same remount in a mount namespace makes the file writable",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try Fixture.get(environment)
            defer { try? fixture.remountTarget.reset(environment) }
            let dir = Shell.quote(fixture.readOnlyDirectory)
            let output = try environment.host(
                SelftestEnvironment.unshare("-m")
                    + " sh -c 'mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\" && mount -o remount,bind,rw \"$1\" && echo pwned > \"$1\"/remount.txt' sh \(dir)"
            )
            return fixture.remountTarget.writeObservation("host remount and write", output)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let fixture = try Fixture.get(environment)
            try fixture.remountTarget.reset(environment)
            let mount = Fixture.readOnlyMount
            var script = """
                mount -o remount,rw,bind \(mount) 2>&1; echo pwned > \(mount)/remount.txt
                mount -o remount,rw \(mount) 2>&1; echo pwned > \(mount)/remount.txt
                unshare -rm sh -c 'mount -o remount,rw,bind \(mount); echo pwned > \(mount)/remount.txt' 2>&1
                unshare -rm sh -c 'mount --bind /tmp /mnt 2>&1; mount -o remount,rw,bind \(mount) && echo pwned > \(mount)/remount.txt' 2>&1

                """
            if environment.hasPython {
                _ = try PythonTool.install(in: fixture.workspace, environment)
                script += "python3 /workspace/.selftest/tool.py remount \(mount) /tmp \(mount)/remount.txt 2>&1\n"
                script += "unshare -rm python3 /workspace/.selftest/tool.py remount \(mount) /tmp \(mount)/remount.txt 2>&1\n"
            }
            return fixture.remountTarget.writeObservation("sandbox remount and write", try environment.exec(Fixture.sandbox, script + "echo done"))
        })

    static let procFdWrite = Attack(
        id: "fs.proc-self-fd-write", category: .filesystem,
        description: "reopen a read-only descriptor of a read-only mounted host file for writing through /proc/self/fd",
        defence: "read-only bind mount (checked on every open, /proc/self/fd included)",
        control: "on the host, the same reopen through /proc/self/fd writes the file",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try Fixture.get(environment)
            defer { try? fixture.descriptorTarget.reset(environment) }
            let output = try environment.host("exec 3< \(Shell.quote(fixture.descriptorTarget.path)); echo pwned > /proc/self/fd/3")
            return fixture.descriptorTarget.writeObservation("host write through /proc/self/fd", output)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let fixture = try Fixture.get(environment)
            try fixture.descriptorTarget.reset(environment)
            let file = Fixture.readOnlyMount + "/descriptor.txt"
            var script = "exec 3< \(file); echo pwned > /proc/self/fd/3; echo pwned >> /proc/$$/fd/3; cat /proc/self/fd/3 >/dev/null\n"
            if environment.hasPython {
                _ = try PythonTool.install(in: fixture.workspace, environment)
                script += "python3 /workspace/.selftest/tool.py reopen \(file) 2>&1\n"
            }
            return fixture.descriptorTarget.writeObservation(
                "sandbox write through /proc/self/fd", try environment.exec(Fixture.sandbox, script + "echo done"))
        })

    static let secureWorkspace = Attack(
        id: "fs.secure-workspace-write", category: .filesystem,
        description: "overwrite, truncate and delete a host workspace file in secure mode",
        defence: "OverlayFS workspace: writes land in the sandbox's upper layer, the host copy is untouched until a sync",
        control: "in a sandbox in unsafe mode (the workspace bound read-write: the overlay switched off) the same write changes the host file",
        runControl: { (environment) throws(SelftestFailure) in
            let workspace = try environment.workspace("unsafe")
            let file = try CanaryFile(environment, at: workspace + "/keep.txt")
            let profile = try environment.profile("selftest-unsafe", "name: selftest-unsafe\nnetwork: none\nmode: unsafe\n")
            let output = try environment.run("selftest-unsafe", profile: profile, workspace: workspace, "echo pwned > /workspace/keep.txt")
            environment.remove("selftest-unsafe")
            return file.writeObservation("write in an unsafe-mode sandbox", output)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let fixture = try Fixture.get(environment)
            let output = try environment.exec(
                Fixture.sandbox, "echo pwned > /workspace/keep.txt; truncate -s 0 /workspace/keep.txt; echo pwned > /workspace/keep.txt; sync")
            var seen = fixture.workspaceFile.writeObservation("sandbox write to the workspace", output)
            if !seen.succeeded {
                let upper = environment.read(environment.upper(Fixture.sandbox) + "/keep.txt")
                seen.evidence += upper == "pwned\n" ? "; the change is held in the sandbox's upper layer" : "; the upper layer does not hold the change"
            }
            return seen
        })

    static let stateDirectory = Attack(
        id: "fs.state-directory", category: .filesystem,
        description: "find cordon's state directory (other sandboxes' layers, logs) by name from inside and read a file in it",
        defence: "mount namespace: cordon's state and config directories are never mounted in",
        control: "on the host, the same search finds it and reads the file",
        runControl: { (environment) throws(SelftestFailure) in
            let canary = try ownCanary(environment, in: environment.cordonState, name: "selftest-state-canary")
            let output = try environment.host(searchScript(root: environment.root, directory: environment.cordonState, canary: "selftest-state-canary"))
            return canary.readObservation("host search", output)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let canary = try ownCanary(environment, in: environment.cordonState, name: "selftest-state-canary")
            _ = try Fixture.get(environment)
            let script = searchScript(root: "/", directory: environment.cordonState, canary: "selftest-state-canary")
            return canary.readObservation("sandbox search", try environment.exec(Fixture.sandbox, script, timeout: 180))
        })

    static let configDirectory = Attack(
        id: "fs.config-directory", category: .filesystem,
        description: "find cordon's config directory (profiles, approvals, trust) by name from inside and read a file in it",
        defence: "mount namespace: cordon's state and config directories are never mounted in",
        control: "on the host, the same search finds it and reads the file",
        runControl: { (environment) throws(SelftestFailure) in
            let directory = environment.configHome + "/cordon"
            let canary = try ownCanary(environment, in: directory, name: "selftest-config-canary")
            let output = try environment.host(searchScript(root: environment.root, directory: directory, canary: "selftest-config-canary"))
            return canary.readObservation("host search", output)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let directory = environment.configHome + "/cordon"
            let canary = try ownCanary(environment, in: directory, name: "selftest-config-canary")
            _ = try Fixture.get(environment)
            let script = searchScript(root: "/", directory: directory, canary: "selftest-config-canary")
            return canary.readObservation("sandbox search", try environment.exec(Fixture.sandbox, script, timeout: 180))
        })

    /// A canary named `name` in one of cordon's own directories.
    static func ownCanary(_ environment: SelftestEnvironment, in directory: String, name: String) throws(SelftestFailure) -> CanaryFile {
        try environment.fixture(name) { (environment) throws(SelftestFailure) in try CanaryFile(environment, at: directory + "/" + name) }
    }

    /// Searches under `root` for cordon's directory by name (`cordon`, `sandboxes`, `profiles`, the
    /// canary's) and by its host path, and reads what it finds.
    static func searchScript(root: String, directory: String, canary: String) -> String {
        """
        cat \(Shell.quote(directory + "/" + canary)) 2>/dev/null
        find \(Shell.quote(root)) \\( -path /proc -o -path /sys \\) -prune -o \\( -name \(canary) -o -name sandboxes -o -name profiles -o -name cordon \\) -print 2>/dev/null |
          while read -r f; do ls -la "$f" 2>/dev/null | head -20; cat "$f"/\(canary) "$f" 2>/dev/null; done
        echo searched
        """
    }

    /// Names of probe files the host-write attack tries to create in the host's shared places.
    static func probeTargets(_ environment: SelftestEnvironment) -> [String] {
        (try? environment.fixture("probe-targets") { (environment) throws(SelftestFailure) -> [String] in
            let name = "selftest-probe-" + environment.marker("p").dropFirst(2).prefix(16)
            let targets = ["/tmp/" + name, "/var/tmp/" + name, "/dev/shm/" + name, environment.hostDirectory + "/" + name]
            environment.atCleanup { for path in targets { _ = unlink(path) } }
            return targets
        }) ?? []
    }

    static func probeObservation(_ targets: [String], _ what: String, _ output: ProcessOutput) -> Observation {
        let reached = targets.filter { access($0, F_OK) == 0 }
        for path in reached { _ = unlink(path) }
        return reached.isEmpty
            ? .failed("\(what): none of \(targets.joined(separator: ", ")) appeared on the host (\(output.summary))")
            : .succeeded("\(what): \(reached.joined(separator: ", ")) appeared on the host")
    }

    static let hostTmpWrite = Attack(
        id: "fs.host-shared-write", category: .filesystem,
        description: "create files in the host's /tmp, /var/tmp, /dev/shm and a host directory outside the workspace",
        defence: "private tmpfs for /tmp, /var, /dev/shm; the host's tree is not mounted",
        control: "on the host, the same writes create the files",
        runControl: { (environment) throws(SelftestFailure) in
            let targets = probeTargets(environment)
            let script = targets.map { "echo pwned > \(Shell.quote($0))" }.joined(separator: "; ")
            return probeObservation(targets, "host writes", try environment.host(script))
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let targets = probeTargets(environment)
            _ = try Fixture.get(environment)
            let script =
                targets.map { "echo pwned > \(Shell.quote($0))" }.joined(separator: "; ")
                + "; mkdir -p \(Shell.quote(environment.hostDirectory)) && echo pwned > \(Shell.quote(targets.last ?? "/tmp/x")); echo done"
            return probeObservation(targets, "sandbox writes", try environment.exec(Fixture.sandbox, script))
        })
}

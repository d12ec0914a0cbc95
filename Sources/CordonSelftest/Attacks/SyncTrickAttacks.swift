import CordonOS
import Glibc

/// The sync gate's filesystem checks: links out of the workspace, setuid files, fifos, sockets
/// and devices, oversized files, names with `..` and newlines. Each is written in a sandbox and
/// synced with the strongest flag a user has (`--yes`: approve everything that waits for
/// approval); held means the host workspace did not receive it. Controls: the same check switched
/// off in the profile where the profile has a switch (size), the harmless form of the same entry
/// through the same gate (a symlink that stays inside), else the same entry made by the host
/// (the observation sees it).
enum SyncTrickAttacks {
    static var all: [Attack] { [symlinkOut, hardLink, setuid, specialFiles, device, oversized, dotDotNames, newlineNames] }

    /// An observation of the attack's round, with the gate's findings as evidence.
    static func observed(_ made: SyncRound, _ seen: Observation) -> Observation {
        Observation(succeeded: seen.succeeded, evidence: seen.evidence + " (" + made.said + ")")
    }

    /// The control of an entry the gate never applies: the host makes it (`script`, run in a
    /// fresh workspace) and `observe` must see it.
    static func hostMade(_ environment: SelftestEnvironment, _ label: String, _ script: String, _ observe: (String) -> Observation)
        throws(SelftestFailure) -> Observation
    {
        let workspace = try environment.workspace("sync-" + label + "-c")
        let made = try environment.host("cd " + Shell.quote(workspace) + " && " + script)
        guard made.status == 0 else { throw SelftestFailure("the host could not make the control's entry: \(made.summary)") }
        return observe(workspace)
    }

    // MARK: - Links

    /// Symlinks in the host workspace, with their targets.
    static func symlinks(_ workspace: String) -> [String] {
        SyncHost.names(workspace).compactMap { raw in
            let name = String(decoding: raw, as: UTF8.self)
            guard let st = SyncHost.status(workspace + "/" + name), st.st_mode & S_IFMT == S_IFLNK else { return nil }
            return name + " -> " + (FileIO.readLink(workspace + "/" + name) ?? "?")
        }
    }

    static let symlinkOut = Attack(
        id: "sync.symlink-out", category: .sync,
        description: "sync symlinks that point out of the workspace (absolute, relative ../.., and through a link chain)",
        defence: "sync gate: fs-symlink-escape (targets resolved over the resulting tree; applier re-checks)",
        control: "a symlink that stays inside the workspace syncs through the same gate and is seen on the host",
        runControl: { (environment) throws(SelftestFailure) in
            let made = try SyncRound.run(environment, label: "symlink-out-c", script: "echo x > target.txt && ln -s target.txt inside", flags: ["--yes"])
            let links = symlinks(made.workspace)
            return links.contains("inside -> target.txt")
                ? .succeeded("a symlink landed on the host: \(links.joined(separator: ", "))") : .failed("no symlink on the host (\(made.said))")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let made = try SyncRound.run(
                environment, label: "symlink-out-a",
                script:
                    "ln -s \(Shell.quote(environment.hostDirectory)) abs; ln -s ../../../../../../etc rel; ln -s hop chain; ln -s ../.. hop; ln -s /proc/self/root root",
                flags: ["--yes"])
            let links = symlinks(made.workspace)
            return observed(
                made, links.isEmpty ? .failed("no symlink reached the host workspace") : .succeeded("symlinks on the host: \(links.joined(separator: ", "))"))
        })

    /// Regular files in the host workspace with more than one link.
    static func hardLinked(_ workspace: String) -> [String] {
        SyncHost.names(workspace).compactMap { raw in
            let name = String(decoding: raw, as: UTF8.self)
            guard let st = SyncHost.status(workspace + "/" + name), st.st_mode & S_IFMT == S_IFREG, st.st_nlink > 1 else { return nil }
            return name
        }
    }

    static let hardLink = Attack(
        id: "sync.hard-link", category: .sync,
        description: "sync hard links (to a lower file, between two new names, to a file outside the workspace)",
        defence: "sync gate: fs-hard-link (a file with more than one link never syncs); the applier copies, never links",
        control: "the host makes the same hard link and the observation sees a file with two links",
        runControl: { (environment) throws(SelftestFailure) in
            try hostMade(environment, "hard-link", "echo x > a && ln a b") { workspace in
                let linked = hardLinked(workspace)
                return linked.isEmpty ? .failed("no hard-linked file seen") : .succeeded("hard-linked files seen: \(linked.joined(separator: ", "))")
            }
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let made = try SyncRound.run(
                environment, label: "hard-link-a",
                script: "echo x > a; ln a b; ln /etc/hostname out 2>/dev/null; ln lower.txt lower-link; echo y >> lower.txt",
                flags: ["--yes"],
                prepare: { (workspace) throws(SelftestFailure) in try environment.write(workspace + "/lower.txt", "from the host\n") })
            let linked = hardLinked(made.workspace)
            let names = ["b", "out", "lower-link"].filter { SyncHost.status(made.workspace + "/" + $0) != nil }
            return observed(
                made,
                linked.isEmpty && names.isEmpty
                    ? .failed("no hard link and no linked name reached the host")
                    : .succeeded("on the host: linked \(linked), names \(names)"))
        })

    // MARK: - Modes and types

    static func setidFiles(_ workspace: String) -> [String] {
        SyncHost.names(workspace).compactMap { raw in
            let name = String(decoding: raw, as: UTF8.self)
            guard let st = SyncHost.status(workspace + "/" + name), st.st_mode & 0o7000 != 0 else { return nil }
            return name
        }
    }

    static let setuid = Attack(
        id: "sync.setuid", category: .sync,
        description: "sync a setuid, a setgid and a sticky executable into the workspace",
        defence: "sync gate: fs-setuid (block); the applier never writes set-id bits",
        control: "the host makes the same setuid file and the observation sees its mode",
        runControl: { (environment) throws(SelftestFailure) in
            try hostMade(environment, "setuid", "printf '#!/bin/sh\\n' > suid && chmod 4755 suid") { workspace in
                let found = setidFiles(workspace)
                return found.isEmpty ? .failed("no set-id file seen") : .succeeded("set-id files seen: \(found.joined(separator: ", "))")
            }
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let made = try SyncRound.run(
                environment, label: "setuid-a",
                script: "printf '#!/bin/sh\\nid\\n' > suid; cp suid sgid; cp suid sticky; chmod 4755 suid; chmod 2755 sgid; chmod 1755 sticky",
                flags: ["--yes"])
            let found = setidFiles(made.workspace)
            return observed(made, found.isEmpty ? .failed("no set-id file on the host") : .succeeded("set-id files on the host: \(found)"))
        })

    /// Entries of the host workspace that are neither files, directories nor symlinks.
    static func specials(_ workspace: String) -> [String] {
        SyncHost.names(workspace).compactMap { raw in
            let name = String(decoding: raw, as: UTF8.self)
            guard let st = SyncHost.status(workspace + "/" + name) else { return nil }
            switch st.st_mode & S_IFMT {
            case S_IFREG, S_IFDIR, S_IFLNK: return nil
            default: return name
            }
        }
    }

    static func specialObservation(_ workspace: String) -> Observation {
        let found = specials(workspace)
        return found.isEmpty ? .failed("no fifo, socket or device in the host workspace") : .succeeded("special files on the host: \(found)")
    }

    static let specialFiles = Attack(
        id: "sync.fifo-socket", category: .sync,
        description: "sync a fifo and a unix socket (a host tool that opens them blocks or talks to the agent)",
        defence: "sync gate: fs-special-file (block)",
        control: "the host makes the same fifo and the observation sees it",
        runControl: { (environment) throws(SelftestFailure) in try hostMade(environment, "fifo", "mkfifo pipe", specialObservation) },
        runAttack: { (environment) throws(SelftestFailure) in
            let made = try SyncRound.run(
                environment, label: "fifo-a",
                script: "mkfifo pipe; python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"sock\")' 2>/dev/null; ls -la", flags: ["--yes"])
            return observed(made, specialObservation(made.workspace))
        })

    static let device = Attack(
        id: "sync.device-node", category: .sync,
        description: "make device nodes in the workspace (a char device, a block device, overlayfs' 0/0 whiteout) and sync them",
        defence: "no CAP_MKNOD in the sandbox's user namespace; sync gate: fs-special-file and whiteouts read as deletions only",
        control: "the host makes the same device node and the observation sees it",
        controlNeedsRoot: "makes a device node on the host (mknod)",
        runControl: { (environment) throws(SelftestFailure) in try hostMade(environment, "device", "mknod null c 1 3", specialObservation) },
        runAttack: { (environment) throws(SelftestFailure) in
            let made = try SyncRound.run(
                environment, label: "device-a",
                script: "mknod null c 1 3; mknod loop b 7 0; mknod white c 0 0; mkdir d && mknod d/x c 1 5; ls -la", flags: ["--yes"])
            return observed(made, specialObservation(made.workspace))
        })

    // MARK: - Size

    static let oversized = Attack(
        id: "sync.oversized-file", category: .sync,
        description: "sync a file over the size limit (11 MiB; the default sync.max_file_size is 10m) to fill the host's disk",
        defence: "sync gate: size-limit (block)",
        control: "the same file through a gate whose profile raises sync.max_file_size to 64m lands",
        runControl: { (environment) throws(SelftestFailure) in try oversizedRound(environment, "-c", sync: "  max_file_size: 64m") },
        runAttack: { (environment) throws(SelftestFailure) in try oversizedRound(environment, "-a", sync: "") })

    static func oversizedRound(_ environment: SelftestEnvironment, _ suffix: String, sync: String) throws(SelftestFailure) -> Observation {
        let made = try SyncRound.run(
            environment, label: "oversized" + suffix, script: "head -c 11534336 /dev/zero > big.bin", flags: ["--yes"], sync: sync)
        guard let st = SyncHost.status(made.workspace + "/big.bin"), st.st_size >= 11_534_336 else {
            return observed(made, .failed("big.bin did not reach the host workspace"))
        }
        return observed(made, .succeeded("big.bin (\(st.st_size) bytes) reached the host workspace"))
    }

    // MARK: - Names

    static let dotDotNames = Attack(
        id: "sync.dotdot-names", category: .sync,
        description: "reach the workspace's parent through names: a directory link up -> .., a link ../x, a directory named '..' newline '.'",
        defence: "sync gate: fs-symlink-escape and fs-control-char; the applier resolves beneath the workspace (openat2 RESOLVE_BENEATH)",
        control: "the host writes the same file through the workspace's parent and the observation sees it",
        runControl: { (environment) throws(SelftestFailure) in
            try hostMade(environment, "dotdot", "mkdir -p inner && echo written > inner/../../dotdot-c-outside.txt") { workspace in
                outsideObservation(workspace + "/../dotdot-c-outside.txt")
            }
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let made = try SyncRound.run(
                environment, label: "dotdot-a",
                script:
                    "ln -s .. up; ln -s ../dotdot-a-outside.txt sibling; d=\"$(printf '..\\n.')\"; mkdir -p \"$d\" && echo x > \"$d/f\"; echo y > '..\\x'",
                flags: ["--yes"])
            let outside = made.workspace + "/../dotdot-a-outside.txt"
            let linked = symlinks(made.workspace)
            if !linked.isEmpty { return observed(made, .succeeded("links out on the host: \(linked)")) }
            let odd = SyncHost.names(made.workspace).filter { $0.starts(with: [0x2E, 0x2E]) && $0.contains(0x0A) }
            if !odd.isEmpty { return observed(made, .succeeded("a '..'+newline name reached the host")) }
            return observed(made, outsideObservation(outside))
        })

    static func outsideObservation(_ path: String) -> Observation {
        SyncHost.status(path) != nil ? .succeeded("\(path) outside the workspace was written") : .failed("nothing outside the workspace changed")
    }

    static let newlineNames = Attack(
        id: "sync.newline-names", category: .sync,
        description: "sync names holding a newline, a tab, a carriage return and a C1 control (they forge lines in review output and scripts)",
        defence: "sync gate: fs-control-char (block)",
        control: "the host makes the same name and the observation sees it",
        runControl: { (environment) throws(SelftestFailure) in
            try hostMade(environment, "newline", "echo x > \"$(printf 'a\\nb')\"", controlNameObservation)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let made = try SyncRound.run(
                environment, label: "newline-a",
                script:
                    "echo x > \"$(printf 'a\\nA  README.md')\"; echo x > \"$(printf 'b\\tc')\"; echo x > \"$(printf 'c\\rd')\"; echo x > \"$(printf 'd\\302\\233e')\"",
                flags: ["--yes"])
            return observed(made, controlNameObservation(made.workspace))
        })

    static func controlNameObservation(_ workspace: String) -> Observation {
        let odd = SyncHost.names(workspace).filter { name in
            name.contains { $0 < 0x20 || $0 == 0x7F } || (0..<max(0, name.count - 1)).contains { name[$0] == 0xC2 && (0x80...0x9F).contains(name[$0 + 1]) }
        }
        return odd.isEmpty
            ? .failed("no name with a control character in the host workspace")
            : .succeeded("names with control characters on the host: \(odd.count)")
    }
}

/// A small Python program the attacks run (inside, and on the host for controls) for the system
/// calls the shell has no command for: file handles, mknod, mount, reopening a descriptor. It
/// prints what it read; it never holds a marker itself.
enum PythonTool {
    /// Writes the tool to `<directory>/.selftest/tool.py`; returns its path.
    static func install(in directory: String, _ environment: SelftestEnvironment) throws(SelftestFailure) -> String {
        let path = directory + "/.selftest/tool.py"
        try environment.write(path, source)
        return path
    }

    /// Fails (invalid, with the reason) when the host has no python3.
    static func require(_ environment: SelftestEnvironment) throws(SelftestFailure) {
        guard environment.hasPython else { throw SelftestFailure("python3 is not on this host's PATH (the attack needs it for system calls)") }
    }

    static let source = #"""
        import ctypes, os, stat, sys
        libc = ctypes.CDLL(None, use_errno=True)

        class FileHandle(ctypes.Structure):
            _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int), ("f_handle", ctypes.c_ubyte * 128)]

        def err(what):
            e = ctypes.get_errno()
            print(what, "failed:", os.strerror(e))

        def handle(path):
            fh = FileHandle()
            fh.handle_bytes = 128
            mount_id = ctypes.c_int()
            if libc.name_to_handle_at(-100, path.encode(), ctypes.byref(fh), ctypes.byref(mount_id), 0) != 0:
                err("name_to_handle_at")
                sys.exit(2)
            return fh.handle_type, bytes(fh.f_handle[: fh.handle_bytes]).hex()

        def open_handle(kind, hexa, mounts):
            raw = bytes.fromhex(hexa)
            fh = FileHandle()
            fh.handle_bytes = len(raw)
            fh.handle_type = kind
            ctypes.memmove(fh.f_handle, raw, len(raw))
            for m in mounts:
                try:
                    mfd = os.open(m, os.O_RDONLY | os.O_DIRECTORY)
                except OSError as e:
                    print(m, e)
                    continue
                fd = libc.open_by_handle_at(mfd, ctypes.byref(fh), os.O_RDONLY)
                if fd < 0:
                    err("open_by_handle_at via " + m)
                else:
                    sys.stdout.write(os.read(fd, 4096).decode(errors="replace"))
                    os.close(fd)

        cmd = sys.argv[1]
        if cmd == "handle":
            kind, hexa = handle(sys.argv[2])
            print(kind, hexa)
        elif cmd == "open-handle":
            open_handle(int(sys.argv[2]), sys.argv[3], sys.argv[4:])
        elif cmd == "host-handle":
            kind, hexa = handle(sys.argv[2])
            open_handle(kind, hexa, ["/"])
        elif cmd == "mknod":
            try:
                os.mknod(sys.argv[2], stat.S_IFBLK | 0o600, os.makedev(int(sys.argv[3]), int(sys.argv[4])))
                with open(sys.argv[2], "rb") as f:
                    sys.stdout.write(f.read(65536).decode(errors="replace"))
            except OSError as e:
                print("mknod:", e)
        elif cmd == "remount":
            MS_REMOUNT, MS_BIND = 32, 4096
            if libc.mount(None, sys.argv[2].encode(), None, MS_REMOUNT | MS_BIND, None) != 0:
                err("mount(MS_REMOUNT|MS_BIND)")
            if libc.mount(sys.argv[3].encode(), sys.argv[2].encode(), None, MS_BIND, None) != 0:
                err("mount(MS_BIND)")
            try:
                with open(sys.argv[4], "w") as f:
                    f.write("written through a mount\n")
            except OSError as e:
                print("write:", e)
        elif cmd == "reopen":
            fd = os.open(sys.argv[2], os.O_RDONLY)
            try:
                w = os.open("/proc/self/fd/%d" % fd, os.O_WRONLY | os.O_TRUNC)
                os.write(w, b"written through /proc/self/fd\n")
            except OSError as e:
                print("reopen:", e)
        """#
}

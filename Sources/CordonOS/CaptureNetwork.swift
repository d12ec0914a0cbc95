import CCordon

#if canImport(Glibc)
    public import Glibc
#endif

/// The egress capture's kernel side, in the calling thread's network namespace: the nftables
/// ruleset and the veth link (one netlink batch each, no exec), loopback listeners, unix sockets.
/// Each failure is a `SystemError` whose operation names the step that failed.
public enum CaptureNetwork {
    /// Loads the capture's rules as one atomic nf_tables batch (see `ccordon_capture_rules`).
    public static func loadRules(relayPort: UInt16, proxyPort: UInt16, dnsPort: UInt16, sinkPort: UInt16) throws(SystemError) {
        var step: UnsafePointer<CChar>?
        let rc = ccordon_capture_rules(relayPort, proxyPort, dnsPort, sinkPort, &step)
        if rc != 0 { throw SystemError(step.map { String(cString: $0) } ?? "load them", nil, returned: rc) }
    }

    /// The veth pair, its addresses and the default route; on failure nothing of it is left.
    public static func makeLink(name: String, peer: String, address: String, gateway: String, prefix: Int32) throws(SystemError) {
        var step: UnsafePointer<CChar>?
        let rc = ccordon_capture_link(name, peer, address, gateway, prefix, &step)
        if rc != 0 { throw SystemError(step.map { String(cString: $0) } ?? "create the link", nil, returned: rc) }
    }

    /// Deletes the link `name` (its peer and routes go with it).
    public static func removeLink(_ name: String) {
        _ = ccordon_capture_link_remove(name)
    }

    /// A socket of `type` bound to 127.0.0.1:`port` (listening, for a stream socket).
    public static func listenLoopback(_ type: __socket_type, port: UInt16, backlog: Int32 = 4096) throws(SystemError) -> FileDescriptor {
        let fd = ccordon_listen_loopback(Int32(type.rawValue), port, backlog)
        guard fd >= 0 else { throw SystemError("listen on", "127.0.0.1:\(port)", returned: fd) }
        return FileDescriptor(adopting: fd)
    }

    /// Brings up `lo` in the current network namespace.
    public static func loopbackUp() throws(SystemError) {
        try check("bring up lo", nil, ccordon_loopback_up())
    }
}

/// Unix stream sockets by path (the sandbox's control socket).
public enum UnixSocket {
    /// A connected stream socket to `path`.
    public static func connect(_ path: String) throws(SystemError) -> FileDescriptor {
        let fd = ccordon_unix_connect(path)
        guard fd >= 0 else { throw SystemError("connect to", path, returned: fd) }
        return FileDescriptor(adopting: fd)
    }

    /// A stream socket bound to `path` (a stale socket there is replaced), mode 0600, listening.
    public static func listen(_ path: String, backlog: Int32) throws(SystemError) -> FileDescriptor {
        let fd = path.withCString { ccordon_unix_listen($0, backlog) }
        guard fd >= 0 else { throw SystemError("listen on", path, returned: fd) }
        return FileDescriptor(adopting: fd)
    }
}

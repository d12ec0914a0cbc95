public import CordonCore

#if canImport(Glibc)
    import Glibc
#endif

/// The listeners cordon-init makes inside the sandbox's network namespace for the capture, in the
/// order it sends them.
public struct CaptureListeners: Sendable, Equatable {
    /// TCP: every outbound TCP flow the capture redirects (the transparent relay).
    public var relay: Int32
    /// TCP: the HTTP proxy named by `HTTP_PROXY` and `HTTPS_PROXY` inside.
    public var proxy: Int32
    /// UDP: every query to port 53 (the DNS stub).
    public var dns: Int32
    /// UDP: every other datagram, counted and dropped.
    public var sink: Int32

    public init(relay: Int32, proxy: Int32, dns: Int32, sink: Int32) {
        self.relay = relay
        self.proxy = proxy
        self.dns = dns
        self.sink = sink
    }

    public init?(_ descriptors: [Int32]) {
        guard descriptors.count == 4 else { return nil }
        self.init(relay: descriptors[0], proxy: descriptors[1], dns: descriptors[2], sink: descriptors[3])
    }

    public var all: [Int32] { [relay, proxy, dns, sink] }
}

/// The unix socket over which cordon-init hands the supervisor the listeners it made inside the
/// sandbox's network namespace, or the reason it could not: both ends of the hand-off.
public struct CaptureChannel: Sendable {
    /// The supervisor's end.
    public let parent: Int32
    /// cordon-init's end (one of its numbered descriptors); -1 once the supervisor closed its copy.
    public private(set) var child: Int32

    public init(parent: Int32, child: Int32) {
        self.parent = parent
        self.child = child
    }

    /// A SOCK_SEQPACKET pair: one report is one message, never split or merged.
    public static func make() throws(CordonError) -> CaptureChannel {
        do throws(SystemError) {
            let pair = try FileDescriptor.socketPair(SOCK_SEQPACKET)
            let parent = pair.first
            let child = pair.second
            return CaptureChannel(parent: parent.take(), child: child.take())
        } catch {
            throw error.cordonError(.systemCall, "cannot make the channel for the sandbox's network listeners")
        }
    }

    public mutating func closeChild() {
        if child >= 0 { close(child) }
        child = -1
    }

    /// What init reported.
    public enum Received: Sendable, Equatable {
        case listeners([Int32])
        case unavailable(String)
        /// init ended before reporting (its setup error says why).
        case closed
    }

    /// init's side: the listeners (closed here once sent, whatever the outcome), or why there are none.
    public static func report(_ listeners: CaptureListeners, over socket: Int32) throws(CordonError) {
        let fds = listeners.all
        defer { fds.forEach { close($0) } }
        try DescriptorPassing.send(fds, message: Array("ok".utf8), over: socket)
    }

    public static func report(unavailable reason: String, over socket: Int32) throws(CordonError) {
        try DescriptorPassing.send([], message: Array(reason.utf8.prefix(4000)), over: socket)
    }

    /// The supervisor's side: blocks until init reports; closes the parent end. Anything but
    /// exactly four listeners with "ok" is refused (and what came is closed).
    public func receive() -> Received {
        defer { close(parent) }
        guard let got = try? DescriptorPassing.receive(over: parent, maxDescriptors: 8, capacity: 4096) else { return .closed }
        let (message, received) = (got.message, got.descriptors)
        guard !message.isEmpty else {
            received.forEach { close($0) }
            return .closed
        }
        let text = String(decoding: message, as: UTF8.self)
        if text == "ok", received.count == 4 { return .listeners(received) }
        received.forEach { close($0) }
        return .unavailable(text == "ok" ? "init handed over \(received.count) listeners instead of 4" : text)
    }
}

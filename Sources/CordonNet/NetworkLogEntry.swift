public import CordonCore

/// One line of the network log: a decision about one connection or DNS query, with its traffic.
public struct NetworkLogEntry: Sendable, Equatable {
    public var time: String
    public var client: String
    /// `CONNECT`, `GET`, …, `socks5`, `tls`, `http`, `tcp`, `dns`.
    public var method: String
    public var host: String
    public var port: Int
    public var resolvedAddress: String?
    /// `allow`, `deny`, or `error` (allowed but the dial or the flow failed).
    public var decision: String
    public var rule: String
    public var reason: String
    public var bytesUp: Int
    public var bytesDown: Int
    public var durationMilliseconds: Int

    public init(
        time: String = WallClock.rfc3339(), client: String, method: String, host: String, port: Int,
        resolvedAddress: String? = nil, decision: String, rule: String, reason: String, bytesUp: Int = 0, bytesDown: Int = 0,
        durationMilliseconds: Int = 0
    ) {
        self.time = time
        self.client = client
        self.method = method
        self.host = host
        self.port = port
        self.resolvedAddress = resolvedAddress
        self.decision = decision
        self.rule = rule
        self.reason = reason
        self.bytesUp = bytesUp
        self.bytesDown = bytesDown
        self.durationMilliseconds = durationMilliseconds
    }
}

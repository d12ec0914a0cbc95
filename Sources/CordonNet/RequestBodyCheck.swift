import CordonCore
import CordonScan
import NIOCore

/// Watches a request body on its way upstream for placeholders that must not leave this way
/// (any, in plain HTTP; those of secrets bound elsewhere, in a request the proxy terminated for a
/// bound host). A tail of the body is held back until the next piece (or the end) arrives, so a
/// placeholder split across reads is seen whole before any byte of it is sent: on a finding the
/// request is cut off upstream and refused, and the placeholder never left.
final class RequestBodyCheck {
    enum Step {
        /// Bytes that may go upstream now (possibly none), and leak-check findings to log as alerts.
        case release(ByteBuffer, alerts: [Finding])
        /// A forbidden placeholder; `secret` names it for the refusal ("secret NAME", "a secret").
        case refuse(secret: String)
        /// `egress.dlp: block` and the body carries a secret.
        case leak(Finding)
    }

    private let forbidden: [(placeholder: [UInt8], secret: String)]
    private var held = ByteBuffer()
    /// A placeholder less one byte: no placeholder can hide in what is released.
    private let holdBack = PlaceholderFormat.prefix.utf8.count + PlaceholderFormat.randomLength - 1
    /// The gate's rules over the body (`egress.dlp`), and whether a finding blocks.
    private let leakCheck: StreamingLeakCheck?
    private let blocks: Bool
    /// Bytes of the body released so far (the leak check counts from the body's start).
    private var released = 0

    /// nil when there is nothing to check (no hold-back).
    init?(forbidden: [(placeholder: String, secret: String)], leakCheck: StreamingLeakCheck? = nil, blocks: Bool = false) {
        guard !forbidden.isEmpty || leakCheck != nil else { return nil }
        self.forbidden = forbidden.map { (Array($0.placeholder.lowercased().utf8), $0.secret) }
        self.leakCheck = leakCheck
        self.blocks = blocks
    }

    func feed(_ buffer: ByteBuffer) -> Step {
        var alerts: [Finding] = []
        var limit = Int.max
        if let leakCheck {
            let (findings, releasable) = buffer.withUnsafeReadableBytes { leakCheck.feed($0) }
            if blocks, let first = findings.first { return .leak(first) }
            alerts = findings
            limit = releasable - released
        }
        var buffer = buffer
        held.writeBuffer(&buffer)
        if !forbidden.isEmpty, let secret = finding() { return .refuse(secret: secret) }
        let releasable = min(forbidden.isEmpty ? held.readableBytes : held.readableBytes - holdBack, limit)
        guard releasable > 0, let out = held.readSlice(length: releasable) else { return .release(ByteBuffer(), alerts: alerts) }
        held.discardReadBytes()
        released += releasable
        return .release(out, alerts: alerts)
    }

    /// The body's end: what was held goes too (unless the leak check's last look blocks it).
    func finish() -> Step {
        if let leakCheck {
            let findings = leakCheck.finish()
            if blocks, let first = findings.first { return .leak(first) }
            defer { held.clear() }
            return .release(held, alerts: findings)
        }
        defer { held.clear() }
        return .release(held, alerts: [])
    }

    /// The secret whose forbidden placeholder is in the held bytes (any letter case).
    private func finding() -> String? {
        let view = held.readableBytesView
        let prefix = Array(PlaceholderFormat.prefix.utf8)
        guard view.count >= prefix.count else { return nil }
        var index = view.startIndex
        let last = view.endIndex - prefix.count
        while index <= last {
            if Self.lower(view[index]) == prefix[0], zip(view[index..<(index + prefix.count)], prefix).allSatisfy({ Self.lower($0) == $1 }) {
                for entry in forbidden where index + entry.placeholder.count <= view.endIndex {
                    if zip(view[index..<(index + entry.placeholder.count)], entry.placeholder).allSatisfy({ Self.lower($0) == $1 }) {
                        return entry.secret
                    }
                }
            }
            index += 1
        }
        return nil
    }

    private static func lower(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte | 0x20 : byte }
}

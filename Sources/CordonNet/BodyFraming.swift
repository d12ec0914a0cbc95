import CordonPolicy
import NIOCore

/// Where a response body ends, from its head (RFC 9112 §6.3), tracked over the raw bytes so the
/// relay can end the client's response even when the origin ignores `Connection: close`.
struct BodyFraming {
    /// What the head said.
    struct Header {
        var contentLength: Int?
        var conflictingLengths = false
        var chunked = false
        var otherCoding = false

        mutating func add(name: String, value: String) {
            let trimmed = value.trimmingSpaces()
            if name == "content-length" {
                guard let length = Int(trimmed), length >= 0, contentLength == nil || contentLength == length else {
                    conflictingLengths = true
                    return
                }
                contentLength = length
            } else {
                let codings = trimmed.lowercased().split(separator: ",").map { String($0).trimmingSpaces() }
                chunked = codings.last == "chunked"
                otherCoding = !chunked
            }
        }
    }

    private enum State: Equatable {
        case length(remaining: Int)
        case chunkSize(digits: Int, value: Int, inExtension: Bool, sawCR: Bool)
        case chunkData(remaining: Int)
        case chunkDataEnd(needed: Int)
        case trailers(lineLength: Int, sawCR: Bool)
        case untilClose
        case done
    }

    private var state: State

    /// `status` of the final response, `requestWasHead` for HEAD requests.
    init(_ header: Header, status: Int, requestWasHead: Bool) {
        if requestWasHead || status == 204 || status == 304 || (100..<200).contains(status) {
            state = .done
        } else if header.chunked {
            state = .chunkSize(digits: 0, value: 0, inExtension: false, sawCR: false)
        } else if header.otherCoding || header.conflictingLengths {
            state = .untilClose  // no length the proxy can trust: the origin's close ends it
        } else if let length = header.contentLength {
            state = length == 0 ? .done : .length(remaining: length)
        } else {
            state = .untilClose
        }
    }

    var isComplete: Bool { state == .done }

    /// The body ends only when the origin closes: a connection carrying it cannot be reused.
    var isCloseDelimited: Bool { state == .untilClose }

    /// The origin closed: a close-delimited body is complete.
    mutating func closed() {
        if state == .untilClose { state = .done }
    }

    /// Follows `bytes` of body; returns how many of them belong to the body (the rest, if any,
    /// comes after its end and is not relayed). A malformed chunked body ends at the bad byte.
    mutating func consume(_ bytes: ByteBufferView) -> Int {
        var used = 0
        var index = bytes.startIndex
        while index < bytes.endIndex {
            switch state {
            case .done:
                return used
            case .untilClose:
                return bytes.count
            case .length(let remaining):
                let take = min(remaining, bytes.endIndex - index)
                index += take
                used += take
                state = remaining == take ? .done : .length(remaining: remaining - take)
            case .chunkData(let remaining):
                let take = min(remaining, bytes.endIndex - index)
                index += take
                used += take
                state = remaining == take ? .chunkDataEnd(needed: 2) : .chunkData(remaining: remaining - take)
            case .chunkDataEnd(let needed):
                let expected: UInt8 = needed == 2 ? 0x0D : 0x0A
                guard bytes[index] == expected else {
                    state = .done
                    return used
                }
                index += 1
                used += 1
                state = needed == 2 ? .chunkDataEnd(needed: 1) : .chunkSize(digits: 0, value: 0, inExtension: false, sawCR: false)
            case .chunkSize(let digits, let value, let inExtension, let sawCR):
                let byte = bytes[index]
                index += 1
                used += 1
                if sawCR {
                    guard byte == 0x0A, digits > 0 else {
                        state = .done
                        return used
                    }
                    state = value == 0 ? .trailers(lineLength: 0, sawCR: false) : .chunkData(remaining: value)
                } else if byte == 0x0D {
                    state = .chunkSize(digits: digits, value: value, inExtension: inExtension, sawCR: true)
                } else if inExtension || byte == UInt8(ascii: ";") {
                    state = .chunkSize(digits: digits, value: value, inExtension: true, sawCR: false)
                } else if let digit = Self.hexValue(byte), digits < 15 {
                    state = .chunkSize(digits: digits + 1, value: value << 4 | digit, inExtension: false, sawCR: false)
                } else if byte == 0x20 || byte == 0x09 {
                    state = .chunkSize(digits: digits, value: value, inExtension: true, sawCR: false)
                } else {
                    state = .done
                    return used
                }
            case .trailers(let lineLength, let sawCR):
                let byte = bytes[index]
                index += 1
                used += 1
                if sawCR, byte == 0x0A {
                    state = lineLength == 0 ? .done : .trailers(lineLength: 0, sawCR: false)
                } else if byte == 0x0D {
                    state = .trailers(lineLength: lineLength, sawCR: true)
                } else {
                    state = .trailers(lineLength: lineLength + 1, sawCR: false)
                }
            }
        }
        return used
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: return Int(byte - 0x30)
        case 0x41...0x46: return Int(byte - 0x41 + 10)
        case 0x61...0x66: return Int(byte - 0x61 + 10)
        default: return nil
        }
    }
}

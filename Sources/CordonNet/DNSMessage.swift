public import CordonPolicy

/// The DNS wire format, as much as the stub needs: header, questions (names decompressed on
/// parse), and A/AAAA answers on build.
public struct DNSMessage: Sendable, Equatable {
    public enum RecordType: UInt16, Sendable {
        case a = 1
        case cname = 5
        case txt = 16
        case aaaa = 28
        case svcb = 64
        case https = 65
        case any = 255
    }

    public enum ResponseCode: UInt8, Sendable {
        case noError = 0
        case formatError = 1
        case serverFailure = 2
        case nameError = 3
        case notImplemented = 4
        case refused = 5
    }

    public struct Question: Sendable, Equatable {
        public var name: String
        public var type: UInt16
        public var `class`: UInt16

        public init(name: String, type: UInt16, class: UInt16 = 1) {
            self.name = name
            self.type = type
            self.class = `class`
        }
    }

    public var id: UInt16
    public var flags: UInt16
    public var questions: [Question]
    /// Answers as (address, ttl); built into A or AAAA records for the first question.
    public var answers: [(IPAddress, UInt32)]

    public static func == (lhs: DNSMessage, rhs: DNSMessage) -> Bool {
        lhs.id == rhs.id && lhs.flags == rhs.flags && lhs.questions == rhs.questions
            && lhs.answers.map(\.0) == rhs.answers.map(\.0) && lhs.answers.map(\.1) == rhs.answers.map(\.1)
    }

    public init(id: UInt16, flags: UInt16, questions: [Question], answers: [(IPAddress, UInt32)] = []) {
        self.id = id
        self.flags = flags
        self.questions = questions
        self.answers = answers
    }

    public var isResponse: Bool { flags & 0x8000 != 0 }
    public var opcode: UInt8 { UInt8(flags >> 11 & 0xF) }
    public var responseCode: UInt8 { UInt8(flags & 0xF) }

    public enum ParseError: Error, Equatable {
        case truncated
        case badName
        /// The header was readable: a FORMERR reply can carry this id.
        case malformed(id: UInt16)
    }

    /// Parses a query or a response (answers are read as A/AAAA only).
    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> DNSMessage {
        var reader = Reader(bytes)
        guard let id = reader.u16(), let flags = reader.u16(), let qdCount = reader.u16(), let anCount = reader.u16(),
            reader.u16() != nil, reader.u16() != nil
        else { throw .truncated }
        var questions: [Question] = []
        do {
            for _ in 0..<qdCount {
                let name = try readName(bytes, &reader)
                guard let type = reader.u16(), let klass = reader.u16() else { throw ParseError.truncated }
                questions.append(Question(name: name, type: type, class: klass))
            }
            var answers: [(IPAddress, UInt32)] = []
            for _ in 0..<anCount {
                _ = try readName(bytes, &reader)
                guard let type = reader.u16(), reader.u16() != nil, let ttl = reader.u32(), let length = reader.u16(),
                    let data = reader.take(Int(length))
                else { throw ParseError.truncated }
                if type == RecordType.a.rawValue || type == RecordType.aaaa.rawValue, let address = IPAddress(bytes: data) {
                    answers.append((address, ttl))
                }
            }
            return DNSMessage(id: id, flags: flags, questions: questions, answers: answers)
        } catch {
            throw .malformed(id: id)
        }
    }

    /// Reads a possibly compressed name; pointers must point backwards (no loops).
    static func readName(_ bytes: [UInt8], _ reader: inout Reader) throws(ParseError) -> String {
        var labels: [String] = []
        var cursor = reader
        var jumped = false
        var limit = reader.offset
        var total = 0
        while true {
            guard let length = cursor.u8() else { throw .truncated }
            if length & 0xC0 == 0xC0 {
                guard let low = cursor.u8() else { throw .truncated }
                let target = Int(length & 0x3F) << 8 | Int(low)
                guard target < limit else { throw .badName }
                if !jumped { reader = cursor }
                jumped = true
                limit = target
                guard cursor.seek(target) else { throw .badName }
                continue
            }
            guard length & 0xC0 == 0 else { throw .badName }
            if length == 0 { break }
            guard let label = cursor.take(Int(length)) else { throw .truncated }
            total += Int(length) + 1
            guard total <= 255 else { throw .badName }
            labels.append(String(decoding: label, as: UTF8.self))
        }
        if !jumped { reader = cursor }
        return labels.joined(separator: ".")
    }

    /// A response to `query`: same id and questions, RD copied, RA set.
    public static func response(to query: DNSMessage, code: ResponseCode, answers: [(IPAddress, UInt32)] = []) -> DNSMessage {
        let flags: UInt16 = 0x8000 | (query.flags & 0x7800) | 0x0400 | (query.flags & 0x0100) | 0x0080 | UInt16(code.rawValue)
        return DNSMessage(id: query.id, flags: flags, questions: query.questions, answers: answers)
    }

    /// Wire bytes; answers point at the first question's name (compression).
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ v: UInt16) { out += [UInt8(v >> 8), UInt8(v & 0xFF)] }
        u16(id)
        u16(flags)
        u16(UInt16(questions.count))
        u16(questions.isEmpty ? 0 : UInt16(answers.count))
        u16(0)
        u16(0)
        for question in questions {
            for label in question.name.split(separator: ".") {
                let bytes = Array(label.utf8.prefix(63))
                out.append(UInt8(bytes.count))
                out += bytes
            }
            out.append(0)
            u16(question.type)
            u16(question.class)
        }
        guard !questions.isEmpty else { return out }
        for (address, ttl) in answers {
            out += [0xC0, 0x0C]
            u16(address.isIPv6 ? RecordType.aaaa.rawValue : RecordType.a.rawValue)
            u16(1)
            u16(UInt16(ttl >> 16))
            u16(UInt16(ttl & 0xFFFF))
            let data = address.bytes
            u16(UInt16(data.count))
            out += data
        }
        return out
    }
}

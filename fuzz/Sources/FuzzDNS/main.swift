// DNS messages as the stub parses them (DNSMessage): a parsed message encodes to bytes that
// parse to the same message (names made of plain labels), and the stub's replies always encode.
import CordonNet
import CordonPolicy
import FuzzSupport

func plain(_ name: String) -> Bool {
    name.isEmpty
        || name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ".") }
        }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let message = try? DNSMessage.parse(input) else { return 0 }
    let encoded = message.encoded()
    let reply = DNSMessage.response(to: message, code: .nameError).encoded()
    _ = try? DNSMessage.parse(reply)
    guard message.questions.allSatisfy({ plain($0.name) }), message.questions.map({ $0.name.utf8.count + 2 }).allSatisfy({ $0 <= 255 })
    else { return 0 }
    do {
        let again = try DNSMessage.parse(encoded)
        invariant(
            again.id == message.id && again.flags == message.flags && again.questions == message.questions,
            "\(message) encodes to a message read as \(again)")
        if !message.questions.isEmpty {
            invariant(again.answers.map(\.0) == message.answers.map(\.0), "answers \(message.answers) read back as \(again.answers)")
        }
    } catch {
        invariant(false, "\(message) encodes to bytes that do not parse: \(error)")
    }
    return 0
}

runFuzzer(fuzz)

// CordonTOML's parser (TOMLDocument.parse) on arbitrary bytes: an error or a table, never a
// crash or a hang. A parsed table written back as TOML (tomlText) parses to an equal table with
// the same canonical rendering.
import CordonTOML
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let table = try? TOMLDocument.parse(bytes(data, size)) else { return 0 }
    let rendered = table.tomlText
    do {
        let again = try TOMLDocument.parse(rendered)
        invariant(again == table, "a document written back as\n\(rendered)\nparses to a different table")
        invariant(again.canonical == table.canonical, "a document written back as\n\(rendered)\nrenders differently: \(again.canonical) vs \(table.canonical)")
    } catch {
        invariant(false, "a document written back as\n\(rendered)\ndoes not parse: \(error)")
    }
    return 0
}

runFuzzer(fuzz)

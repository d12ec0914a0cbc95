// The gitleaks-style rule TOML loader (RuleSet.parse over CordonTOML, CordonScan), on raw bytes
// (invalid UTF-8 included). `[extend] path` reads a file: documents that set it (however the key
// is spelled) are skipped (the loader would read whatever file they name).
import CordonScan
import CordonTOML
import FuzzSupport

let source = fuzzDirectory + "/gitleaks.toml"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    if let table = try? TOMLDocument.parse(input), table["extend"]?.table?["path"] != nil { return 0 }
    guard let rules = try? RuleSet.parse(input, source: source) else { return 0 }
    invariant(rules == rules, "a rule set is not equal to itself")
    return 0
}

runFuzzer(fuzz)

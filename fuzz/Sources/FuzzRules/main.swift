// The gitleaks-style rule TOML loader (RuleSet.parse, CordonScan). `[extend] path` reads a file:
// inputs with both "extend" and "path" are skipped (the loader would read whatever file they name).
import CordonScan
import FuzzSupport

let source = fuzzDirectory + "/gitleaks.toml"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = text(data, size)
    guard !(input.contains("extend") && input.contains("path")) else { return 0 }
    guard let rules = try? RuleSet.parse(input, source: source) else { return 0 }
    invariant(rules == rules, "a rule set is not equal to itself")
    return 0
}

runFuzzer(fuzz)

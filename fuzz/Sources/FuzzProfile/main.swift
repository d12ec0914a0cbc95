// Profile YAML through the loader the CLI uses (ProfileLoader.validate: parse, presets, merge,
// validation), with the built-in presets. A valid profile rendered back to YAML
// (ProfileRenderer, `cordon profile show`) loads to the same profile.
import CordonConfig
import CordonCore
import FuzzSupport

let loader = ProfileLoader(
    paths: CordonPaths(configHome: fuzzDirectory + "/config", stateHome: fuzzDirectory + "/state"), homeDirectory: fuzzDirectory + "/home",
    catalog: PresetCatalog())
let file = fuzzDirectory + "/profile.yaml"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = text(data, size)
    guard let validation = try? loader.validate(yaml: input, file: file), validation.isValid, let profile = validation.profile else { return 0 }
    let rendered = ProfileRenderer.yaml(profile)
    do {
        let again = try loader.parse(yaml: rendered, file: file)
        invariant(again == profile, "a valid profile rendered as\n\(rendered)\nloads to a different profile")
    } catch {
        invariant(false, "a valid profile rendered as\n\(rendered)\ndoes not load: \(error)")
    }
    _ = ProfileRenderer.json(profile)
    return 0
}

runFuzzer(fuzz)

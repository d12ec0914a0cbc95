import CordonCore

/// Expands `presets:` lists into the ordered layers to merge: depth first, a preset's own presets
/// before it, each preset once (first use wins its place), cycles reported at the entry that closes them.
struct PresetComposer {
    let catalog: PresetCatalog
    let home: String
    private(set) var ordered: [(name: String, layer: ProfileLayer)] = []
    private(set) var diagnostics: [ProfileDiagnostic] = []
    private var parsed: [String: ProfileLayer?] = [:]

    init(catalog: PresetCatalog, home: String) {
        self.catalog = catalog
        self.home = home
    }

    mutating func expand(_ references: [ProfileLayer.PresetReference], chain: [String] = []) {
        for reference in references { visit(reference, chain: chain) }
    }

    private mutating func visit(_ reference: ProfileLayer.PresetReference, chain: [String]) {
        let name = reference.name
        if chain.contains(name) {
            let cycle = (chain.drop { $0 != name } + [name]).joined(separator: " → ")
            diagnostics.append(
                ProfileDiagnostic(
                    location: reference.location, field: "presets", message: "preset cycle: \(cycle)",
                    hint: "remove \"\(name)\" from the `presets:` of \"\(chain.last ?? name)\""))
            return
        }
        if ordered.contains(where: { $0.name == name }) { return }
        guard let entry = catalog.entry(named: name) else {
            diagnostics.append(
                ProfileDiagnostic(
                    location: reference.location, field: "presets", message: "unknown preset \"\(name)\"",
                    hint: catalog.unknownHint(name)))
            return
        }
        let layer: ProfileLayer?
        if let cached = parsed[name] {
            layer = cached
        } else {
            let (result, problems) = ProfileLayerParser.parse(yaml: entry.yaml, file: entry.source, kind: .preset, home: home, baseDirectory: nil)
            diagnostics += problems
            parsed[name] = result
            layer = result
        }
        guard let layer else { return }
        expand(layer.presets, chain: chain + [name])
        if !ordered.contains(where: { $0.name == name }) { ordered.append((name, layer)) }
    }
}

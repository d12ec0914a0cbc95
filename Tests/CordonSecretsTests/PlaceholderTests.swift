import CordonCore
@testable import CordonSecrets
import CordonTestSupport
import Testing

/// Placeholders: the documented format, fresh each time, and the map the proxy will read.
@Suite struct PlaceholderTests {
    @Test func placeholdersHaveTheDocumentedFormatAndAreFresh() {
        let made = (0..<200).map { _ in Placeholder(secret: "K", env: "K", domains: []).placeholder }
        #expect(made.allSatisfy { PlaceholderFormat.matches($0) && $0.hasPrefix("cordon-ph-") && $0.count == 42 }, "\(made.prefix(3))")
        #expect(Set(made).count == made.count)
        #expect(!PlaceholderFormat.matches("cordon-ph-" + String(repeating: "A", count: 32)))
        #expect(!PlaceholderFormat.matches("cordon-ph-" + String(repeating: "a", count: 33)))
    }

    @Test func theMapHoldsNamesNotValuesAndGoesWhenNoSecretIsBound() throws {
        let tree = try TempTree()
        let placeholder = Placeholder(secret: "OPENAI", env: "OPENAI_API_KEY", domains: ["api.openai.com"])
        try PlaceholderMap.write([placeholder], stateDirectory: tree.root)
        #expect(tree.mode(PlaceholderMap.fileName) & 0o777 == 0o600)
        #expect(try PlaceholderMap.read(stateDirectory: tree.root) == [placeholder])
        // A later start without secrets leaves no stale map.
        try PlaceholderMap.write([], stateDirectory: tree.root)
        #expect(!tree.exists(PlaceholderMap.fileName))
        // A spare state directory's emptied map reads as none.
        tree.write(PlaceholderMap.fileName, "", mode: 0o600)
        #expect(try PlaceholderMap.read(stateDirectory: tree.root).isEmpty)
    }
}

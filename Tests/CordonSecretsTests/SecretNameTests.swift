import CordonSecrets
import Testing

@Test(arguments: ["A", "OPENAI_API_KEY", "gh.token-2", "a" + String(repeating: "b", count: 63)])
func validNamesAreAccepted(_ name: String) throws {
    #expect(try SecretName(name).text == name)
}

@Test(arguments: ["", "1KEY", "_KEY", "KEY NAME", "KEY/../x", "KEY=1", "ключ", "a" + String(repeating: "b", count: 64), "KEY\n"])
func invalidNamesAreRefused(_ name: String) {
    #expect(throws: (any Error).self) { try SecretName(name) }
}

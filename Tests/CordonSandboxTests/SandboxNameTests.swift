import CordonCore
import Testing

@testable import CordonSandbox

@Suite struct SandboxNameTests {
    @Test func generatedNamesAreValidAndVary() throws {
        let names = (0..<64).map { _ in SandboxName.generate() }
        for name in names {
            try SandboxName.validate(name)
            let suffix = name.split(separator: "-").last.map(String.init) ?? ""
            #expect(suffix.count == 4 && suffix.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }, "\(name)")
        }
        #expect(Set(names).count > 32)
    }

    @Test(arguments: ["a", "agent-1", "x.y_z", "9lives", String(repeating: "a", count: 63)])
    func acceptsLowercaseLettersDigitsAndSeparators(_ name: String) throws {
        try SandboxName.validate(name)
    }

    @Test(arguments: [
        "", "-lead", ".hidden", "_x", "Upper", "spa ce", "slash/name", "../up", "ünï", "tab\t", "nul\u{0}", String(repeating: "a", count: 64),
    ])
    func refusesEverythingElse(_ name: String) {
        #expect(throws: CordonError.self) { try SandboxName.validate(name) }
    }
}

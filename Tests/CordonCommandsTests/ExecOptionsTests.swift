import CordonCore
import Testing

@testable import CordonCommands

/// `cordon exec -e`: nothing of the host's environment enters but what is named.
struct ExecOptionsTests {
    @Test func namedVariablesOnly() throws {
        let host = ["TOKEN": "secret", "EDITOR": "vi", "EMPTY": ""]
        let env = try ExecCommand.environment(["A=1", "EDITOR", "EMPTY", "MISSING", "B=x=y"], host: host)
        #expect(env == ["A=1", "EDITOR=vi", "EMPTY=", "B=x=y"])
        #expect(!env.contains { $0.hasPrefix("TOKEN") })
    }

    @Test func badNamesAreRefused() {
        for bad in ["", "=1", "A B=1", "1A=2", "A-B", "É=1"] {
            #expect(throws: CordonError.self) { try ExecCommand.environment([bad], host: [:]) }
        }
    }
}

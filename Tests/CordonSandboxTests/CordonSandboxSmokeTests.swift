import Testing
@testable import CordonSandbox

@Test func moduleLoads() {
    #expect(Bool(true))
}

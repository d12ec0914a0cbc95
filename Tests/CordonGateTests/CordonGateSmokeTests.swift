import Testing
@testable import CordonGate

@Test func moduleLoads() {
    #expect(Bool(true))
}

import Testing
@testable import CordonNet

@Test func moduleLoads() {
    #expect(Bool(true))
}

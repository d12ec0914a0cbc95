import Testing
@testable import CordonConfig

@Test func moduleLoads() {
    #expect(Bool(true))
}

import Testing
@testable import CordonFS

@Test func moduleLoads() {
    #expect(Bool(true))
}

import CordonOS
import Synchronization
import Testing

struct ParallelWorkTests {
    @Test(arguments: [(0, 4), (1, 16), (7, 3), (100, 16), (1000, 4)])
    func everyIndexRunsOnceBeforeItReturns(count: Int, width: Int) {
        let seen = Mutex<[Int]>([])
        ParallelWork.forEach(count, width: width) { index in seen.withLock { $0.append(index) } }
        #expect(seen.withLock { $0.sorted() } == Array(0..<count))
    }
}

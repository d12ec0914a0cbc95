/// One `cordon selftest` run at a time in this test process: each integration test checks that
/// its run left no temporary root (or lab namespace) behind, which another run in progress at the
/// same moment would fail. Waiting suspends the task (a continuation), it never blocks a thread
/// of the cooperative pool.
actor SelftestRunLock {
    static let shared = SelftestRunLock()
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            busy = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}

import Foundation

/// Threads for blocking database work (reads, and writes that wait for their group
/// commit's fsync), so that Swift's cooperative threads and the event loops never block.
/// Enough threads that concurrent writers wait together and share one fsync: with only as
/// many threads as cores, group commit had little to group.
final class BlockingPool: @unchecked Sendable {
    // @unchecked Sendable: `jobs` is only touched with `condition` locked.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0

    static let shared = BlockingPool(threads: 64)

    init(threads: Int) {
        for i in 0..<threads {
            let t = Thread { [unowned self] in self.loop() }
            t.name = "llmdb-blocking-\(i)"
            // The platform's default size: the deepest input the limits allow (LQL at its
            // nesting limit, JSON at depth 512, a filter at depth 64) needs under 2 MiB in a
            // debug build (tests check it); only the pages a thread touches take memory.
            t.stackSize = 8 << 20
            t.start()
        }
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while head == jobs.count { condition.wait() }
            let job = jobs[head]
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            }
            condition.unlock()
            job()
        }
    }

    /// Runs `body` on the pool and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            submit { c.resume(with: Result { try body() }) }
        }
    }
}

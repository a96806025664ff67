import Foundation

/// Threads for blocking database work (reads, and writes that wait for their group
/// commit's fsync), so that Swift's cooperative threads and the event loops never block.
///
/// A pool has at most `limit` threads. ``startAll()`` starts them all at once, to be kept
/// (`llmdb serve` does at start-up, so that a shortage of threads shows then, not under
/// load); otherwise they start as work arrives (a job that finds no idle thread starts one
/// while fewer than `limit` exist) and one idle for ``idleSeconds`` ends. ``stop()`` ends
/// them all once the work queued has run. A server sizes
/// its pools so that the work that may be in one at once never exceeds its threads
/// (``HTTPFront``): no job then waits for another to end, so one client's slow requests
/// cannot hold a thread that another client's request needs. Enough threads also let
/// concurrent writers wait together and share one fsync (group commit).
final class BlockingPool: @unchecked Sendable {
    // @unchecked Sendable: every stored property but the constants is only touched with
    // `condition` locked.
    let name: String
    let limit: Int
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    /// Threads started (some may still be starting) and not yet ended.
    private var threads = 0
    /// Threads waiting for a job.
    private var idle = 0
    private var stopped = false
    /// Idle threads are kept (``startAll()``).
    private var keep = false

    /// How long a thread waits for a job before it ends.
    static let idleSeconds: TimeInterval = 60

    /// The pool of `llmdb mcp` (stdio): one client, so only a bound.
    static let stdio = BlockingPool(name: "llmdb-mcp", threads: 64)

    init(name: String, threads limit: Int) {
        self.name = name
        self.limit = max(1, limit)
    }

    /// Threads that exist now (for tests).
    var threadCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return threads
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        // Each queued job needs a thread of its own: an idle one, or a new one.
        if jobs.count - head > idle, threads < limit {
            threads += 1
            startThread(threads)
        }
        condition.signal()
        condition.unlock()
    }

    /// Starts every thread now, and keeps them until ``stop()``.
    func startAll() {
        condition.lock()
        keep = true
        while threads < limit {
            threads += 1
            startThread(threads)
        }
        condition.unlock()
    }

    /// Ends the threads once the jobs queued have run (those submitted later still run, on a
    /// thread started for them). The owner of a pool calls it when it is done with it.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func startThread(_ n: Int) {
        let t = Thread { self.loop() }
        t.name = "\(name)-\(n)"
        // The platform's default size: the deepest input the limits allow (LQL at its
        // nesting limit, JSON at depth 512, a filter at depth 64) needs under 2 MiB in a
        // debug build (tests check it); only the pages a thread touches take memory.
        t.stackSize = 8 << 20
        t.start()
    }

    private func loop() {
        condition.lock()
        while true {
            if head < jobs.count {
                let job = jobs[head]
                head += 1
                if head == jobs.count {
                    jobs.removeAll(keepingCapacity: true)
                    head = 0
                }
                condition.unlock()
                job()
                condition.lock()
                continue
            }
            if stopped { break }
            idle += 1
            var signalled = true
            if keep {
                condition.wait()
            } else {
                signalled = condition.wait(until: Date(timeIntervalSinceNow: Self.idleSeconds))
            }
            idle -= 1
            // Idle for that long with nothing queued: end (another starts when needed).
            if !signalled, !keep, head == jobs.count { break }
        }
        threads -= 1
        condition.unlock()
    }

    /// Runs `body` on the pool and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            submit { c.resume(with: Result { try body() }) }
        }
    }
}

import Dispatch
import Foundation
import LLMDBStorage
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The single writer: a thread that owns every LMDB write transaction (LMDB ties a write
/// transaction to its thread) and commits queued jobs in groups.
///
/// Group commit: the thread takes every job queued so far, runs each in a nested LMDB
/// transaction (so one job's failure leaves the others intact), gives each its own tx id,
/// and commits the group with one LMDB commit and one sync. Jobs queued while it syncs form
/// the next group.
final class Writer: @unchecked Sendable {
    // @unchecked Sendable: `queue` and `state` are protected by their mutexes; `thread`
    // is set once in `start` before any job can be submitted.

    final class Job: @unchecked Sendable {
        // @unchecked Sendable: `result` and `onDone` are written by the writer thread before
        // `done` is signalled, and read by the submitter only after it.
        let ops: [WriteBatch.Op]
        let txTime: Instant?
        var migration = false
        /// Work that writes no transaction of facts (the asynchronous index builder's
        /// batches): run in the group's LMDB transaction without a tx id of its own.
        let work: ((borrowing WriteTransaction) throws -> Void)?
        var onDone: (@Sendable (Result<Commit, LLMDBError>) -> Void)?
        let done = DispatchSemaphore(value: 0)
        var result: Result<Commit, LLMDBError>?

        init(ops: [WriteBatch.Op], txTime: Instant?) {
            self.ops = ops
            self.txTime = txTime
            self.work = nil
        }

        init(work: @escaping (borrowing WriteTransaction) throws -> Void) {
            self.ops = []
            self.txTime = nil
            self.work = work
        }

        func finish(_ r: Result<Commit, LLMDBError>) {
            result = r
            if let onDone { onDone(r) } else { done.signal() }
        }
    }

    private struct Queue {
        var jobs: [Job] = []
        var stopped = false
        var running = false
    }

    private let queue = Mutex(Queue())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    #if LLMDB_INTERNAL_CHECKS
    // Only for the invariant checks: a weak reference gives Database a side table, which
    // makes every retain and release of it slower.
    private weak var db: Database?
    #endif
    /// Group sizes committed, for stats.
    let batches = Atomic<Int>(0)
    let batchedJobs = Atomic<Int>(0)
    /// The maximum number of jobs in one group.
    static let maxGroup = 1024

    init() {}

    func start(_ db: Database) {
        #if LLMDB_INTERNAL_CHECKS
        self.db = db
        #endif
        queue.withLock { $0.running = true }
        // The thread holds the environment through a box that it empties before it says it
        // has finished: when stop() returns, the thread no longer keeps the environment open.
        // LMDB's close of an environment clears every reader slot of this process on its
        // file, so an environment that closed late, after the file was opened again in this
        // process, would erase the new environment's readers (and the writer would then reuse
        // pages they still read).
        let box = EnvironmentBox(db.env)
        let tables = db.writerTables
        let code = db.options.codeRunner
        let clock = db.clock
        let thread = Thread { [self] in
            self.run(box, tables: tables, clock: clock, code: code)
            box.env = nil
            self.finished.signal()
        }
        thread.name = "llmdb-writer"
        thread.start()
    }

    func stop() {
        let wasRunning = queue.withLock { q -> Bool in
            let r = q.running && !q.stopped
            q.stopped = true
            return r
        }
        if wasRunning {
            wake.signal()
            // The last reference may go on the writer thread itself: it finishes by itself.
            if Thread.current.name != "llmdb-writer" { finished.wait() }
        }
    }

    func submit(_ job: Job) {
        let accepted = queue.withLock { q -> Bool in
            guard !q.stopped else { return false }
            q.jobs.append(job)
            return true
        }
        if accepted { wake.signal() } else { job.finish(.failure(LLMDBError(.closed, "the database is closed"))) }
    }

    func submitAndWait(_ job: Job) throws(LLMDBError) -> Commit {
        if Thread.current.name == "llmdb-writer" {
            fatalError("LLMDB: write called from inside the writer thread")
        }
        submit(job)
        job.done.wait()
        return try job.result!.get()
    }

    /// The size and duration of the last group, for the gather window.
    private var lastGroupSize = 0
    private var lastCommitMicroseconds: Int64 = 0

    /// The gather window (like PostgreSQL's `commit_delay`): when the last group held
    /// several writers, those writers are about to come back with their next write, and a
    /// group started at once would hold only the first of them. So wait until as many jobs
    /// are queued as the last group held, or a quarter of the last commit's duration has
    /// passed (at most 200 µs), whichever comes first. A lone writer never waits.
    private func gather() {
        guard lastGroupSize > 1 else { return }
        let window = min(lastCommitMicroseconds / 4, 200)
        guard window > 0 else { return }
        let deadline = monotonicMicroseconds() + window
        while queue.withLock({ $0.jobs.count < lastGroupSize && !$0.stopped }) && monotonicMicroseconds() < deadline {
            sched_yield()
        }
    }

    private func run(_ box: EnvironmentBox, tables: Tables, clock: any TransactionClock, code: (any CodeRunner)?) {
        let env = box.env!
        while true {
            wake.wait()
            while true {
                gather()
                let (jobs, stopped) = queue.withLock { q -> ([Job], Bool) in
                    let n = min(q.jobs.count, Self.maxGroup)
                    let taken = Array(q.jobs.prefix(n))
                    q.jobs.removeFirst(n)
                    return (taken, q.stopped)
                }
                if jobs.isEmpty {
                    if stopped {
                        return
                    }
                    break
                }
                // Counted: groups with writes of facts, and those writes (not the index builder's batches).
                let writes = jobs.count { $0.work == nil }
                if writes > 0 {
                    batches.add(1, ordering: .relaxed)
                    batchedJobs.add(writes, ordering: .relaxed)
                }
                let started = monotonicMicroseconds()
                commitGroup(jobs, env: env, tables: tables, clock: clock, code: code)
                // The gather window waits for writers of facts: the builder's batches are not
                // writers that come back.
                lastGroupSize = writes
                lastCommitMicroseconds = monotonicMicroseconds() - started
                #if LLMDB_INTERNAL_CHECKS
                db?._checkInvariants()
                #endif
            }
        }
    }

    /// Commits `jobs` together, growing the map and retrying on `MDB_MAP_FULL`.
    private func commitGroup(
        _ jobs: [Job],
        env: Environment,
        tables: Tables,
        clock: any TransactionClock,
        code: (any CodeRunner)?
    ) {
        while true {
            switch attempt(jobs, env: env, tables: tables, clock: clock, code: code) {
            case .done(let results):
                for (job, r) in zip(jobs, results) { job.finish(r) }
                return
            case .mapFull(let error):
                var grown = false
                if error.code == .mapFull {
                    do { grown = try env.grow() } catch {
                        for job in jobs { job.finish(.failure(.storage(error, "cannot grow the map"))) }
                        return
                    }
                }
                if grown { continue }
                if jobs.count > 1 {
                    // At the size limit (or the group's dirty-page limit): commit each job
                    // alone so that small ones still fit.
                    for job in jobs { commitGroup([job], env: env, tables: tables, clock: clock, code: code) }
                    return
                }
                if error.code == .mapFull && env.mapSize < env.options.maxMapSize {
                    jobs[0].finish(
                        .failure(
                            LLMDBError(
                                .mapFull,
                                "write refused: the map must grow, but read transactions of this process stayed open for 5 s (is a write waiting inside a read closure?); nothing was written",
                                cause: error
                            )
                        )
                    )
                } else {
                    jobs[0].finish(.failure(.storage(error, "write refused")))
                }
                return
            }
        }
    }

    private enum Attempt {
        case done([Result<Commit, LLMDBError>])
        case mapFull(LMDBError)
    }

    private func attempt(
        _ jobs: [Job],
        env: Environment,
        tables: Tables,
        clock: any TransactionClock,
        code: (any CodeRunner)?
    ) -> Attempt {
        let txn: WriteTransaction
        do { txn = try env.beginWrite() } catch {
            return .done(jobs.map { _ in .failure(.storage(error, "cannot begin a write transaction")) })
        }
        var results: [Result<Commit, LLMDBError>] = []
        results.reserveCapacity(jobs.count)
        // The last transaction as this file records it (another process may have written).
        var last: (id: TxID, time: Instant)
        do { last = try Apply.lastTransaction(txn, tables) } catch {
            txn.abort()
            return .done(jobs.map { _ in .failure(.storage(error, "cannot read the transaction log")) })
        }
        for job in jobs {
            if let work = job.work {
                do {
                    try txn.nested { (child: inout WriteTransaction) throws in try work(child) }
                    results.append(.success(Commit(txID: last.id, txTime: last.time)))
                } catch let error as LMDBError where error.code == .mapFull || error.code == .transactionFull {
                    txn.abort()
                    return .mapFull(error)
                } catch let error as LMDBError {
                    results.append(.failure(.storage(error, "index work failed")))
                } catch let error as LLMDBError {
                    results.append(.failure(error))
                } catch {
                    results.append(.failure(LLMDBError(.storage, "index work failed: \(error)")))
                }
                continue
            }
            let txID = last.id + 1
            let txTime: Instant
            if let explicit = job.txTime {
                guard explicit > last.time else {
                    results.append(
                        .failure(
                            LLMDBError(
                                .transactionTimeNotIncreasing,
                                "the transaction time \(explicit) is not after the last transaction's time \(last.time); nothing was written"
                            )
                        )
                    )
                    continue
                }
                guard explicit < .endOfTime else {
                    results.append(
                        .failure(LLMDBError(.invalidTimeRange, "the transaction time cannot be the end of time"))
                    )
                    continue
                }
                txTime = explicit
            } else {
                txTime = max(clock.now(), last.time.advanced(by: 1))
                guard txTime < .endOfTime else {
                    results.append(
                        .failure(
                            LLMDBError(
                                .transactionTimeNotIncreasing,
                                "transaction time is exhausted: the last transaction's time is the largest representable instant"
                            )
                        )
                    )
                    continue
                }
            }
            do {
                try txn.nested { (child: inout WriteTransaction) throws in
                    try Apply.transaction(
                        job.ops,
                        child,
                        tables,
                        txID: txID,
                        txTime: txTime,
                        explicit: job.txTime != nil,
                        migration: job.migration,
                        code: code
                    )
                }
                last = (txID, txTime)
                results.append(.success(Commit(txID: txID, txTime: txTime)))
            } catch let error as LMDBError where error.code == .mapFull || error.code == .transactionFull {
                // Out of map, or out of dirty-page room shared by the group's nested
                // transactions: grow and retry, or commit the jobs one by one.
                txn.abort()
                return .mapFull(error)
            } catch let error as LMDBError {
                results.append(.failure(.storage(error, "write failed")))
            } catch let error as LLMDBError {
                results.append(.failure(error))
            } catch {
                results.append(.failure(LLMDBError(.storage, "write failed: \(error)")))
            }
        }
        do {
            try txn.commit()
        } catch {
            if error.code == .mapFull { return .mapFull(error) }
            let failure = LLMDBError.storage(error, "commit failed")
            return .done(results.map { r in r.flatMap { _ in .failure(failure) } })
        }
        return .done(results)
    }
}

struct Tables: Sendable {
    let facts: Table
    let txlog: Table
    let txtime: Table
    /// The index kinds registered, and their tables.
    let kinds: IndexKinds
    /// The asynchronous indexes' state and queues (nil only read-only, in a file from before them).
    let async: Table?
    /// Told when a transaction gives asynchronous indexes work.
    let indexer: AsyncIndexer
}

/// The monotonic clock, in microseconds.
package func monotonicMicroseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

/// Gives memory that was freed back to the system. glibc's allocator keeps freed memory in
/// per-thread arenas; after an operation that held a lot of it (a large query), a server
/// with many threads would otherwise keep every arena's peak for ever. Looked up at run
/// time (`malloc_trim` is a glibc extension); a no-op elsewhere.
package func returnFreedMemoryToSystem() {
    #if canImport(Glibc)
    if let trim = mallocTrim { _ = trim(0) }
    #endif
}

#if canImport(Glibc)
private let mallocTrim: (@convention(c) (Int) -> Int32)? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim")
    .map { unsafeBitCast($0, to: (@convention(c) (Int) -> Int32).self) }
#endif

/// The writer thread's hold on the environment, released before the thread says it finished.
private final class EnvironmentBox: @unchecked Sendable {
    // @unchecked Sendable: set at creation, cleared once by the writer thread at its end.
    var env: Environment?
    init(_ env: Environment) { self.env = env }
}

import Foundation
import LLMDB
import Synchronization
@_spi(Fuzzing) import WasmKit

#if canImport(Glibc)
import Glibc
#endif

/// The wall-clock backstop: stops a guest call that runs past its deadline.
///
/// WasmKit 0.4.2 has no interrupt or epoch API, and a store's fuel is a plain counter that
/// the guest thread reads, decrements and writes back. So once a deadline passes, this
/// thread keeps setting the store's fuel to zero until the call returns: one write can be
/// lost to the guest's own write-back, but not all of them, and the next fuel charge then
/// traps. Measured here: the guest stops within about 4 ms of its deadline. This is a data
/// race on one aligned 64-bit word, confined to this use and documented in
/// docs/wasm-design-notes.md; the per-call fuel budget bounds the guest even without it.
final class Watchdog: @unchecked Sendable {
    // @unchecked Sendable: `armed` and `stopped` are guarded by `condition`.

    final class Ticket: @unchecked Sendable {
        // @unchecked Sendable: `store` is touched by the watchdog only while armed, under
        // the watchdog's lock (the data race on its fuel is the point; see above).
        let store: Store
        let deadline: Int64
        let expired = Atomic<Bool>(false)
        init(store: Store, deadline: Int64) {
            self.store = store
            self.deadline = deadline
        }
    }

    private let condition = NSCondition()
    private var armed: [ObjectIdentifier: Ticket] = [:]
    private var started = false
    /// Whether the thread waits with nothing to time (it must be woken by the next arm).
    /// While calls come often it ticks instead, so that arming a call never wakes it: a
    /// wake-up per call would cost a context switch per page.
    private var sleeping = false
    private var lastActive: Int64 = 0
    /// How long the thread keeps ticking after the last call, and how often.
    private static let idleAfter: Int64 = 100_000

    /// The shortest deadline this watchdog times (every call of a runtime has the same).
    private let minimumDeadline: Int64

    init(deadline: Int64) { minimumDeadline = deadline }

    func arm(_ store: Store, microseconds: Int64) -> Ticket {
        let ticket = Ticket(store: store, deadline: monotonicMicroseconds() + microseconds)
        condition.lock()
        armed[ObjectIdentifier(ticket)] = ticket
        if !started {
            started = true
            let thread = Thread { [self] in self.run() }
            thread.name = "llmdb-wasm-watchdog"
            thread.start()
        }
        if sleeping { condition.signal() }
        condition.unlock()
        return ticket
    }

    func disarm(_ ticket: Ticket) {
        condition.lock()
        armed[ObjectIdentifier(ticket)] = nil
        condition.unlock()
    }

    private func run() {
        condition.lock()
        while true {
            let now = monotonicMicroseconds()
            if armed.isEmpty {
                if now - lastActive > Self.idleAfter {
                    sleeping = true
                    condition.wait()
                    sleeping = false
                } else {
                    // A call armed while this waits has a deadline at least `tick` away.
                    let tick = max(min(5_000, minimumDeadline / 2), 100)
                    _ = condition.wait(until: Date(timeIntervalSinceNow: Double(tick) / 1e6))
                }
                continue
            }
            lastActive = now
            let earliest = armed.values.map(\.deadline).min()!
            if earliest > now {
                _ = condition.wait(until: Date(timeIntervalSinceNow: Double(earliest - now) / 1e6))
                continue
            }
            // Past a deadline: exhaust the fuel of every overdue call until it returns.
            for t in armed.values where t.deadline <= now {
                t.expired.store(true, ordering: .releasing)
                t.store.fuel = Fuel(remaining: 0)
            }
            condition.unlock()
            sched_yield()
            condition.lock()
        }
    }
}

import Foundation
import Synchronization
import Testing

/// A gate that blocking work waits at until the test opens it: a long-running request that
/// the test releases when it chooses, with no timing involved.
final class Gate: @unchecked Sendable {
    // @unchecked Sendable: `isOpen` is only touched with `condition` locked.
    private let condition = NSCondition()
    private var isOpen = false

    func wait() {
        condition.lock()
        while !isOpen { condition.wait() }
        condition.unlock()
    }

    func open() {
        condition.lock()
        isOpen = true
        condition.broadcast()
        condition.unlock()
    }
}

final class Flag: Sendable {
    let value = Mutex(false)
}

/// Runs `body` and returns what it returns. If it has not returned after `limit`, `unblock`
/// runs (so that it can return: the test opens its gates, closes its sessions) and the test
/// fails. The limit only turns a hang into a failure: it is generous, and no outcome of a
/// passing test depends on it.
func withoutHanging<T: Sendable>(
    _ what: String,
    limit: Duration = .seconds(60),
    unblock: @escaping @Sendable () async -> Void,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let fired = Flag()
    let result = try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            do { try await Task.sleep(for: limit) } catch { return nil }
            fired.value.withLock { $0 = true }
            await unblock()
            return nil
        }
        while let r = try await group.next() {
            if let r {
                group.cancelAll()
                return r
            }
        }
        fatalError("the body's task always returns a value or throws")
    }
    if fired.value.withLock({ $0 }) { Issue.record("\(what): still waiting after \(limit)") }
    return result
}

import Foundation
import LLMDB
import Testing

@Suite struct GroupCommitTests {
    @Test func concurrentWritersShareCommitsAndEachGetsItsOwnTxID() throws {
        let tmp = try TempDatabase(sync: .full)
        let db = tmp.db
        let threads = 8
        let perThread = 40
        let results = LockedArray<Commit>()
        let group = DispatchGroup()
        for th in 0..<threads {
            group.enter()
            Thread {
                for i in 0..<perThread {
                    if let c = try? db.write({ try $0.put(Key("t\(th)-\(i)"), .raw("\(th)/\(i)")) }) {
                        results.append(c)
                    }
                }
                group.leave()
            }.start()
        }
        group.wait()
        let commits = results.values
        #expect(commits.count == threads * perThread)
        #expect(Set(commits.map(\.txID)) == Set(1...UInt64(threads * perThread)))
        #expect(Set(commits.map(\.txTime)).count == commits.count)
        let s = try db.stats()
        #expect(s.groupedWrites == threads * perThread)
        #expect(s.groupCommits < threads * perThread, "no commit was shared: \(s.groupCommits) groups")
        for th in 0..<threads {
            #expect(try db.get(Key("t\(th)-\(perThread - 1)"))?.value == .raw("\(th)/\(perThread - 1)"))
        }
        #expect(try db.verify().ok)
    }

    @Test func oneFailingWriterDoesNotFailTheOthers() async throws {
        let tmp = try TempDatabase(sync: .full, start: 1_000)
        let db = tmp.db
        try await db.write { try $0.put("seed", .raw("x")) }
        // Half the writers fail inside the writer (valid_to before the transaction time).
        let outcomes = try await withThrowingTaskGroup(of: (Int, Result<Commit, LLMDBError>).self) { group in
            for i in 0..<32 {
                group.addTask {
                    do {
                        let c = try await db.write { b in
                            try b.put(Key("w\(i)"), .raw("first op of \(i)"), validFrom: t(0))
                            if i % 2 == 1 { try b.put(Key("w\(i)"), .raw("bad"), validTo: t(1)) }
                        }
                        return (i, .success(c))
                    } catch let e as LLMDBError {
                        return (i, .failure(e))
                    }
                }
            }
            var all: [(Int, Result<Commit, LLMDBError>)] = []
            for try await r in group { all.append(r) }
            return all
        }
        for (i, r) in outcomes {
            switch r {
            case .success:
                #expect(i % 2 == 0)
                #expect(try db.get(Key("w\(i)"), validAt: t(0))?.value == .raw("first op of \(i)"))
            case .failure(let e):
                #expect(i % 2 == 1)
                #expect(e.code == .invalidTimeRange)
                #expect(try db.history(of: Key("w\(i)"), withCorrections: true).isEmpty)
            }
        }
        let ids = outcomes.compactMap { try? $0.1.get().txID }.sorted()
        #expect(ids == Array(2...17))
    }
}

final class LockedArray<T>: @unchecked Sendable {
    // @unchecked Sendable: every access holds `lock`.
    private let lock = NSLock()
    private var items: [T] = []
    func append(_ x: T) {
        lock.lock()
        items.append(x)
        lock.unlock()
    }
    var values: [T] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

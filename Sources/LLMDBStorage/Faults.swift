import Synchronization

/// A seam for tests: forces the next LMDB calls of a kind in one environment to fail with a
/// given code, as a full disk or an I/O error would. Present in every build (release tests
/// use it too) but inert until a test arms it; each environment has its own, so tests
/// running in parallel do not disturb each other.
@_spi(Testing)
public final class Faults: Sendable {
    /// The call that fails.
    public struct Site: Hashable, Sendable {
        let raw: Int
        public static let put = Site(raw: 0)
        public static let commit = Site(raw: 1)
    }

    private let armed = Mutex<[Site: (code: LMDBError.Code, remaining: Int)]>([:])
    private let any = Atomic<Bool>(false)

    init() {}

    /// Makes the next `count` calls at `site` fail with `code`.
    public func arm(_ site: Site, _ code: LMDBError.Code, count: Int = 1) {
        armed.withLock { $0[site] = (code, count) }
        any.store(true, ordering: .releasing)
    }

    /// Disarms every site.
    public func reset() {
        armed.withLock { $0.removeAll() }
        any.store(false, ordering: .releasing)
    }

    func take(_ site: Site) -> LMDBError? {
        guard any.load(ordering: .acquiring) else { return nil }
        return armed.withLock { table -> LMDBError? in
            guard let entry = table[site], entry.remaining > 0 else { return nil }
            table[site] = entry.remaining == 1 ? nil : (entry.code, entry.remaining - 1)
            return LMDBError(code: entry.code, operation: site == .put ? "mdb_put" : "mdb_txn_commit")
        }
    }

    @inline(__always)
    func check(_ site: Site) throws(LMDBError) {
        if let error = take(site) { throw error }
    }
}

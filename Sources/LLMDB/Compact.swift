import LLMDBStorage
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What ``Database/compact(path:)`` did.
public struct CompactionResult: Sendable, Hashable {
    public let bytesBefore: Int
    public let bytesAfter: Int
}

extension Database {
    /// Rewrites the database file in place with only its live pages: freed pages, which
    /// still hold the bytes of erased or overwritten entries (LMDB is copy-on-write), are
    /// gone afterwards. Offline: refused while any process (this one included, through an
    /// open ``Database``) has the file open.
    ///
    /// How: LMDB's lock file carries a shared `fcntl` lock on its first byte from every
    /// process that has the environment open; compaction takes it exclusively (so nobody
    /// else has the file open, and openers wait), writes a compacted copy beside the file,
    /// syncs it and renames it over the original.
    @discardableResult
    public static func compact(path: String) throws(LLMDBError) -> CompactionResult {
        var st = stat()
        guard stat(path, &st) == 0 else { throw LLMDBError(.invalidArgument, "no database at \(path)") }
        let before = Int(st.st_size)
        if let id = fileID(path), openFiles.withLock({ $0[id] != nil }) {
            throw LLMDBError(.invalidArgument, "\(path) is open in this process; release every Database of it before compacting")
        }
        let lockPath = path + "-lock"
        let lockFD = Glibc.open(lockPath, O_RDWR | O_CREAT, 0o644)
        guard lockFD >= 0 else { throw LLMDBError(.readOnly, "cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        defer { _ = Glibc.close(lockFD) }
        func lockExclusively() -> Bool {
            var fl = flock()
            fl.l_type = Int16(F_WRLCK)
            fl.l_whence = Int16(SEEK_SET)
            fl.l_start = 0
            fl.l_len = 1
            return fcntl(lockFD, F_SETLK, &fl) == 0
        }
        let busy = LLMDBError(.invalidArgument, "\(path) is open in another process; compaction needs it closed everywhere")
        guard lockExclusively() else { throw busy }
        // Open it ourselves (this validates the format), and write the compacted copy.
        let tmp = path + ".compact-\(getpid())"
        unlink(tmp)
        do {
            var o = Options()
            o.readOnly = true
            let db = try Database(path: path, options: o)
            do { try db.env.copy(to: tmp, compact: true) } catch {
                unlink(tmp)
                throw LLMDBError.storage(error, "compaction of \(path) failed")
            }
        }
        // Closing our environment released our fcntl locks (POSIX drops all of a process's
        // locks on a file when any descriptor of it closes): take the lock again, and give up
        // if someone opened the file meanwhile.
        guard lockExclusively() else {
            unlink(tmp)
            throw busy
        }
        let fd = Glibc.open(tmp, O_RDONLY)
        if fd >= 0 { fsync(fd); _ = Glibc.close(fd) }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw LLMDBError(.storage, "cannot replace \(path) with its compacted copy: \(reason)")
        }
        // Make the rename durable.
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let dfd = Glibc.open(dir.isEmpty ? "/" : dir, O_RDONLY)
        if dfd >= 0 { fsync(dfd); _ = Glibc.close(dfd) }
        let after = stat(path, &st) == 0 ? Int(st.st_size) : 0
        return CompactionResult(bytesBefore: before, bytesAfter: after)
    }
}

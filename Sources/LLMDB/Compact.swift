import Foundation
@_spi(Testing) import LLMDBStorage
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
        // No Database of this process may open the file while it is compacted (fcntl locks
        // do not separate one process's descriptors): the gate serializes with init.
        compactionGate.lock()
        defer { compactionGate.unlock() }
        var st = stat()
        guard stat(path, &st) == 0 else { throw LLMDBError(.invalidArgument, "no database at \(path)") }
        let before = Int(st.st_size)
        let mode = st.st_mode & 0o7777
        if let id = fileID(path), openFiles.withLock({ $0[id] != nil }) {
            throw LLMDBError(
                .invalidArgument,
                "\(path) is open in this process; release every Database of it before compacting"
            )
        }
        let lockPath = path + "-lock"
        let lockFD = Glibc.open(lockPath, O_RDWR | O_CREAT, 0o644)
        guard lockFD >= 0 else {
            throw LLMDBError(.readOnly, "cannot open \(lockPath): \(String(cString: strerror(errno)))")
        }
        defer { _ = Glibc.close(lockFD) }
        var fl = flock()
        fl.l_type = Int16(F_WRLCK)
        fl.l_whence = Int16(SEEK_SET)
        fl.l_start = 0
        fl.l_len = 1
        guard fcntl(lockFD, F_SETLK, &fl) == 0 else {
            throw LLMDBError(
                .invalidArgument,
                "\(path) is open in another process; compaction needs it closed everywhere"
            )
        }
        // We hold LMDB's lock exclusively until the rename. Open the environment without the
        // lock file (MDB_NOLOCK) so that LMDB's own locking cannot replace our lock.
        _ = try precheck(path: path, options: Options())
        let tmp = path + ".compact-\(getpid())"
        unlink(tmp)
        do {
            var o = Environment.Options()
            o.readOnly = true
            o.noLock = true
            let env: Environment
            do { env = try Environment(path: path, options: o) } catch {
                throw LLMDBError.storage(error, "cannot open \(path) for compaction")
            }
            let tables: [String: Table]
            do { tables = try env.openTables(["meta"], create: false) } catch {
                throw LLMDBError.storage(error, "cannot open \(path) for compaction")
            }
            guard let meta = tables["meta"] else {
                throw LLMDBError(.notADatabase, "\(path) is an LMDB file but not an LLMDB database (no meta table)")
            }
            try checkFormat(env: env, meta: meta, path: path, fresh: false)
            do { try env.copy(to: tmp, compact: true) } catch {
                unlink(tmp)
                throw LLMDBError.storage(error, "compaction of \(path) failed")
            }
        }
        // The copy gets the original's permissions (mdb_env_copy2 creates it 0666 & ~umask).
        let fd = Glibc.open(tmp, O_RDONLY)
        if fd >= 0 {
            _ = fchmod(fd, mode)
            _ = fchown(fd, st.st_uid, st.st_gid)
            fsync(fd)
            _ = Glibc.close(fd)
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw LLMDBError(.storage, "cannot replace \(path) with its compacted copy: \(reason)")
        }
        // Make the rename durable.
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let dfd = Glibc.open(dir.isEmpty ? "/" : dir, O_RDONLY)
        if dfd >= 0 {
            fsync(dfd)
            _ = Glibc.close(dfd)
        }
        let after = stat(path, &st) == 0 ? Int(st.st_size) : 0
        return CompactionResult(bytesBefore: before, bytesAfter: after)
    }
}

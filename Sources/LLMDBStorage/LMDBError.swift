import CLMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error reported by LMDB or by the storage layer around it.
///
/// The code is the raw LMDB (or `errno`) value; `operation` names the C call that
/// failed, so that a message reads "mdb_put: MDB_MAP_FULL: Environment mapsize limit reached".
/// Keys and values are never part of the message.
public struct LMDBError: Error, Sendable, Hashable, CustomStringConvertible {
    /// An LMDB return code, or an `errno` value for system errors.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// The corresponding C error is `MDB_KEYEXIST`.
        public static let keyExists = Code(rawValue: MDB_KEYEXIST)
        /// The corresponding C error is `MDB_NOTFOUND`.
        public static let notFound = Code(rawValue: MDB_NOTFOUND)
        /// The corresponding C error is `MDB_PAGE_NOTFOUND`.
        public static let pageNotFound = Code(rawValue: MDB_PAGE_NOTFOUND)
        /// The corresponding C error is `MDB_CORRUPTED`.
        public static let corrupted = Code(rawValue: MDB_CORRUPTED)
        /// The corresponding C error is `MDB_PANIC`.
        public static let panic = Code(rawValue: MDB_PANIC)
        /// The corresponding C error is `MDB_VERSION_MISMATCH`.
        public static let versionMismatch = Code(rawValue: MDB_VERSION_MISMATCH)
        /// The corresponding C error is `MDB_INVALID`: the file is not an LMDB file.
        public static let invalid = Code(rawValue: MDB_INVALID)
        /// The corresponding C error is `MDB_MAP_FULL`.
        public static let mapFull = Code(rawValue: MDB_MAP_FULL)
        /// The corresponding C error is `MDB_DBS_FULL`.
        public static let tablesFull = Code(rawValue: MDB_DBS_FULL)
        /// The corresponding C error is `MDB_READERS_FULL`.
        public static let readersFull = Code(rawValue: MDB_READERS_FULL)
        /// The corresponding C error is `MDB_TLS_FULL`.
        public static let tlsFull = Code(rawValue: MDB_TLS_FULL)
        /// The corresponding C error is `MDB_TXN_FULL`.
        public static let transactionFull = Code(rawValue: MDB_TXN_FULL)
        /// The corresponding C error is `MDB_CURSOR_FULL`.
        public static let cursorFull = Code(rawValue: MDB_CURSOR_FULL)
        /// The corresponding C error is `MDB_PAGE_FULL`.
        public static let pageFull = Code(rawValue: MDB_PAGE_FULL)
        /// The corresponding C error is `MDB_MAP_RESIZED`.
        public static let mapResized = Code(rawValue: MDB_MAP_RESIZED)
        /// The corresponding C error is `MDB_INCOMPATIBLE`.
        public static let incompatible = Code(rawValue: MDB_INCOMPATIBLE)
        /// The corresponding C error is `MDB_BAD_RSLOT`.
        public static let badReaderSlot = Code(rawValue: MDB_BAD_RSLOT)
        /// The corresponding C error is `MDB_BAD_TXN`.
        public static let badTransaction = Code(rawValue: MDB_BAD_TXN)
        /// The corresponding C error is `MDB_BAD_VALSIZE`: a key or value of an unsupported size.
        public static let badValueSize = Code(rawValue: MDB_BAD_VALSIZE)
        /// The corresponding C error is `MDB_BAD_DBI`.
        public static let badTable = Code(rawValue: MDB_BAD_DBI)
        /// The corresponding C error is `ENOSPC`: the disk is full.
        public static let noSpace = Code(rawValue: ENOSPC)
        /// The corresponding C error is `EACCES`.
        public static let permissionDenied = Code(rawValue: EACCES)
        /// The corresponding C error is `EROFS`.
        public static let readOnlyFileSystem = Code(rawValue: EROFS)
        /// The corresponding C error is `ENOENT`.
        public static let noSuchFile = Code(rawValue: ENOENT)
        /// The corresponding C error is `EIO`.
        public static let ioError = Code(rawValue: EIO)
        /// The corresponding C error is `EINVAL`.
        public static let invalidArgument = Code(rawValue: EINVAL)
        /// The corresponding C error is `EAGAIN`: the lock file is locked by another process.
        public static let wouldBlock = Code(rawValue: EAGAIN)

        /// The C name of the code, such as `MDB_MAP_FULL` or `ENOSPC`.
        public var name: String {
            switch self {
            case .keyExists: "MDB_KEYEXIST"
            case .notFound: "MDB_NOTFOUND"
            case .pageNotFound: "MDB_PAGE_NOTFOUND"
            case .corrupted: "MDB_CORRUPTED"
            case .panic: "MDB_PANIC"
            case .versionMismatch: "MDB_VERSION_MISMATCH"
            case .invalid: "MDB_INVALID"
            case .mapFull: "MDB_MAP_FULL"
            case .tablesFull: "MDB_DBS_FULL"
            case .readersFull: "MDB_READERS_FULL"
            case .tlsFull: "MDB_TLS_FULL"
            case .transactionFull: "MDB_TXN_FULL"
            case .cursorFull: "MDB_CURSOR_FULL"
            case .pageFull: "MDB_PAGE_FULL"
            case .mapResized: "MDB_MAP_RESIZED"
            case .incompatible: "MDB_INCOMPATIBLE"
            case .badReaderSlot: "MDB_BAD_RSLOT"
            case .badTransaction: "MDB_BAD_TXN"
            case .badValueSize: "MDB_BAD_VALSIZE"
            case .badTable: "MDB_BAD_DBI"
            case .noSpace: "ENOSPC"
            case .permissionDenied: "EACCES"
            case .readOnlyFileSystem: "EROFS"
            case .noSuchFile: "ENOENT"
            case .ioError: "EIO"
            case .invalidArgument: "EINVAL"
            case .wouldBlock: "EAGAIN"
            default: "error \(rawValue)"
            }
        }

        public var description: String { name }

        public static func ~= (code: Code, error: any Error) -> Bool {
            (error as? LMDBError)?.code == code
        }
    }

    /// What went wrong.
    public var code: Code
    /// The C function that reported it.
    public var operation: String

    public init(code: Code, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// LMDB's own text for the code.
    public var message: String {
        unsafe String(cString: mdb_strerror(code.rawValue))
    }

    public var description: String { "\(operation): \(code.name): \(message)" }
}

/// Turns an LMDB return code into a thrown `LMDBError`.
@inline(__always)
package func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
    if rc != 0 {
        throw LMDBError(code: .init(rawValue: rc), operation: operation())
    }
}

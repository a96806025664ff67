public import LLMDBStorage

/// An error of the LLMDB core: what kind (``code``), a one-line ``message`` that says what
/// was wrong, and the storage error behind it, if any. Messages never contain keys or values.
public struct LLMDBError: Error, Sendable, CustomStringConvertible {
    /// The kind of an ``LLMDBError``; compare with `==` or match with `~=`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Raw: String, Sendable {
            case emptyKey = "empty_key"
            case keyTooLong = "key_too_long"
            case nullValue = "null_value"
            case invalidJSON = "invalid_json"
            case invalidValue = "invalid_value"
            case invalidTimeRange = "invalid_time_range"
            case transactionTimeNotIncreasing = "tx_time_not_increasing"
            case unknownValueTag = "unknown_value_tag"
            case notADatabase = "not_a_database"
            case formatVersion = "format_version"
            case readOnly = "read_only"
            case mapFull = "map_full"
            case diskFull = "disk_full"
            case corrupted = "corrupted"
            case invalidArgument = "invalid_argument"
            case storage = "storage"
            case closed = "closed"
            case reservedPartition = "reserved_partition"
            case notFound = "not_found"
            case invalidModule = "invalid_module"
            case hookRejected = "hook_rejected"
            case codeFailed = "code_failed"
            case codeLimit = "code_limit"
            case codeUnavailable = "code_unavailable"
            case conflict = "conflict"
            case schemaViolation = "schema_violation"
            case invalidSchema = "invalid_schema"
            case invalidQuery = "invalid_query"
        }
        private let raw: Raw
        private init(_ raw: Raw) { self.raw = raw }

        /// A key of zero bytes.
        public static let emptyKey = Code(.emptyKey)
        /// A key longer than LMDB's key limit allows.
        public static let keyTooLong = Code(.keyTooLong)
        /// JSON `null` as a value (a delete is the way to say "absent").
        public static let nullValue = Code(.nullValue)
        /// Bytes that are not one valid JSON text.
        public static let invalidJSON = Code(.invalidJSON)
        /// A value that does not decode as its type says (MessagePack, edge, vector, ...).
        public static let invalidValue = Code(.invalidValue)
        /// `valid_to ≤ valid_from`, or a window whose end precedes its start.
        public static let invalidTimeRange = Code(.invalidTimeRange)
        /// An explicit transaction time that is not after the last one.
        public static let transactionTimeNotIncreasing = Code(.transactionTimeNotIncreasing)
        /// A stored value whose type tag this version does not know.
        public static let unknownValueTag = Code(.unknownValueTag)
        /// The file is not an LLMDB database.
        public static let notADatabase = Code(.notADatabase)
        /// The file is an LLMDB database of another format version.
        public static let formatVersion = Code(.formatVersion)
        /// A write to a database opened read-only.
        public static let readOnly = Code(.readOnly)
        /// The map reached its maximum size.
        public static let mapFull = Code(.mapFull)
        /// The disk is full.
        public static let diskFull = Code(.diskFull)
        /// The file's contents are inconsistent.
        public static let corrupted = Code(.corrupted)
        /// An argument out of its domain.
        public static let invalidArgument = Code(.invalidArgument)
        /// Another storage failure (see ``LLMDBError/cause``).
        public static let storage = Code(.storage)
        /// The database was closed.
        public static let closed = Code(.closed)
        /// A write to LLMDB's own partition (code, hooks, indexes) outside the APIs that manage it.
        public static let reservedPartition = Code(.reservedPartition)
        /// A module, hook or index name that does not exist.
        public static let notFound = Code(.notFound)
        /// A WebAssembly module refused at registration, or a stored one that no longer verifies.
        public static let invalidModule = Code(.invalidModule)
        /// A transaction hook rejected the transaction (its reason is in the message).
        public static let hookRejected = Code(.hookRejected)
        /// User code trapped, failed, or returned malformed output.
        public static let codeFailed = Code(.codeFailed)
        /// User code exceeded a limit: fuel, the wall-clock deadline, or memory.
        public static let codeLimit = Code(.codeLimit)
        /// The database has hooks or indexes but was opened without a code runner.
        public static let codeUnavailable = Code(.codeUnavailable)
        /// A key was not in the state a transaction expected (``WriteBatch/expect(_:_:)``).
        public static let conflict = Code(.conflict)
        /// A document does not satisfy its collection's schema (every violation is listed).
        public static let schemaViolation = Code(.schemaViolation)
        /// A schema outside the supported JSON Schema subset.
        public static let invalidSchema = Code(.invalidSchema)
        /// A filter, projection, sort or cursor that is not well-formed.
        public static let invalidQuery = Code(.invalidQuery)

        /// A stable snake_case name, for JSON error bodies and exit messages.
        public var name: String { raw.rawValue }
        public var description: String { raw.rawValue }

        public static func ~= (code: Code, error: any Error) -> Bool {
            (error as? LLMDBError)?.code == code
        }
    }

    public var code: Code
    public var message: String
    /// The storage error behind this one, if any.
    public var cause: LMDBError?

    public init(_ code: Code, _ message: String, cause: LMDBError? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }

    /// Maps any error thrown below the core to an ``LLMDBError``.
    static func wrap(_ e: any Error, _ what: String) -> LLMDBError {
        if let e = e as? LLMDBError { return e }
        if let e = e as? LMDBError { return storage(e, what) }
        return LLMDBError(.storage, "\(what): \(e)")
    }

    /// Maps a storage error to the core's vocabulary.
    static func storage(_ e: LMDBError, _ what: String) -> LLMDBError {
        switch e.code {
        case .mapFull:
            LLMDBError(
                .mapFull,
                "\(what): the database reached its maximum map size (raise --max-map-size); nothing was written",
                cause: e
            )
        case .noSpace:
            LLMDBError(.diskFull, "\(what): the disk is full; nothing was written", cause: e)
        case .corrupted, .pageNotFound, .panic:
            LLMDBError(.corrupted, "\(what): the database file is damaged (\(e.code.name))", cause: e)
        case .permissionDenied, .readOnlyFileSystem:
            LLMDBError(.readOnly, "\(what): permission denied (\(e.code.name))", cause: e)
        default:
            LLMDBError(.storage, "\(what): \(e)", cause: e)
        }
    }
}

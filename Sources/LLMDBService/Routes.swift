public import LLMDB

/// One REST route: its method and path, what it takes, and the service operation behind
/// it. The router and the OpenAPI document are both built from this table, so the
/// document matches the server exactly.
public struct Route: Sendable {
    public enum Method: String, Sendable {
        case get = "GET"
        case post = "POST"
        case put = "PUT"
        case patch = "PATCH"
        case delete = "DELETE"
    }
    public enum FieldType: Sendable {
        case string
        case integer
        case number
        case boolean
        case time
        case json
        case object
        case strings
        case objects

        package var schema: JSONValue {
            switch self {
            case .string: ["type": "string"]
            case .integer: ["type": "integer"]
            case .number: ["type": "number"]
            case .boolean: ["type": "boolean"]
            case .time:
                [
                    "oneOf": [["type": "string"], ["type": "integer"]],
                    "description": "ISO 8601 (2026-01-31T12:00:00Z) or microseconds since the epoch",
                ]
            case .json: ["description": "any JSON value"]
            case .object: ["type": "object"]
            case .strings: ["type": "array", "items": ["type": "string"]]
            case .objects: ["type": "array", "items": ["type": "object"]]
            }
        }
        /// Query parameters arrive as text.
        package var querySchema: JSONValue {
            switch self {
            case .integer: ["type": "integer"]
            case .number: ["type": "number"]
            case .boolean: ["type": "boolean"]
            default: ["type": "string"]
            }
        }
    }
    public struct Field: Sendable {
        public let name: String
        public let type: FieldType
        public let required: Bool
        public let doc: String

        /// The JSON schema of the field in a body or in tool arguments, with its description.
        package var schema: JSONValue {
            guard !doc.isEmpty, case .object(var m) = type.schema else { return type.schema }
            m.removeAll { $0.key == "description" }
            m.append(JSONMember("description", .string(doc)))
            return .object(m)
        }
    }

    public let method: Method
    /// Hummingbird syntax: `/v1/collections/:collection/documents/:id`.
    public let path: String
    public let operationID: String
    public let summary: String
    public let tag: String
    /// Query parameters (GET, DELETE) or body fields (POST, PUT, PATCH); path parameters
    /// are the `:name` parts of the path.
    public let fields: [Field]
    public let role: Principal.Role
    public let handler: @Sendable (Service, Args, Principal) throws -> JSONValue

    public var hasBody: Bool { method == .post || method == .put || method == .patch }

    /// Runs the operation after refusing fields the route does not take (a typo must not be
    /// silently ignored): REST and MCP both call this.
    public func run(_ service: Service, _ args: Args, _ principal: Principal) throws -> JSONValue {
        try args.only(Set(fields.map(\.name) + pathParameters))
        return try handler(service, args, principal)
    }

    public var pathParameters: [String] {
        path.split(separator: "/").filter { $0.hasPrefix(":") }.map { String($0.dropFirst()) }
    }
}

func f(_ name: String, _ type: Route.FieldType, required: Bool = false, _ doc: String = "") -> Route.Field {
    Route.Field(name: name, type: type, required: required, doc: doc)
}

let asOfFields = [
    f("valid_at", .time, "valid time to read at (default now)"),
    f("tx", .integer, "transaction id to read as of (default latest)"),
    f("tx_time", .time, "read as of the transaction current at this time"),
]
let txFields = [
    f("tx", .integer, "transaction id to read as of"), f("tx_time", .time, "transaction time to read as of"),
]
let pageFields = [f("limit", .integer, "page size"), f("cursor", .string, "next_cursor of the previous page")]
let partitionField = f("partition", .integer, "partition (default 0)")

extension Route {
    /// Every REST route of `llmdb serve`.
    public static let all: [Route] = [
        // Facts
        Route(
            method: .get,
            path: "/v1/facts",
            operationID: "getFact",
            summary: "Read a key's value as of a valid and transaction time",
            tag: "facts",
            fields: [f("key", .string, required: true), partitionField] + asOfFields,
            role: .read
        ) { s, a, p in try s.getFact(a, p) },
        Route(
            method: .put,
            path: "/v1/facts",
            operationID: "putFact",
            summary: "Write a value (JSON `value` or text `raw`) valid from valid_from (default now) to valid_to",
            tag: "facts",
            fields: [
                f("key", .string, required: true), partitionField, f("value", .json), f("raw", .string),
                f("valid_from", .time), f("valid_to", .time),
            ],
            role: .write
        ) { s, a, p in try s.putFact(a, p) },
        Route(
            method: .delete,
            path: "/v1/facts",
            operationID: "deleteFact",
            summary: "Retract a key over a valid-time range (history is kept)",
            tag: "facts",
            fields: [f("key", .string, required: true), partitionField, f("valid_from", .time), f("valid_to", .time)],
            role: .write
        ) { s, a, p in try s.deleteFact(a, p) },
        Route(
            method: .post,
            path: "/v1/facts/erase",
            operationID: "eraseFact",
            summary: "Physically remove every version of a key",
            tag: "facts",
            fields: [f("key", .string, required: true), partitionField],
            role: .write
        ) { s, a, p in try s.eraseFact(a, p) },
        Route(
            method: .get,
            path: "/v1/facts/history",
            operationID: "factHistory",
            summary: "Every version of a key",
            tag: "facts",
            fields: [
                f("key", .string, required: true), partitionField,
                f("corrections", .boolean, "include superseded corrections"),
            ]
                + txFields + pageFields,
            role: .read
        ) { s, a, p in try s.history(a, p) },
        Route(
            method: .get,
            path: "/v1/facts/timeline",
            operationID: "factTimeline",
            summary: "A key's value over valid time, merged into runs",
            tag: "facts",
            fields: [f("key", .string, required: true), partitionField] + txFields + pageFields,
            role: .read
        ) { s, a, p in try s.timeline(a, p) },
        Route(
            method: .get,
            path: "/v1/scan",
            operationID: "scan",
            summary: "Keys with a prefix, as of a time, in key order",
            tag: "facts",
            fields: [f("prefix", .string), partitionField] + asOfFields + pageFields,
            role: .read
        ) { s, a, p in try s.scan(a, p) },
        Route(
            method: .post,
            path: "/v1/apply",
            operationID: "apply",
            summary: "Several puts, deletes and erases in one transaction",
            tag: "facts",
            fields: [
                f(
                    "operations",
                    .objects,
                    required: true,
                    "[{op: put|delete|erase, key, partition, value, raw, valid_from, valid_to}]"
                )
            ],
            role: .write
        ) { s, a, p in try s.apply(a, p) },
        Route(
            method: .get,
            path: "/v1/transactions",
            operationID: "transactions",
            summary: "The transaction log, newest first",
            tag: "facts",
            fields: pageFields,
            role: .read
        ) { s, a, p in try s.transactions(a, p) },
        // Documents
        Route(
            method: .post,
            path: "/v1/collections/:collection/documents",
            operationID: "insertDocument",
            summary: "Insert a document (an id is generated unless given)",
            tag: "documents",
            fields: [f("document", .json, required: true), f("id", .string), partitionField, f("valid_from", .time)],
            role: .write
        ) { s, a, p in try s.insertDocument(a, p) },
        Route(
            method: .get,
            path: "/v1/collections/:collection/documents/:id",
            operationID: "getDocument",
            summary: "A document as of a time (optionally shown at another schema version)",
            tag: "documents",
            fields: [partitionField, f("schema_version", .integer)] + asOfFields,
            role: .read
        ) { s, a, p in try s.getDocument(a, p) },
        Route(
            method: .put,
            path: "/v1/collections/:collection/documents/:id",
            operationID: "replaceDocument",
            summary: "Replace a document",
            tag: "documents",
            fields: [f("document", .json, required: true), partitionField, f("valid_from", .time)],
            role: .write
        ) { s, a, p in try s.replaceDocument(a, p) },
        Route(
            method: .patch,
            path: "/v1/collections/:collection/documents/:id",
            operationID: "patchDocument",
            summary: "Apply a JSON merge patch (RFC 7386)",
            tag: "documents",
            fields: [f("patch", .json, required: true), partitionField],
            role: .write
        ) { s, a, p in try s.patchDocument(a, p) },
        Route(
            method: .delete,
            path: "/v1/collections/:collection/documents/:id",
            operationID: "deleteDocument",
            summary: "Delete a document from valid_from (default now)",
            tag: "documents",
            fields: [partitionField, f("valid_from", .time)],
            role: .write
        ) { s, a, p in try s.deleteDocument(a, p) },
        Route(
            method: .get,
            path: "/v1/collections/:collection/documents/:id/history",
            operationID: "documentHistory",
            summary: "Every version of a document",
            tag: "documents",
            fields: [partitionField, f("corrections", .boolean)] + txFields + pageFields,
            role: .read
        ) { s, a, p in try s.documentHistory(a, p) },
        Route(
            method: .post,
            path: "/v1/collections/:collection/find",
            operationID: "findDocuments",
            summary: "Documents matching a filter, as of a time",
            tag: "documents",
            fields: [
                f("filter", .object, "see docs/documents.md"), f("fields", .strings), f("sort", .strings),
                partitionField,
                f("schema_version", .integer),
            ] + asOfFields + pageFields,
            role: .read
        ) { s, a, p in try s.findDocuments(a, p) },
        Route(
            method: .put,
            path: "/v1/collections/:collection/text-index",
            operationID: "createTextIndex",
            summary: "Create the collection's full-text (BM25) index over its documents' strings (or those under path)",
            tag: "documents",
            fields: [f("path", .string, "a dotted path; default: every string"), partitionField],
            role: .admin
        ) { s, a, p in try s.createTextIndex(a, p) },
        Route(
            method: .post,
            path: "/v1/collections/:collection/search",
            operationID: "searchDocuments",
            summary: "Documents ranked by BM25 over their text, as of a time",
            tag: "documents",
            fields: [f("query", .string, required: true), f("limit", .integer), partitionField] + asOfFields,
            role: .read
        ) { s, a, p in try s.searchDocuments(a, p) },
        // Schemas and migrations
        Route(
            method: .get,
            path: "/v1/collections/:collection/schemas",
            operationID: "listSchemas",
            summary: "The schema versions of a collection",
            tag: "schemas",
            fields: [partitionField] + txFields + pageFields,
            role: .read
        ) { s, a, p in try s.listSchemas(a, p) },
        Route(
            method: .get,
            path: "/v1/collections/:collection/schema",
            operationID: "describeSchema",
            summary: "One schema version (default: current)",
            tag: "schemas",
            fields: [partitionField, f("version", .integer)] + txFields,
            role: .read
        ) { s, a, p in try s.describeSchema(a, p) },
        Route(
            method: .put,
            path: "/v1/collections/:collection/schema",
            operationID: "setSchema",
            summary: "Set a new schema version",
            tag: "schemas",
            fields: [f("schema", .object, required: true), partitionField],
            role: .admin
        ) { s, a, p in try s.setSchema(a, p) },
        Route(
            method: .post,
            path: "/v1/collections/:collection/migrations/dry-run",
            operationID: "dryRunMigration",
            summary: "Run a migration on the documents without writing",
            tag: "schemas",
            fields: [f("migration", .object, required: true), f("sample", .integer), partitionField],
            role: .read
        ) { s, a, p in try s.dryRunMigration(a, p) },
        Route(
            method: .post,
            path: "/v1/collections/:collection/migrations",
            operationID: "applyMigration",
            summary: "Apply a migration (documents are migrated lazily)",
            tag: "schemas",
            fields: [f("migration", .object, required: true), f("skip_failures", .boolean), partitionField],
            role: .admin
        ) { s, a, p in try s.applyMigration(a, p) },
        Route(
            method: .get,
            path: "/v1/collections/:collection/migrations/status",
            operationID: "migrationStatus",
            summary: "Progress of the background rewrite",
            tag: "schemas",
            fields: [partitionField],
            role: .read
        ) { s, a, p in try s.migrationStatus(a, p) },
        // Code
        Route(
            method: .get,
            path: "/v1/code",
            operationID: "listCode",
            summary: "Registered WebAssembly modules",
            tag: "code",
            fields: txFields + pageFields,
            role: .read
        ) { s, a, p in try s.listCode(a, p) },
        Route(
            method: .get,
            path: "/v1/code/:name",
            operationID: "getCode",
            summary: "One module",
            tag: "code",
            fields: txFields,
            role: .read
        ) { s, a, p in try s.getCode(a, p) },
        Route(
            method: .post,
            path: "/v1/code",
            operationID: "addCode",
            summary: "Register a module (WAT text or base64 binary)",
            tag: "code",
            fields: [
                f("name", .string, required: true), f("wat", .string), f("wasm_base64", .string), f("kind", .string),
                f("function", .string),
            ],
            role: .admin
        ) { s, a, p in try s.addCode(a, p) },
        Route(
            method: .delete,
            path: "/v1/code/:name",
            operationID: "removeCode",
            summary: "Remove a module",
            tag: "code",
            fields: [f("force", .boolean)],
            role: .admin
        ) { s, a, p in try s.removeCode(a, p) },
        // Query
        Route(
            method: .post,
            path: "/v1/query",
            operationID: "query",
            summary: "Run LQL (see docs/lql.md)",
            tag: "query",
            fields: [
                f("lql", .string, required: true), f("parameters", .json, "an object (:name) or an array ($1, $2, …)"),
            ],
            role: .read
        ) { s, a, p in try s.query(a, p) },
        // Memory
        Route(
            method: .post,
            path: "/v1/memory/remember",
            operationID: "remember",
            summary: "Store one memory (key, content, …) or a batch ('memories') in one transaction",
            tag: "memory",
            fields: [
                f("memories", .objects), partitionField, f("key", .string, "agent:{kind}:{id}"), f("content", .json),
                f("confidence", .number), f("source", .string), f("dependencies", .strings), f("expires_at", .time),
                f("valid_from", .time),
            ],
            role: .write
        ) { s, a, p in try s.remember(a, p) },
        Route(
            method: .post,
            path: "/v1/memory/recall",
            operationID: "recall",
            summary: "Memories ranked by BM25 over their content, within a count and byte budget",
            tag: "memory",
            fields: [
                f("query", .string, required: true), partitionField, f("namespace", .string), f("limit", .integer),
                f("max_bytes", .integer), f("max_tokens", .integer), f("include_expired", .boolean),
                f("min_confidence", .number),
                f("source", .string), f("recency_weight", .number), f("recency_half_life", .number, "seconds"),
                f("confidence_weight", .number),
            ] + asOfFields,
            role: .read
        ) { s, a, p in try s.recall(a, p) },
        Route(
            method: .post,
            path: "/v1/memory/correct",
            operationID: "correct",
            summary: "Correct a memory: same valid time, new transaction, with a reason",
            tag: "memory",
            fields: [
                f("key", .string, required: true), f("reason", .string, required: true), partitionField,
                f("content", .json),
                f("confidence", .number), f("source", .string), f("dependencies", .strings), f("expires_at", .time),
                f("valid_at", .time),
            ],
            role: .write
        ) { s, a, p in try s.correct(a, p) },
        Route(
            method: .post,
            path: "/v1/memory/forget",
            operationID: "forget",
            summary: "Retract a memory (erase: true removes every version)",
            tag: "memory",
            fields: [f("key", .string, required: true), partitionField, f("valid_from", .time), f("erase", .boolean)],
            role: .write
        ) { s, a, p in try s.forget(a, p) },
        Route(
            method: .get,
            path: "/v1/memory/history",
            operationID: "memoryHistory",
            summary: "Every version of a memory",
            tag: "memory",
            fields: [f("key", .string, required: true), partitionField] + txFields + pageFields,
            role: .read
        ) { s, a, p in try s.memoryHistory(a, p) },
        Route(
            method: .get,
            path: "/v1/memory/evolution",
            operationID: "knowledgeEvolution",
            summary: "Versions under a key or namespace with the confidence change between them",
            tag: "memory",
            fields: [f("prefix", .string, required: true), partitionField] + txFields + pageFields,
            role: .read
        ) { s, a, p in try s.evolution(a, p) },
        Route(
            method: .get,
            path: "/v1/memory/as-of",
            operationID: "asOf",
            summary: "What was known as of a past transaction",
            tag: "memory",
            fields: [
                f("tx", .integer), f("tx_time", .time), f("prefix", .string), partitionField, f("valid_at", .time),
            ] + pageFields,
            role: .read
        ) { s, a, p in try s.asOf(a, p) },
        Route(
            method: .post,
            path: "/v1/memory/rollback",
            operationID: "rollback",
            summary: "Restore the memories under a prefix as of a transaction, as a new transaction",
            tag: "memory",
            fields: [
                f("prefix", .string, required: true), f("tx", .integer, required: true),
                f("reason", .string, required: true),
                f("decision", .string), partitionField,
            ],
            role: .write
        ) { s, a, p in try s.rollback(a, p) },
        Route(
            method: .get,
            path: "/v1/memory/namespaces",
            operationID: "listNamespaces",
            summary: "Memory kinds and their sizes",
            tag: "memory",
            fields: [partitionField],
            role: .read
        ) { s, a, p in try s.namespaces(a, p) },
        // Vectors
        Route(
            method: .get,
            path: "/v1/vectors",
            operationID: "listVectorCollections",
            summary: "The vector collections (of the partitions this key may use)",
            tag: "vectors",
            fields: [],
            role: .read
        ) { s, a, p in try s.listVectorCollections(a, p) },
        Route(
            method: .post,
            path: "/v1/vectors/:collection",
            operationID: "createVectorCollection",
            summary: "Create a vector collection (no change when it exists alike)",
            tag: "vectors",
            fields: [
                f("dimensions", .integer, required: true, "1 to 65536"),
                f("metric", .string, "cosine (default), dot or l2"), partitionField,
            ],
            role: .admin
        ) { s, a, p in try s.createVectorCollection(a, p) },
        Route(
            method: .get,
            path: "/v1/vectors/:collection",
            operationID: "vectorCollectionStats",
            summary: "A vector collection: its dimension, metric, and how many vectors it holds as of a time",
            tag: "vectors",
            fields: asOfFields,
            role: .read
        ) { s, a, p in try s.vectorCollectionStats(a, p) },
        Route(
            method: .delete,
            path: "/v1/vectors/:collection",
            operationID: "dropVectorCollection",
            summary: "Drop a vector collection: its vectors end now (history stays), its definition goes",
            tag: "vectors",
            fields: [],
            role: .admin
        ) { s, a, p in try s.dropVectorCollection(a, p) },
        Route(
            method: .put,
            path: "/v1/vectors/:collection/vectors",
            operationID: "putVectors",
            summary: "Store one vector (key, vector, metadata) or a batch ('vectors') in one transaction",
            tag: "vectors",
            fields: [
                f("key", .string), f("vector", .json, "an array of numbers"),
                f("metadata", .object, "a JSON object, for filters"), f("valid_from", .time), f("valid_to", .time),
                f("vectors", .objects, "a batch: objects with key, vector, metadata, valid_from, valid_to"),
            ],
            role: .write
        ) { s, a, p in try s.putVectors(a, p) },
        Route(
            method: .get,
            path: "/v1/vectors/:collection/vectors",
            operationID: "getVector",
            summary: "A key's vector as of a valid and transaction time",
            tag: "vectors",
            fields: [f("key", .string, required: true)] + asOfFields,
            role: .read
        ) { s, a, p in try s.getVector(a, p) },
        Route(
            method: .delete,
            path: "/v1/vectors/:collection/vectors",
            operationID: "deleteVector",
            summary: "End a key's vector from a valid time, or erase every version (erase: true)",
            tag: "vectors",
            fields: [f("key", .string, required: true), f("valid_from", .time), f("erase", .boolean)],
            role: .write
        ) { s, a, p in try s.deleteVector(a, p) },
        Route(
            method: .post,
            path: "/v1/vectors/:collection/search",
            operationID: "searchVectors",
            summary: "The k nearest vectors as of a valid and transaction time, with metadata filters",
            tag: "vectors",
            fields: [
                f("vector", .json, required: true, "the query: an array of numbers"),
                f("k", .integer, "how many, 1 to 100 (default 10)"),
                f("filter", .object, "conditions: {\"path.to.field\": value}, each must equal"),
                f("max_bytes", .integer, "cut the answer to fit this many bytes ('truncated' says so)"),
            ] + asOfFields,
            role: .read
        ) { s, a, p in try s.searchVectors(a, p) },
    ]
}

public import LLMDB
import LLMDBService

/// The OpenAPI 3.1 document of the REST API, generated from ``Route/all`` (served at
/// `/openapi.json`).
public enum OpenAPI {
    static let errorStatuses: [(Int, String)] = [
        (400, "Bad input: malformed JSON, a wrong type, a missing or unknown field"),
        (401, "No API key, or an unknown or revoked one"),
        (403, "The key's role or scope does not allow this"),
        (404, "Not found"),
        (408, "The request body arrived too slowly (body_timeout_ms, min_body_rate)"),
        (409, "Conflict with the current state (an id that exists, a concurrent change)"),
        (413, "The request body is larger than the limit"),
        (422, "Refused by a schema, a hook, or a code limit"),
        (503, "Busy (too many requests at once) or shutting down"),
        (507, "The database is full"),
    ]

    /// The bounds the server checks, where a JSON schema can say them.
    static func tightened(_ schema: JSONValue, _ field: Route.Field) -> JSONValue {
        guard case .object(var m) = schema else { return schema }
        if field.required, m.contains(where: { $0.key == "type" && $0.value == "string" }) {
            m.append(JSONMember("minLength", 1))
        }
        if field.name == "limit" { m.append(JSONMember("minimum", 1)) }
        if field.name == "partition" {
            m.append(JSONMember("minimum", 0))
            m.append(JSONMember("maximum", .int(Int64(Key.systemPartition) - 1)))
        }
        return .object(m)
    }

    /// Hummingbird's `:name` to OpenAPI's `{name}`.
    static func path(_ p: String) -> String {
        p.split(separator: "/", omittingEmptySubsequences: false).map {
            $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0)
        }
        .joined(separator: "/")
    }

    public static func document(version: String) -> JSONValue {
        var paths: [String: [JSONMember]] = [:]
        var order: [String] = []
        for r in Route.all {
            let p = path(r.path)
            if paths[p] == nil { order.append(p) }
            var parameters: [JSONValue] = r.pathParameters.map { name in
                ["name": .string(name), "in": "path", "required": true, "schema": ["type": "string", "minLength": 1]]
            }
            var op: [JSONMember] = [
                JSONMember("operationId", .string(r.operationID)),
                JSONMember("summary", .string(r.summary)),
                JSONMember("tags", [.string(r.tag)]),
            ]
            if r.hasBody {
                var props: [JSONMember] = []
                for field in r.fields {
                    props.append(JSONMember(field.name, Self.tightened(field.schema, field)))
                }
                let required = r.fields.filter(\.required).map { JSONValue.string($0.name) }
                var schema: [JSONMember] = [
                    JSONMember("type", "object"),
                    JSONMember("properties", .object(props)),
                    JSONMember("additionalProperties", false),
                ]
                if !required.isEmpty { schema.append(JSONMember("required", .array(required))) }
                op.append(
                    JSONMember(
                        "requestBody",
                        ["required": true, "content": ["application/json": ["schema": .object(schema)]]]
                    )
                )
            } else {
                for field in r.fields {
                    var m: [JSONMember] = [
                        JSONMember("name", .string(field.name)),
                        JSONMember("in", "query"),
                        JSONMember("required", .bool(field.required)),
                        JSONMember("schema", Self.tightened(field.type.querySchema, field)),
                    ]
                    if !field.doc.isEmpty { m.append(JSONMember("description", .string(field.doc))) }
                    parameters.append(.object(m))
                }
            }
            if !parameters.isEmpty { op.append(JSONMember("parameters", .array(parameters))) }
            var responses: [JSONMember] = [
                JSONMember(
                    "200",
                    [
                        "description": "OK",
                        "content": ["application/json": ["schema": ["type": "object"]]],
                    ]
                )
            ]
            for (status, text) in errorStatuses {
                responses.append(
                    JSONMember(
                        String(status),
                        [
                            "description": .string(text),
                            "content": ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]],
                        ]
                    )
                )
            }
            op.append(JSONMember("responses", .object(responses)))
            op.append(JSONMember("x-llmdb-role", .string(r.role.rawValue)))
            paths[p, default: []].append(JSONMember(r.method.rawValue.lowercased(), .object(op)))
        }
        let plain: [(String, String, String)] = [
            ("/health", "health", "Liveness: the database answers"),
            ("/metrics", "metrics", "Prometheus metrics (text format)"),
            ("/openapi.json", "openapi", "This document"),
        ]
        for (p, id, summary) in plain {
            order.append(p)
            let type = p == "/metrics" ? "text/plain" : "application/json"
            let schema: JSONValue = p == "/metrics" ? ["type": "string"] : ["type": "object"]
            let error: JSONValue = ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]]
            var responses: [JSONMember] = [
                JSONMember("200", ["description": "OK", "content": .object([JSONMember(type, ["schema": schema])])]),
                JSONMember("503", ["description": "Shutting down", "content": error]),
            ]
            var op: [JSONMember] = [
                JSONMember("operationId", .string(id)),
                JSONMember("summary", .string(summary)),
                JSONMember("tags", ["operations"]),
            ]
            if p == "/metrics" {
                // Metrics need a key whenever requests do.
                responses.append(
                    JSONMember("401", ["description": "No API key, or an unknown or revoked one", "content": error])
                )
                responses.append(
                    JSONMember(
                        "403",
                        ["description": "The key is limited to partitions or prefixes", "content": error]
                    )
                )
            } else {
                op.append(JSONMember("security", []))
            }
            op.append(JSONMember("responses", .object(responses)))
            paths[p] = [JSONMember("get", .object(op))]
        }
        let errorSchema: JSONValue = [
            "type": "object",
            "required": ["error"],
            "properties": [
                "error": [
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": [
                        "code": ["type": "string"],
                        "message": ["type": "string"],
                        "details": [:],
                    ],
                ]
            ],
        ]
        return .object([
            JSONMember("openapi", "3.1.0"),
            JSONMember(
                "info",
                [
                    "title": "LLMDB",
                    "version": .string(version),
                    "description":
                        "The REST API of llmdb serve: bitemporal facts, documents, schemas and migrations, WebAssembly code, LQL, and agent memory. See docs/server.md.",
                ]
            ),
            JSONMember("paths", .object(order.map { JSONMember($0, .object(paths[$0] ?? [])) })),
            JSONMember(
                "components",
                [
                    "schemas": ["Error": errorSchema],
                    "securitySchemes": [
                        "bearer": [
                            "type": "http", "scheme": "bearer",
                            "description": "llmdb_{id}_{secret} from `llmdb key create`",
                        ],
                        "apiKey": ["type": "apiKey", "in": "header", "name": "X-API-Key"],
                    ],
                ]
            ),
            JSONMember("security", [[:], ["bearer": []], ["apiKey": []]]),
        ])
    }
}

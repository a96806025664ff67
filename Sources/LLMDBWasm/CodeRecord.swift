import LLMDB

/// A registered module's description, stored with its bytes at `_meta/code/{sha256}`.
public struct CodeMeta: Sendable, Hashable {
    public let name: String
    public let kind: WasmFunctionKind
    /// The exported function of that kind that LLMDB calls.
    public let function: String
    /// Every exported function.
    public let exports: [String]
    public let size: Int
    public let sha256: String
}

/// The stored form of a module: the raw-bytes value `[u32 BE length][meta JSON][module]`
/// at `_meta/code/{sha256}`, one per distinct module, whatever names it has.
///
/// The description's `name`, `kind` and `function` are those of one name of the module:
/// the first that registered it, or, once that name is gone, another (so that every name a
/// record names is live). Before name records (``CodeName``) they were the module's only
/// name; such a record still names a live module when no name record has its name.
struct CodeRecord {
    let meta: CodeMeta
    let bytes: [UInt8]

    func encoded() -> Value {
        let json: JSONValue = .object([
            JSONMember("name", .string(meta.name)),
            JSONMember("kind", .string(meta.kind.rawValue)),
            JSONMember("function", .string(meta.function)),
            JSONMember("exports", .array(meta.exports.map { .string($0) })),
            JSONMember("size", .int(Int64(meta.size))),
            JSONMember("sha256", .string(meta.sha256)),
            JSONMember("abi", .int(1)),
        ])
        let m = JSON.serialize(json)
        var out: [UInt8] = []
        let n = UInt32(m.count)
        out += [
            UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8),
            UInt8(truncatingIfNeeded: n),
        ]
        out += m
        out += bytes
        return .raw(out)
    }

    /// Decodes a stored record (tag byte, then payload).
    static func decode(_ stored: [UInt8]) throws(LLMDBError) -> CodeRecord {
        func bad(_ why: String) -> LLMDBError {
            LLMDBError(.invalidModule, "a stored code record is malformed: \(why)")
        }
        guard stored.first == ValueTag.raw.rawValue, stored.count >= 5 else { throw bad("not a raw value") }
        let n = Int(stored[1]) << 24 | Int(stored[2]) << 16 | Int(stored[3]) << 8 | Int(stored[4])
        guard 5 + n <= stored.count else { throw bad("its description runs past its end") }
        guard let tree = try? JSON.parse(Array(stored[5..<(5 + n)])) else { throw bad("its description is not JSON") }
        guard case .string(let name)? = tree["name"], case .string(let k)? = tree["kind"],
            let kind = WasmFunctionKind(rawValue: k), case .string(let function)? = tree["function"],
            case .string(let sha)? = tree["sha256"]
        else { throw bad("its description lacks name, kind, function or sha256") }
        var exports: [String] = []
        if case .array(let list)? = tree["exports"] {
            for case .string(let e) in list { exports.append(e) }
        }
        let bytes = Array(stored[(5 + n)...])
        return CodeRecord(
            meta: CodeMeta(
                name: name,
                kind: kind,
                function: function,
                exports: exports,
                size: bytes.count,
                sha256: sha
            ),
            bytes: bytes
        )
    }
}

/// A name of a module: the JSON value `{sha256, kind, function}` at `_meta/code-name/{name}`.
/// Names map to digests, so one module may have several names, each with its own kind and
/// function (docs/storage-format.md). Never change the field names: files keep them.
struct CodeName {
    let sha256: String
    let kind: WasmFunctionKind
    let function: String

    static let prefix = "_meta/code-name/"
    static func key(_ name: String) -> Key { Key(prefix + name, partition: Key.systemPartition) }

    func encoded() throws(LLMDBError) -> Value {
        let json: JSONValue = .object([
            JSONMember("sha256", .string(sha256)),
            JSONMember("kind", .string(kind.rawValue)),
            JSONMember("function", .string(function)),
        ])
        return try Value.json(bytes: JSON.serialize(json))
    }

    static func decode(_ value: Value, name: String) throws(LLMDBError) -> CodeName {
        guard value.tag == .json, let tree = try? JSON.parse(value.payload), case .string(let sha)? = tree["sha256"],
            case .string(let k)? = tree["kind"], let kind = WasmFunctionKind(rawValue: k),
            case .string(let function)? = tree["function"]
        else {
            throw LLMDBError(.invalidModule, "the stored name record of module '\(name)' is malformed")
        }
        return CodeName(sha256: sha, kind: kind, function: function)
    }
}

// The core's side of user code: hook and index definitions stored as facts in LLMDB's own
// partition, and the protocol through which the writer runs their code (implemented by
// the WebAssembly layer, which sits above the core).

extension Key {
    /// LLMDB's own partition: code, hook and index definitions, as bitemporal facts.
    /// Anyone may read it; only the APIs that manage those records write it.
    public static let systemPartition: PartitionID = .max

    /// `_meta/code/{sha256}`: a registered module.
    package static func code(_ sha256: String) -> Key { Key("_meta/code/" + sha256, partition: systemPartition) }
    /// `_meta/hook/{name}`: a transaction hook's definition.
    package static func hook(_ name: String) -> Key { Key("_meta/hook/" + name, partition: systemPartition) }
    /// `_meta/index/{name}`: a custom index's definition.
    package static func index(_ name: String) -> Key { Key("_meta/index/" + name, partition: systemPartition) }
}

/// Which keys a hook or an index covers: the keys of one partition that start with a prefix
/// (an empty prefix covers the whole partition).
public struct KeyScope: Hashable, Sendable, CustomStringConvertible {
    public var partition: PartitionID
    public var prefix: [UInt8]

    public init(partition: PartitionID = 0, prefix: [UInt8]) {
        self.partition = partition
        self.prefix = prefix
    }

    public init(partition: PartitionID = 0, prefix: String) {
        self.init(partition: partition, prefix: Array(prefix.utf8))
    }

    public func contains(_ key: Key) -> Bool {
        key.partition == partition && key.bytes.starts(with: prefix)
    }

    public var description: String {
        let p = String(validating: prefix, as: UTF8.self) ?? "0x" + hexString(prefix)
        return "partition \(partition), prefix '\(p)'"
    }
}

/// A transaction hook or a custom index, as stored at `_meta/hook/{name}` or
/// `_meta/index/{name}`: which module (by its sha256), which exported function, and which keys.
public struct ExtensionDefinition: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case hook
        case index
    }
    public let kind: Kind
    public let name: String
    /// The module's sha256 (hex): the code is pinned, not looked up by name at run time.
    public let module: String
    /// The module's name when the definition was made (for messages).
    public let moduleName: String
    public let function: String
    public let scope: KeyScope
    /// For an index on a JSON path (built in, no module): the dotted path whose values are
    /// the index keys (see ``JSONIndexKey``). Module and function are empty then.
    public let jsonPath: String?
    /// A built-in full-text (BM25) index: the index keys are the words of the value's
    /// strings (all of them, or those under `jsonPath`), see ``TextAnalyzer``.
    public let fullText: Bool

    public init(
        kind: Kind,
        name: String,
        module: String,
        moduleName: String,
        function: String,
        scope: KeyScope,
        jsonPath: String? = nil,
        fullText: Bool = false
    ) {
        self.kind = kind
        self.name = name
        self.module = module
        self.moduleName = moduleName
        self.function = function
        self.scope = scope
        self.jsonPath = jsonPath
        self.fullText = fullText
    }

    /// The fact key of this definition.
    public var key: Key { kind == .hook ? .hook(name) : .index(name) }

    /// The stored form: a JSON object.
    public func encoded() -> Value {
        let prefix: JSONValue =
            if let s = String(validating: scope.prefix, as: UTF8.self) { .string(s) } else { .null }
        var members: [JSONMember] = [
            JSONMember("module", .string(module)),
            JSONMember("module_name", .string(moduleName)),
            JSONMember("function", .string(function)),
            JSONMember("partition", .int(Int64(scope.partition))),
        ]
        if let jsonPath { members.append(JSONMember("json_path", .string(jsonPath))) }
        if fullText { members.append(JSONMember("full_text", .bool(true))) }
        if case .string = prefix {
            members.append(JSONMember("prefix", prefix))
        } else {
            members.append(JSONMember("prefix_base64", .string(Base64.encode(scope.prefix))))
        }
        return Value(unchecked: .json, JSON.serialize(.object(members)))
    }

    /// Decodes a stored definition; nil when the bytes are not one (a damaged record).
    public static func decode(kind: Kind, name: String, value: Value) -> ExtensionDefinition? {
        guard value.tag == .json, let tree = try? JSON.parse(value.payload) else { return nil }
        guard case .string(let module)? = tree["module"], case .string(let function)? = tree["function"],
            case .int(let partition)? = tree["partition"], partition >= 0, partition < Int64(Key.systemPartition)
        else { return nil }
        let prefix: [UInt8]
        if case .string(let p)? = tree["prefix"] {
            prefix = Array(p.utf8)
        } else if case .string(let b)? = tree["prefix_base64"], let bytes = Base64.decode(b) {
            prefix = bytes
        } else {
            return nil
        }
        var moduleName = module
        if case .string(let n)? = tree["module_name"] { moduleName = n }
        var jsonPath: String? = nil
        if case .string(let p)? = tree["json_path"] { jsonPath = p }
        var fullText = false
        if case .bool(true)? = tree["full_text"] { fullText = true }
        return ExtensionDefinition(
            kind: kind,
            name: name,
            module: module,
            moduleName: moduleName,
            function: function,
            scope: KeyScope(partition: PartitionID(partition), prefix: prefix),
            jsonPath: jsonPath,
            fullText: fullText
        )
    }
}

/// One operation of a transaction, as a hook sees it.
public struct HookOperation: Sendable {
    public enum Kind: UInt8, Sendable {
        case put = 0
        case delete = 1
        case erase = 2
    }
    public let kind: Kind
    public let key: Key
    /// Where the write starts in valid time (the transaction time when not given);
    /// ``Instant/beginningOfTime`` for an erase.
    public let validFrom: Instant
    /// The end of a ranged write; nil when open-ended.
    public let validTo: Instant?
    /// The stored value: its tag byte, then the payload (a tombstone for deletes and erases).
    public let stored: [UInt8]
}

/// One stored entry, as an index sees it.
public struct IndexedEntry: Sendable {
    public let key: Key
    public let validFrom: Instant
    public let txID: TxID
    /// The stored value: its tag byte, then the payload.
    public let stored: [UInt8]
}

/// Runs the user code of hooks and indexes inside the writer. The WebAssembly layer
/// implements it; give it to ``Database/Options/codeRunner``. Without one, a write that a
/// hook or an index covers fails with ``LLMDBError/Code/codeUnavailable``: code is never
/// silently skipped.
public protocol CodeRunner: AnyObject, Sendable {
    /// Starts the code work of one transaction, on the writer thread. The session is
    /// discarded when the transaction's operations have been applied.
    func session() -> any CodeSession
}

/// The code work of one transaction. Used by one thread at a time.
public protocol CodeSession: AnyObject {
    /// Runs `hook` over the transaction's operations in its scope; throws an ``LLMDBError``
    /// (``LLMDBError/Code/hookRejected`` with the hook's reason) to reject the transaction.
    ///
    /// - Parameter moduleRecord: the stored bytes of `_meta/code/{hook.module}`.
    func runHook(
        _ hook: ExtensionDefinition,
        moduleRecord: [UInt8],
        operations: [HookOperation],
        txID: TxID,
        txTime: Instant
    ) throws(LLMDBError)

    /// The index keys of each entry, in the order given (an empty list: no keys).
    func indexKeys(
        _ index: ExtensionDefinition,
        moduleRecord: [UInt8],
        entries: [IndexedEntry]
    ) throws(LLMDBError) -> [[[UInt8]]]
}

/// The index keys of a JSON value at a dotted path, for built-in JSON-path indexes: one
/// key per scalar found (arrays on the way or at the end are traversed, so an array field
/// gives one key per element). A key is a type byte and a canonical form, so that `42` and
/// `42.0` are the same key and `"42"` is another: `s` + UTF-8 for strings, `n` + the
/// shortest decimal for numbers, `t`/`f` for booleans, `z` for null. Keys longer than
/// ``maxLength`` are cut: a lookup then returns candidates that the caller filters again.
public enum JSONIndexKey {
    public static let maxLength = 128

    /// The key of one scalar; nil for arrays and objects.
    public static func key(_ v: JSONValue) -> [UInt8]? {
        var out: [UInt8]
        switch v {
        case .null: out = [UInt8(ascii: "z")]
        case .bool(let b): out = [UInt8(ascii: b ? "t" : "f")]
        case .int(let n): out = [UInt8(ascii: "n")] + Array(String(n).utf8)
        case .uint(let n): out = [UInt8(ascii: "n")] + Array(String(n).utf8)
        case .double(let d):
            if d == d.rounded(), abs(d) < 9.2e18 {
                out = [UInt8(ascii: "n")] + Array(String(Int64(d)).utf8)
            } else {
                out = [UInt8(ascii: "n")] + Array("\(d)".utf8)
            }
        case .string(let s): out = [UInt8(ascii: "s")] + Array(s.utf8)
        case .binary, .array, .object: return nil
        }
        if out.count > maxLength { out = Array(out.prefix(maxLength)) }
        return out
    }

    /// The values at `path` (member names) in `doc`, arrays on the way and at the end traversed.
    public static func values(_ doc: JSONValue, path: ArraySlice<String>) -> [JSONValue] {
        var out: [JSONValue] = []
        collect(doc, path, &out)
        return out
    }

    static func collect(_ doc: JSONValue, _ path: ArraySlice<String>, _ out: inout [JSONValue]) {
        guard let first = path.first else {
            if case .array(let items) = doc { out.append(contentsOf: items) } else { out.append(doc) }
            return
        }
        switch doc {
        case .object:
            if let member = doc[first] { collect(member, path.dropFirst(), &out) }
        case .array(let items):
            for item in items { collect(item, path, &out) }
        default:
            break
        }
    }

    /// The distinct keys of `doc` at `path`.
    public static func keys(_ doc: JSONValue, path: String) -> [[UInt8]] {
        var seen = Set<[UInt8]>()
        var out: [[UInt8]] = []
        for v in values(doc, path: path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)[...]) {
            if let k = key(v), seen.insert(k).inserted { out.append(k) }
        }
        return out
    }
}

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

/// A transaction hook or an index, as stored at `_meta/hook/{name}` or `_meta/index/{name}`:
/// which keys it covers and, for hooks and WebAssembly indexes, which module (by its sha256)
/// and exported function. An index also names its ``indexKind`` (the ``IndexKind`` that
/// maintains it) and carries that kind's own ``settings``.
public struct ExtensionDefinition: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case hook
        case index
    }
    public let kind: Kind
    public let name: String
    /// The module's sha256 (hex): the code is pinned, not looked up by name at run time.
    /// Empty for indexes of a kind that runs no module.
    public let module: String
    /// The module's name when the definition was made (for messages).
    public let moduleName: String
    public let function: String
    public let scope: KeyScope
    /// The ``IndexKind/name`` of the kind that maintains this index; empty for a hook, and
    /// for an index defined before kinds had names (``isLegacyIndex``), which the kind that
    /// claims it maintains (``IndexKind/claims(_:)``).
    public let indexKind: String

    /// An index definition stored before definitions named their kind.
    public var isLegacyIndex: Bool { kind == .index && indexKind.isEmpty }

    /// This definition with its kind named.
    public func withIndexKind(_ name: String) -> ExtensionDefinition {
        ExtensionDefinition(
            kind: kind,
            name: self.name,
            module: module,
            moduleName: moduleName,
            function: function,
            scope: scope,
            indexKind: name,
            settings: settings
        )
    }
    /// The kind's own settings (for a JSON-path index, its `json_path`): the definition's
    /// members other than `kind`, the scope and the module, in their stored order. The kind
    /// checks them (``IndexKind/validate(_:)``).
    public let settings: [JSONMember]

    public init(
        kind: Kind,
        name: String,
        module: String = "",
        moduleName: String = "",
        function: String = "",
        scope: KeyScope,
        indexKind: String = "",
        settings: [JSONMember] = []
    ) {
        self.kind = kind
        self.name = name
        self.module = module
        self.moduleName = moduleName
        self.function = function
        self.scope = scope
        self.indexKind = indexKind
        self.settings = settings
    }

    /// An index of kind `indexKind` with `settings`, which runs no module.
    public static func index(
        _ name: String,
        kind indexKind: String,
        scope: KeyScope,
        settings: [JSONMember] = []
    ) -> ExtensionDefinition {
        ExtensionDefinition(kind: .index, name: name, scope: scope, indexKind: indexKind, settings: settings)
    }

    /// The setting `name`, if present.
    public subscript(setting name: String) -> JSONValue? {
        settings.first { $0.key == name }?.value
    }

    /// The setting `name` when it is a string.
    public func string(setting name: String) -> String? {
        if case .string(let s)? = self[setting: name] { return s }
        return nil
    }

    /// The fact key of this definition.
    public var key: Key { kind == .hook ? .hook(name) : .index(name) }

    static let commonMembers: Set<String> = [
        "kind", "module", "module_name", "function", "partition", "prefix", "prefix_base64",
    ]

    /// The stored form: a JSON object.
    public func encoded() -> Value {
        let prefix: JSONValue =
            if let s = String(validating: scope.prefix, as: UTF8.self) { .string(s) } else { .null }
        var members: [JSONMember] = []
        if kind == .index, !indexKind.isEmpty { members.append(JSONMember("kind", .string(indexKind))) }
        if kind == .hook || !module.isEmpty {
            members.append(JSONMember("module", .string(module)))
            members.append(JSONMember("module_name", .string(moduleName)))
            members.append(JSONMember("function", .string(function)))
        }
        members.append(JSONMember("partition", .int(Int64(scope.partition))))
        members += settings.filter { !Self.commonMembers.contains($0.key) }
        if case .string = prefix {
            members.append(JSONMember("prefix", prefix))
        } else {
            members.append(JSONMember("prefix_base64", .string(Base64.encode(scope.prefix))))
        }
        return Value(unchecked: .json, JSON.serialize(.object(members)))
    }

    /// Decodes a stored definition; nil when the bytes are not one (a damaged record).
    /// An index definition stored before kinds had names (no `kind`) decodes with an empty
    /// ``indexKind``: the registered kind that claims it maintains it.
    public static func decode(kind: Kind, name: String, value: Value) -> ExtensionDefinition? {
        guard value.tag == .json, let tree = try? JSON.parse(value.payload), case .object(let all) = tree else {
            return nil
        }
        guard case .int(let partition)? = tree["partition"], partition >= 0, partition < Int64(Key.systemPartition)
        else { return nil }
        var module = ""
        var function = ""
        if case .string(let m)? = tree["module"] { module = m }
        if case .string(let f)? = tree["function"] { function = f }
        // Hooks and definitions of before named kinds always name a module and a function.
        let named: String?
        switch tree["kind"] {
        case .string(let k)? where kind == .index && !k.isEmpty: named = k
        case nil: named = nil
        default: return nil
        }
        if named == nil, tree["module"] == nil || tree["function"] == nil { return nil }
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
        let settings = all.filter { !commonMembers.contains($0.key) }
        return ExtensionDefinition(
            kind: kind,
            name: name,
            module: module,
            moduleName: moduleName,
            function: function,
            scope: KeyScope(partition: PartitionID(partition), prefix: prefix),
            indexKind: named ?? "",
            settings: settings
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

    public init(key: Key, validFrom: Instant, txID: TxID, stored: [UInt8]) {
        self.key = key
        self.validFrom = validFrom
        self.txID = txID
        self.stored = stored
    }

    /// A delete's entry (a tombstone): the key has no value from `validFrom`.
    public var isTombstone: Bool { stored.first == ValueTag.tombstone.rawValue }

    /// The JSON document stored, or nil when the value is not JSON (or is a tombstone).
    public var json: JSONValue? {
        guard stored.first == ValueTag.json.rawValue else { return nil }
        return try? JSON.parse(Array(stored.dropFirst()))
    }
}

/// Runs the user code of transaction hooks inside the writer. The WebAssembly layer
/// implements it; give it to ``Database/Options/codeRunner``. Without one, a write that a
/// hook covers fails with ``LLMDBError/Code/codeUnavailable``: code is never silently
/// skipped. A runner may also bring index kinds (``indexKinds``), registered with it.
public protocol CodeRunner: AnyObject, Sendable {
    /// Starts the code work of one transaction, on the writer thread. The session is
    /// discarded when the transaction's operations have been applied.
    func session() -> any CodeSession

    /// Index kinds that run this runner's code (the WebAssembly layer's `custom_index`
    /// indexes), registered when the database opens. Default: none.
    var indexKinds: [any IndexKind] { get }
}

extension CodeRunner {
    public var indexKinds: [any IndexKind] { [] }
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
}

public import LLMDB
import WAT
import WasmKit

/// A registered module, as listed: its description and when it was registered.
public struct CodeInfo: Sendable, Hashable {
    public let meta: CodeMeta
    /// The transaction that registered it (its registration time is that transaction's time).
    public let txID: TxID
    public let registeredAt: Instant
}

extension WasmRuntime {
    /// A process-wide runtime with default limits, for databases opened without one.
    public static let shared = WasmRuntime()
}

extension Database {
    /// The runtime that runs this database's code: ``Database/Options/codeRunner`` when it
    /// is a ``WasmRuntime``, else ``WasmRuntime/shared``.
    public var wasm: WasmRuntime { (options.codeRunner as? WasmRuntime) ?? .shared }

    static let codePrefix = Key("_meta/code/", partition: Key.systemPartition)

    static func checkName(_ name: String, _ what: String) throws(LLMDBError) {
        let ok =
            !name.isEmpty && name.count <= 64
            && name.unicodeScalars.allSatisfy { c in
                (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
                    || c == "."
            }
        if !ok {
            throw LLMDBError(
                .invalidArgument,
                "the \(what) name '\(name)' is invalid: use 1 to 64 letters, digits, '-', '_' or '.'"
            )
        }
    }

    // MARK: The code registry

    /// Registers a module (WebAssembly binary, or WAT text) under `name`, content-addressed
    /// at `_meta/code/{sha256}`. The module is validated first: it must parse, export its
    /// memory, `llmdb_alloc` and a function of `kind` with the ABI's signature, import
    /// nothing that is not granted, and fit the limits. A live module of the same name is
    /// retracted in the same transaction (the name moves to the new code).
    ///
    /// - Parameters:
    ///   - kind: the function kind; inferred when the module exports exactly one kind's
    ///     function under its standard name.
    ///   - function: the exported function to call (default: the kind's name).
    @discardableResult
    public func addCode(
        _ source: [UInt8],
        name: String,
        kind: WasmFunctionKind? = nil,
        function: String? = nil
    ) throws -> CodeInfo {
        try Self.checkName(name, "module")
        let runtime = wasm
        var bytes = source
        if !source.starts(with: [0x00, 0x61, 0x73, 0x6D]) {
            guard let text = String(validating: source, as: UTF8.self) else {
                throw LLMDBError(
                    .invalidModule,
                    "module '\(name)' is neither a WebAssembly binary (no \\0asm header) nor WAT text"
                )
            }
            do { bytes = try wat2wasm(text) } catch {
                throw LLMDBError(.invalidModule, "module '\(name)' is not valid WAT: \(error)")
            }
        }
        guard bytes.count <= runtime.limits.maxModuleBytes else {
            throw LLMDBError(
                .invalidModule,
                "module '\(name)' is \(bytes.count) bytes; the limit is \(runtime.limits.maxModuleBytes) bytes"
            )
        }
        let info = try ModuleInfo.read(bytes)
        guard let kind = kind ?? info.inferredKind() else {
            throw LLMDBError(
                .invalidModule,
                "module '\(name)': say which kind it is (map_pages, reduce_pages, tx_hook or custom_index); it exports \(info.functions.keys.sorted().joined(separator: ", "))"
            )
        }
        let fname = function ?? kind.rawValue
        try info.validate(kind: kind, function: fname, limits: runtime.limits)
        let sha = SHA256.hex(bytes)
        let meta = CodeMeta(
            name: name,
            kind: kind,
            function: fname,
            exports: info.functions.keys.sorted(),
            size: bytes.count,
            sha256: sha
        )
        let record = CodeRecord(meta: meta, bytes: bytes)
        // Compile and instantiate once now, so that a module that cannot start is refused here.
        let module: Module
        do { module = try parseWasm(bytes: bytes) } catch {
            throw LLMDBError(.invalidModule, "module '\(name)' is not valid WebAssembly: \(error)")
        }
        _ = try GuestInstance(CompiledModule(sha256: sha, meta: meta, info: info, module: module), runtime: runtime)
        let existing = try listCode()
        let commit = try write { batch in
            for old in existing where old.meta.name == name && old.meta.sha256 != sha {
                try batch.deleteSystem(.code(old.meta.sha256))
            }
            try batch.putSystem(.code(sha), record.encoded())
        }
        return CodeInfo(meta: meta, txID: commit.txID, registeredAt: commit.txTime)
    }

    /// The modules live as of (`validAt`, `tx`), by name.
    public func listCode(validAt: Instant? = nil, tx: TxSelector = .latest) throws -> [CodeInfo] {
        let facts = try read(validAt: validAt, tx: tx) { try $0.scan(prefix: Self.codePrefix) }
        var out: [CodeInfo] = []
        for f in facts {
            guard let v = f.value else { continue }
            let record = try CodeRecord.decode(v.encoded)
            out.append(CodeInfo(meta: record.meta, txID: f.txID, registeredAt: f.txTime))
        }
        return out.sorted { $0.meta.name < $1.meta.name }
    }

    /// The live module named `ref`, or whose sha256 starts with `ref` (at least 8 hex digits).
    public func code(_ ref: String, validAt: Instant? = nil, tx: TxSelector = .latest) throws -> CodeInfo {
        let all = try listCode(validAt: validAt, tx: tx)
        if let byName = all.first(where: { $0.meta.name == ref }) { return byName }
        if ref.count >= 8 {
            let matches = all.filter { $0.meta.sha256.hasPrefix(ref.lowercased()) }
            if matches.count == 1 { return matches[0] }
            if matches.count > 1 {
                throw LLMDBError(.invalidArgument, "'\(ref)' matches \(matches.count) modules; give more of the sha256")
            }
        }
        throw LLMDBError(.notFound, "no module named '\(ref)' (see `llmdb code list`)")
    }

    /// Retracts a module. Refused while a hook or an index uses it, unless `force`; a forced
    /// removal makes writes those hooks or indexes cover fail until they are removed.
    @discardableResult
    public func removeCode(_ ref: String, force: Bool = false) throws -> Commit {
        let info = try code(ref)
        let users = try (hooks() + indexes()).filter { $0.module == info.meta.sha256 }
        if !users.isEmpty && !force {
            let names = users.map { "\($0.kind.rawValue) '\($0.name)'" }.joined(separator: ", ")
            throw LLMDBError(
                .invalidArgument,
                "module '\(info.meta.name)' is used by \(names); remove those first (or force the removal)"
            )
        }
        return try write { try $0.deleteSystem(.code(info.meta.sha256)) }
    }

    /// The module record as stored, for reads with code (latest state).
    func compiledModule(_ ref: String, kind: WasmFunctionKind) throws -> CompiledModule {
        let info = try code(ref)
        guard info.meta.kind == kind else {
            throw LLMDBError(
                .invalidArgument,
                "module '\(info.meta.name)' is a \(info.meta.kind.rawValue) module, not \(kind.rawValue)"
            )
        }
        let record = try read { s in try s.get(.code(info.meta.sha256)) }
        guard let value = record?.value else { throw LLMDBError(.notFound, "no module named '\(ref)'") }
        return try wasm.compiled(record: value.encoded, sha256: info.meta.sha256)
    }

    // MARK: Hooks and indexes

    func definitions(
        _ kind: ExtensionDefinition.Kind,
        validAt: Instant?,
        tx: TxSelector
    ) throws -> [ExtensionDefinition] {
        let prefix = Key(kind == .hook ? "_meta/hook/" : "_meta/index/", partition: Key.systemPartition)
        let facts = try read(validAt: validAt, tx: tx) { try $0.scan(prefix: prefix) }
        return facts.compactMap { f in
            guard let v = f.value else { return nil }
            let name = String(decoding: f.key.bytes.dropFirst(prefix.bytes.count), as: UTF8.self)
            return ExtensionDefinition.decode(kind: kind, name: name, value: v)
        }
    }

    /// The transaction hooks live as of (`validAt`, `tx`).
    public func hooks(validAt: Instant? = nil, tx: TxSelector = .latest) throws -> [ExtensionDefinition] {
        try definitions(.hook, validAt: validAt, tx: tx)
    }

    /// The custom indexes live as of (`validAt`, `tx`).
    public func indexes(validAt: Instant? = nil, tx: TxSelector = .latest) throws -> [ExtensionDefinition] {
        try definitions(.index, validAt: validAt, tx: tx)
    }

    func define(
        _ kind: ExtensionDefinition.Kind,
        name: String,
        module ref: String,
        scope: KeyScope,
        function: String?
    ) throws -> ExtensionDefinition {
        try Self.checkName(name, kind.rawValue)
        if scope.partition == Key.systemPartition {
            throw LLMDBError(
                .reservedPartition,
                "a \(kind.rawValue) cannot cover LLMDB's own partition \(Key.systemPartition)"
            )
        }
        let code = try code(ref)
        let want: WasmFunctionKind = kind == .hook ? .txHook : .customIndex
        let fname = function ?? (code.meta.kind == want ? code.meta.function : want.rawValue)
        guard code.meta.kind == want || code.meta.exports.contains(fname) else {
            throw LLMDBError(
                .invalidArgument,
                "module '\(code.meta.name)' is a \(code.meta.kind.rawValue) module; a \(kind.rawValue) needs a \(want.rawValue) function"
            )
        }
        guard code.meta.exports.contains(fname) else {
            throw LLMDBError(.invalidModule, "module '\(code.meta.name)' does not export '\(fname)'")
        }
        let def = ExtensionDefinition(
            kind: kind,
            name: name,
            module: code.meta.sha256,
            moduleName: code.meta.name,
            function: fname,
            scope: scope
        )
        try write { try $0.putSystem(def.key, def.encoded()) }
        return def
    }

    /// Adds (or replaces) a transaction hook: `module`'s tx_hook function sees every
    /// operation on keys in `scope` before commit and may reject the transaction.
    @discardableResult
    public func addHook(
        name: String,
        module: String,
        scope: KeyScope,
        function: String? = nil
    ) throws -> ExtensionDefinition {
        try define(.hook, name: name, module: module, scope: scope, function: function)
    }

    /// Removes a hook.
    @discardableResult
    public func removeHook(_ name: String) throws -> Commit {
        guard try hooks().contains(where: { $0.name == name }) else {
            throw LLMDBError(.notFound, "no hook named '\(name)' (see `llmdb hook list`)")
        }
        return try write { try $0.deleteSystem(.hook(name)) }
    }

    /// Adds (or replaces) a custom index over the keys in `scope`, built at once from every
    /// stored entry (all valid and transaction times) and maintained on every write.
    @discardableResult
    public func addIndex(
        name: String,
        module: String,
        scope: KeyScope,
        function: String? = nil
    ) throws -> ExtensionDefinition {
        try define(.index, name: name, module: module, scope: scope, function: function)
    }

    /// Removes an index and its data.
    @discardableResult
    public func removeIndex(_ name: String) throws -> Commit {
        guard try indexes().contains(where: { $0.name == name }) else {
            throw LLMDBError(.notFound, "no index named '\(name)' (see `llmdb index list`)")
        }
        return try write { try $0.deleteSystem(.index(name)) }
    }
}

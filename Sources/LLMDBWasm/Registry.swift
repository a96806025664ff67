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
    /// at `_meta/code/{sha256}`, with the name at `_meta/code-name/{name}`. The module is
    /// validated first: it must parse, export its memory, `llmdb_alloc` and a function of
    /// `kind` with the ABI's signature, import nothing that is not granted, and fit the
    /// limits. Names map to digests: the same bytes under another name (for instance as
    /// another kind) add that name and keep the others. A name that had other code moves
    /// to this code in the same transaction; the old code is retracted when no name is
    /// left on it.
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
        let state = try registry(validAt: nil, tx: .latest)
        let commit = try write { batch in
            if let old = state.modules.first(where: { $0.meta.name == name }), old.meta.sha256 != sha {
                try state.unname(old, in: &batch)
            }
            if state.records[sha] == nil { try batch.putSystem(.code(sha), record.encoded()) }
            try batch.putSystem(CodeName.key(name), try CodeName(sha256: sha, kind: kind, function: fname).encoded())
        }
        return CodeInfo(meta: meta, txID: commit.txID, registeredAt: commit.txTime)
    }

    /// The modules live as of (`validAt`, `tx`), one per name, by name. Names that share
    /// their bytes are listed each with its own kind, function and registration.
    public func listCode(validAt: Instant? = nil, tx: TxSelector = .latest) throws -> [CodeInfo] {
        try registry(validAt: validAt, tx: tx).modules
    }

    /// The live module named `ref`, or whose sha256 starts with `ref` (at least 8 hex
    /// digits; bytes with several names resolve to the first of them by name).
    public func code(_ ref: String, validAt: Instant? = nil, tx: TxSelector = .latest) throws -> CodeInfo {
        try CodeRegistry.resolve(ref, in: listCode(validAt: validAt, tx: tx))
    }

    /// Retracts the name `ref` (or the first name of the bytes whose sha256 starts with
    /// `ref`). The module's bytes are retracted with their last name; that is refused while
    /// a hook or an index uses them, unless `force`; a forced removal makes writes those
    /// hooks or indexes cover fail until they are removed. While another name keeps the
    /// bytes, hooks and indexes (which pin the bytes, not a name) go on running.
    @discardableResult
    public func removeCode(_ ref: String, force: Bool = false) throws -> Commit {
        let state = try registry(validAt: nil, tx: .latest)
        let info = try CodeRegistry.resolve(ref, in: state.modules)
        let others = state.modules.filter { $0.meta.sha256 == info.meta.sha256 && $0.meta.name != info.meta.name }
        if others.isEmpty {
            let users = try (hooks() + indexes()).filter { $0.module == info.meta.sha256 }
            if !users.isEmpty && !force {
                let names = users.map { "\($0.kind.rawValue) '\($0.name)'" }.joined(separator: ", ")
                throw LLMDBError(
                    .invalidArgument,
                    "module '\(info.meta.name)' is used by \(names); remove those first (or force the removal)"
                )
            }
        }
        return try write { batch in try state.unname(info, in: &batch) }
    }

    /// The registry as of (`validAt`, `tx`), read in one snapshot.
    func registry(validAt: Instant?, tx: TxSelector) throws -> CodeRegistry {
        try read(validAt: validAt, tx: tx) { s in
            var r = CodeRegistry()
            var recordFacts: [String: Fact] = [:]
            for f in try s.scan(prefix: Self.codePrefix) {
                guard let v = f.value else { continue }
                let sha = String(decoding: f.key.bytes.dropFirst(Self.codePrefix.bytes.count), as: UTF8.self)
                r.records[sha] = try CodeRecord.decode(v.encoded)
                recordFacts[sha] = f
            }
            for f in try s.scan(prefix: Key(CodeName.prefix, partition: Key.systemPartition)) {
                guard let v = f.value else { continue }
                let name = String(decoding: f.key.bytes.dropFirst(CodeName.prefix.utf8.count), as: UTF8.self)
                let n = try CodeName.decode(v, name: name)
                r.named.insert(name)
                guard let record = r.records[n.sha256] else { continue }  // its bytes were removed
                let meta = CodeMeta(
                    name: name,
                    kind: n.kind,
                    function: n.function,
                    exports: record.meta.exports,
                    size: record.meta.size,
                    sha256: n.sha256
                )
                r.modules.append(CodeInfo(meta: meta, txID: f.txID, registeredAt: f.txTime))
            }
            // A record written before name records (or by a build without them) names its
            // module inline: that name is live while no name record has it.
            for (sha, record) in r.records where !r.named.contains(record.meta.name) {
                let f = recordFacts[sha]!
                let meta = CodeMeta(
                    name: record.meta.name,
                    kind: record.meta.kind,
                    function: record.meta.function,
                    exports: record.meta.exports,
                    size: record.meta.size,
                    sha256: sha
                )
                r.modules.append(CodeInfo(meta: meta, txID: f.txID, registeredAt: f.txTime))
            }
            r.modules.sort { $0.meta.name < $1.meta.name }
            return r
        }
    }

    /// The module record as stored, for reads with code (latest state), under the name and
    /// kind of `ref`.
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
        return try wasm.compiled(record: value.encoded, sha256: info.meta.sha256).named(info.meta)
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
            return ExtensionDefinition.decode(kind: kind, name: name, value: v).map(resolvingKind)
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
            scope: scope,
            indexKind: kind == .index ? WasmIndex.kindName : ""
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

/// The code registry as of one snapshot: the live names, and the live module records.
struct CodeRegistry {
    /// One per live name, by name.
    var modules: [CodeInfo] = []
    /// The live module records, by sha256.
    var records: [String: CodeRecord] = [:]
    /// The names that have a live name record.
    var named: Set<String> = []

    static func resolve(_ ref: String, in all: [CodeInfo]) throws(LLMDBError) -> CodeInfo {
        if let byName = all.first(where: { $0.meta.name == ref }) { return byName }
        if ref.count >= 8 {
            let matches = all.filter { $0.meta.sha256.hasPrefix(ref.lowercased()) }
            let digests = Set(matches.map(\.meta.sha256))
            if digests.count > 1 {
                throw LLMDBError(.invalidArgument, "'\(ref)' matches \(digests.count) modules; give more of the sha256")
            }
            if let first = matches.first { return first }
        }
        throw LLMDBError(.notFound, "no module named '\(ref)' (see `llmdb code list`)")
    }

    /// Takes `module`'s name off its bytes: retracts the name record, and the bytes when no
    /// other name has them. While others do, a record that named this one inline is
    /// rewritten to name another, so that a record never names a name that is gone.
    func unname(_ module: CodeInfo, in batch: inout WriteBatch) throws(LLMDBError) {
        let sha = module.meta.sha256
        let name = module.meta.name
        if named.contains(name) { try batch.deleteSystem(CodeName.key(name)) }
        let others = modules.filter { $0.meta.sha256 == sha && $0.meta.name != name }
        if let heir = others.first {
            if let record = records[sha], record.meta.name == name {
                try batch.putSystem(.code(sha), CodeRecord(meta: heir.meta, bytes: record.bytes).encoded())
            }
        } else {
            try batch.deleteSystem(.code(sha))
        }
    }
}

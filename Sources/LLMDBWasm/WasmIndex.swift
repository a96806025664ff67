public import LLMDB

/// WebAssembly indexes: the kind `wasm`. A `custom_index` function of a registered module
/// (the definition's `module`, pinned by sha256, and `function`) gives each stored entry's
/// index keys; rows are ``IndexStore``'s postings and entry records, looked up with
/// ``Snapshot/lookup(index:key:limit:)``. The kind comes with the runtime: a database whose
/// ``Database/Options/codeRunner`` is a ``WasmRuntime`` maintains these indexes. Without a
/// runtime (`WasmIndex(runtime: nil)`, in ``Database/Options/builtInIndexKinds``), writes
/// that need the code fail with ``LLMDBError/Code/codeUnavailable``, and erases, which need
/// none, still remove the key's rows.
public struct WasmIndex: IndexKind {
    public static let kindName = "wasm"
    public var name: String { Self.kindName }
    let runtime: WasmRuntime?

    public init(runtime: WasmRuntime?) { self.runtime = runtime }

    static func unavailable(_ d: ExtensionDefinition) -> LLMDBError {
        LLMDBError(
            .codeUnavailable,
            "the index '\(d.name)' covers this write, but the database was opened without the WebAssembly layer (Database.Options.codeRunner); nothing was written"
        )
    }

    public func validate(_ definition: ExtensionDefinition) throws(LLMDBError) {
        guard definition.module.utf8.count == 64, definition.module.utf8.allSatisfy({ $0 < 0x80 }),
            !definition.function.isEmpty
        else {
            throw LLMDBError(
                .invalidArgument,
                "the WebAssembly index '\(definition.name)' needs a module (its sha256) and a function"
            )
        }
    }

    /// Definitions from before kinds had names that run a module are this kind's.
    public func claims(_ legacy: ExtensionDefinition) -> Bool { !legacy.module.isEmpty }

    public func maintainer(for definition: ExtensionDefinition) throws -> any IndexMaintainer {
        Maintainer(definition, session: runtime.map { WasmSession(runtime: $0) })
    }

    public func verify(_ definition: ExtensionDefinition, _ snapshot: borrowing Snapshot) throws -> [String] {
        guard let record = try snapshot.get(.code(definition.module))?.value else {
            return ["index '\(definition.name)': its module '\(definition.moduleName)' was removed"]
        }
        guard let runtime else { return ["index '\(definition.name)' not checked: no WebAssembly runtime"] }
        let session = WasmSession(runtime: runtime)
        let stored = record.encoded
        return try IndexStore.verify(definition, snapshot) { entries in
            try session.indexKeys(definition, moduleRecord: stored, entries: entries)
        }
    }

    final class Maintainer: IndexMaintainer {
        let definition: ExtensionDefinition
        let session: WasmSession?
        var record: [UInt8]? = nil

        init(_ definition: ExtensionDefinition, session: WasmSession?) {
            self.definition = definition
            self.session = session
        }

        func add(_ entries: [IndexedEntry], _ rows: borrowing IndexRows) throws {
            guard let session else { throw WasmIndex.unavailable(definition) }
            if record == nil {
                guard let r = try rows.fact(.code(definition.module), at: rows.txTime) else {
                    throw LLMDBError(
                        .notFound,
                        "the index '\(definition.name)' uses module '\(definition.moduleName)' (sha256 \(definition.module.prefix(12))…), which was removed; remove the index or add the module again; nothing was written"
                    )
                }
                record = r
            }
            let keys = try session.indexKeys(definition, moduleRecord: record!, entries: entries)
            try IndexStore.write(entries: entries, keys: keys, rows)
        }

        func erase(_ key: Key, _ rows: borrowing IndexRows) throws {
            try IndexStore.remove(key: key, rows)
        }
    }
}

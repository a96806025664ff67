import LLMDB

/// The code work of one transaction: one instance per module, discarded with the session.
final class WasmSession: CodeSession {
    let runtime: WasmRuntime
    private var instances: [String: GuestInstance] = [:]

    init(runtime: WasmRuntime) { self.runtime = runtime }

    func instance(_ def: ExtensionDefinition, _ record: [UInt8]) throws(LLMDBError) -> GuestInstance {
        if let i = instances[def.module] { return i }
        let compiled = try runtime.compiled(record: record, sha256: def.module)
        let i = try GuestInstance(compiled, runtime: runtime)
        instances[def.module] = i
        return i
    }

    func runHook(
        _ hook: ExtensionDefinition,
        moduleRecord: [UInt8],
        operations: [HookOperation],
        txID: TxID,
        txTime: Instant
    ) throws(LLMDBError) {
        let guest = try instance(hook, moduleRecord)
        let fn = try guest.function(hook.function)
        let page = PageBuilder(kind: 3)
        var pending = operations[...]
        while !pending.isEmpty {
            page.reset()
            while let op = pending.first, !page.isFull {
                pending.removeFirst()
                page.append(
                    op.key,
                    stored: op.stored,
                    validFrom: op.validFrom,
                    validTo: op.validTo,
                    txID: txID,
                    op: op.kind.rawValue
                )
            }
            let input = page.finish()
            let reason: String? = try guest.call(fn, hook.function, input: input, minimumOutput: 1024) {
                (r, out) throws(LLMDBError) -> String? in
                r == 0 ? nil : String(decoding: out.prefix(1024), as: UTF8.self)
            }
            if let reason {
                throw LLMDBError(
                    .hookRejected,
                    "hook '\(hook.name)' (module '\(guest.name)') rejected the transaction: \(reason); nothing was written"
                )
            }
        }
    }

    func indexKeys(
        _ index: ExtensionDefinition,
        moduleRecord: [UInt8],
        entries: [IndexedEntry]
    ) throws(LLMDBError) -> [[[UInt8]]] {
        let guest = try instance(index, moduleRecord)
        let fn = try guest.function(index.function)
        var out: [[[UInt8]]] = []
        out.reserveCapacity(entries.count)
        let page = PageBuilder(kind: 4)
        var i = 0
        while i < entries.count {
            page.reset()
            let first = i
            while i < entries.count, !page.isFull {
                let e = entries[i]
                i += 1
                page.append(e.key, stored: e.stored, validFrom: e.validFrom, validTo: nil, txID: e.txID, op: 0)
            }
            let input = page.finish()
            let n = i - first
            let keys = try guest.call(fn, index.function, input: input) { (_, bytes) throws(LLMDBError) in
                try PageReader.indexKeys(bytes, records: n, module: guest.name, function: index.function)
            }
            out += keys
        }
        return out
    }
}

public import LLMDB
import WasmKit

/// Runs a `map_pages` module over single records, for callers that transform values one
/// at a time (the document layer's WASM migration steps). One instance for the
/// transformer's life: create one per operation.
public final class RecordTransformer {
    let guest: GuestInstance
    let fn: Function
    let function: String
    let page = PageBuilder(kind: 1)

    /// The live `map_pages` module `module` of `db` (name or sha256 prefix).
    public init(db: Database, module: String) throws {
        let compiled = try db.compiledModule(module, kind: .mapPages)
        guest = try GuestInstance(compiled, runtime: db.wasm)
        function = compiled.meta.function
        fn = try guest.function(function)
    }

    /// Passes one record through the module and returns the stored value (tag byte, then
    /// payload) of the first record it outputs; nil when it outputs none (it filtered the
    /// record out).
    public func transform(_ key: Key, stored: [UInt8], validFrom: Instant, txID: TxID) throws -> [UInt8]? {
        page.reset()
        page.append(key, stored: stored, validFrom: validFrom, validTo: nil, txID: txID, op: 0)
        let input = page.finish()
        let output: [UInt8] = try guest.call(fn, function, input: input, minimumOutput: input.count + 256) {
            (_, out) throws(LLMDBError) in Array(out)
        }
        var result: [UInt8]? = nil
        _ = try output.withUnsafeBytes { o in
            try PageReader.forEachRecord(o, module: guest.name, function: function) { row in
                result = [row.tag.rawValue] + Array(row.payload)
                return false
            }
        }
        return result
    }
}

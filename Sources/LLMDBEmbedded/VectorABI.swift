import CLLMDBABI
import LLMDB
import LLMDBService
import LLMDBVector

// The binary vector calls of include/llmdb.h: floats go in as they lie in the caller's
// memory (a NumPy array's buffer, a C array), read once into the batch; everything else
// about vectors goes through llmdb_call with the REST operations (createVectorCollection,
// getVector, deleteVector, …). Both run the service's one implementation.

@_cdecl("llmdb_vector_put")
public func abiVectorPut(
    _ handle: OpaquePointer?,
    _ collection: UnsafePointer<CChar>?,
    _ count: Int,
    _ keys: UnsafePointer<UnsafePointer<CChar>?>?,
    _ vectors: UnsafePointer<Float>?,
    _ dimensions: Int,
    _ metadata: UnsafePointer<UnsafePointer<CChar>?>?,
    _ txOut: UnsafeMutablePointer<UInt64>?
) -> Int32 {
    guarded {
        let h = try Handles.database(handle)
        try h.checkWritable()
        let name = try text(collection, "collection")
        guard count >= 1 else { throw ABIError(LLMDB_E_INVALID_ARGUMENT, "'n' must be at least 1, not \(count)") }
        guard dimensions >= 1 else {
            throw ABIError(LLMDB_E_INVALID_ARGUMENT, "'dims' must be at least 1, not \(dimensions)")
        }
        guard let keys else { throw ABIError.null("keys") }
        guard let vectors else { throw ABIError.null("vectors") }
        var items: [VectorItem] = []
        items.reserveCapacity(count)
        for i in 0..<count {
            let key = try text(keys[i], "keys[\(i)]")
            var meta: JSONValue? = nil
            if let m = metadata?[i] {
                let t = try text(m, "metadata_json[\(i)]")
                do throws(LLMDBError) { meta = try JSONValue(parsing: t) } catch {
                    throw ABIError(LLMDB_E_INVALID_JSON, "'metadata_json[\(i)]' is not valid JSON: \(error.message)")
                }
            }
            let row = Array(UnsafeBufferPointer(start: vectors + i * dimensions, count: dimensions))
            items.append(VectorItem(key, row, metadata: meta))
        }
        let commit = try h.service.vectorPut(name, items, h.principal)
        txOut?.pointee = commit.txID
        return LLMDB_OK
    }
}

@_cdecl("llmdb_vector_search")
public func abiVectorSearch(
    _ handle: OpaquePointer?,
    _ collection: UnsafePointer<CChar>?,
    _ query: UnsafePointer<Float>?,
    _ dimensions: Int,
    _ k: Int32,
    _ optionsJSON: UnsafePointer<CChar>?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ len: UnsafeMutablePointer<Int>?
) -> Int32 {
    guarded {
        let h = try Handles.database(handle)
        guard out != nil else { throw ABIError.null("json_out") }
        try h.checkOpen()
        let name = try text(collection, "collection")
        guard let query, dimensions >= 1 else {
            throw ABIError(LLMDB_E_INVALID_ARGUMENT, "the query needs a pointer and at least 1 dimension")
        }
        var members: [JSONMember] = []
        if optionsJSON != nil {
            let options = try jsonArguments(optionsJSON)
            try options.only(["filter", "valid_at", "tx", "tx_time", "max_bytes"])
            guard case .object(let m) = options.json else { return LLMDB_E_INVALID_ARGUMENT }
            members = m
        }
        members += [JSONMember("collection", .string(name)), JSONMember("k", .int(Int64(k)))]
        let args = try Args(.object(members))
        let q = Array(UnsafeBufferPointer(start: query, count: dimensions))
        let answer = try h.run { p in try h.service.vectorSearch(args, p, query: q, maxK: VectorCollection.maxK) }
        return emit(answer, out, len)
    }
}

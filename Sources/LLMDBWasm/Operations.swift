public import LLMDB

/// What ``Database/reduce(prefix:module:function:validAt:tx:)`` returns.
public struct ReduceResult: Sendable, Hashable {
    /// The final accumulator, as the module left it.
    public let accumulator: [UInt8]
    /// The output of the module's `reduce_finish`, when it exports one (UTF-8 JSON by
    /// convention); nil otherwise.
    public let result: [UInt8]?
    /// Records folded.
    public let records: Int
    /// Calls made (one per page).
    public let pages: Int

    /// The accumulator in lowercase hex (what `llmdb reduce` prints without a `reduce_finish`).
    public var accumulatorHex: String { hexString(accumulator) }
}

/// Splits a scan row's encoded key into its partition and raw user-key bytes, borrowing
/// when the key has no 0x00 byte (the common case) and unescaping into `scratch` otherwise.
@inline(__always)
func withUserKey<R>(
    _ row: ScanRow,
    _ scratch: inout [UInt8],
    _ body: (UInt32, UnsafeRawBufferPointer) throws -> R
) rethrows -> R {
    let e = row.encodedKey
    let partition = UInt32(bigEndian: e.loadUnaligned(as: UInt32.self))
    let escaped = UnsafeRawBufferPointer(rebasing: e[4..<(e.count - 18)])
    if escaped.firstIndex(of: 0) == nil { return try body(partition, escaped) }
    scratch.removeAll(keepingCapacity: true)
    var i = escaped.startIndex
    while i < escaped.endIndex {
        scratch.append(escaped[i])
        i += escaped[i] == 0 ? 2 : 1
    }
    return try scratch.withUnsafeBytes { try body(partition, $0) }
}

extension Database {
    /// Scans the keys starting with `prefix` as of (`validAt`, `tx`) into pages of `kind`,
    /// and calls `flush` with each full page and with the last one (with `flushEmpty`, also
    /// when the scan found nothing). `flush` returns false to stop the scan.
    func pages(
        prefix: Key,
        validAt: Instant?,
        tx: TxSelector,
        kind: UInt32,
        flushEmpty: Bool,
        _ flush: (PageBuilder) throws -> Bool
    ) throws {
        let page = PageBuilder(kind: kind)
        var scratch: [UInt8] = []
        var stopped = false
        var flushed = false
        try read(validAt: validAt, tx: tx) { s in
            try s.scan(prefix: prefix) { row in
                page.append(row, scratch: &scratch)
                if page.isFull {
                    flushed = true
                    stopped = try !flush(page)
                    page.reset()
                }
                return !stopped
            }
        }
        if !stopped && (!page.isEmpty || (flushEmpty && !flushed)) { _ = try flush(page) }
    }

    /// Scans the keys starting with `prefix` as of (`validAt`, `tx`) and passes them, a page
    /// at a time, through the `map_pages` function of module `map`; calls `body` with each
    /// record the module outputs, until it returns false. One instance serves the whole scan.
    ///
    /// - Throws: ``LLMDBError`` naming the module, function and limit when the code traps,
    ///   fails, exceeds a limit, or writes malformed output.
    public func scan(
        prefix: Key,
        map module: String,
        function: String? = nil,
        validAt: Instant? = nil,
        tx: TxSelector = .latest,
        _ body: (MappedRow) throws -> Bool
    ) throws {
        let compiled = try compiledModule(module, kind: .mapPages)
        let guest = try GuestInstance(compiled, runtime: wasm)
        let fname = function ?? compiled.meta.function
        let fn = try guest.function(fname)
        var output: [UInt8] = []
        try pages(prefix: prefix, validAt: validAt, tx: tx, kind: 1, flushEmpty: false) { page in
            let input = page.finish()
            try guest.call(fn, fname, input: input, minimumOutput: input.count + 64) { (_, out) throws(LLMDBError) in
                output.removeAll(keepingCapacity: true)
                output.append(contentsOf: out)
            }
            return try output.withUnsafeBytes { o in
                try PageReader.forEachRecord(o, module: guest.name, function: fname, body)
            }
        }
    }

    /// The mapped records of a scan, copied (see ``scan(prefix:map:function:validAt:tx:_:)``).
    public func scan(
        prefix: Key,
        map module: String,
        function: String? = nil,
        validAt: Instant? = nil,
        tx: TxSelector = .latest,
        limit: Int = .max
    ) throws -> [Fact] {
        var out: [Fact] = []
        guard limit > 0 else { return out }
        try scan(prefix: prefix, map: module, function: function, validAt: validAt, tx: tx) { row in
            out.append(
                Fact(
                    key: row.keyValue(),
                    value: row.value(),
                    validFrom: row.validFrom,
                    validTo: nil,
                    txID: row.txID,
                    txTime: .beginningOfTime
                )
            )
            return out.count < limit
        }
        return out
    }

    /// Folds the keys starting with `prefix` as of (`validAt`, `tx`) with the
    /// `reduce_pages` function of `module`, a page at a time, and returns the accumulator
    /// (and `reduce_finish`'s output when the module exports it).
    public func reduce(
        prefix: Key,
        module: String,
        function: String? = nil,
        validAt: Instant? = nil,
        tx: TxSelector = .latest
    ) throws -> ReduceResult {
        let compiled = try compiledModule(module, kind: .reducePages)
        let guest = try GuestInstance(compiled, runtime: wasm)
        let fname = function ?? compiled.meta.function
        let fn = try guest.function(fname)
        var accumulator: [UInt8] = []
        var first = true
        var records = 0
        var pages = 0
        try self.pages(prefix: prefix, validAt: validAt, tx: tx, kind: 2, flushEmpty: true) { page in
            let input = page.finish(accumulatorLength: accumulator.count)
            // The first call sees a zero-filled accumulator of length 0.
            let preset = first ? [UInt8](repeating: 0, count: 4096) : accumulator
            first = false
            accumulator = try guest.call(fn, fname, input: input, preset: preset) { (_, out) throws(LLMDBError) in
                Array(out)
            }
            records += page.count
            pages += 1
            return true
        }
        var result: [UInt8]? = nil
        if compiled.info.functions["reduce_finish"] != nil {
            let finish = try guest.function("reduce_finish")
            result = try accumulator.withUnsafeBytes { acc in
                try guest.call(finish, "reduce_finish", input: acc) { (_, out) throws(LLMDBError) in Array(out) }
            }
        }
        return ReduceResult(accumulator: accumulator, result: result, records: records, pages: pages)
    }
}

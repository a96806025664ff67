public import LLMDB

/// Builds a page of records in the ABI's layout (include/llmdb_wasm.h), in a host buffer
/// that is reused from page to page. A class that owns its memory, so that the bytes
/// ``finish(accumulatorLength:)`` hands out stay valid until the next change.
final class PageBuilder {
    static let headerSize = 16
    static let recordHeaderSize = 48
    /// Records per page, and the byte size at which a page is sent early.
    static let maxRecords = 4096
    static let targetBytes = 1 << 20

    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    private(set) var byteCount = 0
    private(set) var count = 0
    let kind: UInt32

    init(kind: UInt32) {
        self.kind = kind
        capacity = 64 << 10
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        reset()
    }

    deinit { base.deallocate() }

    var isFull: Bool { count >= Self.maxRecords || byteCount >= Self.targetBytes }
    var isEmpty: Bool { count == 0 }

    func reset() {
        base.initializeMemory(as: UInt8.self, repeating: 0, count: Self.headerSize)
        byteCount = Self.headerSize
        count = 0
    }

    private func reserve(_ extra: Int) {
        let needed = byteCount + extra
        guard needed > capacity else { return }
        var c = capacity
        while c < needed { c *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 8)
        grown.copyMemory(from: base, byteCount: byteCount)
        base.deallocate()
        base = grown
        capacity = c
    }

    func append(
        partition: UInt32,
        key: UnsafeRawBufferPointer,
        validFrom: Instant,
        validTo: Instant?,
        txID: TxID,
        tag: UInt8,
        op: UInt8,
        payload: UnsafeRawBufferPointer
    ) {
        let size = (Self.recordHeaderSize + key.count + payload.count + 7) & ~7
        reserve(size)
        let p = UnsafeMutableRawBufferPointer(start: base + byteCount, count: size)
        p.initializeMemory(as: UInt8.self, repeating: 0)
        p.storeBytes(of: UInt32(size).littleEndian, toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: partition.littleEndian, toByteOffset: 4, as: UInt32.self)
        p.storeBytes(of: UInt32(key.count).littleEndian, toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: UInt32(payload.count).littleEndian, toByteOffset: 12, as: UInt32.self)
        p.storeBytes(of: validFrom.microseconds.littleEndian, toByteOffset: 16, as: Int64.self)
        p.storeBytes(of: (validTo?.microseconds ?? .max).littleEndian, toByteOffset: 24, as: Int64.self)
        p.storeBytes(of: txID.littleEndian, toByteOffset: 32, as: UInt64.self)
        p[40] = tag
        p[41] = op
        let k = Self.recordHeaderSize
        if !key.isEmpty { UnsafeMutableRawBufferPointer(rebasing: p[k..<(k + key.count)]).copyMemory(from: key) }
        if !payload.isEmpty {
            UnsafeMutableRawBufferPointer(rebasing: p[(k + key.count)..<(k + key.count + payload.count)])
                .copyMemory(from: payload)
        }
        byteCount += size
        count += 1
    }

    /// Appends a record from a key and a stored value (tag byte, then payload).
    func append(_ key: Key, stored: [UInt8], validFrom: Instant, validTo: Instant?, txID: TxID, op: UInt8) {
        key.bytes.withUnsafeBytes { k in
            stored.withUnsafeBytes { v in
                append(
                    partition: key.partition,
                    key: k,
                    validFrom: validFrom,
                    validTo: validTo,
                    txID: txID,
                    tag: v[0],
                    op: op,
                    payload: UnsafeRawBufferPointer(rebasing: v[1...])
                )
            }
        }
    }

    /// Appends a scan row (its key unescaped when it holds 0x00 bytes, into `scratch`).
    func append(_ row: ScanRow, scratch: inout [UInt8]) {
        withUserKey(row, &scratch) { partition, key in
            append(
                partition: partition,
                key: key,
                validFrom: row.value.validFrom,
                validTo: nil,
                txID: row.value.txID,
                tag: row.value.tag.rawValue,
                op: 0,
                payload: row.value.payload
            )
        }
    }

    /// Fills in the header and returns the page: valid until the builder next changes.
    func finish(accumulatorLength: Int = 0) -> UnsafeRawBufferPointer {
        base.storeBytes(of: UInt32(byteCount).littleEndian, toByteOffset: 0, as: UInt32.self)
        base.storeBytes(of: UInt32(count).littleEndian, toByteOffset: 4, as: UInt32.self)
        base.storeBytes(of: kind.littleEndian, toByteOffset: 8, as: UInt32.self)
        base.storeBytes(of: UInt32(accumulatorLength).littleEndian, toByteOffset: 12, as: UInt32.self)
        return UnsafeRawBufferPointer(start: base, count: byteCount)
    }
}

/// A record produced by a `map_pages` function, borrowed from the output page: valid only
/// inside the closure that receives it.
public struct MappedRow {
    public let partition: PartitionID
    /// The user key bytes.
    public let key: UnsafeRawBufferPointer
    public let validFrom: Instant
    public let txID: TxID
    public let tag: ValueTag
    /// The value payload (without its tag).
    public let payload: UnsafeRawBufferPointer

    /// Copies the value out (nil for a tombstone). The page reader has checked the payload
    /// against its tag: a module's malformed value fails the read with the module named.
    public func value() -> Value? {
        tag == .tombstone ? nil : Value(unchecked: tag, Array(payload))
    }

    /// Copies the key out.
    public func keyValue() -> Key { Key(Array(key), partition: partition) }
}

enum PageReader {
    static func u32(_ p: UnsafeRawBufferPointer, _ o: Int) -> Int {
        Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
    }

    /// Walks the records of an output page written by `map_pages`, checking every length
    /// against the page and the page against the returned length.
    static func forEachRecord(
        _ out: UnsafeRawBufferPointer,
        module: String,
        function: String,
        _ body: (MappedRow) throws -> Bool
    ) throws -> Bool {
        func bad(_ why: String) -> LLMDBError {
            LLMDBError(.codeFailed, "module '\(module)' function '\(function)' wrote a malformed output page: \(why)")
        }
        if out.isEmpty { return true }
        guard out.count >= PageBuilder.headerSize else { throw bad("\(out.count) bytes is shorter than a page header") }
        let size = u32(out, 0)
        let count = u32(out, 4)
        guard size <= out.count else {
            throw bad("its size field says \(size) bytes but the function returned \(out.count)")
        }
        var offset = PageBuilder.headerSize
        for i in 0..<count {
            guard offset + PageBuilder.recordHeaderSize <= size else {
                throw bad("record \(i) starts past the page's end")
            }
            let rsize = u32(out, offset)
            let partition = u32(out, offset + 4)
            let klen = u32(out, offset + 8)
            let vlen = u32(out, offset + 12)
            guard rsize % 8 == 0, rsize >= PageBuilder.recordHeaderSize, offset + rsize <= size else {
                throw bad("record \(i) has size \(rsize) (not a multiple of 8, or past the page's end)")
            }
            guard PageBuilder.recordHeaderSize + klen + vlen <= rsize else {
                throw bad("record \(i)'s key and value (\(klen) + \(vlen) bytes) overflow its size \(rsize)")
            }
            guard klen > 0 else { throw bad("record \(i) has an empty key") }
            let tag = ValueTag(rawValue: out[offset + 40])
            guard tag.isKnown else { throw bad("record \(i) has the unknown value tag \(out[offset + 40])") }
            let k = offset + PageBuilder.recordHeaderSize
            let payload = UnsafeRawBufferPointer(rebasing: out[(k + klen)..<(k + klen + vlen)])
            if let why = malformation(tag, payload) { throw bad("record \(i)'s \(tag.name) value \(why)") }
            // Transaction ids count from 1 and are shown as signed 64-bit JSON integers.
            let txID = UInt64(littleEndian: out.loadUnaligned(fromByteOffset: offset + 32, as: UInt64.self))
            guard txID <= UInt64(Int64.max) else {
                throw bad("record \(i) has the transaction id \(txID), past the largest one (2^63 - 1)")
            }
            let row = MappedRow(
                partition: PartitionID(partition),
                key: UnsafeRawBufferPointer(rebasing: out[k..<(k + klen)]),
                validFrom: Instant(
                    microseconds: Int64(littleEndian: out.loadUnaligned(fromByteOffset: offset + 16, as: Int64.self))
                ),
                txID: txID,
                tag: tag,
                payload: payload
            )
            if try !body(row) { return false }
            offset += rsize
        }
        return true
    }

    /// What is wrong with a record's value payload for its tag (nil: nothing), checked as
    /// a write checks a value, so that every reader of a module's output (scans, LQL,
    /// migrations) fails with the module named instead of passing bad bytes on. Raw bytes
    /// and retractions are not checked. The message never quotes the value.
    static func malformation(_ tag: ValueTag, _ payload: UnsafeRawBufferPointer) -> String? {
        switch tag {
        case .raw, .tombstone:
            return nil
        case .json:
            do throws(CodecError) {
                return try JSON.validate(payload) ? "is JSON null, which is not a value" : nil
            } catch {
                return "is not valid JSON: \(error)"
            }
        case .messagePack:
            do throws(CodecError) { try MessagePack.validate(payload) } catch {
                return "is not valid MessagePack: \(error)"
            }
            return payload.first == 0xC0 ? "is MessagePack nil, which is not a value" : nil
        default:
            do throws(LLMDBError) {
                _ = try Value(unchecked: tag, Array(payload)).jsonTree()
                return nil
            } catch {
                // jsonTree says "a stored <type> value is malformed: <what>".
                let m = error.message
                return "is malformed: " + (m.firstRange(of: "malformed: ").map { String(m[$0.upperBound...]) } ?? m)
            }
        }
    }

    /// Parses `custom_index` output: `{u32 record, u32 key_len, key}` entries padded to 4.
    static func indexKeys(
        _ out: UnsafeRawBufferPointer,
        records: Int,
        module: String,
        function: String
    ) throws(LLMDBError)
        -> [[[UInt8]]]
    {
        func bad(_ why: String) -> LLMDBError {
            LLMDBError(.codeFailed, "module '\(module)' function '\(function)' wrote malformed index keys: \(why)")
        }
        var keys = [[[UInt8]]](repeating: [], count: records)
        var offset = 0
        while offset < out.count {
            guard offset + 8 <= out.count else { throw bad("an entry header runs past the output's end") }
            let r = u32(out, offset)
            let n = u32(out, offset + 4)
            guard r < records else { throw bad("an entry names record \(r) of a page of \(records)") }
            guard n >= 1, n <= 255 else { throw bad("an index key of \(n) bytes (keys are 1 to 255 bytes)") }
            guard offset + 8 + n <= out.count else { throw bad("an index key runs past the output's end") }
            keys[r].append(Array(out[(offset + 8)..<(offset + 8 + n)]))
            offset += (8 + n + 3) & ~3
        }
        return keys
    }
}

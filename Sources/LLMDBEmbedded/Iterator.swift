import CLLMDBABI
import Glibc
import LLMDB

/// A prefix scan read in pages: each page is one read of the database at the scan's fixed
/// (valid time, transaction), resuming after the page's last key, with its rows' keys and
/// values copied into one buffer that the rows lend to the caller until the next page.
struct ScanPage {
    struct Row {
        let keyOffset: Int
        let keyCount: Int
        let valueOffset: Int
        let valueCount: Int
        let tag: UInt8
        let validFrom: Int64
        let validTo: Int64
        let tx: UInt64
        let txTime: Int64
    }
    static let maxRows = 256
    static let maxBytes = 1 << 20

    let prefix: Key
    let validAt: Instant
    let txID: TxID
    private(set) var rows: [Row] = []
    private(set) var next = 0
    private(set) var buffer: UnsafeMutableRawPointer? = nil
    private var capacity = 0
    private var last: Key? = nil
    private(set) var exhausted = false
    /// Freed (llmdb_iter_close, or llmdb_close of its database).
    private(set) var released = false

    /// Starts the scan and reads its first page.
    init(db: Database, prefix: Key, validAt: Instant?, tx: TxSelector) throws {
        let (v, t) = try db.read(validAt: validAt, tx: tx) { s in (s.validTime, s.txID) }
        self.prefix = prefix
        self.validAt = v
        self.txID = t
        try fill(db)
    }

    /// The next row, reading the next page when this one is used up; nil at the end.
    /// Throws once the page was released: a call racing with llmdb_close of the database
    /// must not read as the end of the scan.
    mutating func advance(_ db: Database) throws -> Row? {
        if released {
            throw ABIError(
                LLMDB_E_INVALID_HANDLE,
                "the iterator was freed while this call ran (llmdb_close of its database on another thread)"
            )
        }
        if next == rows.count {
            if exhausted { return nil }
            try fill(db)
            if rows.isEmpty { return nil }
        }
        next += 1
        return rows[next - 1]
    }

    private mutating func fill(_ db: Database) throws {
        rows = []
        next = 0
        var used = 0
        var more = false
        let after = last
        try db.read(validAt: validAt, tx: .id(txID)) { s in
            var times: [TxID: Instant] = [:]
            try s.scan(prefix: prefix, after: after) { r in
                if rows.count == Self.maxRows || used >= Self.maxBytes {
                    more = true
                    return false
                }
                let k = try r.key()
                let view = r.value
                let t: Instant
                if let known = times[view.txID] {
                    t = known
                } else {
                    t = try s.transactionTime(view.txID)
                    times[view.txID] = t
                }
                let to = try s.validTo(of: k, current: view)
                let keyOffset = k.bytes.withUnsafeBytes { append($0, &used) }
                let valueOffset = append(view.payload, &used)
                rows.append(
                    Row(
                        keyOffset: keyOffset,
                        keyCount: k.bytes.count,
                        valueOffset: valueOffset,
                        valueCount: view.payload.count,
                        tag: view.tag.rawValue,
                        validFrom: view.validFrom.microseconds,
                        validTo: (to ?? .endOfTime).microseconds,
                        tx: view.txID,
                        txTime: t.microseconds
                    )
                )
                last = k
                return true
            }
        }
        exhausted = !more
    }

    /// Copies `bytes` to the end of the page buffer (grown as needed); returns their offset.
    private mutating func append(_ bytes: UnsafeRawBufferPointer, _ used: inout Int) -> Int {
        let offset = used
        if offset + bytes.count > capacity {
            capacity = max(offset + bytes.count, 2 * capacity, 4096)
            buffer = realloc(buffer, capacity)
        }
        if let base = bytes.baseAddress { buffer!.advanced(by: offset).copyMemory(from: base, byteCount: bytes.count) }
        used += bytes.count
        return offset
    }

    /// Frees the page buffer (the rows lent from it become invalid).
    mutating func release() {
        free(buffer)
        buffer = nil
        capacity = 0
        rows = []
        next = 0
        exhausted = true
        released = true  // a call racing with the close reads no further page, and says why
    }
}

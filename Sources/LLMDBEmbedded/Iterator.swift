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

    /// Starts the scan and reads its first page.
    init(db: Database, prefix: Key, validAt: Instant?, tx: TxSelector) throws {
        let (v, t) = try db.read(validAt: validAt, tx: tx) { s in (s.validTime, s.txID) }
        self.prefix = prefix
        self.validAt = v
        self.txID = t
        try fill(db)
    }

    /// The next row, reading the next page when this one is used up; nil at the end.
    mutating func advance(_ db: Database) throws -> Row? {
        if next == rows.count {
            if exhausted { return nil }
            try fill(db)
            if rows.isEmpty { return nil }
        }
        next += 1
        return rows[next - 1]
    }

    private mutating func fill(_ db: Database) throws {
        var staged: [(key: Key, value: [UInt8], row: Row)] = []
        var bytes = 0
        var more = false
        let after = last
        try db.read(validAt: validAt, tx: .id(txID)) { s in
            var times: [TxID: Instant] = [:]
            try s.scan(prefix: prefix, after: after) { r in
                if staged.count == Self.maxRows || bytes >= Self.maxBytes {
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
                staged.append(
                    (
                        k, Array(view.payload),
                        Row(
                            keyOffset: 0,
                            keyCount: 0,
                            valueOffset: 0,
                            valueCount: 0,
                            tag: view.tag.rawValue,
                            validFrom: view.validFrom.microseconds,
                            validTo: (to ?? .endOfTime).microseconds,
                            tx: view.txID,
                            txTime: t.microseconds
                        )
                    )
                )
                bytes += k.bytes.count + view.payload.count
                return true
            }
        }
        exhausted = !more
        last = staged.last?.key ?? last
        if bytes > capacity {
            free(buffer)
            capacity = max(bytes, 4096)
            buffer = malloc(capacity)
        }
        var offset = 0
        rows = staged.map { s in
            let ko = offset
            s.key.bytes.withUnsafeBytes {
                buffer!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count)
            }
            offset += s.key.bytes.count
            let vo = offset
            s.value.withUnsafeBytes { v in
                if let base = v.baseAddress { buffer!.advanced(by: offset).copyMemory(from: base, byteCount: v.count) }
            }
            offset += s.value.count
            let r = s.row
            return Row(
                keyOffset: ko,
                keyCount: s.key.bytes.count,
                valueOffset: vo,
                valueCount: s.value.count,
                tag: r.tag,
                validFrom: r.validFrom,
                validTo: r.validTo,
                tx: r.tx,
                txTime: r.txTime
            )
        }
        next = 0
    }

    /// Frees the page buffer (the rows lent from it become invalid).
    mutating func release() {
        free(buffer)
        buffer = nil
        capacity = 0
        rows = []
        next = 0
        exhausted = true  // a call racing with the close reads no further page
    }
}

import Foundation
public import LLMDB
import LLMDBStorage

/// Splits text into the words a full-text index stores and a search looks up.
///
/// A word is a maximal run of letters and digits (Unicode), lower-cased. Words of one
/// character, words longer than ``maxWordBytes`` (hashes, base64) and a short list of
/// English stop words are dropped. There is no stemming: "index" and "indexes" are
/// different words.
public enum TextAnalyzer {
    public static let maxWordBytes = 64

    public static let stopWords: Set<String> = [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "if", "in",
        "into", "is", "it", "its", "of", "on", "or", "that", "the", "their", "then", "there", "these",
        "they", "this", "to", "was", "were", "will", "with",
    ]

    /// The words of `text`, in order, repeats included.
    public static func words(_ text: String) -> [String] {
        var out: [String] = []
        var buffer: [UInt8] = []
        words(text, &buffer) { out.append(String(decoding: $0, as: UTF8.self)) }
        return out
    }

    static let stopBytes: Set<[UInt8]> = Set(stopWords.map { Array($0.utf8) })
    static let maxStopWordBytes = stopWords.map(\.utf8.count).max() ?? 0

    /// Calls `body` with each word of `text` as lower-case UTF-8 in `buffer` (reused).
    /// ASCII is handled byte by byte; other scalars by their Unicode properties.
    static func words(_ text: String, _ buffer: inout [UInt8], _ body: ([UInt8]) -> Void) {
        var text = text
        buffer.removeAll(keepingCapacity: true)
        var scalars = 0
        func flush(_ buffer: inout [UInt8]) {
            if scalars > 1 && buffer.count <= maxWordBytes
                && (buffer.count > maxStopWordBytes || !stopBytes.contains(buffer))
            {
                body(buffer)
            }
            buffer.removeAll(keepingCapacity: true)
            scalars = 0
        }
        text.withUTF8 { utf8 in
            var i = 0
            let n = utf8.count
            while i < n {
                let c = utf8[i]
                if c < 0x80 {
                    if c >= 0x61 && c <= 0x7A || c >= 0x30 && c <= 0x39 {
                        buffer.append(c)
                        scalars += 1
                    } else if c >= 0x41 && c <= 0x5A {
                        buffer.append(c + 0x20)
                        scalars += 1
                    } else {
                        flush(&buffer)
                    }
                    i += 1
                    continue
                }
                // A multi-byte scalar (the input is valid UTF-8: it is a String).
                let length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2
                var value = UInt32(c) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
                for j in 1..<length where i + j < n { value = value << 6 | UInt32(utf8[i + j] & 0x3F) }
                i += length
                guard let scalar = Unicode.Scalar(value) else {
                    flush(&buffer)
                    continue
                }
                if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                    buffer.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
                    scalars += 1
                } else {
                    flush(&buffer)
                }
            }
        }
        flush(&buffer)
    }

    /// Every string in `value` (object member names excluded), depth first.
    public static func strings(_ value: JSONValue, _ body: (String) -> Void) {
        switch value {
        case .string(let s):
            body(s)
        case .array(let elements):
            for e in elements { strings(e, body) }
        case .object(let members):
            for m in members { strings(m.value, body) }
        default:
            break
        }
    }

    /// The distinct words of the strings of `doc` (under `path`, when given) in byte order,
    /// each with its count, and the number of words in all.
    static func document(_ doc: JSONValue, path: String?) -> (terms: [[UInt8]], counts: [Int], length: Int) {
        var counts: [[UInt8]: Int] = [:]
        var length = 0
        var buffer: [UInt8] = []
        let roots = path.map { doc.values(atPath: $0.split(separator: ".").map(String.init)[...]) } ?? [doc]
        for root in roots {
            strings(root) { s in
                words(s, &buffer) { w in
                    counts[w, default: 0] += 1
                    length += 1
                }
            }
        }
        let sorted = counts.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        return (sorted.map(\.key), sorted.map(\.value), length)
    }
}

/// The BM25 data of full-text indexes, in the `index` table beside the postings and entry
/// records of ``IndexStore`` (whose keys, for a full-text index, are the distinct words):
/// - term counts `[0x03][escaped name][00 00][the entry's facts key]` → `[u32 BE words]`
///   then a `u16 BE` count per word, in the order of the entry record's words;
/// - corpus statistics `[0x04][escaped name][00 00][tx u64 BE]` → `[u64 entries][u64 words]`,
///   the running totals over every indexed entry up to that transaction.
///
/// Like Lucene, which counts deleted documents until segments merge, the statistics count
/// every indexed version (superseded ones included), so they depend on the transaction
/// alone and an as-of search ranks as it did then.
enum TextStore {
    static let countsTag: UInt8 = 0x03
    static let statsTag: UInt8 = 0x04

    /// The bytes after a full-text posting's smallest tx: the writing entry's
    /// `[valid_from bits u64][tx u64][count u16][length u32]`.
    static func postingExtra(_ entry: IndexedEntry, count: Int, length: Int) -> [UInt8] {
        var v: [UInt8] = []
        v.reserveCapacity(22)
        EntryKey.appendU64(EntryKey.timeBits(entry.validFrom), to: &v)
        EntryKey.appendU64(entry.txID, to: &v)
        let c = UInt16(clamping: count)
        v.append(UInt8(c >> 8))
        v.append(UInt8(c & 0xFF))
        EntryKey.appendU32(UInt32(clamping: length), to: &v)
        return v
    }

    /// Entries and words added by one transaction.
    struct Delta {
        var entries = 0
        var words = 0
    }

    /// Stores the term counts of written entries and adds their sizes to `stats`, by the
    /// transaction of each entry.
    static func write(
        entries: [IndexedEntry],
        documents: [(terms: [[UInt8]], counts: [Int], length: Int)],
        _ rows: borrowing IndexRows,
        stats: inout [TxID: Delta]
    ) throws {
        let prefix = rows.prefix(countsTag)
        for (entry, doc) in zip(entries, documents) {
            let key = prefix + EntryKey.encode(entry.key, validFrom: entry.validFrom, tx: entry.txID)
            guard key.count <= Key.lmdbKeyLimit else { continue }  // IndexStore.write refused it already
            if doc.terms.isEmpty {
                try rows.delete(key)
                continue
            }
            var v: [UInt8] = []
            v.reserveCapacity(4 + 2 * doc.counts.count)
            EntryKey.appendU32(UInt32(clamping: doc.length), to: &v)
            for c in doc.counts {
                let n = UInt16(clamping: c)
                v.append(UInt8(n >> 8))
                v.append(UInt8(n & 0xFF))
            }
            try rows.put(key, v)
            stats[entry.txID, default: Delta()].entries += 1
            stats[entry.txID, default: Delta()].words += doc.length
        }
    }

    /// Adds `deltas` to the running totals, in transaction order: each transaction's record
    /// is the total up to it.
    static func addStats(_ deltas: [TxID: Delta], _ rows: borrowing IndexRows) throws {
        let statsPrefix = rows.prefix(statsTag)
        for tx in deltas.keys.sorted() {
            let d = deltas[tx]!
            var probe = statsPrefix
            EntryKey.appendU64(tx == .max ? tx : tx + 1, to: &probe)
            var (n, total) = try rows.withCursor { c in stats(try c.last(before: probe), statsPrefix, atMost: tx) }
            n += UInt64(d.entries)
            total += UInt64(d.words)
            var key = statsPrefix
            EntryKey.appendU64(tx, to: &key)
            var v: [UInt8] = []
            EntryKey.appendU64(n, to: &v)
            EntryKey.appendU64(total, to: &v)
            try rows.put(key, v)
        }
    }

    /// The running totals (entries, words) as of transaction `tx` in a read transaction.
    static func stats(_ c: borrowing Cursor, _ statsPrefix: [UInt8], atMost tx: TxID) throws -> (UInt64, UInt64) {
        var probe = statsPrefix
        EntryKey.appendU64(tx == .max ? tx : tx + 1, to: &probe)
        let after = try probe.withUnsafeBytes { try c.seek(atLeast: $0) }
        return stats(after == nil ? try c.last() : try c.previous(), statsPrefix, atMost: tx)
    }

    /// The totals in `e`, the last statistics row before transaction `tx + 1`, if it is one.
    static func stats(_ e: Cursor.Entry?, _ statsPrefix: [UInt8], atMost tx: TxID) -> (UInt64, UInt64) {
        guard let e, EntryKey.hasPrefix(e.key, statsPrefix), e.key.count == statsPrefix.count + 8,
            EntryKey.readU64(e.key, at: statsPrefix.count) <= tx, e.value.count == 16
        else { return (0, 0) }
        return (EntryKey.readU64(e.value, at: 0), EntryKey.readU64(e.value, at: 8))
    }

    /// Removes the term counts of one key (erase); the statistics keep counting its versions.
    static func remove(key: Key, _ rows: borrowing IndexRows) throws {
        let prefix = rows.prefix(countsTag) + EntryKey.keyPrefix(key)
        try rows.withCursor { c in
            while let e = try c.seek(atLeast: prefix), EntryKey.hasPrefix(e.key, prefix) {
                try c.deleteCurrent()
            }
        }
    }
}

/// Full-text (BM25) indexes: the kind `full_text`. The index keys of an entry are the
/// distinct words of its JSON value's strings (all of them, or those under the setting
/// `json_path`), see ``TextAnalyzer``; rows are ``IndexStore``'s postings and entry records,
/// plus the BM25 data of ``TextStore``. Searched with ``Snapshot/search(text:query:_:)``.
public struct FullTextIndex: IndexKind {
    public static let kindName = "full_text"
    public var name: String { Self.kindName }

    public init() {}

    /// The definition of a full-text index over the keys of `scope`.
    public static func definition(_ name: String, scope: KeyScope, path: String?) -> ExtensionDefinition {
        .index(
            name,
            kind: kindName,
            scope: scope,
            settings: path.map { [JSONMember("json_path", .string($0))] } ?? []
        )
    }

    static func path(_ d: ExtensionDefinition) -> String? { d.string(setting: "json_path") }

    /// Whether `d` is of this kind (named so, or from before kinds had names and claimed).
    public static func matches(_ d: ExtensionDefinition) -> Bool {
        d.indexKind == kindName || d.isLegacyIndex && FullTextIndex().claims(d)
    }

    /// Definitions from before kinds had names flagged `full_text` are this kind's.
    public func claims(_ legacy: ExtensionDefinition) -> Bool {
        legacy.module.isEmpty && legacy[setting: "full_text"] == .bool(true)
    }

    public func validate(_ definition: ExtensionDefinition) throws(LLMDBError) {
        switch definition[setting: "json_path"] {
        case nil: break
        case .string(let p)?
        where !p.isEmpty && !p.split(separator: ".", omittingEmptySubsequences: false).contains(""):
            break
        default:
            throw LLMDBError(
                .invalidArgument,
                "the full-text index '\(definition.name)': json_path must be a dotted path of member names"
            )
        }
    }

    public func maintainer(for definition: ExtensionDefinition) throws -> any IndexMaintainer {
        Maintainer(path: Self.path(definition))
    }

    public func verify(_ definition: ExtensionDefinition, _ snapshot: borrowing Snapshot) throws -> [String] {
        let path = Self.path(definition)
        return try IndexStore.verify(definition, snapshot) { entries in
            entries.map { e in e.json.map { TextAnalyzer.document($0, path: path).terms } ?? [] }
        }
    }

    final class Maintainer: IndexMaintainer {
        let path: String?
        /// Entries and words by the transaction of each entry, added to the running totals
        /// once all are known (a build gives entries of many transactions, in key order).
        var stats: [TxID: TextStore.Delta] = [:]

        init(path: String?) { self.path = path }

        func add(_ entries: [IndexedEntry], _ rows: borrowing IndexRows) throws {
            let documents = entries.map { e in
                e.json.map { TextAnalyzer.document($0, path: path) } ?? (terms: [[UInt8]](), counts: [Int](), length: 0)
            }
            // Each posting also carries its writer's (valid_from, tx), term count and length,
            // so a search whose as-of version is that writer needs no other read.
            try IndexStore.write(entries: entries, keys: documents.map(\.terms), rows) { e, k in
                TextStore.postingExtra(entries[e], count: documents[e].counts[k], length: documents[e].length)
            }
            try TextStore.write(entries: entries, documents: documents, rows, stats: &stats)
        }

        func erase(_ key: Key, _ rows: borrowing IndexRows) throws {
            try IndexStore.remove(key: key, rows)
            try TextStore.remove(key: key, rows)
        }

        func finish(_ rows: borrowing IndexRows) throws {
            if !stats.isEmpty { try TextStore.addStats(stats, rows) }
            stats = [:]
        }
    }
}

/// One result of a full-text search.
public struct TextHit: Sendable {
    public let fact: Fact
    /// The final score: BM25 times the recency factor times the acceptance weight.
    public let score: Double
    /// The BM25 score alone.
    public let bm25: Double
}

/// How a full-text search ranks and filters.
public struct TextSearch {
    /// The most results.
    public var limit: Int = 10
    /// BM25's term-frequency saturation and length normalisation.
    public var k1: Double = 1.2
    public var b: Double = 0.75
    /// Only keys with this partition and prefix (a namespace); nil: the whole index.
    public var scope: KeyScope? = nil
    /// Recency weighting: a hit's score is multiplied by `1 + recencyWeight · 2^(−age/halfLife)`,
    /// where age is the time from the hit's valid-from to the search's valid time.
    public var recencyWeight: Double = 0
    public var recencyHalfLife: Double = 7 * 86_400
    /// Called for each hit considered, best first: nil rejects it (a metadata filter), a
    /// number multiplies its score (a confidence weighting); it must not exceed `maxWeight`.
    public var accept: ((Fact) throws -> Double?)? = nil
    public var maxWeight: Double = 1

    public init(limit: Int = 10) { self.limit = limit }
}

extension Snapshot {
    /// The facts of the full-text index `name` that best match the words of `query` as of
    /// this snapshot, ranked by BM25 (Robertson–Spärck Jones IDF as in Lucene:
    /// `ln(1 + (N − df + 0.5)/(df + 0.5))`).
    ///
    /// - Throws: ``LLMDBError/Code/notFound`` when no index `name` exists or it is not a
    ///   full-text index; ``LLMDBError/Code/invalidQuery`` when the query has no words.
    public func search(text name: String, query: String, _ options: TextSearch = TextSearch()) throws -> [TextHit] {
        let latest = try Self.lastTransaction(tx, db).id
        guard
            let def = try lookup(.index(name), validAt: .endOfTime.advanced(by: -1), tx: latest)
                .flatMap({ try? $0.value() })
                .flatMap({ ExtensionDefinition.decode(kind: .index, name: name, value: $0) }),
            let table = db.index
        else {
            throw LLMDBError(.notFound, "no full-text index named '\(name)'")
        }
        guard FullTextIndex.matches(def) else {
            throw LLMDBError(.notFound, "the index '\(name)' is not a full-text index")
        }
        let terms = Array(Set(TextAnalyzer.words(query))).sorted()
        guard !terms.isEmpty else {
            throw LLMDBError(
                .invalidQuery,
                "the search text has no words to look up (words are letters and digits; one-letter words and common English words like 'the' are skipped)"
            )
        }
        guard options.limit > 0, txID > 0 else { return [] }
        let statsCursor = try tx.cursor(table)
        let (n, total) = try TextStore.stats(statsCursor, IndexStore.namePrefix(TextStore.statsTag, name), atMost: txID)
        guard n > 0 else { return [] }
        let count = Double(n)
        let avgLength = max(1, Double(total) / count)

        var scopePrefix: [UInt8]? = nil
        if let scope = options.scope {
            let p = EntryKey.keyPrefix(Key(scope.prefix, partition: scope.partition))
            scopePrefix = Array(p.dropLast(2))  // without the key terminator: a prefix of keys
        }
        // Candidates hold bytes borrowed from the read transaction (valid until it ends):
        // the entry key and value of the version in effect, its word list and its counts.
        struct Candidate {
            var entryKey: UnsafeRawBufferPointer
            var value: UnsafeRawBufferPointer
            /// The entry's word list and counts, read only when a posting was written by
            /// another version than the one in effect.
            var record: UnsafeRawBufferPointer?
            var counts: UnsafeRawBufferPointer?
            var score: Double
        }
        var candidates: [Candidate] = []
        var seen = BorrowedKeyTable()
        let entryPrefix = IndexStore.namePrefix(IndexStore.entryTag, name)
        let countsPrefix = IndexStore.namePrefix(TextStore.countsTag, name)
        let postings = try tx.cursor(table)
        var probe = [UInt8](repeating: 0, count: 512)
        var recordKey: [UInt8] = []
        var keys: [(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)] = []
        for term in terms {
            let termBytes = Array(term.utf8)
            let prefix = IndexStore.postingPrefix(name, termBytes)
            keys.removeAll(keepingCapacity: true)
            var e = try prefix.withUnsafeBytes { try postings.seek(atLeast: $0) }
            while let posting = e, EntryKey.hasPrefix(posting.key, prefix) {
                e = try postings.next()
                guard posting.value.count >= 8, EntryKey.readU64(posting.value, at: 0) <= txID else { continue }
                keys.append((UnsafeRawBufferPointer(rebasing: posting.key[prefix.count...]), posting.value))
            }
            if keys.isEmpty { continue }
            let df = Double(keys.count)
            let idf = log(1 + (count - df + 0.5) / (df + 0.5))
            for (keyPart, postingValue) in keys {
                if let scopePrefix,
                    keyPart.count < scopePrefix.count
                        || !scopePrefix.withUnsafeBytes({ memcmpEqual($0, keyPart, count: scopePrefix.count) })
                {
                    continue
                }
                let hash = BorrowedKeyTable.hash(keyPart)
                var index: Int32
                if let found = seen.find(keyPart, hash: hash) {
                    index = found
                } else {
                    index = -1
                    if keyPart.count + 16 <= probe.count {
                        let hit = try probe.withUnsafeMutableBytes { p -> Cursor.Entry? in
                            p.copyMemory(from: keyPart)
                            return try Self.asOf(
                                cursor,
                                keyPart: keyPart,
                                probe: UnsafeMutableRawBufferPointer(rebasing: p[0..<(keyPart.count + 16)]),
                                validTime: validTime,
                                tx: txID
                            )
                        }
                        if let hit, let tag = hit.value.first, tag != ValueTag.tombstone.rawValue {
                            index = Int32(candidates.count)
                            candidates.append(
                                Candidate(entryKey: hit.key, value: hit.value, record: nil, counts: nil, score: 0)
                            )
                        }
                    }
                    seen.insert(keyPart, hash: hash, value: index)
                }
                guard index >= 0 else { continue }
                let c = candidates[Int(index)]
                let tf: Double
                let length: Double
                let n = c.entryKey.count
                if postingValue.count == 30,
                    memcmpEqual(
                        UnsafeRawBufferPointer(rebasing: postingValue[8..<24]),
                        UnsafeRawBufferPointer(rebasing: c.entryKey[(n - 16)...]),
                        count: 16
                    )
                {
                    // The posting was written by the version in effect: its count is ours.
                    tf = Double(UInt16(postingValue[24]) << 8 | UInt16(postingValue[25]))
                    length = Double(UInt32(bigEndian: postingValue.loadUnaligned(fromByteOffset: 26, as: UInt32.self)))
                } else {
                    var record = c.record
                    var counts = c.counts
                    if record == nil {
                        recordKey.removeAll(keepingCapacity: true)
                        recordKey.append(contentsOf: entryPrefix)
                        recordKey.append(contentsOf: c.entryKey)
                        record = try recordKey.withUnsafeBytes { try tx.get(table, $0) }
                        recordKey.removeAll(keepingCapacity: true)
                        recordKey.append(contentsOf: countsPrefix)
                        recordKey.append(contentsOf: c.entryKey)
                        counts = try recordKey.withUnsafeBytes { try tx.get(table, $0) }
                        candidates[Int(index)].record = record
                        candidates[Int(index)].counts = counts
                    }
                    guard let record, let counts, counts.count >= 4,
                        let position = termBytes.withUnsafeBytes({ Self.position(of: $0, in: record) })
                    else { continue }
                    let at = 4 + 2 * position
                    guard at + 2 <= counts.count else { continue }
                    tf = Double(UInt16(counts[at]) << 8 | UInt16(counts[at + 1]))
                    length = Double(UInt32(bigEndian: counts.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
                }
                candidates[Int(index)].score +=
                    idf * tf * (options.k1 + 1) / (tf + options.k1 * (1 - options.b + options.b * length / avgLength))
            }
        }
        var ranked: [(bound: Double, bm25: Double, recency: Double, index: Int)] = []
        ranked.reserveCapacity(candidates.count)
        let weightBound = max(options.maxWeight, 1e-9)
        for (i, c) in candidates.enumerated() where c.score > 0 {
            var recency = 1.0
            if options.recencyWeight > 0 {
                let validFrom = EntryKey.times(c.entryKey).validFrom
                // In doubles: the two instants may be as far apart as the whole 64-bit range.
                let age = max(0, (Double(validTime.microseconds) - Double(validFrom.microseconds)) / 1_000_000)
                recency = 1 + options.recencyWeight * Foundation.exp2(-age / max(1, options.recencyHalfLife))
            }
            ranked.append((c.score * recency * weightBound, c.score, recency, i))
        }
        func before(
            _ a: (bound: Double, bm25: Double, recency: Double, index: Int),
            _ b: (bound: Double, bm25: Double, recency: Double, index: Int)
        ) -> Bool {
            if a.bound != b.bound { return a.bound > b.bound }
            let x = candidates[a.index].entryKey
            let y = candidates[b.index].entryKey
            let n = min(x.count, y.count)
            let r = memcmp(x.baseAddress!, y.baseAddress!, n)
            return r != 0 ? r < 0 : x.count < y.count
        }
        ranked.sort(by: before)
        var best: [TextHit] = []
        for r in ranked {
            if best.count >= options.limit, let worst = best.last, r.bound < worst.score { break }
            let c = candidates[r.index]
            guard let d = EntryKey.decode(c.entryKey), let value = try Value.decode(stored: c.value) else { continue }
            let fact = Fact(
                key: d.key,
                value: value,
                validFrom: d.validFrom,
                validTo: nil,
                txID: d.tx,
                txTime: try transactionTime(d.tx)
            )
            var weight = 1.0
            if let accept = options.accept {
                guard let w = try accept(fact) else { continue }
                weight = w
            }
            let hit = TextHit(fact: fact, score: r.bm25 * r.recency * weight, bm25: r.bm25)
            let at = best.firstIndex { $0.score < hit.score } ?? best.endIndex
            best.insert(hit, at: at)
            if best.count > options.limit { best.removeLast() }
        }
        return best
    }

    /// The index of `word` among the words of an entry record (stored in byte order).
    static func position(of word: UnsafeRawBufferPointer, in record: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        var n = 0
        while i + 4 <= record.count {
            let len = Int(UInt32(bigEndian: record.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            i += 4
            guard i + len <= record.count else { return nil }
            if len == word.count
                && memcmpEqual(UnsafeRawBufferPointer(rebasing: record[i..<(i + len)]), word, count: len)
            {
                return n
            }
            i += len
            n += 1
        }
        return nil
    }
}

extension Database {
    /// A full-text search as of (`validAt`, `tx`); see ``Snapshot/search(text:query:_:)``.
    public func search(
        text index: String,
        query: String,
        validAt: Instant? = nil,
        tx: TxSelector = .latest,
        _ options: TextSearch = TextSearch()
    ) throws -> [TextHit] {
        try read(validAt: validAt, tx: tx) { try $0.search(text: index, query: query, options) }
    }
}

/// A set of byte strings borrowed from a read transaction, each with a value: open
/// addressing over FNV-1a hashes, no copies of the keys.
struct BorrowedKeyTable {
    private var buckets = [Int32](repeating: -1, count: 1024)
    private var keys: [UnsafeRawBufferPointer] = []
    private var hashes: [UInt64] = []
    private var values: [Int32] = []

    static func hash(_ k: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in k {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }

    func find(_ k: UnsafeRawBufferPointer, hash: UInt64) -> Int32? {
        let mask = buckets.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = buckets[i]
            if slot < 0 { return nil }
            let s = Int(slot)
            if hashes[s] == hash, keys[s].count == k.count, memcmpEqual(keys[s], k, count: k.count) { return values[s] }
            i = (i + 1) & mask
        }
    }

    mutating func insert(_ k: UnsafeRawBufferPointer, hash: UInt64, value: Int32) {
        if (keys.count + 1) * 2 > buckets.count { grow() }
        keys.append(k)
        hashes.append(hash)
        values.append(value)
        place(Int32(keys.count - 1))
    }

    private mutating func place(_ slot: Int32) {
        let mask = buckets.count - 1
        var i = Int(truncatingIfNeeded: hashes[Int(slot)]) & mask
        while buckets[i] >= 0 { i = (i + 1) & mask }
        buckets[i] = slot
    }

    private mutating func grow() {
        buckets = [Int32](repeating: -1, count: buckets.count * 2)
        for s in keys.indices { place(Int32(s)) }
    }
}

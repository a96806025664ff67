import Foundation
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
        words(text) { out.append($0) }
        return out
    }

    static func words(_ text: String, _ body: (String) -> Void) {
        var word = String.UnicodeScalarView()
        func flush() {
            if word.count > 1 {
                let w = String(word)
                if w.utf8.count <= maxWordBytes && !stopWords.contains(w) { body(w) }
            }
            word.removeAll(keepingCapacity: true)
        }
        for s in text.unicodeScalars {
            if s.value < 0x80 {
                let c = UInt8(s.value)
                if c >= 0x61 && c <= 0x7A || c >= 0x30 && c <= 0x39 {
                    word.append(s)
                } else if c >= 0x41 && c <= 0x5A {
                    word.append(Unicode.Scalar(c + 0x20))
                } else {
                    flush()
                }
            } else if s.properties.isAlphabetic || s.properties.numericType != nil {
                word.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            } else {
                flush()
            }
        }
        flush()
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
        var counts: [String: Int] = [:]
        var length = 0
        let roots = path.map { JSONIndexKey.values(doc, path: $0.split(separator: ".").map(String.init)[...]) } ?? [doc]
        for root in roots {
            strings(root) { s in
                words(s) { w in
                    counts[w, default: 0] += 1
                    length += 1
                }
            }
        }
        let sorted = counts.map { (Array($0.key.utf8), $0.value) }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
        return (sorted.map(\.0), sorted.map(\.1), length)
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

    static func u32(_ b: [UInt8], at i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    /// Entries and words added by one transaction.
    struct Delta {
        var entries = 0
        var words = 0
    }

    /// Stores the term counts of written entries and adds their sizes to `stats`, by the
    /// transaction of each entry.
    static func write(
        _ index: ExtensionDefinition,
        entries: [IndexedEntry],
        documents: [(terms: [[UInt8]], counts: [Int], length: Int)],
        _ txn: borrowing WriteTransaction,
        _ table: Table,
        stats: inout [TxID: Delta]
    ) throws {
        let prefix = IndexStore.namePrefix(countsTag, index.name)
        for (entry, doc) in zip(entries, documents) {
            let key = prefix + EntryKey.encode(entry.key, validFrom: entry.validFrom, tx: entry.txID)
            guard key.count <= Key.lmdbKeyLimit else { continue }  // IndexStore.write refused it already
            if doc.terms.isEmpty {
                _ = try key.withUnsafeBytes { try txn.delete(table, $0) }
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
            try Apply.put(txn, table, key, v)
            stats[entry.txID, default: Delta()].entries += 1
            stats[entry.txID, default: Delta()].words += doc.length
        }
    }

    /// Adds `deltas` to the running totals, in transaction order: each transaction's record
    /// is the total up to it.
    static func addStats(
        _ name: String,
        _ deltas: [TxID: Delta],
        _ txn: borrowing WriteTransaction,
        _ table: Table
    ) throws {
        let statsPrefix = IndexStore.namePrefix(statsTag, name)
        let c = try txn.cursor(table)
        for tx in deltas.keys.sorted() {
            let d = deltas[tx]!
            var (n, total) = try stats(c, statsPrefix, atMost: tx)
            n += UInt64(d.entries)
            total += UInt64(d.words)
            var key = statsPrefix
            EntryKey.appendU64(tx, to: &key)
            var v: [UInt8] = []
            EntryKey.appendU64(n, to: &v)
            EntryKey.appendU64(total, to: &v)
            try Apply.put(txn, table, key, v)
        }
    }

    /// The running totals (entries, words) as of transaction `tx`.
    static func stats(_ c: borrowing Cursor, _ statsPrefix: [UInt8], atMost tx: TxID) throws -> (UInt64, UInt64) {
        var probe = statsPrefix
        EntryKey.appendU64(tx == .max ? tx : tx + 1, to: &probe)
        let after = try probe.withUnsafeBytes { try c.seek(atLeast: $0) }
        let e = after == nil ? try c.last() : try c.previous()
        guard let e, EntryKey.hasPrefix(e.key, statsPrefix), e.key.count == statsPrefix.count + 8,
            EntryKey.readU64(e.key, at: statsPrefix.count) <= tx, e.value.count == 16
        else { return (0, 0) }
        return (EntryKey.readU64(e.value, at: 0), EntryKey.readU64(e.value, at: 8))
    }

    /// Removes the term counts of one key (erase), or all counts and statistics (`key` nil).
    static func remove(_ name: String, key: Key?, _ txn: borrowing WriteTransaction, _ table: Table) throws {
        var prefixes = [IndexStore.namePrefix(countsTag, name) + (key.map(EntryKey.keyPrefix) ?? [])]
        if key == nil { prefixes.append(IndexStore.namePrefix(statsTag, name)) }
        let c = try txn.cursor(table)
        for prefix in prefixes {
            while let e = try prefix.withUnsafeBytes({ try c.seek(atLeast: $0) }), EntryKey.hasPrefix(e.key, prefix) {
                try c.deleteCurrent()
            }
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
        guard def.fullText else { throw LLMDBError(.notFound, "the index '\(name)' is not a full-text index") }
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
        struct Candidate {
            var entryKey: [UInt8]
            var record: [UInt8]
            var counts: [UInt8]
            var score: Double
        }
        var resolved: [[UInt8]: Candidate?] = [:]
        let entryPrefix = IndexStore.namePrefix(IndexStore.entryTag, name)
        let countsPrefix = IndexStore.namePrefix(TextStore.countsTag, name)
        let postings = try tx.cursor(table)
        var probe = [UInt8](repeating: 0, count: 512)
        var recordKey: [UInt8] = []
        for term in terms {
            let prefix = IndexStore.postingPrefix(name, Array(term.utf8))
            var keys: [[UInt8]] = []
            var e = try prefix.withUnsafeBytes { try postings.seek(atLeast: $0) }
            while let posting = e, EntryKey.hasPrefix(posting.key, prefix) {
                e = try postings.next()
                guard posting.value.count == 8, EntryKey.readU64(posting.value, at: 0) <= txID else { continue }
                keys.append(Array(posting.key[prefix.count...]))
            }
            if keys.isEmpty { continue }
            let df = Double(keys.count)
            let idf = log(1 + (count - df + 0.5) / (df + 0.5))
            let termBytes = Array(term.utf8)
            for keyPart in keys {
                if let scopePrefix, !keyPart.starts(with: scopePrefix) { continue }
                if resolved[keyPart] == nil {
                    guard keyPart.count + 16 <= probe.count else {
                        resolved[keyPart] = .some(nil)
                        continue
                    }
                    let hit = try probe.withUnsafeMutableBytes { p -> Cursor.Entry? in
                        p.copyBytes(from: keyPart)
                        return try Self.asOf(
                            cursor,
                            keyPart: UnsafeRawBufferPointer(rebasing: p[0..<keyPart.count]),
                            probe: UnsafeMutableRawBufferPointer(rebasing: p[0..<(keyPart.count + 16)]),
                            validTime: validTime,
                            tx: txID
                        )
                    }
                    var candidate: Candidate? = nil
                    if let hit, let tag = hit.value.first, tag != ValueTag.tombstone.rawValue {
                        let entryKey = Array(hit.key)
                        recordKey = entryPrefix + entryKey
                        if let record = try recordKey.withUnsafeBytes({ try tx.get(table, $0) }) {
                            recordKey = countsPrefix + entryKey
                            if let counts = try recordKey.withUnsafeBytes({ try tx.get(table, $0) }), counts.count >= 4
                            {
                                candidate = Candidate(
                                    entryKey: entryKey,
                                    record: Array(record),
                                    counts: Array(counts),
                                    score: 0
                                )
                            }
                        }
                    }
                    resolved[keyPart] = .some(candidate)
                }
                guard var c = resolved[keyPart] ?? nil else { continue }
                guard let position = Self.position(of: termBytes, in: c.record) else { continue }
                let at = 4 + 2 * position
                guard at + 2 <= c.counts.count else { continue }
                let tf = Double(UInt16(c.counts[at]) << 8 | UInt16(c.counts[at + 1]))
                let length = Double(TextStore.u32(c.counts, at: 0))
                c.score +=
                    idf * tf * (options.k1 + 1) / (tf + options.k1 * (1 - options.b + options.b * length / avgLength))
                resolved[keyPart] = .some(c)
            }
        }
        var ranked: [(bound: Double, bm25: Double, recency: Double, entryKey: [UInt8])] = []
        for case let c? in resolved.values where c.score > 0 {
            var recency = 1.0
            if options.recencyWeight > 0 {
                let validFrom = c.entryKey.withUnsafeBytes { EntryKey.times($0).validFrom }
                let age = max(0, Double(validTime.microseconds - validFrom.microseconds) / 1_000_000)
                recency = 1 + options.recencyWeight * Foundation.exp2(-age / max(1, options.recencyHalfLife))
            }
            ranked.append((c.score * recency * max(options.maxWeight, 1e-9), c.score, recency, c.entryKey))
        }
        ranked.sort {
            $0.bound > $1.bound || ($0.bound == $1.bound && $0.entryKey.lexicographicallyPrecedes($1.entryKey))
        }
        var best: [TextHit] = []
        for r in ranked {
            if best.count >= options.limit, let worst = best.last, r.bound < worst.score { break }
            guard let stored = try r.entryKey.withUnsafeBytes({ try tx.get(db.facts, $0) }),
                let d = r.entryKey.withUnsafeBytes({ EntryKey.decode($0) }),
                let value = try Value.decode(stored: stored)
            else { continue }
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
    static func position(of word: [UInt8], in record: [UInt8]) -> Int? {
        var i = 0
        var n = 0
        while i + 4 <= record.count {
            let len = Int(TextStore.u32(record, at: i))
            i += 4
            guard i + len <= record.count else { return nil }
            if len == word.count && record[i..<(i + len)].elementsEqual(word) { return n }
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

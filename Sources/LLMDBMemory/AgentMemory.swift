public import LLMDB
import LLMDBText
import Synchronization

/// An agent's memory: bitemporal records under the namespaces of the seed
/// (`agent:{kind}:{id}`), with the seed's metadata, a BM25 full-text recall over their
/// content, and the temporal operations agents need (correct, forget, history, knowledge
/// evolution, "what did I know at tx T", rollback). REST, MCP and the embedded API all
/// use this type. See docs/agent-memory.md.
public final class AgentMemory: Sendable {
    public let db: Database
    private let indexed = Mutex<Set<PartitionID>>([])

    /// The namespaces the seed defines; other kinds (`agent:{kind}:…`) are allowed too.
    public static let standardKinds = [
        "context", "analysis", "decision", "knowledge", "progress", "preferences", "errors",
    ]

    public init(db: Database) {
        self.db = db
        // Every write to memories (forget and erase too) maintains their full-text index.
        // Registering cannot fail: the kind's table is the shared one, open since the
        // database opened.
        try? db.registerIfAbsent(FullTextIndex())
    }

    /// The full-text index of the memories of `partition`.
    public static func indexName(_ partition: PartitionID) -> String { "memory-\(partition)" }

    // MARK: Keys

    /// Checks a memory key: `agent:{kind}:{id}`, kind of lower-case letters, digits, `_`
    /// or `-`, id not empty.
    public static func check(key: String) throws(LLMDBError) {
        let parts = key.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "agent" else {
            throw LLMDBError(
                .invalidArgument,
                "a memory key is 'agent:{kind}:{id}' (kinds: \(standardKinds.joined(separator: ", "))), not '\(key.prefix(80))'"
            )
        }
        guard checkKind(parts[1]) else {
            throw LLMDBError(
                .invalidArgument,
                "the kind '\(parts[1].prefix(40))' in '\(key.prefix(80))' must be 1–32 lower-case letters, digits, '_' or '-'"
            )
        }
        guard !parts[2].isEmpty else { throw LLMDBError(.invalidArgument, "the memory key '\(key)' has an empty id") }
        guard key.utf8.count <= 400 else {
            throw LLMDBError(.keyTooLong, "a memory key is at most 400 bytes; this one is \(key.utf8.count)")
        }
    }

    static func checkKind(_ kind: Substring) -> Bool {
        !kind.isEmpty && kind.utf8.count <= 32
            && kind.utf8.allSatisfy { $0 >= 0x61 && $0 <= 0x7A || $0 >= 0x30 && $0 <= 0x39 || $0 == 0x5F || $0 == 0x2D }
    }

    /// Checks a namespace prefix for recall and listing: `agent:` followed by anything.
    public static func check(namespace: String) throws(LLMDBError) {
        guard namespace.hasUTF8Prefix("agent:") || namespace.utf8Equals("agent") else {
            throw LLMDBError(
                .invalidArgument,
                "a memory namespace starts with 'agent:' (for example 'agent:knowledge:' or 'agent:context:session-1'), not '\(namespace.prefix(80))'"
            )
        }
    }

    // MARK: The index

    /// Defines the full-text index of `partition`'s memories once (it indexes `content`).
    public func ensureIndex(partition: PartitionID) throws {
        try db.registerIfAbsent(FullTextIndex())
        if indexed.withLock({ $0.contains(partition) }) { return }
        let name = Self.indexName(partition)
        let exists = try db.read { s in try s.get(.index(name)) != nil }
        if !exists {
            let def = FullTextIndex.definition(
                name,
                scope: KeyScope(partition: partition, prefix: "agent:"),
                path: "content"
            )
            try db.write { try $0.putSystem(def.key, def.encoded()) }
        }
        _ = indexed.withLock { $0.insert(partition) }
    }

    // MARK: Writes

    /// Stores memories, all in one transaction. Each is a new version of its key valid from
    /// `validFrom` (default: the transaction time).
    @discardableResult
    public func remember(_ inputs: [MemoryInput], partition: PartitionID = 0) throws -> Commit {
        guard !inputs.isEmpty else { throw LLMDBError(.invalidArgument, "remember needs at least one memory") }
        var values: [(Key, Value, Instant?)] = []
        var seen: Set<[UInt8]> = []  // keys are bytes: no canonical equivalence
        for (i, input) in inputs.enumerated() {
            guard seen.insert(Array(input.key.utf8)).inserted else {
                throw LLMDBError(
                    .invalidArgument,
                    "memory \(i): the key '\(input.key.prefix(80))' appears twice in one batch (the second would hide the first); nothing was written"
                )
            }
            do {
                try Self.check(key: input.key)
                try input.check()
            } catch {
                throw LLMDBError(
                    error.code,
                    inputs.count == 1 ? error.message : "memory \(i) ('\(input.key.prefix(80))'): \(error.message)"
                )
            }
            values.append(
                (Key(input.key, partition: partition), try input.record(correctionReason: nil), input.validFrom)
            )
        }
        try ensureIndex(partition: partition)
        return try db.write { batch in
            for (key, value, from) in values { try batch.put(key, value, validFrom: from) }
        }
    }

    /// Corrects the version of `key` in effect at `validAt` (default now): a new transaction
    /// at the same valid time, with the fields given replaced and `reason` recorded. The
    /// earlier version stays visible as of earlier transactions.
    public func correct(
        key: String,
        partition: PartitionID = 0,
        content: JSONValue? = nil,
        confidence: Double? = nil,
        source: String? = nil,
        dependencies: [String]? = nil,
        expiresAt: Instant? = nil,
        reason: String,
        validAt: Instant? = nil
    ) throws -> (Commit, Memory) {
        try Self.check(key: key)
        guard !reason.allSatisfy(\.isWhitespace) else {
            throw LLMDBError(.invalidArgument, "a correction needs a reason (correction_reason)")
        }
        let k = Key(key, partition: partition)
        guard let current = try db.get(k, validAt: validAt) else {
            throw LLMDBError(.notFound, "there is no memory '\(key)' to correct\(validAt.map { " at \($0)" } ?? "")")
        }
        let old = try Memory(current)
        var input = MemoryInput(key: key, content: content ?? old.content)
        input.confidence = confidence ?? old.confidence
        input.source = source ?? old.source
        input.dependencies = dependencies ?? old.dependencies
        input.expiresAt = expiresAt ?? old.expiresAt
        try input.check()
        let value = try input.record(correctionReason: reason)
        try ensureIndex(partition: partition)
        let commit = try db.write { batch in
            try batch.expect(k, .version(current.txID))
            try batch.put(k, value, validFrom: current.validFrom)
        }
        guard let fact = try db.get(k, validAt: current.validFrom, tx: .id(commit.txID)) else {
            throw LLMDBError(.corrupted, "the correction of '\(key)' is not readable after its commit")
        }
        return (commit, try Memory(fact))
    }

    /// Retracts `key` from `validFrom` (default now): recall and reads no longer see it, its
    /// history stays. With `erase`, every version is physically removed instead (privacy).
    public func forget(
        key: String,
        partition: PartitionID = 0,
        validFrom: Instant? = nil,
        erase: Bool = false
    ) throws -> Commit {
        try Self.check(key: key)
        let k = Key(key, partition: partition)
        if erase {
            let any = try db.read { s in
                var found = false
                try s.forEachKey(prefix: k) { seen in
                    found = seen == k
                    return !found
                }
                return found
            }
            guard any else { throw LLMDBError(.notFound, "there is no memory '\(key)' to erase") }
            return try db.erase(k)
        }
        guard try db.get(k, validAt: validFrom) != nil else {
            throw LLMDBError(.notFound, "there is no memory '\(key)' to forget\(validFrom.map { " at \($0)" } ?? "")")
        }
        return try db.write { batch in
            try batch.expect(k, .present)
            try batch.delete(k, validFrom: validFrom)
        }
    }

    // MARK: Reads

    /// The memory `key` as of (`validAt`, `tx`), or nil.
    public func get(
        key: String,
        partition: PartitionID = 0,
        validAt: Instant? = nil,
        tx: TxSelector = .latest
    )
        throws -> Memory?
    {
        try Self.check(key: key)
        return try db.read(validAt: validAt, tx: tx) { try $0.getWithValidTo(Key(key, partition: partition)) }
            .map(Memory.init)
    }

    /// Every version of `key` (corrections and retractions included), by valid time then
    /// transaction.
    public func history(key: String, partition: PartitionID = 0, tx: TxSelector = .latest) throws -> [Memory] {
        try Self.check(key: key)
        let facts = try db.history(of: Key(key, partition: partition), asOf: tx, withCorrections: true)
        guard !facts.isEmpty else { throw LLMDBError(.notFound, "there is no memory '\(key)'") }
        return try facts.map(Memory.init)
    }

    /// How knowledge under `prefix` (a key or a namespace) evolved: every version of every
    /// key, by key then valid time then transaction, with the confidence change from the
    /// key's previous version.
    public func evolution(
        prefix: String,
        partition: PartitionID = 0,
        tx: TxSelector = .latest,
        limit: Int = 1000
    )
        throws -> [EvolutionStep]
    {
        try Self.check(namespace: prefix)
        var steps: [EvolutionStep] = []
        try db.read(tx: tx) { s in
            try s.forEachKey(prefix: Key(prefix, partition: partition)) { key in
                var previous: Double? = nil
                for f in try s.history(of: key, withCorrections: true) {
                    let m = try Memory(f)
                    let change: Double? =
                        if let c = m.confidence, let p = previous { c - p } else { nil }
                    steps.append(EvolutionStep(memory: m, confidenceChange: change))
                    if let c = m.confidence { previous = c }
                    if steps.count >= limit { return false }
                }
                return true
            }
        }
        guard !steps.isEmpty else { throw LLMDBError(.notFound, "no memories under '\(prefix)'") }
        return steps
    }

    /// "What did I know at tx T": the memories under `prefix` as of transaction `tx` and
    /// valid time `validAt` (default now), in key order, after `after`, at most `limit`.
    public func asOf(
        tx: TxSelector,
        prefix: String = "agent:",
        partition: PartitionID = 0,
        validAt: Instant? = nil,
        after: String? = nil,
        limit: Int = 100
    ) throws -> (memories: [Memory], txID: TxID, more: Bool) {
        try Self.check(namespace: prefix)
        return try db.read(validAt: validAt, tx: tx) { s in
            var out: [Memory] = []
            var more = false
            try s.scan(prefix: Key(prefix, partition: partition), after: after.map { Key($0, partition: partition) }) {
                row in
                if out.count >= limit {
                    more = true
                    return false
                }
                let key = try row.key()
                let f = Fact(
                    key: key,
                    value: try row.value.value(),
                    validFrom: row.value.validFrom,
                    validTo: try s.validTo(of: key, current: row.value),
                    txID: row.value.txID,
                    txTime: try s.transactionTime(row.value.txID)
                )
                out.append(try Memory(f))
                return true
            }
            return (out, s.txID, more)
        }
    }

    /// Rolls the memories under `prefix` back to what they were as of transaction `tx`: one
    /// new transaction, valid from now, restores every value that changed since and retracts
    /// every key that did not exist then. Nothing is erased, so the rolled-back state stays
    /// in the history. With `decision`, it also records
    /// `agent:decision:{decision}:superseded` (status, reason, the keys restored and removed).
    public func rollback(
        prefix: String,
        toTx tx: TxID,
        partition: PartitionID = 0,
        decision: String? = nil,
        reason: String
    ) throws -> RollbackResult {
        try Self.check(namespace: prefix)
        guard !reason.allSatisfy(\.isWhitespace) else {
            throw LLMDBError(.invalidArgument, "a rollback needs a reason")
        }
        let last = try db.read { $0.txID }
        guard tx <= last else {
            throw LLMDBError(.invalidArgument, "cannot roll back to tx \(tx): the latest transaction is \(last)")
        }
        if let decision {
            try Self.check(key: "agent:decision:\(decision):superseded")
        }
        let scope = Key(prefix, partition: partition)
        func state(_ sel: TxSelector) throws -> [Key: Value] {
            try db.read(tx: sel) { s in
                var out: [Key: Value] = [:]
                try s.scan(prefix: scope) { row in
                    out[try row.key()] = try row.value.value()
                    return true
                }
                return out
            }
        }
        let then = try state(.id(tx))
        let now = try state(.latest)
        var restored: [String] = []
        var removed: [String] = []
        for (k, v) in then where now[k] != v { restored.append(String(decoding: k.bytes, as: UTF8.self)) }
        for k in now.keys where then[k] == nil { removed.append(String(decoding: k.bytes, as: UTF8.self)) }
        restored.sort()
        removed.sort()
        var marker: Value? = nil
        if let decision {
            var input = MemoryInput(
                key: "agent:decision:\(decision):superseded",
                content: .object([
                    JSONMember("status", .string("rolled_back")),
                    JSONMember("reason", .string(reason)),
                    JSONMember("rollback_tx", .int(Int64(tx))),
                    JSONMember("restored", .array(restored.map { .string($0) })),
                    JSONMember("removed", .array(removed.map { .string($0) })),
                ])
            )
            input.source = "rollback"
            marker = try input.record(correctionReason: nil)
        }
        try ensureIndex(partition: partition)
        let commit = try db.write { batch in
            for k in restored { try batch.put(Key(k, partition: partition), then[Key(k, partition: partition)]!) }
            for k in removed { try batch.delete(Key(k, partition: partition)) }
            if let decision, let marker {
                try batch.put(Key("agent:decision:\(decision):superseded", partition: partition), marker)
            }
        }
        let state = try asOf(tx: .id(tx), prefix: prefix, partition: partition, limit: 1000).memories
        return RollbackResult(commit: commit, restored: restored, removed: removed, state: state)
    }

    /// The kinds of memory in `partition` with how many keys each has now (the standard
    /// kinds always, with 0 when empty).
    public func namespaces(partition: PartitionID = 0) throws -> [(namespace: String, count: Int)] {
        // By bytes: kinds that differ only in normalization are different namespaces.
        var counts: [[UInt8]: Int] = [:]
        for k in Self.standardKinds { counts[Array(("agent:" + k).utf8)] = 0 }
        try db.read { s in
            try s.scan(prefix: Key("agent:", partition: partition)) { row in
                let key = try row.key()
                let parts = key.bytes.split(separator: UInt8(ascii: ":"), maxSplits: 2)
                if parts.count >= 2 { counts[Array("agent:".utf8) + parts[1], default: 0] += 1 }
                return true
            }
        }
        return counts.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map {
            (String(decoding: $0.key, as: UTF8.self), $0.value)
        }
    }

    // MARK: Recall

    /// The memories that best match `query.text`, ranked by BM25 (weighted by recency and
    /// confidence when asked), filtered, and cut to the query's count and byte budget.
    public func recall(_ query: RecallQuery) throws -> RecallResult {
        try query.check()
        if let ns = query.namespace { try Self.check(namespace: ns) }
        let name = Self.indexName(query.partition)
        var search = TextSearch(limit: query.limit)
        search.scope = KeyScope(partition: query.partition, prefix: query.namespace ?? "agent:")
        search.recencyWeight = query.recencyWeight
        search.recencyHalfLife = query.recencyHalfLifeSeconds
        search.maxWeight = 1 + query.confidenceWeight
        return try db.read(validAt: query.validAt, tx: query.tx) { s in
            let now = s.validTime
            search.accept = { fact in
                guard let v = fact.value, v.tag == .json, let tree = try? JSONValue(parsing: v.payload) else {
                    return nil
                }
                if !query.includeExpired, let e = Memory.instant(tree["expires_at"]), e <= now { return nil }
                let confidence = Memory.number(tree["confidence"])
                if let min = query.minConfidence, (confidence ?? 0) < min { return nil }
                if let source = query.source, tree["source"] != .string(source) { return nil }
                return 1 + query.confidenceWeight * (confidence ?? 0)
            }
            // A partition where no memory was ever written has no index: nothing to recall.
            let hits: [TextHit]
            do { hits = try s.search(text: name, query: query.text, search) } catch let e as LLMDBError
                where e.code == .notFound
            {
                hits = []
            }
            var out: [RecallHit] = []
            var bytes = RecallResult.envelopeBytes
            var truncated = false
            let budget = query.budgetBytes
            for h in hits {
                let f = h.fact
                var m = try Memory(
                    Fact(
                        key: f.key,
                        value: f.value,
                        validFrom: f.validFrom,
                        validTo: try s.validTo(of: f.key),
                        txID: f.txID,
                        txTime: f.txTime
                    )
                )
                var size = m.json.text.utf8.count + RecallResult.perHitBytes
                if let budget, bytes + size > budget {
                    truncated = true
                    guard out.isEmpty else { break }
                    // The best hit alone is over the budget: cut its content to fit.
                    let original = m
                    var allowed = budget - bytes
                    repeat {
                        m = original
                        m.truncate(toBytes: allowed)
                        size = m.json.text.utf8.count + RecallResult.perHitBytes
                        allowed -= max(1, bytes + size - budget)
                    } while bytes + size > budget && allowed > 0
                    if bytes + size > budget { break }  // not even the metadata fits
                }
                bytes += size
                out.append(RecallHit(memory: m, score: h.score, bm25: h.bm25))
                if truncated { break }
            }
            return RecallResult(hits: out, txID: s.txID, truncated: truncated, bytes: bytes)
        }
    }
}

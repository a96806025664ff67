public import LLMDB

/// A memory to store: the seed's record (content and metadata) and where in valid time it
/// starts.
public struct MemoryInput: Sendable {
    public var key: String
    /// Any JSON: its strings are what recall searches.
    public var content: JSONValue
    /// The agent's confidence, from 0 to 1.
    public var confidence: Double? = nil
    /// How the memory was obtained ("static_analysis", "user", …).
    public var source: String? = nil
    /// What the memory depends on (files, other keys).
    public var dependencies: [String] = []
    /// After this instant recall hides the memory (unless asked for expired ones).
    public var expiresAt: Instant? = nil
    /// The start of its valid time; default: the transaction time.
    public var validFrom: Instant? = nil

    public init(key: String, content: JSONValue) {
        self.key = key
        self.content = content
    }

    func check() throws(LLMDBError) {
        if case .null = content { throw LLMDBError(.invalidArgument, "a memory needs content (not null)") }
        if let c = confidence, !(c >= 0 && c <= 1) {
            throw LLMDBError(.invalidArgument, "confidence must be a number from 0 to 1, not \(c)")
        }
    }

    /// The stored record: the seed's six fields, in its order.
    func record(correctionReason: String?) throws(LLMDBError) -> Value {
        let tree = JSONValue.object([
            JSONMember("content", content),
            JSONMember("confidence", confidence.map { .double($0) } ?? .null),
            JSONMember("source", source.map { .string($0) } ?? .null),
            JSONMember("dependencies", .array(dependencies.map { .string($0) })),
            JSONMember("correction_reason", correctionReason.map { .string($0) } ?? .null),
            JSONMember("expires_at", expiresAt.map { .string($0.iso8601) } ?? .null),
        ])
        return try Value.json(tree.text)
    }
}

/// One version of a memory as read back.
public struct Memory: Sendable {
    public let key: String
    public let partition: PartitionID
    public private(set) var content: JSONValue
    public let confidence: Double?
    public let source: String?
    public let dependencies: [String]
    public let correctionReason: String?
    public let expiresAt: Instant?
    public let validFrom: Instant
    public let validTo: Instant?
    public let txID: TxID
    public let txTime: Instant
    /// A retraction (the memory was forgotten from `validFrom`).
    public let forgotten: Bool
    /// The content was cut to fit a recall budget.
    public private(set) var truncated = false

    public init(_ fact: Fact) throws(LLMDBError) {
        key = String(decoding: fact.key.bytes, as: UTF8.self)
        partition = fact.key.partition
        validFrom = fact.validFrom
        validTo = fact.validTo
        txID = fact.txID
        txTime = fact.txTime
        guard let value = fact.value else {
            forgotten = true
            content = .null
            confidence = nil
            source = nil
            dependencies = []
            correctionReason = nil
            expiresAt = nil
            return
        }
        forgotten = false
        guard value.tag == .json, let tree = try? JSONValue(parsing: value.payload), case .object = tree,
            tree["content"] != nil
        else {
            // Written through the plain key-value API: the whole value is the content.
            content = value.tag == .json ? (try? JSONValue(parsing: value.payload)) ?? .null : .string("<\(value.tag)>")
            confidence = nil
            source = nil
            dependencies = []
            correctionReason = nil
            expiresAt = nil
            return
        }
        content = tree["content"] ?? .null
        confidence = Self.number(tree["confidence"])
        if case .string(let s)? = tree["source"] { source = s } else { source = nil }
        if case .array(let a)? = tree["dependencies"] {
            dependencies = a.compactMap { if case .string(let s) = $0 { s } else { nil } }
        } else {
            dependencies = []
        }
        if case .string(let s)? = tree["correction_reason"] { correctionReason = s } else { correctionReason = nil }
        expiresAt = Self.instant(tree["expires_at"])
    }

    static func number(_ v: JSONValue?) -> Double? {
        switch v {
        case .double(let d)?: d
        case .int(let n)?: Double(n)
        default: nil
        }
    }

    static func instant(_ v: JSONValue?) -> Instant? {
        if case .string(let s)? = v { return Instant(parsing: s) }
        return nil
    }

    mutating func truncate(toBytes budget: Int) {
        let text = content.text
        var cut = ""
        for ch in text where cut.utf8.count + ch.utf8.count <= budget { cut.append(ch) }
        content = .string(cut)
        truncated = true
    }

    /// The JSON form used by REST and MCP.
    public var json: JSONValue {
        var m: [JSONMember] = [
            JSONMember("key", .string(key)),
            JSONMember("partition", .int(Int64(partition))),
        ]
        if forgotten {
            m.append(JSONMember("forgotten", .bool(true)))
        } else {
            m.append(JSONMember("content", content))
            m.append(JSONMember("confidence", confidence.map { .double($0) } ?? .null))
            m.append(JSONMember("source", source.map { .string($0) } ?? .null))
            m.append(JSONMember("dependencies", .array(dependencies.map { .string($0) })))
            m.append(JSONMember("correction_reason", correctionReason.map { .string($0) } ?? .null))
            m.append(JSONMember("expires_at", expiresAt.map { .string($0.iso8601) } ?? .null))
        }
        m.append(JSONMember("valid_from", .string(validFrom.iso8601)))
        m.append(JSONMember("valid_to", validTo.map { .string($0.iso8601) } ?? .null))
        m.append(JSONMember("tx", .int(Int64(txID))))
        m.append(JSONMember("tx_time", .string(txTime.iso8601)))
        if truncated { m.append(JSONMember("truncated", .bool(true))) }
        return .object(m)
    }
}

/// One version in a knowledge evolution.
public struct EvolutionStep: Sendable {
    public let memory: Memory
    /// The confidence minus that of the key's previous version with one; nil for the first.
    public let confidenceChange: Double?

    public var json: JSONValue {
        guard case .object(var m) = memory.json else { return memory.json }
        m.append(JSONMember("confidence_change", confidenceChange.map { .double($0) } ?? .null))
        return .object(m)
    }
}

/// What a rollback did.
public struct RollbackResult: Sendable {
    public let commit: Commit
    /// Keys given back their value as of the rollback transaction.
    public let restored: [String]
    /// Keys retracted because they did not exist then.
    public let removed: [String]
    /// The memories under the prefix as of the rollback transaction (what is current again).
    public let state: [Memory]
}

/// A recall request.
public struct RecallQuery: Sendable {
    public var text: String
    public var partition: PartitionID = 0
    /// Only keys starting with this (for example `agent:knowledge:`).
    public var namespace: String? = nil
    /// At most this many memories (1–100).
    public var limit = 10
    /// At most this many bytes of JSON in all (the best memory is cut to fit if it alone is larger).
    public var maxBytes: Int? = nil
    /// At most about this many tokens (4 bytes each).
    public var maxTokens: Int? = nil
    public var validAt: Instant? = nil
    public var tx: TxSelector = .latest
    public var includeExpired = false
    public var minConfidence: Double? = nil
    public var source: String? = nil
    /// Score × (1 + recencyWeight · 2^(−age/half-life)).
    public var recencyWeight = 0.0
    public var recencyHalfLifeSeconds = 7 * 86_400.0
    /// Score × (1 + confidenceWeight · confidence).
    public var confidenceWeight = 0.0

    public init(text: String) { self.text = text }

    var budgetBytes: Int? {
        switch (maxBytes, maxTokens) {
        case (let b?, let t?): min(b, t * 4)
        case (let b?, nil): b
        case (nil, let t?): t * 4
        case (nil, nil): nil
        }
    }

    func check() throws(LLMDBError) {
        guard !text.isEmpty else { throw LLMDBError(.invalidArgument, "recall needs a query text") }
        guard (1...100).contains(limit) else {
            throw LLMDBError(.invalidArgument, "limit must be from 1 to 100, not \(limit)")
        }
        if let b = maxBytes, b < 1 { throw LLMDBError(.invalidArgument, "max_bytes must be positive, not \(b)") }
        if let t = maxTokens, t < 1 { throw LLMDBError(.invalidArgument, "max_tokens must be positive, not \(t)") }
        if let c = minConfidence, !(c >= 0 && c <= 1) {
            throw LLMDBError(.invalidArgument, "min_confidence must be from 0 to 1, not \(c)")
        }
        guard recencyWeight >= 0, recencyWeight.isFinite, confidenceWeight >= 0, confidenceWeight.isFinite else {
            throw LLMDBError(.invalidArgument, "recency_weight and confidence_weight must be finite and not negative")
        }
        guard recencyHalfLifeSeconds > 0 else {
            throw LLMDBError(.invalidArgument, "recency_half_life must be positive")
        }
    }
}

public struct RecallHit: Sendable {
    public let memory: Memory
    public let score: Double
    public let bm25: Double
}

public struct RecallResult: Sendable {
    /// Bytes the budget allows for the answer's envelope (`{"memories":[…],"tx":…}`) and for
    /// each hit's score member and separator: the JSON answer stays within `max_bytes`.
    static let envelopeBytes = 96
    static let perHitBytes = 32
    public let hits: [RecallHit]
    /// The transaction the recall read as of.
    public let txID: TxID
    /// The byte budget cut the result short.
    public let truncated: Bool
    /// Bytes of JSON returned (an upper bound: the envelope and scores counted at their largest).
    public let bytes: Int

    public var json: JSONValue {
        .object([
            JSONMember(
                "memories",
                .array(
                    hits.map { h in
                        guard case .object(var m) = h.memory.json else { return h.memory.json }
                        m.append(JSONMember("score", .double(h.score)))
                        return .object(m)
                    }
                )
            ),
            JSONMember("tx", .int(Int64(txID))),
            JSONMember("truncated", .bool(truncated)),
            JSONMember("bytes", .int(Int64(bytes))),
        ])
    }
}

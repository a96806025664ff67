public import LLMDB
package import LLMDBVector

// The vector operations of the server (REST `/v1/vectors/…` and the MCP tool `vector_search`),
// over LLMDBVector's API, which the CLI calls too. A collection's vectors are the facts
// `vec/{collection}/{key}` of its partition: an API key's partitions and prefixes apply to
// those keys.

extension Service {
    /// The most a search over the server returns (the library allows more).
    public static let maxVectorK = 100

    func vectors(_ a: Args, _ p: Principal, _ role: Principal.Role, key: String = "") throws -> VectorCollection {
        let c = try db.vectorCollection(try a.required("collection"))
        try p.check(role, key: "vec/\(c.name)/" + key, partition: c.info.partition)
        return c
    }

    static func info(_ i: VectorCollectionInfo) -> JSONValue {
        .object([
            JSONMember("name", .string(i.name)), JSONMember("dimensions", .int(Int64(i.dimensions))),
            JSONMember("metric", .string(i.metric.rawValue)), JSONMember("partition", .int(Int64(i.partition))),
        ])
    }

    static func floats(_ v: JSONValue, _ what: String) throws(APIError) -> [Float] {
        guard case .array(let items) = v else { throw APIError.bad("'\(what)' must be an array of numbers") }
        var out: [Float] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            switch item {
            case .int(let n): out.append(Float(n))
            case .uint(let n): out.append(Float(n))
            case .double(let d): out.append(Float(d))
            default: throw APIError.bad("'\(what)': element \(i) is not a number")
            }
        }
        return out
    }

    /// `{"lang":"en","a.b":1}`: each member a condition on the metadata at its dotted path.
    static func vectorFilters(_ a: Args) throws(APIError) -> [VectorFilter] {
        guard let f = a["filter"] else { return [] }
        guard case .object(let members) = f else {
            throw APIError.bad("'filter' must be an object of path: value conditions, such as {\"lang\":\"en\"}")
        }
        return members.map { VectorFilter($0.key, equals: $0.value) }
    }

    public func listVectorCollections(_ a: Args, _ p: Principal) throws -> JSONValue {
        try p.require(.read)
        let visible = try db.vectorCollections().filter { p.partitions?.contains($0.partition) ?? true }
        return .object([JSONMember("collections", .array(visible.map(Self.info)))])
    }

    /// A collection is an index definition (one per name, whatever its partition): creating
    /// one needs an admin key without a prefix restriction, as a text index does.
    public func createVectorCollection(_ a: Args, _ p: Principal) throws -> JSONValue {
        try p.require(.admin)
        try p.requireUnscoped("creating a vector collection (one definition per collection name)")
        let partition = try a.partition()
        try p.check(partition: partition)
        guard let n = try a.int("dimensions") else { throw APIError.bad("'dimensions' is required") }
        let metricName = try a.string("metric") ?? "cosine"
        guard let metric = VectorMetric(rawValue: metricName) else {
            throw APIError.bad("'metric' must be cosine, dot or l2, not '\(metricName.prefix(40))'")
        }
        let c = try db.createVectorCollection(
            try a.required("collection"),
            dimensions: Int(clamping: n),
            metric: metric,
            partition: partition
        )
        return Self.info(c.info)
    }

    public func dropVectorCollection(_ a: Args, _ p: Principal) throws -> JSONValue {
        try p.require(.admin)
        try p.requireUnscoped("dropping a vector collection")
        let c = try vectors(a, p, .admin)
        return Render.commit(try db.dropVectorCollection(c.name))
    }

    public func vectorCollectionStats(_ a: Args, _ p: Principal) throws -> JSONValue {
        let s = try vectors(a, p, .read).stats(validAt: try a.instant("valid_at"), tx: try a.txSelector())
        guard case .object(var m) = Self.info(s.info) else { return .null }
        m += [
            JSONMember("vectors", .int(Int64(s.vectors))), JSONMember("versions", .int(Int64(s.versions))),
            JSONMember("bytes", .int(Int64(s.bytes))),
        ]
        return .object(m)
    }

    static func item(_ j: JSONValue) throws -> VectorItem {
        guard case .object(let members) = j else { throw APIError.bad("each of 'vectors' must be an object") }
        let allowed: Set<String> = ["key", "vector", "metadata", "valid_from", "valid_to"]
        if let odd = members.first(where: { !allowed.contains($0.key) }) {
            throw APIError.bad(
                "unknown field '\(odd.key.prefix(40))' in a vector (fields: \(allowed.sorted().joined(separator: ", ")))"
            )
        }
        let a = try Args(j)
        return VectorItem(
            try a.required("key"),
            try Self.floats(try a.value("vector"), "vector"),
            metadata: a["metadata"].flatMap { $0 == .null ? nil : $0 },
            validFrom: try a.instant("valid_from"),
            validTo: try a.instant("valid_to")
        )
    }

    /// One vector (`key`, `vector`, …) or a batch (`vectors`), in one transaction.
    public func putVectors(_ a: Args, _ p: Principal) throws -> JSONValue {
        let items: [VectorItem]
        if let batch = a["vectors"] {
            if a.has("key") || a.has("vector") { throw APIError.bad("give 'vectors' or 'key' and 'vector', not both") }
            guard case .array(let list) = batch else { throw APIError.bad("'vectors' must be an array of objects") }
            items = try list.map(Self.item)
        } else {
            var one: [JSONMember] = []
            for name in ["key", "vector", "metadata", "valid_from", "valid_to"] {
                if let v = a[name] { one.append(JSONMember(name, v)) }
            }
            items = [try Self.item(.object(one))]
        }
        guard case .object(var m) = Render.commit(try vectorPut(try a.required("collection"), items, p)) else {
            return .null
        }
        m.append(JSONMember("count", .int(Int64(items.count))))
        return .object(m)
    }

    public func getVector(_ a: Args, _ p: Principal) throws -> JSONValue {
        let key = try a.required("key")
        let c = try vectors(a, p, .read, key: key)
        guard let r = try c.get(key, validAt: try a.instant("valid_at"), tx: try a.txSelector()) else {
            throw APIError(404, "not_found", "no vector '\(key.prefix(80))' in '\(c.name)' at that time")
        }
        return .object([
            JSONMember("key", .string(r.key)), JSONMember("vector", .array(r.vector.map { .double(Double($0)) })),
            JSONMember("metadata", r.metadata ?? .null), JSONMember("valid_from", r.validFrom.json),
            JSONMember("tx", .int(Int64(r.txID))),
        ])
    }

    public func deleteVector(_ a: Args, _ p: Principal) throws -> JSONValue {
        let key = try a.required("key")
        let c = try vectors(a, p, .write, key: key)
        if try a.bool("erase") == true {
            if a.has("valid_from") { throw APIError.bad("erase removes every version; it takes no 'valid_from'") }
            return Render.commit(try c.erase(key))
        }
        return Render.commit(try c.delete(key, validFrom: try a.instant("valid_from")))
    }

    /// Stores `items` in the collection in one transaction, each key checked against `p`'s
    /// scopes (REST and MCP, and the C ABI's binary put).
    package func vectorPut(_ collection: String, _ items: [VectorItem], _ p: Principal) throws -> Commit {
        let c = try db.vectorCollection(collection)
        for item in items { try p.check(.write, key: "vec/\(c.name)/" + item.key, partition: c.info.partition) }
        return try c.put(items)
    }

    /// The nearest vectors, without their floats (bounded by `k` ≤ ``maxVectorK`` and by
    /// `max_bytes`: `truncated` says when the budget cut the list).
    public func searchVectors(_ a: Args, _ p: Principal) throws -> JSONValue {
        try vectorSearch(a, p, query: try Self.floats(try a.value("vector"), "vector"), maxK: Self.maxVectorK)
    }

    /// A search with its query given apart from `a` (the C ABI passes floats, not JSON).
    package func vectorSearch(_ a: Args, _ p: Principal, query: [Float], maxK: Int) throws -> JSONValue {
        let c = try vectors(a, p, .read)
        let k = try a.int("k") ?? 10
        guard (1...Int64(maxK)).contains(k) else {
            throw APIError.bad("'k' must be from 1 to \(maxK), not \(k)")
        }
        let maxBytes = try a.int("max_bytes")
        if let maxBytes, maxBytes < 1 { throw APIError.bad("'max_bytes' must be positive, not \(maxBytes)") }
        let hits = try c.search(
            query,
            k: Int(k),
            filters: try Self.vectorFilters(a),
            validAt: try a.instant("valid_at"),
            tx: try a.txSelector()
        )
        var out: [JSONValue] = []
        var used = 40
        var truncated = false
        for h in hits {
            let j = JSONValue.object([
                JSONMember("key", .string(h.key)), JSONMember("distance", .double(Double(h.distance))),
                JSONMember("metadata", h.metadata ?? .null), JSONMember("valid_from", h.validFrom.json),
                JSONMember("tx", .int(Int64(h.txID))),
            ])
            let size = JSON.serialize(j).count + 1
            if let maxBytes, used + size > maxBytes {
                truncated = true
                break
            }
            used += size
            out.append(j)
        }
        return .object([JSONMember("hits", .array(out)), JSONMember("truncated", .bool(truncated))])
    }
}

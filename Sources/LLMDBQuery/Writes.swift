import LLMDB
import LLMDBDocuments

extension Executor {
    /// Runs INSERT, UPDATE, DELETE, ERASE (or a BEGIN … COMMIT of them) as one transaction.
    mutating func write(_ statements: [Statement]) throws -> QueryResult {
        var batch = WriteBatch()
        var affected = 0
        for s in statements {
            affected += try plan(write: s, into: &batch)
        }
        if batch.count == 0 {
            return QueryResult(
                columns: ["affected"],
                rows: [.object([JSONMember("affected", .int(0))])],
                plan: [],
                scanned: scanned
            )
        }
        let commit = try db.commit(batch)
        return QueryResult(
            columns: ["affected", "tx_id", "tx_time"],
            rows: [
                .object([
                    JSONMember("affected", .int(Int64(affected))), JSONMember("tx_id", .int(Int64(commit.txID))),
                    JSONMember("tx_time", .string(commit.txTime.iso8601)),
                ])
            ],
            plan: [],
            scanned: scanned
        )
    }

    func portion(_ p: Portion?) throws -> (Instant, Instant)? {
        guard let p else { return nil }
        let a = try time(p.from, "FOR PORTION OF VALID_TIME FROM")
        let b = try time(p.to, "TO")
        guard a < b else { throw QueryError("FOR PORTION OF VALID_TIME: the end must be after the start") }
        return (a, b)
    }

    /// The documents matching `filter` now (or, with a portion, each version overlapping it,
    /// clipped to it), as (document, segment) pairs.
    mutating func targets(
        _ coll: Collection,
        _ filter: Expr?,
        _ portion: (Instant, Instant)?
    ) throws
        -> [(Document, Instant?, Instant?)]
    {
        let me = self
        func matches(_ d: Document) throws -> Bool {
            guard let filter else { return true }
            return try Eval(ex: me, row: Row(id: d.id, body: d.body, validFrom: d.validFrom, txID: d.txID)).truth(
                filter
            ) == true
        }
        // The documents to write are held until the transaction commits: charged to the
        // query's memory budget (the rest stream).
        let budget = self.budget
        func hold(_ d: Document) throws {
            try budget.charge(64 + d.id.utf8.count + QueryBudget.size(d.body))
        }
        var out: [(Document, Instant?, Instant?)] = []
        guard let (a, b) = portion else {
            var failure: (any Error)? = nil
            var me = self
            try coll.eachDocument { d in
                do {
                    try me.tick()
                    guard try matches(d) else { return true }
                    try hold(d)
                    out.append((d, nil, nil))
                    return true
                } catch {
                    failure = error
                    return false
                }
            }
            scanned = me.scanned
            if let failure { throw failure }
            return out
        }
        var keys: [Key] = []
        try db.read { s in
            try s.forEachKey(prefix: Key(coll.name + "/", partition: coll.partition)) { k in
                try budget.check()
                try budget.charge(48 + k.bytes.count)
                keys.append(k)
                return true
            }
        }
        for key in keys {
            for f in try db.history(of: key) {
                try tick()
                guard let v = f.value else { continue }
                let end = f.validTo ?? .endOfTime
                guard f.validFrom < b && end > a else { continue }
                let id = String(decoding: key.bytes.dropFirst(coll.name.utf8.count + 1), as: UTF8.self)
                let d = Document(
                    id: id,
                    body: try coll.body(of: v),
                    validFrom: f.validFrom,
                    txID: f.txID,
                    schemaVersion: nil,
                    storedVersion: nil
                )
                if try matches(d) {
                    try hold(d)
                    out.append((d, max(a, f.validFrom), min(b, end)))
                }
            }
        }
        return out
    }

    /// Adds the operations of one write statement to `batch`; returns the documents affected.
    mutating func plan(write s: Statement, into batch: inout WriteBatch) throws -> Int {
        switch s {
        case .insert(let name, let columns, let rows, let p, let pos):
            let coll = try db.collection(name)
            let range = try portion(p)
            for row in rows {
                var body: JSONValue = .object([])
                var id: String? = nil
                if columns.isEmpty {
                    var record = try constant(row[0])
                    if case .string(let text) = record {
                        do { record = try JSONValue(parsing: text) } catch {
                            throw QueryError("RECORDS takes JSON objects: \(error.message)", at: pos)
                        }
                    }
                    guard case .object(var members) = record else {
                        throw QueryError("RECORDS takes JSON objects", at: pos)
                    }
                    if let i = members.firstIndex(where: { $0.key == "_id" }) {
                        guard case .string(let s) = members[i].value else {
                            throw QueryError("_id must be a string", at: pos)
                        }
                        id = s
                        members.remove(at: i)
                    }
                    body = .object(members)
                } else {
                    for (column, e) in zip(columns, row) {
                        let v = try constant(e)
                        if column == "_id" {
                            guard case .string(let s) = v else { throw QueryError("_id must be a string", at: pos) }
                            id = s
                            continue
                        }
                        body.set(FieldPath(column), to: v)
                    }
                }
                let key = try coll.factKey(id ?? Collection.generateID())
                try batch.expect(key, .absent)
                try batch.put(key, try coll.storedValue(body), validFrom: range?.0, validTo: range?.1)
            }
            return rows.count
        case .update(let name, let p, let set, let filter, _):
            let coll = try existing(name, s)
            let range = try portion(p)
            let found = try targets(coll, filter, range)
            let me = self
            for (d, from, to) in found {
                var body = d.body
                let row = Row(id: d.id, body: d.body, validFrom: d.validFrom, txID: d.txID)
                for a in set {
                    let v = try Eval(ex: me, row: row).value(a.value)
                    body.set(FieldPath(a.path.joined(separator: ".")), to: v)
                }
                let key = try coll.factKey(d.id)
                if range == nil { try batch.expect(key, .version(d.txID)) }
                try batch.put(key, try coll.storedValue(body), validFrom: from, validTo: to)
            }
            return Set(found.map(\.0.id)).count
        case .delete(let name, let p, let filter, _):
            let coll = try existing(name, s)
            let range = try portion(p)
            let found = try targets(coll, filter, range)
            for (d, from, to) in found {
                let key = try coll.factKey(d.id)
                if range == nil { try batch.expect(key, .version(d.txID)) }
                try batch.delete(key, validFrom: from, validTo: to)
            }
            return Set(found.map(\.0.id)).count
        case .erase(let name, let filter, let all, let pos):
            guard filter != nil || all else {
                throw QueryError(
                    "ERASE without WHERE would erase every document of '\(name)' at every time; write ERASE ALL FROM \(name) to confirm",
                    at: pos
                )
            }
            let coll = try existing(name, s)
            // A document is erased when any of its versions, now, matches.
            let found = try targets(coll, filter, nil)
            for (d, _, _) in found { try batch.erase(try coll.factKey(d.id)) }
            return found.count
        default:
            throw QueryError("only INSERT, UPDATE, DELETE and ERASE can be inside BEGIN … COMMIT")
        }
    }

    func existing(_ name: String, _ s: Statement) throws -> Collection {
        let coll = try db.collection(name)
        guard try coll.exists() else { throw QueryError("unknown collection '\(name)'") }
        return coll
    }
}

public import LLMDB
import LLMDBWasm

/// One declarative step of a migration's transform.
public enum MigrationStep: Sendable, Hashable {
    /// Moves the value at `from` to `to` (dotted paths: renames and moves/nesting alike).
    case rename(from: FieldPath, to: FieldPath)
    /// Sets `path` to `value` where it is absent.
    case setDefault(path: FieldPath, value: JSONValue)
    /// Removes `path`.
    case remove(path: FieldPath)
    /// Converts the value at `path` to `type`: string, number, integer or boolean.
    case convert(path: FieldPath, type: String)
    /// Splits the string at `path` on `separator` into the paths `into` (the last takes the rest).
    case split(path: FieldPath, separator: String, into: [FieldPath])
    /// Joins the strings at `paths` with `separator` into `into`, removing the parts.
    case join(paths: [FieldPath], separator: String, into: FieldPath)
    /// Passes the document through a registered `map_pages` module (one record in, the
    /// transformed record out, a JSON object).
    case wasm(module: String)

    static func parse(_ v: JSONValue, at: String) throws(LLMDBError) -> MigrationStep {
        func bad(_ why: String) -> LLMDBError { LLMDBError(.invalidArgument, "migration \(at): \(why)") }
        func string(_ o: JSONValue, _ k: String) throws(LLMDBError) -> String {
            guard case .string(let s)? = o[k], !s.isEmpty else { throw bad("\(k) must be a non-empty string") }
            try Filter.checkPath(s, "migration \(at).\(k)")
            return s
        }
        func strings(_ o: JSONValue, _ k: String) throws(LLMDBError) -> [String] {
            guard case .array(let list)? = o[k], !list.isEmpty else {
                throw bad("\(k) must be a non-empty array of paths")
            }
            var out: [String] = []
            for case .string(let s) in list {
                try Filter.checkPath(s, "migration \(at).\(k)")
                out.append(s)
            }
            guard out.count == list.count else { throw bad("\(k) must hold strings") }
            return out
        }
        guard case .object(let members) = v, members.count == 1, let m = members.first else {
            throw bad("a step is an object with one of rename, move, set_default, remove, convert, split, join")
        }
        switch m.key {
        case "rename", "move":
            return .rename(from: FieldPath(try string(m.value, "from")), to: FieldPath(try string(m.value, "to")))
        case "set_default":
            guard let value = m.value["value"] else { throw bad("set_default needs a value") }
            return .setDefault(path: FieldPath(try string(m.value, "path")), value: value)
        case "remove":
            if case .string(let p) = m.value {
                try Filter.checkPath(p, "migration \(at).remove")
                return .remove(path: FieldPath(p))
            }
            return .remove(path: FieldPath(try string(m.value, "path")))
        case "convert":
            let type = try string(m.value, "to")
            guard ["string", "number", "integer", "boolean"].contains(type) else {
                throw bad("convert.to must be string, number, integer or boolean")
            }
            return .convert(path: FieldPath(try string(m.value, "path")), type: type)
        case "split":
            guard case .string(let sep)? = m.value["separator"], !sep.isEmpty else {
                throw bad("split needs a separator")
            }
            return .split(
                path: FieldPath(try string(m.value, "path")),
                separator: sep,
                into: try strings(m.value, "into").map { FieldPath($0) }
            )
        case "join":
            guard case .string(let sep)? = m.value["separator"] else { throw bad("join needs a separator") }
            return .join(
                paths: try strings(m.value, "paths").map { FieldPath($0) },
                separator: sep,
                into: FieldPath(try string(m.value, "into"))
            )
        case "wasm":
            if case .string(let module) = m.value, !module.isEmpty { return .wasm(module: module) }
            guard case .string(let module)? = m.value["module"], !module.isEmpty else {
                throw bad("wasm needs the name of a registered map_pages module")
            }
            return .wasm(module: module)
        default:
            throw bad("unknown step '\(m.key)' (use rename, move, set_default, remove, convert, split, join, wasm)")
        }
    }

    var json: JSONValue {
        func o(_ m: [(String, JSONValue)]) -> JSONValue { .object(m.map { JSONMember($0.0, $0.1) }) }
        return switch self {
        case .rename(let f, let t): o([("rename", o([("from", .string(f.text)), ("to", .string(t.text))]))])
        case .setDefault(let p, let v): o([("set_default", o([("path", .string(p.text)), ("value", v)]))])
        case .remove(let p): o([("remove", .string(p.text))])
        case .convert(let p, let t): o([("convert", o([("path", .string(p.text)), ("to", .string(t))]))])
        case .split(let p, let s, let into):
            o([
                (
                    "split",
                    o([
                        ("path", .string(p.text)), ("separator", .string(s)),
                        ("into", .array(into.map { .string($0.text) })),
                    ])
                )
            ])
        case .join(let ps, let s, let into):
            o([
                (
                    "join",
                    o([
                        ("paths", .array(ps.map { .string($0.text) })), ("separator", .string(s)),
                        ("into", .string(into.text)),
                    ])
                )
            ])
        case .wasm(let module): o([("wasm", o([("module", .string(module))]))])
        }
    }

    /// Applies the step; throws a message naming the path when the document cannot take it.
    func apply(_ doc: inout JSONValue, _ context: StepContext?) throws(LLMDBError) {
        func fail(_ why: String) -> LLMDBError { LLMDBError(.invalidValue, why) }
        switch self {
        case .wasm(let module):
            guard let context else { throw fail("the wasm step needs the database (module '\(module)')") }
            doc = try context.run(module, doc)
        case .rename(let from, let to):
            if let v = JSONPath.remove(&doc, from) { JSONPath.set(&doc, to, v) }
        case .setDefault(let path, let value):
            if JSONPath.value(doc, path) == nil { JSONPath.set(&doc, path, value) }
        case .remove(let path):
            JSONPath.remove(&doc, path)
        case .convert(let path, let type):
            guard let v = JSONPath.value(doc, path), !v.isNull else { return }
            let out: JSONValue?
            switch (type, v) {
            case ("string", .string): out = v
            case ("string", .bool(let b)): out = .string(b ? "true" : "false")
            case ("string", _) where JSONOrder.number(v) != nil: out = .string(v.text)
            case ("number", _) where JSONOrder.number(v) != nil: out = v
            case ("number", .string(let s)):
                // Finite only: "1e999" and "nan" are not numbers JSON can hold.
                out = Double(s.trimmingWhitespace()).flatMap { d -> JSONValue? in
                    guard d.isFinite else { return nil }
                    return d == d.rounded() && abs(d) < 9e15 ? .int(Int64(d)) : .double(d)
                }
            case ("integer", .int): out = v
            case ("integer", .double(let d)) where d == d.rounded() && abs(d) < 9e15: out = .int(Int64(d))
            case ("integer", .string(let s)): out = Int64(s.trimmingWhitespace()).map { .int($0) }
            case ("boolean", .bool): out = v
            case ("boolean", .string(let s)): out = s == "true" ? .bool(true) : (s == "false" ? .bool(false) : nil)
            case ("boolean", .int(let n)) where n == 0 || n == 1: out = .bool(n == 1)
            default: out = nil
            }
            guard let out else { throw fail("cannot convert $.\(path) to \(type)") }
            JSONPath.set(&doc, path, out)
        case .split(let path, let separator, let into):
            guard let v = JSONPath.value(doc, path) else { return }
            guard case .string(let s) = v else { throw fail("cannot split $.\(path): it is not a string") }
            var parts = s.split(separator: separator, omittingEmptySubsequences: false).map(String.init)
            if parts.count > into.count {
                let rest = parts[(into.count - 1)...].joined(separator: separator)
                parts = Array(parts[..<(into.count - 1)]) + [rest]
            }
            JSONPath.remove(&doc, path)
            for (i, target) in into.enumerated() where i < parts.count {
                JSONPath.set(&doc, target, .string(parts[i]))
            }
        case .join(let paths, let separator, let into):
            var parts: [String] = []
            for p in paths {
                guard let v = JSONPath.value(doc, p) else { continue }
                guard case .string(let s) = v else { throw fail("cannot join $.\(p): it is not a string") }
                parts.append(s)
            }
            if parts.isEmpty { return }
            for p in paths { JSONPath.remove(&doc, p) }
            JSONPath.set(&doc, into, .string(parts.joined(separator: separator)))
        }
    }

    /// The step that undoes this one exactly, when there is one.
    var inverse: MigrationStep? {
        switch self {
        case .rename(let f, let t): .rename(from: t, to: f)
        case .split(let p, let s, let into): .join(paths: into, separator: s, into: p)
        case .join(let ps, let s, let into) where ps.count == 2: .split(path: into, separator: s, into: ps)
        default: nil
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\n" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\n" { s = s.dropLast() }
        return String(s)
    }
}

/// A migration from schema version `from` to `to` (= from + 1) of a collection, stored as
/// data at `_meta/migration/{collection}/{to}`.
public struct Migration: Sendable, Hashable {
    public let from: Int
    public let to: Int
    /// Which documents the steps apply to (the others only change version).
    public let predicate: Filter
    let predicateJSON: JSONValue
    public let steps: [MigrationStep]
    /// The steps back from `to` to `from`: given, or derived when every step is invertible;
    /// nil when reads pinned to `from` cannot be served from newer documents.
    public let reverse: [MigrationStep]?
    /// Documents whose transform failed and were skipped at apply (they keep version `from`).
    public let skipped: [String]

    var json: JSONValue {
        var m: [JSONMember] = [
            JSONMember("from", .int(Int64(from))), JSONMember("to", .int(Int64(to))),
            JSONMember("predicate", predicateJSON), JSONMember("steps", .array(steps.map(\.json))),
        ]
        if let reverse { m.append(JSONMember("reverse", .array(reverse.map(\.json)))) }
        m.append(JSONMember("skipped", .array(skipped.map { .string($0) })))
        return .object(m)
    }

    /// Parses a migration (the stored form, or a proposal without from/to).
    static func parse(_ v: JSONValue, from: Int, to: Int, skipped: [String] = []) throws(LLMDBError) -> Migration {
        guard case .object = v else { throw LLMDBError(.invalidArgument, "a migration is a JSON object") }
        var steps: [MigrationStep] = []
        if let s = v["steps"] {
            guard case .array(let list) = s else {
                throw LLMDBError(.invalidArgument, "migration steps must be an array")
            }
            for (i, item) in list.enumerated() { steps.append(try MigrationStep.parse(item, at: "steps[\(i)]")) }
        }
        var reverse: [MigrationStep]? = nil
        if let r = v["reverse"], !r.isNull {
            guard case .array(let list) = r else {
                throw LLMDBError(.invalidArgument, "migration reverse must be an array")
            }
            var out: [MigrationStep] = []
            for (i, item) in list.enumerated() { out.append(try MigrationStep.parse(item, at: "reverse[\(i)]")) }
            reverse = out
        } else {
            let inverses = steps.reversed().map(\.inverse)
            if inverses.allSatisfy({ $0 != nil }) { reverse = inverses.map { $0! } }
        }
        let predicateJSON = v["predicate"] ?? .object([])
        let predicate = predicateJSON.isNull ? Filter.all : try Filter.parse(predicateJSON, at: "migration predicate")
        var skippedIDs = skipped
        if case .array(let list)? = v["skipped"] { for case .string(let s) in list { skippedIDs.append(s) } }
        return Migration(
            from: from,
            to: to,
            predicate: predicate,
            predicateJSON: predicateJSON.isNull ? .object([]) : predicateJSON,
            steps: steps,
            reverse: reverse,
            skipped: skippedIDs
        )
    }

    func forward(_ doc: JSONValue, _ context: StepContext? = nil) throws(LLMDBError) -> JSONValue {
        guard predicate.matches(doc) else { return doc }
        var d = doc
        for s in steps { try s.apply(&d, context) }
        return d
    }

    func backward(_ doc: JSONValue, _ context: StepContext? = nil) throws(LLMDBError) -> JSONValue {
        guard let reverse else {
            throw LLMDBError(
                .notFound,
                "no reverse transform from schema version \(to) to \(from): this document can only be read at version \(to) or later"
            )
        }
        var d = doc
        for s in reverse { try s.apply(&d, context) }
        return d
    }
}

/// The state of a collection's background rewrite, stored at
/// `_meta/migration-progress/{collection}` and updated in the same transaction as each batch.
public struct MigrationProgress: Sendable, Hashable {
    public enum State: String, Sendable { case running, paused, done }
    public let to: Int
    public let state: State
    /// The last document id rewritten (the rewrite goes in id order and resumes after it).
    public let lastID: String?
    public let rewritten: Int
    public let total: Int

    var json: JSONValue {
        .object([
            JSONMember("to", .int(Int64(to))), JSONMember("state", .string(state.rawValue)),
            JSONMember("last_id", lastID.map { .string($0) } ?? .null), JSONMember("rewritten", .int(Int64(rewritten))),
            JSONMember("total", .int(Int64(total))),
        ])
    }

    static func parse(_ v: JSONValue) -> MigrationProgress? {
        guard case .int(let to)? = v["to"], case .string(let s)? = v["state"], let state = State(rawValue: s),
            case .int(let rewritten)? = v["rewritten"], case .int(let total)? = v["total"]
        else { return nil }
        var last: String? = nil
        if case .string(let l)? = v["last_id"] { last = l }
        return MigrationProgress(to: Int(to), state: state, lastID: last, rewritten: Int(rewritten), total: Int(total))
    }
}

/// What a dry run found.
public struct DryRunReport: Sendable {
    public let from: Int
    public let to: Int
    public let examined: Int
    public let changed: Int
    /// Documents whose transform failed or whose result violates the new schema.
    public let failures: [(id: String, reason: String)]
    /// Up to 5 changed documents, before and after.
    public let samples: [(id: String, before: JSONValue, after: JSONValue)]
}

/// The migrations of a collection, resolved into a chain for projecting documents.
struct MigrationChain {
    let current: Int
    let byTarget: [Int: Migration]
    /// For WASM steps: the modules' instances, one per module for this chain's operation.
    let context: StepContext?

    /// Whether a migration between `stored` and `target` skipped the document at apply.
    func skips(_ id: String, from stored: Int, to target: Int) -> Bool {
        stored < target && (stored + 1...target).contains { byTarget[$0]?.skipped.contains(id) == true }
    }

    /// Projects a stored document of version `stored` to `target`.
    func project(_ doc: JSONValue, id: String, from stored: Int, to target: Int) throws(LLMDBError) -> JSONValue {
        try projectTracking(doc, id: id, from: stored, to: target).body
    }

    /// As ``project(_:id:from:to:)``, with the version reached: lower than `target` when a
    /// migration on the way skipped the document.
    func projectTracking(
        _ doc: JSONValue,
        id: String,
        from stored: Int,
        to target: Int
    ) throws(LLMDBError)
        -> (body: JSONValue, version: Int)
    {
        context?.currentID = id
        var d = doc
        var v = stored
        while v < target {
            guard let m = byTarget[v + 1], m.from == v else {
                throw LLMDBError(.notFound, "no migration from schema version \(v) to \(v + 1): the chain has a gap")
            }
            if m.skipped.contains(id) { return (d, v) }
            d = try m.forward(d, context)
            v += 1
        }
        while v > target {
            guard let m = byTarget[v], m.from == v - 1 else {
                throw LLMDBError(.notFound, "no migration from schema version \(v - 1) to \(v): the chain has a gap")
            }
            d = try m.backward(d, context)
            v -= 1
        }
        return (d, v)
    }
}

extension Collection {
    var migrationPrefix: Key { Key("_meta/migration/\(name)/", partition: Key.systemPartition) }
    var progressKey: Key { Key("_meta/migration-progress/\(name)", partition: Key.systemPartition) }

    /// The migrations of the collection as of `tx`, by target version.
    public func migrations(tx: TxSelector = .latest) throws -> [Migration] {
        let facts = try db.read(tx: tx) { try $0.scan(prefix: migrationPrefix) }
        var out: [Migration] = []
        for f in facts {
            guard let v = f.value, let tree = try? JSONValue(parsing: v.payload), case .int(let from)? = tree["from"],
                case .int(let to)? = tree["to"]
            else { throw LLMDBError(.corrupted, "a migration record of '\(name)' is malformed") }
            if to != from + 1 {
                throw LLMDBError(
                    .invalidArgument,
                    "the migration record from version \(from) to \(to) of '\(name)' does not go one version forward (a cycle or a skip): fix or remove it"
                )
            }
            out.append(try Migration.parse(tree, from: Int(from), to: Int(to)))
        }
        return out.sorted { $0.to < $1.to }
    }

    func chain(tx: TxSelector) throws -> MigrationChain {
        let ms = try migrations(tx: tx)
        var byTarget: [Int: Migration] = [:]
        for m in ms { byTarget[m.to] = m }
        let current = try schemas(tx: tx).last?.version ?? 0
        let wasm = byTarget.values.contains { m in
            (m.steps + (m.reverse ?? [])).contains { if case .wasm = $0 { true } else { false } }
        }
        return MigrationChain(
            current: current,
            byTarget: byTarget,
            context: wasm ? StepContext(db: db, collection: name) : nil
        )
    }

    /// The rewrite's progress, or nil when no migration was applied.
    public func migrationStatus() throws -> MigrationProgress? {
        guard let f = try db.read({ try $0.get(progressKey) }), let v = f.value else { return nil }
        return MigrationProgress.parse(try JSONValue(parsing: v.payload))
    }

    /// Reads a proposal: `{"schema": {…new schema…}, "predicate": {…filter…}, "steps": […],
    /// "reverse": […]}` (predicate and reverse optional), as the migration from the current
    /// version to the next.
    func proposal(_ json: JSONValue) throws -> (Schema, Migration) {
        guard let s = json["schema"] else {
            throw LLMDBError(.invalidArgument, "a migration proposal needs \"schema\": the new version's schema")
        }
        let schema = try Schema(s)
        let from = try schemas().last?.version ?? 0
        let m = try Migration.parse(json, from: from, to: from + 1)
        for case .wasm(let module) in m.steps + (m.reverse ?? []) {
            _ = try RecordTransformer(db: db, module: module)  // registered, a map_pages module, instantiable
        }
        return (schema, m)
    }

    /// Applies a proposal in memory to the documents at the current version (`sample`: the
    /// first N; nil: all) and reports what would change and what would fail, writing nothing.
    public func dryRun(_ proposal: JSONValue, sample: Int? = nil) throws -> DryRunReport {
        let (schema, m) = try self.proposal(proposal)
        let chain = try chain(tx: .latest)
        let context = chain.context ?? StepContext(db: db, collection: name)
        var examined = 0
        var changed = 0
        var failures: [(String, String)] = []
        var samples: [(String, JSONValue, JSONValue)] = []
        try db.read { s in
            try s.scan(prefix: prefix) { row in
                let d = try document(try row.key(), row.value)
                examined += 1
                do {
                    let current = try chain.project(d.body, id: d.id, from: d.schemaVersion ?? 0, to: m.from)
                    context.currentID = d.id
                    let after = try m.forward(current, context)
                    let problems = schema.violations(of: after)
                    if !problems.isEmpty {
                        failures.append((d.id, "violates the new schema: " + problems.joined(separator: "; ")))
                    } else if after != current {
                        changed += 1
                        if samples.count < 5 { samples.append((d.id, current, after)) }
                    }
                } catch {
                    failures.append((d.id, (error as? LLMDBError)?.message ?? "\(error)"))
                }
                return sample.map { examined < $0 } ?? true
            }
        }
        return DryRunReport(
            from: m.from,
            to: m.to,
            examined: examined,
            changed: changed,
            failures: failures,
            samples: samples
        )
    }

    /// Applies a proposal: after a full dry run (refused when documents fail, unless
    /// `skipFailures`: they are then recorded as skipped and keep their version), writes the
    /// new schema version, the migration record and the rewrite's progress in one
    /// transaction. The new version is current at once: reads project older documents to
    /// it. Run ``rewrite(batchSize:progress:)`` to rewrite them in the background.
    @discardableResult
    public func applyMigration(_ proposal: JSONValue, skipFailures: Bool = false) throws -> (Migration, DryRunReport) {
        // An unfinished rewrite is superseded: the new one (to the new version) starts from
        // the first document and projects through the whole chain.
        let report = try dryRun(proposal)
        if !report.failures.isEmpty && !skipFailures {
            throw LLMDBError(
                .invalidArgument,
                "\(report.failures.count) document\(report.failures.count == 1 ? "" : "s") would fail the migration (see the dry run); nothing was written. Apply with skip-failures to migrate the others"
            )
        }
        let (schema, m0) = try self.proposal(proposal)
        let m = try Migration.parse(m0.json, from: m0.from, to: m0.to, skipped: report.failures.map(\.id))
        let schemaKey = Key("_meta/schema/\(name)/\(m.to)", partition: Key.systemPartition)
        let total = try count()
        let progress = MigrationProgress(to: m.to, state: .running, lastID: nil, rewritten: 0, total: total)
        try db.write { b in
            try b.expect(schemaKey, .absent)
            try b.putSystem(schemaKey, try Value.json(schema.json.text))
            try b.putSystem(
                Key("_meta/migration/\(name)/\(m.to)", partition: Key.systemPartition),
                try Value.json(m.json.text)
            )
            try b.putSystem(progressKey, try Value.json(progress.json.text))
        }
        return (m, report)
    }

    /// Sets the rewrite's state to paused (a running rewrite stops after its batch) or back
    /// to running.
    public func setMigrationState(_ state: MigrationProgress.State) throws {
        guard let p = try migrationStatus() else { throw LLMDBError(.notFound, "'\(name)' has no migration") }
        guard p.state != .done else { return }
        let next = MigrationProgress(to: p.to, state: state, lastID: p.lastID, rewritten: p.rewritten, total: p.total)
        try db.write { try $0.putSystem(progressKey, try Value.json(next.json.text)) }
    }

    /// Rewrites the documents stored under older versions as system corrections: the same
    /// valid time, a new transaction marked as a migration in the log. Resumes after the last
    /// id recorded, `batchSize` documents per transaction, the progress in the same
    /// transaction; stops when paused (by anyone) and returns the progress. A document
    /// written concurrently is left to that write (it is already at the current version).
    @discardableResult
    public func rewrite(
        batchSize: Int = 256,
        progress report: (MigrationProgress) -> Void = { _ in }
    ) throws
        -> MigrationProgress
    {
        guard let start = try migrationStatus() else {
            throw LLMDBError(.notFound, "'\(name)' has no migration to rewrite")
        }
        if start.state == .done { return start }
        if start.state == .paused { try setMigrationState(.running) }
        var chain = try chain(tx: .latest)
        while true {
            // The progress as stored, and its version: a pause from anyone changes it, and
            // the batch below expects it unchanged.
            guard let record = try db.read({ try $0.get(progressKey) }), let value = record.value,
                let p = MigrationProgress.parse(try JSONValue(parsing: value.payload))
            else { throw LLMDBError(.corrupted, "the migration progress record of '\(name)' is missing or malformed") }
            if p.state != .running { return p }
            if p.to != chain.current { chain = try self.chain(tx: .latest) }  // a newer migration was applied
            // The next batch: documents after lastID, in id order.
            var batch: [(key: Key, id: String, validFrom: Instant, tx: TxID, stored: Int, body: JSONValue)] = []
            var lastSeen: String? = nil
            var scanned = 0
            let resumeAfter = try p.lastID.map { (id) throws(LLMDBError) in try key(id) }
            try db.read { s in
                try s.scan(prefix: prefix, after: resumeAfter) { row in
                    let key = try row.key()
                    let id = Self.id(of: key, collection: name)
                    lastSeen = id
                    scanned += 1
                    let d = try document(key, row.value)
                    if (d.schemaVersion ?? 0) < p.to {
                        batch.append((key, id, d.validFrom, d.txID, d.schemaVersion ?? 0, d.body))
                    }
                    return batch.count < batchSize && scanned < batchSize * 4
                }
            }
            guard let through = lastSeen else {
                let done = MigrationProgress(
                    to: p.to,
                    state: .done,
                    lastID: p.lastID,
                    rewritten: p.rewritten,
                    total: p.total
                )
                try db.write { try $0.putSystem(progressKey, try Value.json(done.json.text)) }
                report(done)
                return done
            }
            var rewritten = p.rewritten
            var b = WriteBatch()
            b.isMigration = true
            for doc in batch {
                // Skipped by a migration on the way: it keeps its stored version.
                if chain.skips(doc.id, from: doc.stored, to: p.to) { continue }
                let projected = try chain.project(doc.body, id: doc.id, from: doc.stored, to: p.to)
                guard case .object(let members) = projected else { continue }
                let value = try Value.json(
                    JSONValue.object([JSONMember(Self.versionMember, .int(Int64(p.to)))] + members).text
                )
                try b.expect(doc.key, .version(doc.tx))
                try b.put(doc.key, value, validFrom: doc.validFrom)
                rewritten += 1
            }
            let next = MigrationProgress(
                to: p.to,
                state: .running,
                lastID: through,
                rewritten: rewritten,
                total: p.total
            )
            try b.expect(progressKey, .version(record.txID))
            try b.putSystem(progressKey, try Value.json(next.json.text))
            let committed = Result { () throws(LLMDBError) in try db.commit(b) }
            if case .failure(let e) = committed {
                // A concurrent write changed one of these documents, or the progress was
                // paused: look again.
                if e.code == .conflict { continue }
                throw e
            }
            report(next)
        }
    }
}

/// What a proposal would do, from the records alone.
public struct MigrationPlan: Sendable {
    public let from: Int
    public let to: Int
    public let steps: Int
    public let reversible: Bool
    public let schemaChanges: [String]
    public let documents: Int
}

extension Collection {
    /// Reads a proposal and says what it would do: versions, steps, reversibility, the
    /// schema's changes, the documents concerned. Reads no document bodies.
    public func plan(proposal json: JSONValue) throws -> MigrationPlan {
        let (schema, m) = try proposal(json)
        let old = try schemas().last?.schema
        return MigrationPlan(
            from: m.from,
            to: m.to,
            steps: m.steps.count,
            reversible: m.reverse != nil,
            schemaChanges: old.map { schema.diff(from: $0) } ?? ["+ $: the first schema"],
            documents: try db.read { s in
                var n = 0
                try s.scan(prefix: prefix) { _ in
                    n += 1
                    return true
                }
                return n
            }
        )
    }
}

/// The WASM steps' instances for one operation (a read, a dry run, a rewrite): each module is
/// instantiated once, on first use.
final class StepContext {
    let db: Database
    let collection: String
    var transformers: [String: RecordTransformer] = [:]
    /// The id of the document being transformed (the record's key is `collection/id`).
    var currentID = ""

    init(db: Database, collection: String) {
        self.db = db
        self.collection = collection
    }

    func run(_ module: String, _ doc: JSONValue) throws(LLMDBError) -> JSONValue {
        func fail(_ why: String) -> LLMDBError {
            LLMDBError(.codeFailed, "the migration step of module '\(module)' \(why)")
        }
        do {
            let t: RecordTransformer
            if let known = transformers[module] {
                t = known
            } else {
                t = try RecordTransformer(db: db, module: module)
                transformers[module] = t
            }
            let stored = [ValueTag.json.rawValue] + Array(doc.text.utf8)
            guard
                let out = try t.transform(
                    Key(collection + "/" + currentID),
                    stored: stored,
                    validFrom: .beginningOfTime,
                    txID: 0
                )
            else { throw fail("output no record (a migration transform must output the document)") }
            guard out.first == ValueTag.json.rawValue, let tree = try? JSONValue(parsing: Array(out.dropFirst())),
                case .object = tree
            else { throw fail("output something other than a JSON object") }
            return tree
        } catch let e as LLMDBError {
            throw e
        } catch {
            throw LLMDBError(.codeFailed, "\(error)")
        }
    }
}

extension Collection {
    /// Runs ``rewrite(batchSize:progress:)`` on a background task: readers and writers go on
    /// meanwhile (reads project the documents not yet rewritten). Observe it with
    /// ``migrationStatus()``; pause it with ``setMigrationState(_:)``; after a crash, call
    /// this (or `llmdb migrate resume`) again and it continues after the last batch.
    public func rewriteInBackground(batchSize: Int = 256) -> Task<MigrationProgress, any Error> {
        let collection = self
        return Task.detached { try collection.rewrite(batchSize: batchSize) }
    }
}

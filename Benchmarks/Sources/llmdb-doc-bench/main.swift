// The documents benchmark of issue 4, the LLMDB side:
//   llmdb-doc-bench --dir DIR [--docs N] [--rounds R] [--indexed-reps A] [--scan-reps B]
// Loads N documents (not timed) into two collections of one database, `people` and
// `people_rw`, with an index on `city` in each, then:
//   - each round times `find` with `{"city":"City07"}` (the index) A times and `{"age":42}`
//     (a full scan) B times on `people`, returning every match (limit Int.max) and touching
//     each document's id; the per-query figure of a round is its mean;
//   - the per-call overhead: an indexed `find` that matches nothing (`{"city":"Nowhere"}`),
//     the metadata reads each `find` makes (indexes, schemas, migrations, progress), and
//     `Collection.get` of one document against the core read of its key, parsed;
//   - a breakdown: the raw scan of the collection with and without parsing each JSON body,
//     and the index lookup alone;
//   - lazy migration: the same declarative migration (rename name → full_name) is applied to
//     both collections, and `people_rw` is rewritten; each round then reads all N documents
//     of `people` (one version behind: projected on the fly) and of `people_rw` (stored at
//     the current version), in turn.
// Checks every result (counts, plans, lazy = rewritten documents); exits 1 on a mismatch.
// Prints one JSON object with the medians over rounds on stdout; progress goes to stderr.
//
// The documents (the same in Benchmarks/baselines/sqlite_json.c): for i in 0..<N, id p%06d,
// body {"name":"Name <i>","city":"City<i%50, 2 digits>","age":<i%90>,"score":<i*7%1000>}.
import BenchSupport
import Foundation
import LLMDB
import LLMDBDocuments

benchName = "llmdb-doc-bench"

// MARK: Arguments

var dir = ""
var docs = 100_000
var rounds = 3
var indexedReps = 20
var scanReps = 5
var overheadReps = 200
var args = CommandLine.arguments.dropFirst()
let usage =
    "usage: llmdb-doc-bench --dir DIR [--docs N] [--rounds R] [--indexed-reps A] [--scan-reps B] [--overhead-reps C]"
while let a = args.popFirst() {
    switch a {
    case "--dir": dir = args.popFirst() ?? ""
    case "--docs": docs = Int(args.popFirst() ?? "") ?? -1
    case "--rounds": rounds = Int(args.popFirst() ?? "") ?? -1
    case "--indexed-reps": indexedReps = Int(args.popFirst() ?? "") ?? -1
    case "--scan-reps": scanReps = Int(args.popFirst() ?? "") ?? -1
    case "--overhead-reps": overheadReps = Int(args.popFirst() ?? "") ?? -1
    case "-h", "--help":
        print(usage)
        exit(0)
    default:
        log("unknown argument \(a)\n\(usage)")
        exit(2)
    }
}
guard !dir.isEmpty, docs > 0, rounds > 0, indexedReps > 0, scanReps > 0, overheadReps > 0 else {
    log(usage)
    exit(2)
}

// MARK: Data

let indexedCity = "City07"
let scanAge = 42
let wantIndexed = (0..<docs).reduce(0) { $0 + ($1 % 50 == 7 ? 1 : 0) }
let wantScan = (0..<docs).reduce(0) { $0 + ($1 % 90 == scanAge ? 1 : 0) }
let proposal = #"{"schema":{"type":"object"},"steps":[{"rename":{"from":"name","to":"full_name"}}]}"#

do {
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let path = dir + "/docs.llmdb"
    unlink(path)
    unlink(path + "-lock")
    var o = Database.Options()
    o.sync = .none
    o.mapSize = 1 << 31
    let db = try Database.open(path: path, options: o)

    let names = ["people", "people_rw"]
    for name in names {
        log("loading \(docs) documents into '\(name)' (not timed)")
        let t0 = now()
        let batch = 10_000
        var i = 0
        while i < docs {
            let end = min(docs, i + batch)
            try db.write { b in
                for j in i..<end {
                    try b.put(Key(name + "/" + documentID(j)), try Value.json(documentBody(j)))
                }
            }
            i = end
        }
        log(String(format: "loaded in %.1f s", now() - t0))
    }
    let c = try db.collection("people")
    let rw = try db.collection("people_rw")
    var t = now()
    try c.createIndex(on: "city")
    let indexBuild = now() - t
    try rw.createIndex(on: "city")
    log(String(format: "index on city built in %.2f s", indexBuild))

    let fIndexed = try Filter.parse(#"{"city":"\#(indexedCity)"}"#)
    let fScan = try Filter.parse(#"{"age":\#(scanAge)}"#)
    let fNone = try Filter.parse(#"{"city":"Nowhere"}"#)

    /// find with limit Int.max, touching each document's id: (matches, id bytes, plan).
    func find(_ coll: Collection, _ f: Filter) throws -> (Int, Int, String) {
        let r = try coll.find(f, limit: Int.max)
        var idBytes = 0
        for d in r.documents { idBytes += d.id.utf8.count }
        return (r.documents.count, idBytes, r.plan)
    }

    /// Mean seconds per `Collection.get` and per core read + parse of the same keys.
    let getIDs = (0..<overheadReps).map { String(format: "p%06d", ($0 * 7919) % docs) }
    func timeGets(_ coll: Collection) throws -> (Double, Double) {
        var t = now()
        for id in getIDs {
            guard let d = try coll.get(id), d.id == id else { fail("get \(id) found nothing") }
        }
        let tGet = (now() - t) / Double(getIDs.count)
        let keys = getIDs.map { Key(coll.name + "/" + $0) }
        t = now()
        for k in keys {
            let v = try db.read { s in try s.withValue(k) { view in try JSONValue(parsing: Array(view.payload)) } }
            guard v != nil else { fail("read \(k) found nothing") }
        }
        return (tGet, (now() - t) / Double(keys.count))
    }

    // MARK: find: index and scan
    var indexedTimes: [Double] = []
    var scanTimes: [Double] = []
    var noneTimes: [Double] = []
    var indexedPlan = ""
    var scanPlan = ""
    var meta: [String: [Double]] = [:]
    var getTimes: [Double] = []
    var coreGetTimes: [Double] = []
    var rawScan: [Double] = []
    var rawParse: [Double] = []
    var lookupOnly: [Double] = []
    let prefix = Key("people/")
    for r in 1...rounds {
        let (ti, ri) = try timed(indexedReps) { try find(c, fIndexed) }
        if ri.0 != wantIndexed || ri.1 != wantIndexed * 7 {
            fail("indexed find returned \(ri.0) documents, expected \(wantIndexed)")
        }
        indexedPlan = ri.2
        if !indexedPlan.contains("index 'doc.people.city'") { fail("the indexed find did not use the index: \(ri.2)") }
        indexedTimes.append(ti)

        let (ts, rs) = try timed(scanReps) { try find(c, fScan) }
        if rs.0 != wantScan { fail("non-indexed find returned \(rs.0) documents, expected \(wantScan)") }
        scanPlan = rs.2
        if !scanPlan.contains("full scan") { fail("the non-indexed find is not a full scan: \(rs.2)") }
        scanTimes.append(ts)

        // Per-call overhead: an indexed find that matches nothing, and what it reads each call.
        let (tn, rn) = try timed(overheadReps) { try find(c, fNone) }
        if rn.0 != 0 || !rn.2.contains("index") { fail("the empty find returned \(rn.0) documents (\(rn.2))") }
        noneTimes.append(tn)
        meta["indexes", default: []].append(try timed(overheadReps) { try c.indexes().count }.0)
        meta["schemas", default: []].append(try timed(overheadReps) { try c.schemas().count }.0)
        meta["migrations", default: []].append(try timed(overheadReps) { try c.migrations().count }.0)
        meta["migration_status", default: []].append(
            try timed(overheadReps) { try c.migrationStatus() == nil ? 0 : 1 }.0
        )

        let (tg, tcg) = try timeGets(c)
        getTimes.append(tg)
        coreGetTimes.append(tcg)

        // Breakdown: the raw scan, the same with each body parsed, the index lookup alone.
        var n = 0
        t = now()
        try db.read { s in
            try s.scan(prefix: prefix) { row in
                n += row.value.payload.count > 0 ? 1 : 0
                return true
            }
        }
        rawScan.append(now() - t)
        if n != docs { fail("the raw scan saw \(n) documents") }
        var hits = 0
        t = now()
        try db.read { s in
            try s.scan(prefix: prefix) { row in
                let v = try JSONValue(parsing: Array(row.value.payload))
                if case .int(let a)? = v["age"], a == scanAge { hits += 1 }
                return true
            }
        }
        rawParse.append(now() - t)
        if hits != wantScan { fail("the parsing scan matched \(hits) documents") }
        let ikey = JSONIndexKey.key(.string(indexedCity))!
        let (tl, nl) = try timed(indexedReps) {
            try db.read { s in try s.lookup(index: "doc.people.city", key: ikey).count }
        }
        if nl != wantIndexed { fail("the index lookup returned \(nl) facts") }
        lookupOnly.append(tl)
        log(
            String(
                format:
                    "round %d/%d: indexed find %.3f ms, scan find %.2f ms, empty indexed find %.1f µs; raw scan %.2f ms, + JSON parse %.2f ms, index lookup alone %.3f ms",
                r,
                rounds,
                ti * 1e3,
                ts * 1e3,
                tn * 1e6,
                rawScan.last! * 1e3,
                rawParse.last! * 1e3,
                tl * 1e3
            )
        )
    }

    // MARK: Lazy migration
    let migration = try JSONValue(parsing: proposal)
    t = now()
    try c.applyMigration(migration)
    let applySeconds = now() - t
    try rw.applyMigration(migration)
    t = now()
    let done = try rw.rewrite(batchSize: 1000)
    let rewriteSeconds = now() - t
    if done.state != .done || done.rewritten != docs {
        fail("the rewrite ended \(done.state.rawValue) after \(done.rewritten) documents")
    }
    log(
        String(
            format: "migration applied in %.2f s (dry run included); rewrite of %d documents %.2f s",
            applySeconds,
            docs,
            rewriteSeconds
        )
    )

    // Untimed check: lazy projection = rewritten documents, version 1, name → full_name.
    do {
        let lazy = try c.find(limit: Int.max)
        let current = try rw.find(limit: Int.max)
        if lazy.documents.count != docs || current.documents.count != docs {
            fail("find all returned \(lazy.documents.count) lazily, \(current.documents.count) after the rewrite")
        }
        if !lazy.plan.contains("full scan") { fail("the lazy read is not a scan: \(lazy.plan)") }
        for (a, b) in zip(lazy.documents, current.documents) {
            guard a.id == b.id, a.body == b.body, a.schemaVersion == 1, b.schemaVersion == 1,
                a.storedVersion == nil, b.storedVersion == 1, a.body["name"] == nil, a.body["full_name"] != nil
            else { fail("lazy \(a.id) \(a.body) (v\(a.schemaVersion ?? 0)) ≠ rewritten \(b.id) \(b.body)") }
        }
    }

    var lazyTimes: [Double] = []
    var currentTimes: [Double] = []
    var afterIndexed: [Double] = []
    var afterNone: [Double] = []
    var afterGet: [Double] = []
    var afterCoreGet: [Double] = []
    var afterPlan = ""
    for r in 1...rounds {
        let (tl, rl) = try timed(1) { try find(c, .all) }
        if rl.0 != docs { fail("the lazy read returned \(rl.0) documents") }
        lazyTimes.append(tl)
        let (tc, rc) = try timed(1) { try find(rw, .all) }
        if rc.0 != docs { fail("the current read returned \(rc.0) documents") }
        currentTimes.append(tc)
        // The indexed find again, on the rewritten collection (a schema and a migration now
        // exist: more metadata read per call).
        let (ta, ra) = try timed(indexedReps) { try find(rw, fIndexed) }
        if ra.0 != wantIndexed || !ra.2.contains("index") { fail("indexed find after the rewrite: \(ra.0), \(ra.2)") }
        afterIndexed.append(ta)
        afterPlan = ra.2
        let (tn, rn) = try timed(overheadReps) { try find(rw, fNone) }
        if rn.0 != 0 { fail("the empty find after the rewrite returned \(rn.0)") }
        afterNone.append(tn)
        let (tg, tcg) = try timeGets(rw)
        afterGet.append(tg)
        afterCoreGet.append(tcg)
        log(
            String(
                format:
                    "round %d/%d: read all one version behind %.1f ms, current %.1f ms (%.2f×); after the rewrite: indexed find %.3f ms, empty indexed find %.1f µs",
                r,
                rounds,
                tl * 1e3,
                tc * 1e3,
                tl / tc,
                ta * 1e3,
                tn * 1e6
            )
        )
    }

    func q(_ s: String) -> String { JSONValue.string(s).text }
    let lazyRatio = median(lazyTimes) / median(currentTimes)
    print(
        #"{"system":"llmdb","docs":\#(docs),"rounds":\#(rounds),"indexed_reps":\#(indexedReps),"scan_reps":\#(scanReps),"#
            + #""indexed_filter":\#(q(#"{"city":"\#(indexedCity)"}"#)),"scan_filter":\#(q(#"{"age":\#(scanAge)}"#)),"#
            + #""matches":{"indexed":\#(wantIndexed),"scan":\#(wantScan)},"#
            + #""indexed_find_ms":\#(ms(indexedTimes)),"scan_find_ms":\#(ms(scanTimes)),"#
            + #""indexed_plan":\#(q(indexedPlan)),"scan_plan":\#(q(scanPlan)),"#
            + #""lazy_read_ms":\#(ms(lazyTimes)),"current_read_ms":\#(ms(currentTimes)),"lazy_ratio":\#(String(format: "%.4f", lazyRatio)),"#
            + #""empty_indexed_find_us":\#(us(noneTimes)),"meta_us":{"indexes":\#(us(meta["indexes"]!)),"schemas":\#(us(meta["schemas"]!)),"migrations":\#(us(meta["migrations"]!)),"migration_status":\#(us(meta["migration_status"]!))},"#
            + #""get_us":\#(us(getTimes)),"core_get_us":\#(us(coreGetTimes)),"#
            + #""raw_scan_ms":\#(ms(rawScan)),"raw_scan_parse_ms":\#(ms(rawParse)),"index_lookup_ms":\#(ms(lookupOnly)),"#
            + #""after_rewrite":{"indexed_find_ms":\#(ms(afterIndexed)),"empty_indexed_find_us":\#(us(afterNone)),"get_us":\#(us(afterGet)),"core_get_us":\#(us(afterCoreGet)),"plan":\#(q(afterPlan))},"#
            + #""index_build_s":\#(String(format: "%.3f", indexBuild)),"apply_migration_s":\#(String(format: "%.3f", applySeconds)),"rewrite_s":\#(String(format: "%.3f", rewriteSeconds)),"#
            + #""ms":{"indexed":\#(msList(indexedTimes)),"scan":\#(msList(scanTimes)),"lazy":\#(msList(lazyTimes)),"current":\#(msList(currentTimes))}}"#
    )
    fflush(nil)
} catch {
    log("\(error)")
    exit(1)
}

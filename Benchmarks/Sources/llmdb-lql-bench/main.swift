// The LQL benchmark of issue 5, the LLMDB side:
//   llmdb-lql-bench --dir DIR [--docs N] [--rounds R] [--budget-ms B]
// Loads N documents (not timed) as facts `people/p%06d` in transactions of 10,000, records
// the last load transaction (`mid`), then updates 1% of them once (i % 100 == 23: age + 1,
// one transaction) so that they have a second version, then builds the index on `city`
// (`Collection.createIndex(on: "city")`). Then, for each of the queries below, each round
// times `LQL.run` (parse + plan + run, every row of the result touched) `reps` times and
// takes the mean per query; `reps` is fixed by an untimed warm-up so that a round lasts
// about B ms (at least 1, at most 5,000). The same for the parse alone (`Parser.parse`) and
// for parse + plan (`LQL.run("EXPLAIN " + query)`: EXPLAIN plans without running the query).
//   point_asof    SELECT name, age FROM people AS OF TRANSACTION mid WHERE _id = 'p000123'
//   point_asof_kv SELECT value.name, value.age FROM kv('people/p000123') AS OF TRANSACTION mid
//   range_asof    SELECT value.name FROM kv('people/p001') AS OF TRANSACTION mid WHERE value.age > 50
//   indexed_eq    SELECT name FROM people WHERE city = 'City07'
//   group_by      SELECT city, COUNT(*) AS n, AVG(age) FROM people GROUP BY city
//   history       HISTORY OF 'people/p000123'
// Checks every result's row count (and the as-of age of p000123); exits 1 on a mismatch.
// Prints one JSON object with the medians over rounds on stdout; progress goes to stderr.
//
// The documents (the same in Benchmarks/baselines/sqlite_lql.c and llmdb-doc-bench): for i
// in 0..<N, id p%06d, body {"name":"Name <i>","city":"City<i%50, 2 digits>","age":<i%90>,
// "score":<i*7%1000>}.
import BenchSupport
import Foundation
import LLMDB
import LLMDBDocuments
import LLMDBQuery

benchName = "llmdb-lql-bench"

// MARK: Arguments

var dir = ""
var docs = 100_000
var rounds = 5
var budgetMs = 200.0
var args = CommandLine.arguments.dropFirst()
let usage = "usage: llmdb-lql-bench --dir DIR [--docs N] [--rounds R] [--budget-ms B]"
while let a = args.popFirst() {
    switch a {
    case "--dir": dir = args.popFirst() ?? ""
    case "--docs": docs = Int(args.popFirst() ?? "") ?? -1
    case "--rounds": rounds = Int(args.popFirst() ?? "") ?? -1
    case "--budget-ms": budgetMs = Double(args.popFirst() ?? "") ?? -1
    case "-h", "--help":
        print(usage)
        exit(0)
    default:
        log("unknown argument \(a)\n\(usage)")
        exit(2)
    }
}
guard !dir.isEmpty, docs >= 2000, docs <= 1_000_000, rounds > 0, budgetMs > 0 else {
    log(usage + " (2000 ≤ N ≤ 1000000)")
    exit(2)
}

// MARK: Data

func updated(_ i: Int) -> Bool { i % 100 == 23 }

struct Query {
    let name: String
    let text: String
    let want: Int
}

do {
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let path = dir + "/lql.llmdb"
    unlink(path)
    unlink(path + "-lock")
    var o = Database.Options()
    o.sync = .none
    o.mapSize = 1 << 31
    let db = try Database.open(path: path, options: o)

    log("loading \(docs) documents into 'people' (not timed)")
    let t0 = now()
    var mid: TxID = 0
    var i = 0
    while i < docs {
        let end = min(docs, i + 10_000)
        let c = try db.write { b in
            for j in i..<end {
                try b.put(Key("people/" + documentID(j)), try Value.json(documentBody(j)))
            }
        }
        mid = c.txID
        i = end
    }
    let upd = try db.write { b in
        for j in 0..<docs where updated(j) {
            try b.put(Key("people/" + documentID(j)), try Value.json(documentBody(j, age: j % 90 + 1)))
        }
    }
    try db.collection("people").createIndex(on: "city")
    log(String(format: "loaded, updated 1%% (tx %d; mid = tx %d) and indexed in %.1f s", upd.txID, mid, now() - t0))

    // Expected row counts (as of mid, the ages are the original ones).
    let wantRange = (1000..<2000).reduce(0) { $0 + ($1 % 90 > 50 ? 1 : 0) }
    let wantIndexed = (0..<docs).reduce(0) { $0 + ($1 % 50 == 7 ? 1 : 0) }
    let queries = [
        Query(
            name: "point_asof",
            text: "SELECT name, age FROM people AS OF TRANSACTION \(mid) WHERE _id = 'p000123'",
            want: 1
        ),
        Query(
            name: "point_asof_kv",
            text: "SELECT value.name, value.age FROM kv('people/p000123') AS OF TRANSACTION \(mid)",
            want: 1
        ),
        Query(
            name: "range_asof",
            text: "SELECT value.name FROM kv('people/p001') AS OF TRANSACTION \(mid) WHERE value.age > 50",
            want: wantRange
        ),
        Query(name: "indexed_eq", text: "SELECT name FROM people WHERE city = 'City07'", want: wantIndexed),
        Query(
            name: "group_by",
            text: "SELECT city, COUNT(*) AS n, AVG(age) FROM people GROUP BY city",
            want: min(50, docs)
        ),
        Query(name: "history", text: "HISTORY OF 'people/p000123'", want: 2),
    ]

    /// Runs a query, touching every cell of every row: (rows, cells).
    func run(_ q: Query) throws -> (Int, Int) {
        let r = try LQL.run(q.text, on: db)
        var cells = 0
        for row in r.rows {
            if case .object(let o) = row { cells += o.count } else { cells += 1 }
        }
        return (r.rows.count, cells)
    }

    // Untimed checks: counts, the as-of age, the plans.
    var plans: [String: String] = [:]
    for q in queries {
        let r = try LQL.run(q.text, on: db)
        if r.rows.count != q.want { fail("\(q.name) returned \(r.rows.count) rows, expected \(q.want): \(q.text)") }
        if q.name.hasPrefix("point_asof") {
            let age = r.rows[0]["age"] ?? r.rows[0]["value.age"] ?? r.rows[0]
            if case .object = age { log("\(q.name) row: \(r.rows[0].text)") }
            if !r.rows[0].text.contains("33") { fail("\(q.name) is not as of tx \(mid): \(r.rows[0].text)") }
        }
        plans[q.name] = try LQL.run("EXPLAIN " + q.text, on: db).plan.joined(separator: "; ")
        log("\(q.name): \(r.rows.count) rows; plan: \(plans[q.name]!)")
    }
    if !plans["indexed_eq"]!.contains("index") { fail("indexed_eq does not use the index: \(plans["indexed_eq"]!)") }

    var runT: [String: [Double]] = [:]
    var parseT: [String: [Double]] = [:]
    var planT: [String: [Double]] = [:]
    var reps: [String: (Int, Int, Int)] = [:]
    for q in queries {
        let explain = "EXPLAIN " + q.text
        reps[q.name] = (
            try repsFor(budgetMs) { _ = try run(q) },
            try repsFor(budgetMs) { _ = try Parser.parse(q.text) },
            try repsFor(budgetMs) { _ = try LQL.run(explain, on: db) }
        )
    }
    for r in 1...rounds {
        var line: [String] = []
        for q in queries {
            let (nr, np, ne) = reps[q.name]!
            let (tr, rr) = try timed(nr) { try run(q) }
            if rr.0 != q.want { fail("\(q.name) returned \(rr.0) rows, expected \(q.want)") }
            runT[q.name, default: []].append(tr)
            let explain = "EXPLAIN " + q.text
            parseT[q.name, default: []].append(try timed(np) { try Parser.parse(q.text) }.0)
            planT[q.name, default: []].append(try timed(ne) { try LQL.run(explain, on: db).plan.count }.0)
            line.append(String(format: "%@ %.3f ms", q.name, tr * 1e3))
        }
        log("round \(r)/\(rounds): " + line.joined(separator: ", "))
    }

    func q(_ s: String) -> String { JSONValue.string(s).text }
    let entries = queries.map { x in
        let (nr, np, ne) = reps[x.name]!
        return #"\#(q(x.name)):{"text":\#(q(x.text)),"rows":\#(x.want),"ms":\#(ms(runT[x.name]!)),"#
            + #""parse_us":\#(us(parseT[x.name]!)),"parse_plan_us":\#(us(planT[x.name]!)),"#
            + #""reps":[\#(nr),\#(np),\#(ne)],"plan":\#(q(plans[x.name]!)),"rounds_ms":\#(msList(runT[x.name]!))}"#
    }
    print(
        #"{"system":"llmdb","docs":\#(docs),"rounds":\#(rounds),"mid_tx":\#(mid),"#
            + #""matches":{"#
            + queries.map { #"\#(q($0.name)):\#($0.want)"# }.joined(separator: ",") + "},"
            + #""queries":{"# + entries.joined(separator: ",") + "}}"
    )
    fflush(nil)
} catch {
    log("\(error)")
    exit(1)
}

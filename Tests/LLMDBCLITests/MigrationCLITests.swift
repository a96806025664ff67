import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A migration's background rewrite killed with SIGKILL resumes: nothing lost or duplicated,
/// and reads as of before the migration still return the original bytes.
@Suite struct MigrationCLITests {
    static let proposal = #"""
        {"schema":{"type":"object","required":["first"],"properties":{"first":{"type":"string"},"age":{"type":"integer"}}},
         "steps":[{"split":{"path":"name","separator":" ","into":["first","last"]}},{"convert":{"path":"age","to":"integer"}}]}
        """#

    @Test("a rewrite killed mid-way resumes with nothing lost or duplicated")
    func killedRewrite() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        let n = 3000
        var lines = ""
        for i in 0..<n {
            lines +=
                #"{"key":"people/p\#(String(format: "%05d", i))","value":{"name":"Ada \#(i)","age":"\#(i % 90)"}}"#
                + "\n"
        }
        #expect(try llmdb(["apply", "--atomic", "--sync", "none"] + db, stdin: lines).status == 0)
        let original = try #require(try llmdb(["get", "people/p00007", "--json"] + db).json as? [String: Any])
        let apply = try llmdb(["migrate", "apply", "people", Self.proposal, "--no-rewrite"] + db)
        #expect(apply.status == 0, "\(apply.stderr)")
        let log0 = try #require(try llmdb(["log", "--json"] + db).json as? [[String: Any]])
        let before = try #require(log0.last?["tx_id"] as? Int) - 1  // the transaction before the migration

        // The rewrite, durable batches of 10, killed once it has made progress.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: llmdbBinary)
        p.arguments = ["migrate", "resume", "people", "--batch", "10"] + db
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        var progress = 0
        let deadline = Date().addingTimeInterval(20)
        while progress < 50 && Date() < deadline {
            let s = try llmdb(["migrate", "status", "people", "--json"] + db).json as? [String: Any]
            progress = s?["rewritten"] as? Int ?? 0
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let mid = try #require(try llmdb(["migrate", "status", "people", "--json"] + db).json as? [String: Any])
        let midCount = try #require(mid["rewritten"] as? Int)
        #expect(mid["state"] as? String == "running")
        #expect(midCount > 0 && midCount < n, "the rewrite was not interrupted mid-way (\(midCount) of \(n))")
        #expect(try llmdb(["verify"] + db).status == 0)

        // Resume to the end.
        let resumed = try llmdb(["migrate", "resume", "people", "--json"] + db)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let done = try #require(resumed.json as? [String: Any])
        #expect(done["state"] as? String == "done")
        #expect(done["rewritten"] as? Int == n)

        // Every document rewritten exactly once: the migration transactions put n documents
        // in all (plus one progress record each).
        let log = try #require(try llmdb(["log", "--json"] + db).json as? [[String: Any]])
        let migrationTxs = log.filter { $0["migration"] as? Bool == true }
        #expect(migrationTxs.reduce(0) { $0 + (($1["puts"] as? Int ?? 0) - 1) } == n)
        let all = try #require(
            try llmdb(["doc", "find", "people", "--limit", "5000", "--json"] + db).json as? [String: Any]
        )
        let docs = try #require(all["documents"] as? [[String: Any]])
        #expect(docs.count == n)
        #expect(docs.allSatisfy { $0["stored_version"] as? Int == 1 })
        #expect(docs.allSatisfy { ($0["body"] as? [String: Any])?["first"] as? String == "Ada" })
        // As of before the migration: the original bytes.
        let old = try #require(
            try llmdb(["get", "people/p00007", "--tx", "\(before)", "--json"] + db).json as? [String: Any]
        )
        #expect(old["value"] as? [String: String] == original["value"] as? [String: String])
        #expect(try llmdb(["verify"] + db).status == 0)
    }

    @Test("plan, dry-run and bad proposals from the command line")
    func planAndDryRun() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        #expect(try llmdb(["doc", "insert", "people", #"{"name":"Ada L","age":"36"}"#, "--id", "a"] + db).status == 0)
        #expect(try llmdb(["doc", "insert", "people", #"{"name":"Bob","age":"old"}"#, "--id", "b"] + db).status == 0)
        let plan = try llmdb(["migrate", "plan", "people", Self.proposal] + db)
        #expect(plan.stdout.contains("from schema version 0 to 1: 2 step(s), 2 document(s)"), "\(plan.stdout)")
        let dry = try llmdb(["migrate", "dry-run", "people", Self.proposal, "--json"] + db).json as? [String: Any]
        let failures = dry?["failures"] as? [[String: Any]]
        #expect(failures?.map { $0["id"] as? String } == ["b"])
        let refused = try llmdb(["migrate", "apply", "people", Self.proposal] + db)
        #expect(refused.status == 1 && refused.stderr.contains("1 document would fail"))
        let bad = try llmdb(
            ["migrate", "plan", "people", #"{"schema":{"type":"object"},"steps":[{"explode":{}}]}"#] + db
        )
        #expect(bad.status == 1 && bad.stderr.contains("unknown step 'explode'"))
        let skipped = try llmdb(["migrate", "apply", "people", Self.proposal, "--skip-failures"] + db)
        #expect(skipped.status == 0 && skipped.stdout.contains("skipped b"), "\(skipped.stdout)\(skipped.stderr)")
        let a = try llmdb(["doc", "get", "people", "a"] + db).stdout
        #expect(a == #"{"age":36,"first":"Ada","last":"L"}"# + "\n")
        let pinned = try llmdb(["doc", "get", "people", "a", "--schema-version", "0"] + db)
        #expect(
            pinned.status == 1 && pinned.stderr.contains("no reverse transform from schema version 1 to 0"),
            "\(pinned.stderr)"
        )
    }
}

/// `llmdb query` through the real binary.
@Suite struct QueryCLITests {
    @Test("LQL from the command line: a table, JSON, parameters, EXPLAIN and a syntax error with its position")
    func query() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        #expect(
            try llmdb(["doc", "insert", "users", #"{"name":"Ada","city":"Paris","age":36}"#, "--id", "ada"] + db).status
                == 0
        )
        #expect(
            try llmdb(["doc", "insert", "users", #"{"name":"Bob","city":"Rome","age":25}"#, "--id", "bob"] + db).status
                == 0
        )
        let table = try llmdb(["query", "SELECT name, age FROM users WHERE city = :c", "--param", "c=Paris"] + db)
        #expect(table.stdout == "name  age\n----  ---\nAda   36 \n(1 row)\n", "\(table.stdout)")
        let json =
            try llmdb(["query", "SELECT city, COUNT(*) AS n FROM users GROUP BY city ORDER BY city", "--json"] + db)
            .json as? [String: Any]
        #expect((json?["rows"] as? [[String: Any]])?.map { $0["n"] as? Int } == [1, 1])
        #expect(
            try llmdb(["query", "EXPLAIN SELECT name FROM users"] + db).stdout.hasPrefix("source: collection 'users'")
        )
        let bad = try llmdb(["query", "SELECT name FROM users WHERE"] + db)
        #expect(bad.status == 1 && bad.stderr.contains("line 1, column 29: expected a value"), "\(bad.stderr)")
        let ins = try llmdb(
            ["query", "INSERT INTO users (_id, name) VALUES ('cy', :n)", "--param", "n=Cy", "--json"] + db
        )
        #expect(ins.status == 0, "\(ins.stderr)")
        #expect(
            (ins.json as? [String: Any]).flatMap { ($0["rows"] as? [[String: Any]])?.first?["affected"] as? Int } == 1
        )
        #expect(try llmdb(["doc", "get", "users", "cy"] + db).stdout == #"{"name":"Cy"}"# + "\n")
        let param = try llmdb(["query", "SELECT name FROM users", "--param", "novalue"] + db)
        #expect(param.status == 1 && param.stderr.contains("--param takes NAME=VALUE"))
    }
}

/// `llmdb repl` with a script on standard input.
@Suite struct ReplCLITests {
    @Test("the REPL runs multi-line statements, dot-commands and reports errors without stopping")
    func repl() throws {
        let d = TempDir()
        let script = """
            INSERT INTO users (_id, name, age)
              VALUES ('ada', 'Ada', 36);
            .timing off
            SELECT name, age
              FROM users;
            SELECT nope FROM;
            .history
            .schema
            .bogus
            SELECT COUNT(*) AS n FROM users;
            """
        let r = try llmdb(["repl", "--db", d.db], stdin: script)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("name  age\n----  ---\nAda   36 \n(1 row)"), "\(r.stdout)")
        #expect(r.stdout.contains("timing off"))
        #expect(r.stdout.contains("2  SELECT name, age   FROM users;"))
        #expect(r.stdout.contains("no collection has a schema"))
        #expect(r.stdout.hasSuffix("n\n-\n1\n(1 row)\n"), "\(r.stdout)")
        #expect(r.stderr.contains("line 1, column 17: expected a collection name, or kv, found ;"))
        #expect(r.stderr.contains("unknown command .bogus"))
    }
}

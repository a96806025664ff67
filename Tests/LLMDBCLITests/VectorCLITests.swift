import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `llmdb vector …` end to end: the real executable on a real file.
@Suite struct VectorCLITests {
    @Test("create, put, get as of, search with a filter and as of a transaction, delete, stats, list, drop")
    func tour() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        let created = try llmdb(["vector", "create", "docs", "--dim", "3", "--metric", "cosine", "--json"] + db)
        #expect(created.status == 0, "\(created.stderr)")
        #expect((created.json as? [String: Any])?["dimensions"] as? Int == 3)
        let first = try llmdb(["vector", "put", "docs", "a", "[1,0,0]", "--meta", #"{"lang":"en"}"#, "--json"] + db)
        #expect(first.status == 0, "\(first.stderr)")
        let tx1 = try #require((first.json as? [String: Any])?["tx_id"] as? Int)
        #expect(try llmdb(["vector", "put", "docs", "b", "[0,1,0]", "--meta", #"{"lang":"fr"}"#] + db).status == 0)
        #expect(try llmdb(["vector", "put", "docs", "c", "[0.9,0.1,0]", "--meta", #"{"lang":"en"}"#] + db).status == 0)
        // A correction of a: the old version stays readable as of tx1.
        #expect(try llmdb(["vector", "put", "docs", "a", "[0,0,1]", "--meta", #"{"lang":"en"}"#] + db).status == 0)

        let now = try #require(try llmdb(["vector", "get", "docs", "a", "--json"] + db).json as? [String: Any])
        #expect(now["vector"] as? [Double] == [0, 0, 1])
        let then = try #require(
            try llmdb(["vector", "get", "docs", "a", "--tx", "\(tx1)", "--json"] + db).json as? [String: Any]
        )
        #expect(then["vector"] as? [Double] == [1, 0, 0])

        func keys(_ extra: [String]) throws -> [String] {
            let out = try llmdb(["vector", "search", "docs", "[1,0,0]", "--json"] + extra + db)
            #expect(out.status == 0, "\(out.stderr)")
            return try #require(out.json as? [[String: Any]]).map { $0["key"] as! String }
        }
        // a (now [0,0,1]) and b tie at distance 1: the smaller key first.
        #expect(try keys(["--k", "2"]) == ["c", "a"])
        #expect(try keys(["--filter", #"{"lang":"en"}"#]) == ["c", "a"])
        // As of tx1 only a existed, at [1,0,0].
        #expect(try keys(["--tx", "\(tx1)"]) == ["a"])

        #expect(try llmdb(["vector", "delete", "docs", "c"] + db).status == 0)
        #expect(try keys([]) == ["a", "b"])
        let stats = try #require(try llmdb(["vector", "stats", "docs", "--json"] + db).json as? [String: Any])
        #expect(stats["vectors"] as? Int == 2 && stats["versions"] as? Int == 5, "\(stats)")
        let list = try #require(try llmdb(["vector", "list", "--json"] + db).json as? [[String: Any]])
        #expect(list.map { $0["name"] as? String } == ["docs"])

        #expect(try llmdb(["vector", "drop", "docs"] + db).status == 0)
        #expect((try llmdb(["vector", "list", "--json"] + db).json as? [Any])?.isEmpty == true)
        let gone = try llmdb(["vector", "search", "docs", "[1,0,0]"] + db)
        #expect(gone.status != 0 && gone.stderr.contains("no vector collection named 'docs'"), "\(gone.stderr)")
    }

    @Test("bad input is refused with a message that names it, and nothing is written")
    func badInput() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        #expect(try llmdb(["vector", "create", "v", "--dim", "2"] + db).status == 0)
        let log = try llmdb(["log", "--json"] + db).stdout
        let cases: [([String], String)] = [
            (["vector", "put", "v", "k", "[1,2,3]"], "3 dimensions"),
            (["vector", "put", "v", "k", "[0,0]"], "zero vector"),
            (["vector", "put", "v", "k", "[1,\"x\"]"], "element 1 is not a number"),
            (["vector", "put", "v", "k", "{}"], "JSON array of numbers"),
            (["vector", "put", "v", "k", "[1,2]", "--meta", "[1]"], "object"),
            (["vector", "put", "nope", "k", "[1,2]"], "no vector collection named 'nope'"),
            (["vector", "search", "v", "[1,2]", "--k", "0"], "k must be 1 to"),
            (["vector", "search", "v", "[1,2,3]"], "3 dimensions"),
            (["vector", "search", "v", "[1,2]", "--filter", "[]"], "--filter must be a JSON object"),
            (["vector", "create", "v", "--dim", "3"], "exists with 2 dimensions"),
            (["vector", "create", "v2", "--dim", "2", "--metric", "hamming"], "--metric must be"),
            (["vector", "create", "bad name", "--dim", "2"], "letters, digits"),
        ]
        for (args, message) in cases {
            let out = try llmdb(args + db)
            #expect(out.status != 0 && out.stderr.contains(message), "\(args): \(out.stderr)")
        }
        #expect(try llmdb(["log", "--json"] + db).stdout == log)
    }

    @Test("import NDJSON and .npy in batches; a bad line stops it after the batches before it")
    func importFiles() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        #expect(try llmdb(["vector", "create", "v", "--dim", "4", "--metric", "l2"] + db).status == 0)
        var lines = ""
        for i in 0..<250 {
            lines += #"{"key":"k\#(i)","vector":[\#(i),1,2,3],"metadata":{"even":\#(i % 2 == 0)}}"# + "\n"
        }
        let out = try llmdb(["vector", "import", "v", "-", "--batch", "100", "--json"] + db, stdin: lines)
        #expect(out.status == 0, "\(out.stderr)")
        let summary = try #require(out.json as? [String: Any])
        #expect(summary["imported"] as? Int == 250 && summary["transactions"] as? Int == 3)
        let hits = try #require(
            try llmdb(
                ["vector", "search", "v", "[7,1,2,3]", "--k", "3", "--filter", #"{"even":false}"#, "--json"] + db
            )
            .json as? [[String: Any]]
        )
        #expect(hits.map { $0["key"] as? String } == ["k7", "k5", "k9"])

        // A bad line 150: the first batch (lines 1-100) is in, the second is not.
        var bad = ""
        for i in 0..<200 {
            bad += i == 149 ? "{\"key\":\"x\",\"vector\":[1]}\n" : #"{"key":"b\#(i)","vector":[1,1,1,1]}"# + "\n"
        }
        let failed = try llmdb(["vector", "import", "v", "-", "--batch", "100"] + db, stdin: bad)
        #expect(failed.status != 0 && failed.stderr.contains("1 dimensions"), "\(failed.stderr)")
        #expect(failed.stderr.contains("100 vectors were imported before it"), "\(failed.stderr)")
        let stats = try #require(try llmdb(["vector", "stats", "v", "--json"] + db).json as? [String: Any])
        #expect(stats["vectors"] as? Int == 350)

        // .npy, float32, 3 rows of 4.
        var npy = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        npy.append(contentsOf: [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        npy.append(contentsOf: Array(header.utf8))
        for x: Float in [9, 9, 9, 9, 8, 8, 8, 8, 7, 7, 7, 7] { withUnsafeBytes(of: x) { npy.append(contentsOf: $0) } }
        let file = d.path + "/v.npy"
        try npy.write(to: URL(fileURLWithPath: file))
        let imported = try llmdb(["vector", "import", "v", file, "--key-prefix", "row", "--json"] + db)
        #expect(imported.status == 0, "\(imported.stderr)")
        let row1 = try #require(try llmdb(["vector", "get", "v", "row1", "--json"] + db).json as? [String: Any])
        #expect(row1["vector"] as? [Double] == [8, 8, 8, 8])
        let notNpy = d.path + "/x.npy"
        try Data("hello".utf8).write(to: URL(fileURLWithPath: notNpy))
        let refused = try llmdb(["vector", "import", "v", notNpy] + db)
        #expect(refused.status != 0 && refused.stderr.contains("not a .npy file"), "\(refused.stderr)")
    }

    @Test("a SIGKILL during an import: every acknowledged batch is there, whole, and verify passes")
    func killedImport() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        #expect(try llmdb(["vector", "create", "v", "--dim", "8"] + db).status == 0)
        let file = d.path + "/big.ndjson"
        var text = ""
        for i in 0..<40_000 {
            text += #"{"key":"k\#(i)","vector":[1,\#(i % 97),2,3,4,5,6,\#(i % 13)]}"# + "\n"
        }
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        var outcomes: [Int] = []
        for delayMs in [150, 400] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: llmdbBinary)
            p.arguments = ["vector", "import", "v", file, "--batch", "500", "--progress"] + db
            let log = d.path + "/progress-\(delayMs).txt"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            p.standardOutput = FileHandle.nullDevice
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            try p.run()
            usleep(useconds_t(delayMs * 1000))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            // The last batch the import said was committed.
            let said =
                try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").compactMap {
                    Int($0.split(separator: " ").dropFirst().first ?? "")
                }.max() ?? 0
            let verify = try llmdb(["verify", "--json"] + db)
            #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
            let stats = try #require(try llmdb(["vector", "stats", "v", "--json"] + db).json as? [String: Any])
            let n = try #require(stats["vectors"] as? Int)
            // Whole batches only (a batch is one transaction), and the log agrees.
            #expect(n % 500 == 0, "\(n) vectors after a kill at \(delayMs) ms")
            // Every batch acknowledged is there (the first kill's batches count again in the second:
            // the keys are the same).
            #expect(n >= said, "the import said \(said) were committed; \(n) are there")
            outcomes.append(n)
        }
        // The rest imports after the kills: each key once, the latest version.
        let rest = try llmdb(["vector", "import", "v", file, "--batch", "5000"] + db)
        #expect(rest.status == 0, "\(rest.stderr)")
        let stats = try #require(try llmdb(["vector", "stats", "v", "--json"] + db).json as? [String: Any])
        #expect(stats["vectors"] as? Int == 40_000)
        #expect(outcomes.count == 2)
    }
}

import Foundation
import Testing

@Suite struct CLITests {
    @Test func putGetHistoryTimelineScanWithJSON() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        #expect(try llmdb(["init"] + db).status == 0)
        let p1 = try llmdb(
            [
                "put", "agent:analysis:1", #"{"score":8.5}"#, "--valid-from", "2024-01-01T00:00:00Z", "--tx-time",
                "2024-01-01T00:00:00Z", "--json",
            ] + db
        )
        #expect(p1.status == 0, "\(p1.stderr)")
        let c1 = try #require(p1.json as? [String: Any])
        #expect(c1["tx_id"] as? Int == 1)
        #expect(c1["tx_time"] as? String == "2024-01-01T00:00:00.000000Z")
        #expect(
            try llmdb(
                [
                    "put", "agent:analysis:1", #"{"score":7.2}"#, "--valid-from", "2024-01-01T00:00:00Z", "--tx-time",
                    "2024-02-01T00:00:00Z",
                ] + db
            ).status == 0
        )
        #expect(
            try llmdb(["put", "agent:analysis:2", "plain text", "--type", "raw", "--valid-from", "0"] + db).status == 0
        )

        let now = try #require(try llmdb(["get", "agent:analysis:1", "--json"] + db).json as? [String: Any])
        #expect((now["value"] as? [String: Any])?["score"] as? Double == 7.2)
        #expect(now["type"] as? String == "json")
        #expect(now["valid_from"] as? String == "2024-01-01T00:00:00.000000Z")
        let before = try #require(
            try llmdb(["get", "agent:analysis:1", "--tx-at", "2024-01-15T00:00:00Z", "--json"] + db).json
                as? [String: Any]
        )
        #expect((before["value"] as? [String: Any])?["score"] as? Double == 8.5)
        let byID = try #require(
            try llmdb(["get", "agent:analysis:1", "--tx", "1", "--json"] + db).json as? [String: Any]
        )
        #expect(byID["tx_id"] as? Int == 1)
        #expect(try llmdb(["get", "agent:analysis:1", "--json"] + db).stdout.contains("7.2"))
        #expect(try llmdb(["get", "agent:analysis:1"] + db).stdout == #"{"score":7.2}"# + "\n")

        let absent = try llmdb(["get", "nothing", "--json"] + db)
        #expect(absent.status == 0)
        #expect(absent.stdout == "null\n")

        let h = try #require(
            try llmdb(["history", "agent:analysis:1", "--with-corrections", "--json"] + db).json as? [[String: Any]]
        )
        #expect(h.count == 2)
        #expect(h.map { $0["tx_id"] as? Int } == [1, 2])
        #expect(h[0]["valid_to"] is NSNull)
        #expect(Set(h[0].keys) == ["value", "valid_from", "valid_to", "tx_id", "tx_time"])

        #expect(try llmdb(["delete", "agent:analysis:1", "--valid-from", "2024-06-01T00:00:00Z"] + db).status == 0)
        let h2 = try #require(try llmdb(["history", "agent:analysis:1", "--json"] + db).json as? [[String: Any]])
        #expect(h2.count == 2)
        #expect(h2[1]["deleted"] as? Bool == true)
        #expect(h2[0]["valid_to"] as? String == "2024-06-01T00:00:00.000000Z")

        let tl = try #require(
            try llmdb(
                [
                    "timeline", "agent:analysis:1", "--from", "2024-03-01T00:00:00Z", "--to", "2024-07-01T00:00:00Z",
                    "--json",
                ] + db
            ).json as? [[String: Any]]
        )
        #expect(tl.count == 1)
        #expect(Set(tl[0].keys) == ["value", "valid_from", "valid_to"])
        let between = try #require(
            try llmdb(
                ["timeline", "agent:analysis:1", "--between", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z", "--json"]
                    + db
            ).json as? [[String: Any]]
        )
        #expect(between.isEmpty)

        let scan = try #require(
            try llmdb(["scan", "--prefix", "agent:", "--valid-at", "2024-03-01T00:00:00Z", "--json"] + db).json
                as? [[String: Any]]
        )
        #expect(scan.map { $0["key"] as? String } == ["agent:analysis:1", "agent:analysis:2"])
        #expect(scan[1]["value"] as? String == "plain text")
        #expect(Set(scan[0].keys) == ["key", "value", "valid_from", "tx_id", "tx_time"])

        let log = try #require(try llmdb(["log", "--json"] + db).json as? [[String: Any]])
        #expect(log.count == 4)
        #expect(try llmdb(["verify"] + db).stdout.hasPrefix("ok"))
        let stats = try #require(try llmdb(["stats", "--json"] + db).json as? [String: Any])
        #expect(stats["transactions"] as? Int == 4)
    }

    @Test func rangePutFromTheCommandLineRestoresThePriorValue() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        #expect(try llmdb(["put", "price", "10", "--valid-from", "0"] + db).status == 0)
        #expect(try llmdb(["put", "price", "8", "--valid-from", "100", "--valid-to", "200"] + db).status == 0)
        #expect(try llmdb(["get", "price", "--valid-at", "150"] + db).stdout == "8\n")
        #expect(try llmdb(["get", "price", "--valid-at", "200"] + db).stdout == "10\n")
        let tl = try #require(try llmdb(["timeline", "price", "--json"] + db).json as? [[String: Any]])
        #expect(tl.map { $0["value"] as? Int } == [10, 8, 10])
    }

    @Test func msgpackValuesRoundTripAsJSON() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        #expect(
            try llmdb(["put", "m", #"{"a":[1,2,{"b":null}]}"#, "--type", "msgpack", "--valid-from", "0"] + db).status
                == 0
        )
        let g = try #require(try llmdb(["get", "m", "--json"] + db).json as? [String: Any])
        #expect(g["type"] as? String == "msgpack")
        #expect(try llmdb(["get", "m"] + db).stdout == #"{"a":[1,2,{"b":null}]}"# + "\n")
    }

    @Test func badInputGivesOneLineOnStderrAndChangesNothing() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        #expect(try llmdb(["put", "k", "1", "--valid-from", "0"] + db).status == 0)
        let before = try llmdb(["log", "--json"] + db).stdout
        let cases: [([String], String)] = [
            (["put", "k", "{bad"], "not valid JSON"),
            (["put", "k", "null"], "null"),
            (["put", "", "1"], "empty"),
            (["put", String(repeating: "x", count: 600), "1"], "limit"),
            (["put", "k", "1", "--valid-from", "10", "--valid-to", "10"], "must be after"),
            (["put", "k", "1", "--valid-from", "yesterday"], "is not a time"),
            (["put", "k", "1", "--tx-time", "0"], "not after"),
            (["put", "k", "1", "--type", "xml"], "--type"),
            (["delete", "k", "--valid-from", "5", "--valid-to", "1"], "must be after"),
            (["get", "k", "--tx", "1", "--tx-at", "0"], "not both"),
            (["timeline", "k", "--from", "5"], "go together"),
        ]
        for (args, expected) in cases {
            let r = try llmdb(args + db)
            #expect(r.status != 0, "\(args) succeeded")
            #expect(r.stderr.contains(expected), "\(args): \(r.stderr)")
            #expect(
                r.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1,
                "\(args): \(r.stderr)"
            )
            #expect(r.stdout.isEmpty)
        }
        #expect(try llmdb(["log", "--json"] + db).stdout == before)
    }

    @Test func notADatabaseIsRefused() throws {
        let d = TempDir()
        let path = d.path + "/notes.txt"
        try Data(String(repeating: "hello\n", count: 1000).utf8).write(to: URL(fileURLWithPath: path))
        let r = try llmdb(["get", "k", "--db", path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("not an LLMDB database"))
        let missing = try llmdb(["get", "k", "--db", d.path + "/missing"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no database"))
        #expect(!FileManager.default.fileExists(atPath: d.path + "/missing"))
    }

    @Test func applyGroupsLinesByTransactionTime() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        let input = """
            {"op":"put","key":"a","value":1,"valid_from":0,"tx_time":"2024-01-01T00:00:00Z"}
            {"op":"put","key":"b","value":{"x":true},"valid_from":0,"tx_time":"2024-01-01T00:00:00Z"}
            {"op":"put","key":"c","value":"text","type":"raw","valid_from":0}
            {"op":"delete","key":"a","valid_from":10}

            {"op":"put","key":"d","value":[1,2],"valid_from":0,"valid_to":5,"partition":3}
            {"op":"erase","key":"c"}
            """
        let r = try llmdb(["apply", "--json"] + db, stdin: input)
        #expect(r.status == 0, "\(r.stderr)")
        let acks = r.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(acks.map { $0["ops"] as? Int } == [2, 1, 1, 1, 1])
        #expect(acks.first?["tx_time"] as? String == "2024-01-01T00:00:00.000000Z")
        #expect(try llmdb(["get", "b", "--valid-at", "0"] + db).stdout == #"{"x":true}"# + "\n")
        #expect(try llmdb(["get", "a", "--valid-at", "10"] + db).stdout == "(absent)\n")
        #expect(try llmdb(["get", "d", "--valid-at", "1", "--partition", "3"] + db).stdout == "[1,2]\n")
        #expect(try llmdb(["get", "d", "--valid-at", "1"] + db).stdout == "(absent)\n")
        #expect(try llmdb(["history", "c", "--with-corrections", "--json"] + db).stdout == "[]\n")
    }

    @Test func applyAtomicWritesAllOrNothing() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        let bad = """
            {"key":"a","value":1,"valid_from":0}
            {"key":"b","value":1,"valid_from":10,"valid_to":5}
            """
        let r = try llmdb(["apply", "--atomic"] + db, stdin: bad)
        #expect(r.status != 0)
        #expect(r.stderr.contains("line 2"))
        #expect(try llmdb(["log", "--json"] + db).stdout == "[]\n")
        let good = """
            {"key":"a","value":1,"valid_from":0}
            {"key":"b","value":2,"valid_from":0}
            """
        let ok = try llmdb(["apply", "--atomic", "--json"] + db, stdin: good)
        #expect(ok.status == 0)
        #expect(try #require(try llmdb(["log", "--json"] + db).json as? [[String: Any]]).count == 1)
        // Without --atomic, the lines before a bad line stay committed and the error says so.
        let mixed = """
            {"key":"c","value":3,"valid_from":0}
            {"key":"d","value":null}
            """
        let m = try llmdb(["apply"] + db, stdin: mixed)
        #expect(m.status != 0)
        #expect(m.stderr.contains("line 2"))
        #expect(try llmdb(["get", "c", "--valid-at", "0"] + db).stdout == "3\n")
        for line in [
            #"not json"#, #"{"op":"merge","key":"a"}"#, #"{"key":"a"}"#, #"{"key":"a","value":1,"colour":"red"}"#,
            #"[1]"#,
        ] {
            let e = try llmdb(["apply"] + db, stdin: line)
            #expect(e.status != 0, "\(line)")
            #expect(e.stderr.contains("line 1"), "\(line): \(e.stderr)")
        }
    }

    @Test func hotBackupWhileAnotherProcessWrites() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        var lines = ""
        for i in 0..<3000 { lines += #"{"key":"k\#(i)","value":\#(i),"valid_from":0}"# + "\n" }
        // A writer process applies 3000 transactions while we take backups.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: llmdbBinary)
        p.arguments = ["apply", "--sync", "none"] + db
        let inp = Pipe()
        p.standardInput = inp
        p.standardOutput = FileHandle.nullDevice
        #expect(try llmdb(["init"] + db).status == 0)
        try p.run()
        inp.fileHandleForWriting.write(Data(lines.utf8))
        try inp.fileHandleForWriting.close()
        let backup = d.path + "/backup.llmdb"
        let b = try llmdb(["backup", backup] + db)
        #expect(b.status == 0, "\(b.stderr)")
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let v = try llmdb(["verify", "--json", "--db", backup])
        #expect(v.status == 0, "\(v.stdout)")
        // The backup is a consistent snapshot: its log and facts agree.
        let n =
            try #require(try llmdb(["stats", "--json", "--db", backup]).json as? [String: Any])["transactions"] as? Int
        let entries =
            try #require(try llmdb(["stats", "--json", "--db", backup]).json as? [String: Any])["entries"] as? Int
        #expect(n == entries)
        #expect(try llmdb(["backup", backup] + db).stderr.contains("already exists"))
    }

    @Test func everyCommandHasHelp() throws {
        for cmd in [
            "init", "put", "delete", "erase", "get", "history", "timeline", "scan", "apply", "log", "stats", "backup",
            "verify", "status",
        ] {
            let r = try llmdb([cmd, "--help"])
            #expect(r.status == 0, "\(cmd)")
            #expect(r.stdout.contains("USAGE: llmdb \(cmd)"), "\(cmd)")
            #expect(r.stdout.contains("--db"), "\(cmd)")
        }
        #expect(try llmdb(["--help"]).stdout.contains("SUBCOMMANDS"))
    }

    @Test func defaultCommandCreatesTheDefaultDatabase() throws {
        let d = TempDir()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: llmdbBinary)
        p.currentDirectoryURL = URL(fileURLWithPath: d.path)
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(text.contains("./llmdb-data"))
        #expect(FileManager.default.fileExists(atPath: d.path + "/llmdb-data"))
    }
}

@Suite struct CLIEraseTests {
    @Test func eraseCompactsSoTheBytesAreGone() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        let marker = "SECRET-\(UUID().uuidString)"
        #expect(try llmdb(["put", "s", marker, "--type", "raw", "--valid-from", "0"] + db).status == 0)
        #expect(try llmdb(["put", "keep", "1", "--valid-from", "0"] + db).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: d.db)).range(of: Data(marker.utf8)) != nil)
        let r = try llmdb(["erase", "s", "--json"] + db)
        #expect(r.status == 0, "\(r.stderr)")
        #expect((r.json as? [String: Any])?["compacted"] as? Bool == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: d.db)).range(of: Data(marker.utf8)) == nil)
        #expect(try llmdb(["get", "keep", "--valid-at", "0"] + db).stdout == "1\n")
        let log = try #require(try llmdb(["log", "--json"] + db).json as? [[String: Any]])
        #expect(log.last?["erases"] as? Int == 1)
        #expect(log.last?["entries_erased"] as? Int == 1)
    }

    @Test func compactIsRefusedWhileAnotherProcessHasTheFileOpen() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        #expect(try llmdb(["put", "k", "1"] + db).status == 0)
        // A process that keeps the database open: apply waiting on its standard input.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: llmdbBinary)
        p.arguments = ["apply"] + db
        let inp = Pipe()
        p.standardInput = inp
        p.standardOutput = Pipe()
        try p.run()
        defer {
            try? inp.fileHandleForWriting.close()
            p.waitUntilExit()
        }
        // Wait until it has opened the database (its lock file carries its lock).
        Thread.sleep(forTimeInterval: 0.5)
        let size = try FileManager.default.attributesOfItem(atPath: d.db)[.size] as? Int
        let r = try llmdb(["compact"] + db)
        #expect(r.status != 0)
        #expect(r.stderr.contains("open in another process"))
        #expect(try FileManager.default.attributesOfItem(atPath: d.db)[.size] as? Int == size)
        let e = try llmdb(["erase", "k"] + db)
        #expect(e.status == 0)
        #expect(e.stderr.contains("remain"))
    }
}

@Suite struct CLIOptionTests {
    @Test func anOverflowingMaxMapSizeIsRefused() throws {
        let d = TempDir()
        for bad in ["17592186044416", "0", "-1", "lots"] {
            let r = try llmdb(["put", "k", "1", "--max-map-size", bad, "--db", d.db])
            #expect(r.status != 0, "\(bad)")
            #expect(r.stderr.contains("--max-map-size") || r.stderr.contains("max-map-size"), "\(bad): \(r.stderr)")
            #expect(r.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1, "\(bad): \(r.stderr)")
        }
        // Usage errors are one line too.
        for args in [["put"], ["get", "k", "--bogus"], ["frobnicate"]] {
            let r = try llmdb(args + ["--db", d.db])
            #expect(r.status == 64, "\(args)")
            #expect(
                r.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1,
                "\(args): \(r.stderr)"
            )
        }
        #expect(!FileManager.default.fileExists(atPath: d.db))
    }
}

import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// An index's build runs inside the transaction that defines it: a process killed with
/// SIGKILL during the build leaves either the whole index or none of it, never part of one,
/// and the facts as they were (derived data consistent with the facts after a crash).
@Suite struct IndexBuildCrashTests {
    @Test("a build killed mid-way leaves all of the index or none of it, and the facts intact")
    func killedBuild() throws {
        let d = TempDir()
        let db = ["--db", d.db]
        let n = 20_000
        var lines = ""
        for i in 0..<n {
            lines += #"{"key":"people/p\#(String(format: "%05d", i))","value":{"city":"c\#(i % 7)","i":\#(i)}}"# + "\n"
        }
        #expect(try llmdb(["apply", "--atomic", "--sync", "none"] + db, stdin: lines).status == 0)
        let before = try #require(try llmdb(["log", "--json"] + db).json as? [[String: Any]]).count
        var outcomes: Set<Bool> = []
        // Kills at growing delays: early ones land in the build, late ones after it.
        for delayMs in [20, 60, 150, 400, 1200] {
            _ = try llmdb(["doc", "index", "people", "city", "--drop"] + db)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: llmdbBinary)
            p.arguments = ["doc", "index", "people", "city"] + db
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(useconds_t(delayMs * 1000))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let verify = try llmdb(["verify", "--json"] + db)
            #expect(verify.status == 0, "after a kill at \(delayMs) ms: \(verify.stdout)")
            let report = try #require(verify.json as? [String: Any])
            let indexes = try #require(try llmdb(["doc", "index", "people", "--json"] + db).json as? [String])
            let built = indexes.contains("city")
            outcomes.insert(built)
            // When the index exists, verify checked it against every document (no partial build).
            #expect((report["indexes_checked"] as? Int ?? 0) == (built ? 1 : 0), "\(report)")
            let found = try #require(
                try llmdb(["doc", "find", "people", #"{"city":"c3"}"#, "--limit", "5000", "--json"] + db).json
                    as? [String: Any]
            )
            #expect((found["documents"] as? [Any])?.count == (n + 3) / 7, "a kill at \(delayMs) ms")
            #expect((found["plan"] as? String)?.hasPrefix(built ? "index" : "full scan") == true, "\(found)")
        }
        // The facts: every document, and no transaction but the index definitions and drops.
        let all = try #require(try llmdb(["scan", "--prefix", "people/", "--json"] + db).json as? [Any])
        #expect(all.count == n)
        let log = try #require(try llmdb(["log", "--json"] + db).json as? [[String: Any]])
        #expect(log.dropFirst(before).allSatisfy { ($0["puts"] as? Int ?? 0) + ($0["deletes"] as? Int ?? 0) <= 1 })
        #expect(!outcomes.isEmpty)
    }
}

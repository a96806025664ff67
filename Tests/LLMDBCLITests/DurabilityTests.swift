import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Nothing acknowledged is lost: a writer process killed with SIGKILL in the middle of a
/// stream of durable commits loses no acknowledged commit and leaves nothing partial.
@Suite struct DurabilityTests {
    @Test(arguments: [25, 120])
    func sigkillMidStreamLosesNoAcknowledgedCommit(killAfter: Int) throws {
        signal(SIGPIPE, SIG_IGN)
        let d = TempDir()
        let groups = 20_000
        let p = Process()
        p.executableURL = URL(fileURLWithPath: llmdbBinary)
        p.arguments = ["apply", "--json", "--sync", "full", "--db", d.db]
        let inp = Pipe()
        let out = Pipe()
        p.standardInput = inp
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()

        // Feed transactions of three lines each (lines sharing a tx_time form one transaction).
        let writer = inp.fileHandleForWriting
        Thread {
            for g in 0..<groups {
                var chunk = ""
                for j in 0..<3 {
                    chunk += #"{"key":"g\#(g)-\#(j)","value":\#(g),"tx_time":\#(1_000_000 + g)}"# + "\n"
                }
                do { try writer.write(contentsOf: Data(chunk.utf8)) } catch { return }
            }
            try? writer.close()
        }.start()

        // Read acknowledgements until enough arrived, then kill the writer mid-stream.
        var acked: [Int] = []
        var buffer = Data()
        let reader = out.fileHandleForReading
        func drain(_ data: Data) {
            buffer.append(data)
            while let nl = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<nl]
                buffer.removeSubrange(buffer.startIndex...nl)
                if let obj = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                    let ops = obj["ops"] as? Int, ops == 3,
                    let time = obj["tx_time"] as? String
                {
                    acked.append(Int(microseconds(time)) - 1_000_000)
                }
            }
        }
        while acked.count < killAfter {
            let data = reader.availableData
            if data.isEmpty { break }
            drain(data)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        drain(reader.readDataToEndOfFile())
        #expect(p.terminationReason == .uncaughtSignal)
        #expect(acked.count >= killAfter)
        #expect(acked.count < groups, "the writer finished before it was killed")

        // Reopen: verify passes, every acknowledged commit is there, nothing partial is.
        let v = try llmdb(["verify", "--db", d.db])
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        let log = try #require(try llmdb(["log", "--json", "--db", d.db]).json as? [[String: Any]])
        let logged = Set(log.map { Int(microseconds($0["tx_time"] as! String)) - 1_000_000 })
        #expect(log.allSatisfy { $0["puts"] as? Int == 3 })
        #expect(
            Set(acked).isSubset(of: logged),
            "acknowledged commits lost: \(Set(acked).subtracting(logged).sorted().prefix(10))"
        )
        let facts = try #require(
            try llmdb(["scan", "--prefix", "g", "--valid-at", "inf", "--json", "--db", d.db]).json as? [[String: Any]]
        )
        var perGroup: [Int: Int] = [:]
        for f in facts { perGroup[f["value"] as! Int, default: 0] += 1 }
        #expect(perGroup.values.allSatisfy { $0 == 3 }, "a transaction was partially written")
        #expect(Set(perGroup.keys) == logged)
    }
}

/// Parses the CLI's ISO-8601 output back to microseconds.
func microseconds(_ iso: String) -> Int64 {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    let date = f.date(from: iso)!
    let micros = Int64(iso.split(separator: ".").last!.dropLast())!
    return Int64(date.timeIntervalSince1970.rounded(.down)) * 1_000_000 + micros
}

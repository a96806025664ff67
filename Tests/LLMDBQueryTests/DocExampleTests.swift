import Foundation
import LLMDB
import LLMDBQuery
import Testing

/// Every SQL example in docs/lql.md parses, and the read examples over `users` run against
/// a fixture, so the documentation cannot drift from the language.
@Suite("LQL: documentation examples")
struct DocExampleTests {
    static let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/lql.md")

    static func examples() throws -> [String] {
        let text = try String(contentsOf: doc, encoding: .utf8)
        var out: [String] = []
        var inSQL = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```sql") {
                inSQL = true
                continue
            }
            if line.hasPrefix("```") {
                inSQL = false
                continue
            }
            guard inSQL else { continue }
            let statement = line.split(separator: "--", maxSplits: 1).first.map(String.init) ?? ""
            if !statement.trimmingCharacters(in: .whitespaces).isEmpty { out.append(statement) }
        }
        return out
    }

    @Test("every example parses")
    func parse() throws {
        let examples = try Self.examples()
        #expect(examples.count >= 15)
        for e in examples {
            do { _ = try Parser.parse(e) } catch { Issue.record("docs/lql.md: \(e)\n  \(error)") }
        }
    }

    @Test("the examples over users run against a fixture")
    func run() throws {
        let t = try QDB()
        try t.q(
            "INSERT INTO users (_id, name, age, city, status, address.city) VALUES ('ann', 'Ann', 36, 'Paris', 'here', 'Paris'), ('ben', 'Ben', 25, 'Rome', 'here', 'Rome')"
        )
        try t.q("INSERT INTO orders (_id, user_id, total) VALUES ('o1', 'ann', 20), ('o2', 'ben', 12)")
        var ran = 0
        for e in try Self.examples() where e.contains(" users") && !e.contains("EMBEDDED") && !e.hasPrefix("HISTORY") {
            do {
                _ = try t.q(e, ["city": "Paris", "doc": try j(#"{"_id":"zed","name":"Zed"}"#)])
                ran += 1
            } catch {
                Issue.record("docs/lql.md: \(e)\n  \(error)")
            }
        }
        #expect(ran >= 10)
    }
}

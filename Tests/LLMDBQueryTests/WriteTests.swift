import Foundation
import LLMDB
import LLMDBDocuments
import LLMDBQuery
import Testing

@Suite("LQL: writes")
struct WriteTests {
    @Test("INSERT (VALUES and RECORDS), UPDATE and DELETE, now and FOR PORTION OF VALID_TIME")
    func writes() throws {
        let t = try QDB()
        let r = try t.q(
            "INSERT INTO users (_id, name, address.city, age) VALUES ('ada', 'Ada', 'Paris', 36), ('bob', 'Bob', 'Rome', 25)"
        )
        #expect(r.first?["affected"] == .int(2))
        try t.q(
            #"INSERT INTO users RECORDS '{"_id":"cy","name":"Cy","age":41}', :doc"#,
            ["doc": try j(#"{"_id":"dee","name":"Dee"}"#)]
        )
        #expect(try t.q("SELECT COUNT(*) AS n FROM users") == [try j(#"{"n":4}"#)])
        #expect(try t.q("SELECT address.city AS c FROM users WHERE _id = 'ada'") == [try j(#"{"c":"Paris"}"#)])
        let before = try t.db.read { $0.txID }
        t.clock.advance(by: 1_000)
        #expect(
            try t.q("UPDATE users SET age = age + 1, address.city = 'Lyon' WHERE name = 'Ada'").first?["affected"]
                == .int(1)
        )
        #expect(
            try t.q("SELECT age, address.city AS c FROM users WHERE _id = 'ada'") == [try j(#"{"age":37,"c":"Lyon"}"#)]
        )
        #expect(
            try t.q("SELECT age FROM users AS OF TRANSACTION \(before) WHERE _id = 'ada'") == [try j(#"{"age":36}"#)]
        )
        // FOR PORTION OF VALID_TIME: only that period changes; the value after it comes back.
        let now = t.clock.now().microseconds
        let a = now + 10_000_000
        let b = now + 20_000_000
        try t.q("UPDATE users FOR PORTION OF VALID_TIME FROM \(a) TO \(b) SET age = 99 WHERE _id = 'bob'")
        #expect(
            try t.q("SELECT age FROM users FOR VALID_TIME AS OF \(a + 5) WHERE _id = 'bob'") == [try j(#"{"age":99}"#)]
        )
        #expect(
            try t.q("SELECT age FROM users FOR VALID_TIME AS OF \(b + 5) WHERE _id = 'bob'") == [try j(#"{"age":25}"#)]
        )
        #expect(try t.q("SELECT age FROM users WHERE _id = 'bob'") == [try j(#"{"age":25}"#)])
        try t.q("DELETE FROM users FOR PORTION OF VALID_TIME FROM \(a) TO \(b) WHERE _id = 'cy'")
        #expect(try t.q("SELECT name FROM users FOR VALID_TIME AS OF \(a + 5) WHERE _id = 'cy'") == [])
        #expect(
            try t.q("SELECT name FROM users FOR VALID_TIME AS OF \(b + 5) WHERE _id = 'cy'") == [
                try j(#"{"name":"Cy"}"#)
            ]
        )
        #expect(try t.q("DELETE FROM users WHERE age IS NULL").first?["affected"] == .int(1))
        #expect(
            try t.q("SELECT _id FROM users ORDER BY _id") == [
                try j(#"{"_id":"ada"}"#), try j(#"{"_id":"bob"}"#), try j(#"{"_id":"cy"}"#),
            ]
        )
    }

    @Test(
        "bad writes change nothing: duplicate ids, schema violations, ERASE without WHERE, a failing statement in BEGIN … COMMIT"
    )
    func badWrites() throws {
        let t = try QDB()
        try t.q("INSERT INTO users (_id, name) VALUES ('ada', 'Ada')")
        let before = try t.db.read { $0.txID }
        func fails(_ text: String, _ needle: String) {
            do {
                _ = try t.q(text)
                Issue.record("ran: \(text)")
            } catch {
                #expect("\(error)".contains(needle), "\(error)")
            }
        }
        fails("INSERT INTO users (_id, name) VALUES ('ada', 'again')", "expected a key to be absent")
        fails("INSERT INTO users (_id, name) VALUES ('x')", "1 values for 2 columns")
        fails("ERASE FROM users", "ERASE without WHERE would erase every document of 'users'")
        fails(
            "BEGIN; INSERT INTO users (_id, name) VALUES ('new', 'New'); INSERT INTO users (_id) VALUES ('ada'); COMMIT",
            "expected a key to be absent"
        )
        fails("BEGIN; SELECT name FROM users; COMMIT", "only INSERT, UPDATE, DELETE and ERASE")
        fails("BEGIN; INSERT INTO users (_id) VALUES ('z')", "expected ';' or COMMIT")
        fails("UPDATE nope SET a = 1", "unknown collection 'nope'")
        try t.db.collection("users").setSchema(try j(#"{"type":"object","properties":{"name":{"type":"string"}}}"#))
        let schemaTx = try t.db.read { $0.txID }
        fails("UPDATE users SET name = 42", "$.name: expected string, found integer")
        #expect(try t.db.read { $0.txID } == schemaTx)
        #expect(schemaTx == before + 1)
        #expect(try t.q("SELECT name FROM users") == [try j(#"{"name":"Ada"}"#)])
        // A transaction of several statements commits as one.
        let r = try t.q(
            "BEGIN; INSERT INTO users (_id, name) VALUES ('b', 'B'); UPDATE users SET name = 'A' WHERE _id = 'ada'; COMMIT"
        )
        #expect(r.first?["affected"] == .int(2))
        #expect(try t.db.read { $0.txID } == schemaTx + 1)
        // ERASE with a WHERE, and ERASE ALL.
        #expect(try t.q("ERASE FROM users WHERE _id = 'b'").first?["affected"] == .int(1))
        #expect(try t.q("HISTORY OF 'users/b'") == [])
        #expect(try t.q("ERASE ALL FROM users").first?["affected"] == .int(1))
        #expect(try t.q("SELECT COUNT(*) AS n FROM users") == [try j(#"{"n":0}"#)])
    }
}

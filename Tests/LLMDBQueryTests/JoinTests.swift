import LLMDB
import LLMDBQuery
import Testing

@Suite("LQL: joins")
struct JoinTests {
    @Test(
        "inner joins between two collections: hash join on equality, nested loop otherwise, aggregates, time per side"
    )
    func joins() throws {
        let t = try QDB()
        try t.q("INSERT INTO users (_id, name, age) VALUES ('ada', 'Ada', 36), ('bob', 'Bob', 25), ('cy', 'Cy', 41)")
        try t.q(
            "INSERT INTO orders (_id, user_id, total) VALUES ('o1', 'ada', 20), ('o2', 'ada', 5), ('o3', 'bob', 12), ('o4', 'zed', 99)"
        )
        let before = try t.db.read { $0.txID }
        try t.q("INSERT INTO orders (_id, user_id, total) VALUES ('o5', 'cy', 30)")
        let r = try t.q(
            "SELECT u.name, o.total FROM users u JOIN orders o ON o.user_id = u._id WHERE o.total > 10 ORDER BY o.total"
        )
        #expect(
            r == [
                try j(#"{"u.name":"Bob","o.total":12}"#), try j(#"{"u.name":"Ada","o.total":20}"#),
                try j(#"{"u.name":"Cy","o.total":30}"#),
            ]
        )
        let sums = try t.q(
            "SELECT u.name AS name, SUM(o.total) AS s, COUNT(*) AS n FROM users u INNER JOIN orders o ON u._id = o.user_id GROUP BY u.name ORDER BY name"
        )
        #expect(
            sums == [
                try j(#"{"name":"Ada","s":25,"n":2}"#), try j(#"{"name":"Bob","s":12,"n":1}"#),
                try j(#"{"name":"Cy","s":30,"n":1}"#),
            ]
        )
        // Each side has its own time: orders as of before o5 was written.
        let past = try t.q(
            "SELECT u.name, o._id FROM users u JOIN orders AS OF TRANSACTION \(before) AS o ON o.user_id = u._id ORDER BY o._id"
        )
        #expect(past.count == 3)
        // A condition that is not an equality: a nested loop.
        let older = try t.q("SELECT a.name AS a, b.name AS b FROM users a JOIN users b ON a.age > b.age ORDER BY a, b")
        #expect(older.count == 3)
        #expect(older.first == (try j(#"{"a":"Ada","b":"Bob"}"#)))
        let plan = try LQL.run("EXPLAIN SELECT u.name FROM users u JOIN orders o ON o.user_id = u._id", on: t.db).plan
        #expect(plan.contains { $0.hasPrefix("join: inner with o on o.user_id = u._id: a hash join") }, "\(plan)")
        #expect(throws: LLMDBError.self) { try t.q("SELECT name FROM users JOIN users ON users.age = users.age") }
        #expect(throws: LLMDBError.self) { try t.q("SELECT u.name FROM users u JOIN orders o") }
    }
}

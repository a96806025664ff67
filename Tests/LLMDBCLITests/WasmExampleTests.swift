import Foundation
import Testing

/// The examples in examples/wasm, built from source by scripts/build-wasm-examples.sh (the
/// Swift toolchain's clang and wasm-ld), registered and run through the real binary as the
/// README shows.
@Suite(.serialized) struct WasmExampleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Builds the C examples into `dir`.
    static func build(into dir: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [root + "/scripts/build-wasm-examples.sh", dir]
        p.currentDirectoryURL = URL(fileURLWithPath: root)
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "build-wasm-examples.sh failed: \(String(decoding: e, as: UTF8.self))")
    }

    @Test("the C and WAT examples build from source and run: filter, sum, count, hook, index")
    func examples() throws {
        let tmp = TempDir()
        let wasm = tmp.path + "/wasm"
        try Self.build(into: wasm)
        let db = ["--db", tmp.db]
        @discardableResult func ok(_ args: [String]) throws -> Output {
            // These check what the examples compute, not the deadline (tested on its own): a
            // debug build on a loaded 2-core machine can take longer than the default 25 ms.
            let r = try llmdb(args + db, environment: ["LLMDB_WASM_DEADLINE_MS": "2000"])
            #expect(r.status == 0, "llmdb \(args.joined(separator: " ")): \(r.stderr)")
            return r
        }
        try ok(["put", "order:1", #"{"amount":50}"#])
        try ok(["put", "order:2", #"{"amount":150}"#])
        try ok(["put", "order:3", #"{"amount":700,"city":"Oslo"}"#])
        try ok(["code", "add", wasm + "/filter.wasm", "--name", "filter"])
        let mapped = try ok(["scan", "--prefix", "order:", "--map", "filter", "--json"])
        let rows = mapped.json as? [[String: Any]]
        #expect(rows?.map { $0["key"] as? String } == ["order:2", "order:3"])
        try ok(["code", "add", wasm + "/sum.wasm", "--name", "sum"])
        #expect(try ok(["reduce", "--prefix", "order:", "--reduce", "sum"]).stdout == #"{"count":3,"sum":900}"# + "\n")
        let asOf =
            try ok(["reduce", "--prefix", "order:", "--reduce", "sum", "--tx", "2", "--json"]).json as? [String: Any]
        #expect((asOf?["result"] as? [String: Any])?["sum"] as? Int == 200)
        try ok(["code", "add", Self.root + "/examples/wasm/count.wat", "--name", "count"])
        #expect(try ok(["reduce", "--prefix", "order:", "--reduce", "count"]).stdout == "3\n")

        // The validation hook.
        try ok(["code", "add", wasm + "/require_title.wasm", "--name", "require-title"])
        try ok(["hook", "add", "require-title", "--prefix", "doc:"])
        try ok(["put", "doc:1", #"{"title":"hello"}"#])
        let refused = try llmdb(
            ["put", "doc:2", #"{"body":"no title"}"#] + db,
            environment: ["LLMDB_WASM_DEADLINE_MS": "2000"]
        )
        #expect(refused.status == 1)
        #expect(
            refused.stderr.contains(
                #"hook 'require-title' (module 'require-title') rejected the transaction: a document has no "title" field; nothing was written"#
            ),
            "\(refused.stderr)"
        )
        #expect(try ok(["get", "doc:2"]).stdout.contains("absent"))
        let inUse = try llmdb(["code", "rm", "require-title"] + db)
        #expect(inUse.status == 1 && inUse.stderr.contains("used by hook 'require-title'"))

        // The index, bitemporal.
        try ok(["code", "add", wasm + "/index_city.wasm", "--name", "index-city"])
        try ok(["put", "user:1", #"{"city":"Paris"}"#])
        try ok(["put", "user:2", #"{"city":"Berlin"}"#])
        try ok(["index", "add", "by-city", "--module", "index-city", "--prefix", "user:"])
        let built = try ok(["log", "--json"]).json as? [[String: Any]]
        let builtTx = built?.last?["tx_id"] as? Int ?? 0
        try ok(["put", "user:1", #"{"city":"Rome"}"#])
        #expect(try ok(["index", "get", "by-city", "Paris"]).stdout == "")
        #expect(try ok(["index", "get", "by-city", "Paris", "--tx", "\(builtTx)"]).stdout.hasPrefix("user:1\t"))
        #expect(try ok(["index", "get", "by-city", "Rome"]).stdout.hasPrefix("user:1\t"))
        let list = try ok(["code", "list", "--json"]).json as? [[String: Any]]
        #expect(
            list?.compactMap { $0["name"] as? String } == ["count", "filter", "index-city", "require-title", "sum"]
        )
        #expect(try ok(["verify"]).status == 0)
    }

    /// WAT for a map_pages that ignores its input and outputs one record `bad` whose JSON
    /// payload does not parse.
    static let brokenJSONMap: String = {
        func u32(_ n: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(n).littleEndian, Array.init) }
        let k = Array("bad".utf8)
        let v = Array(#"{"n":"#.utf8)
        let size = (48 + k.count + v.count + 7) & ~7
        var r = u32(size) + u32(0) + u32(k.count) + u32(v.count)
        r += [UInt8](repeating: 0, count: 8) + withUnsafeBytes(of: Int64.max.littleEndian, Array.init)
        r += withUnsafeBytes(of: UInt64(1).littleEndian, Array.init) + [0x01, 0, 0, 0, 0, 0, 0, 0] + k + v
        r += [UInt8](repeating: 0, count: size - r.count)
        let page = u32(16 + r.count) + u32(1) + u32(1) + u32(0) + r
        let data = page.map { "\\" + (($0 < 16 ? "0" : "") + String($0, radix: 16)) }.joined()
        return """
            (module
              (memory (export "memory") 1)
              (global $top (mut i32) (i32.const 1024))
              (func (export "llmdb_alloc") (param $n i32) (result i32)
                (local $p i32)
                (local.set $p (global.get $top))
                (global.set $top (i32.add (global.get $top) (i32.and (i32.add (local.get $n) (i32.const 15)) (i32.const -16))))
                (local.get $p))
              (data (i32.const 64) "\(data)")
              (func (export "map_pages") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
                (if (i32.gt_u (i32.const \(page.count)) (local.get $cap)) (then (return (i32.const \(page.count)))))
                (memory.copy (local.get $out) (i32.const 64) (i32.const \(page.count)))
                (i32.const \(page.count))))
            """
    }()

    @Test("scan --map: a record with malformed JSON fails with one line naming the module")
    func malformedMapOutput() throws {
        let tmp = TempDir()
        let db = ["--db", tmp.db]
        let wat = tmp.path + "/broken.wat"
        try Self.brokenJSONMap.write(toFile: wat, atomically: true, encoding: .utf8)
        let env = ["LLMDB_WASM_DEADLINE_MS": "2000"]
        #expect(try llmdb(["put", "k:1", #"{"n":1}"#] + db).status == 0)
        #expect(try llmdb(["code", "add", wat, "--name", "broken"] + db).status == 0)
        for json in [[], ["--json"]] {
            let r = try llmdb(["scan", "--prefix", "k:", "--map", "broken"] + json + db, environment: env)
            #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
            #expect(
                r.stderr.contains("module 'broken' function 'map_pages' wrote a malformed output page"),
                "\(r.stderr)"
            )
            #expect(r.stderr.contains("not valid JSON"), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
    }

    @Test("code add: the same file under a second name keeps both; removing one keeps the other")
    func secondName() throws {
        let tmp = TempDir()
        let db = ["--db", tmp.db]
        let count = Self.root + "/examples/wasm/count.wat"
        let env = ["LLMDB_WASM_DEADLINE_MS": "2000"]
        #expect(try llmdb(["code", "add", count, "--name", "count"] + db).status == 0)
        #expect(try llmdb(["code", "add", count, "--name", "tally"] + db).status == 0)
        let list = try llmdb(["code", "list", "--json"] + db).json as? [[String: Any]]
        #expect(list?.compactMap { $0["name"] as? String } == ["count", "tally"])
        #expect(Set(list?.compactMap { $0["sha256"] as? String } ?? []).count == 1)
        #expect(try llmdb(["put", "k:1", "1"] + db).status == 0)
        #expect(try llmdb(["code", "rm", "count"] + db).status == 0)
        let r = try llmdb(["reduce", "--prefix", "k:", "--reduce", "tally"] + db, environment: env)
        #expect(r.status == 0 && r.stdout == "1\n", "\(r.stderr)")
        let after = try llmdb(["code", "list", "--json"] + db).json as? [[String: Any]]
        #expect(after?.compactMap { $0["name"] as? String } == ["tally"])
    }

    @Test("bad modules and names are refused with one clear line")
    func refusals() throws {
        let tmp = TempDir()
        let db = ["--db", tmp.db]
        let junk = tmp.path + "/junk.wasm"
        try Data([0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00, 0x01]).write(to: URL(fileURLWithPath: junk))
        let r = try llmdb(["code", "add", junk, "--name", "junk"] + db)
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("Error: the module is not valid WebAssembly"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        let missing = try llmdb(["code", "add", tmp.path + "/nope.wasm", "--name", "x"] + db)
        #expect(missing.status == 1 && missing.stderr.contains("cannot read"))
        let badName = try llmdb(["code", "add", Self.root + "/examples/wasm/count.wat", "--name", "bad name"] + db)
        #expect(badName.status == 1 && badName.stderr.contains("the module name 'bad name' is invalid"))
        let badKind = try llmdb(
            ["code", "add", Self.root + "/examples/wasm/count.wat", "--name", "c", "--kind", "nope"] + db
        )
        #expect(badKind.status != 0 && badKind.stderr.contains("--kind must be"))
        let noIndex = try llmdb(["index", "get", "nothing", "x"] + db)
        #expect(noIndex.status == 1 && noIndex.stderr.contains("no index named 'nothing'"))
        let grants = try llmdb(["code", "list"] + db, environment: ["LLMDB_WASM_GRANTS": "files"])
        #expect(grants.status == 1 && grants.stderr.contains("unknown capability 'files'"))
    }
}

/// `llmdb doc` and `llmdb schema` through the real binary.
@Suite struct DocumentCLITests {
    @Test("documents, an index, a schema and its violations, from the command line")
    func tour() throws {
        let tmp = TempDir()
        let db = ["--db", tmp.db]
        @discardableResult func ok(_ args: [String]) throws -> Output {
            // These check what the examples compute, not the deadline (tested on its own): a
            // debug build on a loaded 2-core machine can take longer than the default 25 ms.
            let r = try llmdb(args + db, environment: ["LLMDB_WASM_DEADLINE_MS": "2000"])
            #expect(r.status == 0, "llmdb \(args.joined(separator: " ")): \(r.stderr)")
            return r
        }
        try ok(["doc", "insert", "users", #"{"name":"Ada","city":"London","age":36}"#, "--id", "ada"])
        try ok(["doc", "insert", "users", #"{"name":"Bob","city":"Paris","age":25}"#, "--id", "bob"])
        try ok(["doc", "patch", "users", "ada", #"{"city":"Paris"}"#])
        #expect(try ok(["doc", "find", "users", #"{"city":"Paris"}"#, "--count"]).stdout == "2\n")
        #expect(
            try ok(["doc", "get", "users", "ada", "--tx", "1"]).stdout == #"{"name":"Ada","city":"London","age":36}"#
                + "\n"
        )
        try ok(["doc", "index", "users", "city"])
        #expect(
            try ok(["doc", "find", "users", #"{"city":"Paris"}"#, "--explain"]).stdout.contains(
                "index 'doc.users.city'"
            )
        )
        let found =
            try ok(["doc", "find", "users", "--sort", "age:desc", "--fields", "name", "--json"]).json as? [String: Any]
        let docs = found?["documents"] as? [[String: Any]]
        #expect(docs?.compactMap { $0["id"] as? String } == ["ada", "bob"])
        #expect((docs?.first?["body"] as? [String: Any])?.keys.sorted() == ["name"])
        try ok([
            "schema", "set", "users",
            #"{"type":"object","required":["name"],"properties":{"age":{"type":"integer","minimum":0}}}"#,
        ])
        let bad = try llmdb(["doc", "insert", "users", #"{"age":-3}"#, "--id", "bad"] + db)
        #expect(bad.status == 1)
        #expect(
            bad.stderr.contains("$.name: required but missing; $.age: less than the minimum 0; nothing was written"),
            "\(bad.stderr)"
        )
        #expect(try ok(["doc", "get", "users", "bad"]).stdout == "(absent)\n")
        let badSchema = try llmdb(["schema", "set", "users", #"{"type":"thing"}"#] + db)
        #expect(badSchema.status == 1 && badSchema.stderr.contains("$.type"))
        let badFilter = try llmdb(["doc", "find", "users", #"{"city":"#] + db)
        #expect(badFilter.status == 1 && badFilter.stderr.contains("the filter is not valid JSON"))
        #expect(try ok(["schema", "list", "users"]).stdout.hasPrefix("version 1"))
        #expect(try ok(["verify"]).status == 0)
    }
}

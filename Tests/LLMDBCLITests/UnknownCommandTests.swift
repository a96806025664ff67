import Foundation
import Testing

@Suite("CLI: unknown commands")
struct UnknownCommandTests {
    @Test(
        "a word that is not a command is an error naming the commands, with or without --help",
        arguments: [
            ["columns", "--help"], ["columns"], ["graph", "search", "--help"],
            ["--db", "x.llmdb", "columns", "--help"],
            ["--json", "frobnicate"], ["code", "frob", "--help"], ["schema", "nope"], ["key", "destroy", "--help"],
        ]
    )
    func unknown(args: [String]) throws {
        let r = try llmdb(args)
        #expect(r.status == 64, "\(args): \(r.status) \(r.stdout) \(r.stderr)")
        #expect(r.stdout.isEmpty, "\(args): printed \(r.stdout.prefix(200))")
        let word = args.first { !$0.hasPrefix("-") && $0 != "x.llmdb" && !["code", "schema", "key"].contains($0) }!
        #expect(r.stderr.hasPrefix("Error: '\(word)' is not a command of llmdb"), "\(r.stderr)")
        #expect(r.stderr.contains("the commands are:"), "\(r.stderr)")
    }

    @Test("the commands it names are the commands: each one's --help is its own")
    func everyNamedCommandExists() throws {
        let r = try llmdb(["no-such-command"])
        let list = try #require(r.stderr.split(separator: ":").dropFirst(2).first)
        let names = list.split(separator: "(")[0].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(names.count > 20, "\(names)")
        for name in names {
            let help = try llmdb([name, "--help"])
            #expect(help.status == 0, "\(name): \(help.stderr)")
            #expect(help.stdout.contains("USAGE: llmdb \(name)"), "\(name): \(help.stdout.prefix(300))")
        }
        // Groups name their own subcommands.
        let code = try llmdb(["code", "nothing"])
        #expect(
            code.stderr.contains("is not a command of llmdb code; the commands are: add, list, show, rm"),
            "\(code.stderr)"
        )
    }

    @Test("known commands, options and arguments still parse")
    func knownStillWork() throws {
        let dir = TempDir()
        #expect(try llmdb(["--db", dir.db]).status == 0)
        #expect(try llmdb(["put", "--db", dir.db, "vector", "1"]).status == 0)  // 'vector' is an argument here
        #expect(try llmdb(["get", "vector", "--db", dir.db]).stdout == "1\n")
        #expect(try llmdb(["--help"]).status == 0)
        #expect(try llmdb(["--version"]).status == 0)
    }
}

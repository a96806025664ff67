import ArgumentParser
import Foundation
import LLMDB
import LLMDBDocuments
import LLMDBQuery

#if canImport(Glibc)
import Glibc
#endif

struct Repl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An interactive LQL shell: statements end with ';' (and may span lines); .help lists the commands.",
        discussion: "Reads standard input, so it also runs a script: llmdb repl < queries.lql"
    )
    @OptionGroup var db: DatabaseOptions

    static let help = """
        Statements end with ';' and may span several lines. Commands:
          .help                 this text
          .schema [COLL]        the collections with a schema, or one collection's current schema
          .history              the statements run so far
          .timing on|off        show each statement's time (default on)
          .quit                 leave (also end of input)
        """

    func run() throws {
        let database = try db.open(create: true)
        let interactive = isatty(0) == 1
        var timing = true
        var history: [String] = []
        var pending = ""
        if interactive { print("LLMDB \(database.path): LQL, statements end with ';' (.help for commands)") }
        while true {
            if interactive {
                print(pending.isEmpty ? "lql> " : "...> ", terminator: "")
                flushStdout()
            }
            guard let line = readLine() else { break }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if pending.isEmpty && trimmed.hasPrefix(".") {
                let words = trimmed.split(separator: " ").map(String.init)
                switch words[0] {
                case ".help": print(Self.help)
                case ".quit", ".exit": return
                case ".history": for (i, h) in history.enumerated() { print("\(i + 1)  \(h)") }
                case ".timing":
                    timing = words.count < 2 || words[1] != "off"
                    print("timing \(timing ? "on" : "off")")
                case ".schema":
                    do {
                        if words.count > 1 {
                            let s = try database.collection(words[1]).schema()
                            print("version \(s.version):\n\(s.schema.json.prettyText)")
                        } else {
                            let facts = try database.read {
                                try $0.scan(prefix: Key("_meta/schema/", partition: Key.systemPartition))
                            }
                            let names = Set(
                                facts.compactMap { f in
                                    String(decoding: f.key.bytes.dropFirst("_meta/schema/".utf8.count), as: UTF8.self)
                                        .split(separator: "/").first.map(String.init)
                                }
                            )
                            print(names.isEmpty ? "no collection has a schema" : names.sorted().joined(separator: "\n"))
                        }
                    } catch {
                        printError("Error: \(error)")
                    }
                default: printError("Error: unknown command \(words[0]) (.help lists them)")
                }
                continue
            }
            pending += (pending.isEmpty ? "" : "\n") + line
            guard trimmed.hasSuffix(";") else { continue }
            let statement = pending
            pending = ""
            history.append(statement.replacingOccurrences(of: "\n", with: " "))
            let started = Date()
            do {
                let r = try LQL.run(statement, on: database)
                if !r.plan.isEmpty {
                    for l in r.plan { print(l) }
                } else {
                    printTable(r)
                }
                if timing { print(String(format: "(%.3f ms)", Date().timeIntervalSince(started) * 1000)) }
            } catch {
                printError("Error: \(error)")
            }
            flushStdout()
        }
        if !pending.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            printError("Error: the last statement has no closing ';' and was not run")
        }
    }
}

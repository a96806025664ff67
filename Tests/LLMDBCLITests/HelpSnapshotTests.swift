import Foundation
import Testing

/// `--help` of every command matches its golden file in Tests/Fixtures/snapshots/help/.
/// Re-record after an intended change with `RECORD_SNAPSHOTS=1 swift test --filter HelpSnapshotTests`.
@Suite struct HelpSnapshotTests {
    static let commands = [
        "", "status", "init", "put", "delete", "erase", "get", "history", "timeline", "scan",
        "apply", "log", "stats", "backup", "compact", "verify", "code", "code add", "code list", "code show",
        "code rm", "hook", "hook add", "hook list", "hook rm", "index", "index add", "index get", "index list",
        "index rm", "reduce", "doc", "doc insert", "doc get", "doc find", "doc patch", "doc replace", "doc delete",
        "doc history", "doc index", "schema", "schema list", "schema show", "schema set", "schema diff", "schema drop",
        "migrate", "migrate plan", "migrate dry-run", "migrate apply", "migrate status", "migrate pause",
        "migrate resume", "serve", "mcp", "key", "key create", "key list", "key revoke", "query", "repl", "vector",
        "vector create", "vector put", "vector import", "vector get", "vector search", "vector delete", "vector list",
        "vector stats", "vector drop",
    ]
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/snapshots/help")

    @Test(arguments: commands)
    func helpMatchesItsSnapshot(command: String) throws {
        let args = command.isEmpty ? ["--help"] : command.split(separator: " ").map(String.init) + ["--help"]
        let r = try llmdb(args, environment: ["COLUMNS": "100"])  // help wraps to the terminal width
        #expect(r.status == 0)
        let file = Self.dir.appendingPathComponent(
            (command.isEmpty ? "llmdb" : command.replacing(" ", with: "-")) + ".txt"
        )
        if ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1" {
            try FileManager.default.createDirectory(at: Self.dir, withIntermediateDirectories: true)
            try Data(r.stdout.utf8).write(to: file)
            return
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(
            r.stdout == expected,
            "llmdb \(args.joined(separator: " ")) differs from \(file.lastPathComponent); re-record with RECORD_SNAPSHOTS=1 if intended"
        )
    }
}

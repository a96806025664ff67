import ArgumentParser
import Foundation
import LLMDB
import LLMDBDocuments

#if canImport(Glibc)
import Glibc
#endif

/// A JSON argument: the text itself, or `-` for standard input, or `@FILE`.
func readJSONArgument(_ text: String, _ what: String) throws -> JSONValue {
    var source = text
    if text == "-" {
        source = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    } else if text.hasPrefix("@") {
        guard let data = FileManager.default.contents(atPath: String(text.dropFirst())) else {
            throw CLIError("cannot read \(text.dropFirst())")
        }
        source = String(decoding: data, as: UTF8.self)
    }
    do { return try JSONValue(parsing: source) } catch {
        throw CLIError("\(what) is not valid JSON: \(error.message.replacing("invalid JSON: ", with: ""))")
    }
}

func documentJSON(_ d: Document) -> JSONValue {
    object([
        ("id", .string(d.id)), ("body", d.body), ("valid_from", timeJSON(d.validFrom)),
        ("tx_id", .int(Int64(d.txID))), ("schema_version", d.schemaVersion.map { .int(Int64($0)) } ?? .null),
        ("stored_version", d.storedVersion.map { .int(Int64($0)) } ?? .null),
    ])
}

struct CollectionOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The collection.", valueName: "collection")) var collection: String
    @Option(help: ArgumentHelp("The partition of the collection.", valueName: "n")) var partition: UInt32 = 0
    func open(_ db: Database) throws -> LLMDBDocuments.Collection {
        try db.collection(collection, partition: partition)
    }
}

struct Doc: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "JSON documents in collections: insert, get, find, patch, replace, delete, history, indexes.",
        discussion: """
            Documents are facts `COLLECTION/ID`: every version is kept and every read takes --valid-at and \
            --tx/--tx-at. JSON arguments may be text, - (standard input) or @FILE. See docs/documents.md.
            """,
        subcommands: [
            DocInsert.self, DocGet.self, DocFind.self, DocPatch.self, DocReplace.self, DocDelete.self, DocHistory.self,
            DocIndex.self,
        ]
    )
}

struct DocInsert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "insert",
        abstract: "Insert a new document (refused if the id exists)."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @Argument(help: ArgumentHelp("The document: a JSON object.", valueName: "json")) var document: String
    @Option(help: ArgumentHelp("The id (default: a generated, time-ordered id).", valueName: "id")) var id: String?
    @Option(help: ArgumentHelp("Start of valid time (default: the transaction time).", valueName: "T")) var validFrom:
        String?
    func run() throws {
        let body = try readJSONArgument(document, "the document")
        let database = try db.open(create: true)
        let (id, c) = try coll.open(database).insert(body, id: id, validFrom: try parseTime(validFrom, "--valid-from"))
        if db.json {
            printJSON(object([("id", .string(id)), ("tx_id", .int(Int64(c.txID))), ("tx_time", timeJSON(c.txTime))]))
        } else {
            print("inserted \(id) (tx \(c.txID))")
        }
    }
}

struct DocGet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Read a document as of a time.")
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @Argument(help: ArgumentHelp("The document id.", valueName: "id")) var id: String
    @Option(help: ArgumentHelp("Valid time to read at (default: now).", valueName: "T")) var validAt: String?
    @OptionGroup var asOf: AsOfOptions
    @Option(help: ArgumentHelp("Show the document at this schema version (default: current).", valueName: "n"))
    var schemaVersion: Int?
    func run() throws {
        let database = try db.open(readOnly: true)
        let d = try coll.open(database).get(
            id,
            validAt: try parseTime(validAt, "--valid-at"),
            tx: try asOf.selector(),
            schemaVersion: schemaVersion
        )
        if db.json {
            printJSON(d.map(documentJSON) ?? .null)
        } else {
            print(d.map { $0.body.text } ?? "(absent)")
        }
    }
}

struct DocFind: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "find",
        abstract: "Find documents with a filter, as of a time; project, sort, page, count or explain.",
        discussion: """
            FILTER is JSON: {"city":"Paris"}, {"age":{"$gte":30}}, {"$or":[...]}; operators $eq $ne $gt $gte $lt $lte \
            $in $nin $exists $contains $and $or $not; paths are dotted (address.city). See docs/documents.md.
            """
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @Argument(help: ArgumentHelp("The filter (default {}: every document).", valueName: "filter")) var filter: String =
        "{}"
    @Option(help: ArgumentHelp("Fields to return, comma-separated dotted paths (default: all).", valueName: "paths"))
    var fields: String?
    @Option(
        help: ArgumentHelp(
            "Sort keys, comma-separated: path or path:asc, path:desc (or --sort=-path).",
            valueName: "keys"
        )
    )
    var sort: String?
    @Option(help: ArgumentHelp("At most this many documents.", valueName: "n")) var limit: Int = 100
    @Option(help: ArgumentHelp("Continue after the page that returned this cursor.", valueName: "cursor")) var cursor:
        String?
    @Option(help: ArgumentHelp("Valid time to read at (default: now).", valueName: "T")) var validAt: String?
    @OptionGroup var asOf: AsOfOptions
    @Option(help: ArgumentHelp("Show and filter documents at this schema version (default: current).", valueName: "n"))
    var schemaVersion: Int?
    @Flag(help: "Print only how many documents match.") var count = false
    @Flag(help: "Print how the filter would run (which index), without running it.") var explain = false

    func run() throws {
        let f: Filter
        if filter.hasPrefix("@") || filter == "-" {
            f = try Filter.parse(try readJSONArgument(filter, "the filter").text)
        } else {
            f = try Filter.parse(filter)
        }
        let database = try db.open(readOnly: true)
        let c = try coll.open(database)
        let v = try parseTime(validAt, "--valid-at")
        if explain {
            let plan = try c.explain(f)
            if db.json { printJSON(object([("plan", .string(plan))])) } else { print(plan) }
            return
        }
        if count {
            let n = try c.count(f, validAt: v, tx: try asOf.selector(), schemaVersion: schemaVersion)
            if db.json { printJSON(object([("count", .int(Int64(n)))])) } else { print(n) }
            return
        }
        let paths = fields.map { $0.split(separator: ",").map(String.init) } ?? []
        var keys: [SortKey] = []
        for k in (sort ?? "").split(separator: ",") { keys.append(try SortKey.parse(String(k))) }
        let r = try c.find(
            f,
            fields: paths,
            sort: keys,
            limit: limit,
            cursor: cursor,
            validAt: v,
            tx: try asOf.selector(),
            schemaVersion: schemaVersion
        )
        if db.json {
            printJSON(
                object([
                    ("documents", .array(r.documents.map(documentJSON))),
                    ("cursor", r.cursor.map { .string($0) } ?? .null),
                    ("plan", .string(r.plan)),
                ])
            )
            return
        }
        for d in r.documents { print("\(d.id)\t\(d.body.text)") }
        if let next = r.cursor { print("(more: --cursor \(next))") }
    }
}

struct DocPatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patch",
        abstract: "Apply a JSON merge patch (RFC 7386) to a document."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @Argument(help: ArgumentHelp("The document id.", valueName: "id")) var id: String
    @Argument(help: ArgumentHelp("The merge patch: null removes a member.", valueName: "json")) var patch: String
    func run() throws {
        let p = try readJSONArgument(patch, "the patch")
        let c = try coll.open(try db.open()).patch(id, with: p)
        if db.json { printJSON(commitJSON(c)) } else { print("patched \(id) (tx \(c.txID))") }
    }
}

struct DocReplace: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replace", abstract: "Replace a document that exists.")
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @Argument(help: ArgumentHelp("The document id.", valueName: "id")) var id: String
    @Argument(help: ArgumentHelp("The new document: a JSON object.", valueName: "json")) var document: String
    func run() throws {
        let body = try readJSONArgument(document, "the document")
        let c = try coll.open(try db.open()).replace(id, with: body)
        if db.json { printJSON(commitJSON(c)) } else { print("replaced \(id) (tx \(c.txID))") }
    }
}

struct DocDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a document (history keeps it)."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @Argument(help: ArgumentHelp("The document id.", valueName: "id")) var id: String
    func run() throws {
        let c = try coll.open(try db.open()).delete(id)
        if db.json { printJSON(commitJSON(c)) } else { print("deleted \(id) (tx \(c.txID))") }
    }
}

struct DocHistory: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Every version of a document, by valid time."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @Argument(help: ArgumentHelp("The document id.", valueName: "id")) var id: String
    @OptionGroup var asOf: AsOfOptions
    @Flag(help: "Every entry, corrections included.") var withCorrections = false
    func run() throws {
        let facts = try coll.open(try db.open(readOnly: true)).history(
            id,
            tx: try asOf.selector(),
            withCorrections: withCorrections
        )
        if db.json {
            printJSON(
                .array(
                    try facts.map { f in
                        object([
                            ("value", try valueJSON(f.value)), ("valid_from", timeJSON(f.validFrom)),
                            ("valid_to", timeJSON(f.validTo)), ("tx_id", .int(Int64(f.txID))),
                            ("tx_time", timeJSON(f.txTime)),
                        ])
                    }
                )
            )
            return
        }
        for f in facts {
            print(
                "\(f.validFrom) → \(f.validTo.map { "\($0)" } ?? "∞")\ttx \(f.txID)\t\(try f.value.map { try $0.jsonText() } ?? "(deleted)")"
            )
        }
    }
}

struct DocIndex: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Create (or with --drop remove) an index on a JSON path; without a path, list the indexes."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @Argument(help: ArgumentHelp("The dotted path to index.", valueName: "path")) var path: String?
    @Flag(help: "Remove the index on the path.") var drop = false
    func run() throws {
        guard let path else {
            let list = try coll.open(try db.open(readOnly: true)).indexes()
            if db.json {
                printJSON(.array(list.map { .string($0.string(setting: "json_path") ?? $0.name) }))
            } else {
                if list.isEmpty { print("no indexes") }
                for d in list { print("\(d.string(setting: "json_path") ?? "")\t\(d.name)") }
            }
            return
        }
        let c = try coll.open(try db.open())
        if drop {
            let commit = try c.dropIndex(on: path)
            if db.json { printJSON(commitJSON(commit)) } else { print("dropped the index on \(path)") }
        } else {
            let d = try c.createIndex(on: path)
            if db.json {
                printJSON(object([("name", .string(d.name)), ("path", .string(path))]))
            } else {
                print("index \(d.name) built")
            }
        }
    }
}

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Collection schemas as data: list, show, set, diff, drop (see docs/schemas-and-migrations.md).",
        subcommands: [SchemaList.self, SchemaShow.self, SchemaSet.self, SchemaDiff.self, SchemaDrop.self]
    )
}

func schemaJSON(_ s: SchemaVersion) -> JSONValue {
    object([
        ("collection", .string(s.collection)), ("version", .int(Int64(s.version))), ("schema", s.schema.json),
        ("tx_id", .int(Int64(s.txID))), ("set_at", timeJSON(s.setAt)),
    ])
}

struct SchemaList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "The schema versions of a collection, as of a time."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @OptionGroup var asOf: AsOfOptions
    func run() throws {
        let list = try coll.open(try db.open(readOnly: true)).schemas(tx: try asOf.selector())
        if db.json {
            printJSON(.array(list.map(schemaJSON)))
            return
        }
        if list.isEmpty { print("no schema: '\(coll.collection)' is schemaless") }
        for s in list { print("version \(s.version)\tset \(s.setAt) (tx \(s.txID))") }
    }
}

struct SchemaShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "One schema version (default: the current one)."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @Option(help: ArgumentHelp("The version (default: current).", valueName: "n")) var version: Int?
    @OptionGroup var asOf: AsOfOptions
    func run() throws {
        let s = try coll.open(try db.open(readOnly: true)).schema(version: version, tx: try asOf.selector())
        if db.json { printJSON(schemaJSON(s)) } else { print(s.schema.json.prettyText) }
    }
}

struct SchemaSet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set a new schema version; later writes are validated against it."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @Argument(help: ArgumentHelp("The schema: JSON text, - or @FILE.", valueName: "schema")) var schema: String
    func run() throws {
        let json = try readJSONArgument(schema, "the schema")
        let s = try coll.open(try db.open(create: true)).setSchema(json)
        if db.json {
            printJSON(schemaJSON(s))
        } else {
            print("'\(coll.collection)' schema version \(s.version) set (tx \(s.txID))")
        }
    }
}

struct SchemaDiff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "What changed between two schema versions."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @Argument(help: ArgumentHelp("The older version.", valueName: "from")) var from: Int
    @Argument(help: ArgumentHelp("The newer version.", valueName: "to")) var to: Int
    func run() throws {
        let c = try coll.open(try db.open(readOnly: true))
        let lines = try c.schema(version: to).schema.diff(from: try c.schema(version: from).schema)
        if db.json {
            printJSON(.array(lines.map { .string($0) }))
            return
        }
        if lines.isEmpty { print("no differences") }
        for l in lines { print(l) }
    }
}

struct SchemaDrop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drop",
        abstract: "Make the collection schemaless (history keeps the schemas)."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    func run() throws {
        let c = try coll.open(try db.open()).dropSchema()
        if db.json { printJSON(commitJSON(c)) } else { print("'\(coll.collection)' is schemaless (tx \(c.txID))") }
    }
}

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Schema migrations: plan, dry-run, apply (then rewrite in the background), status, pause, resume.",
        discussion: """
            A PROPOSAL is JSON: {"schema": {…the next version…}, "predicate": {…filter…}, "steps": [{"rename": \
            {"from":"a","to":"b"}}, {"set_default": {"path":"p","value":v}}, {"remove":"p"}, {"convert": {"path":"p", \
            "to":"integer"}}, {"split": {"path":"p","separator":" ","into":["a","b"]}}, {"join": {"paths":["a","b"], \
            "separator":" ","into":"p"}}], "reverse": [steps back]}. See docs/schemas-and-migrations.md.
            """,
        subcommands: [
            MigratePlan.self, MigrateDryRun.self, MigrateApply.self, MigrateStatus.self, MigratePause.self,
            MigrateResume.self,
        ]
    )
}

func printProgress(_ p: MigrationProgress, json: Bool) {
    if json {
        printJSON(
            object([
                ("to", .int(Int64(p.to))), ("state", .string(p.state.rawValue)),
                ("rewritten", .int(Int64(p.rewritten))),
                ("total", .int(Int64(p.total))), ("last_id", p.lastID.map { .string($0) } ?? .null),
            ])
        )
    } else {
        print("rewrite to version \(p.to): \(p.state.rawValue), \(p.rewritten) of \(p.total) documents rewritten")
    }
}

/// Runs the rewrite, drawing a progress bar on a terminal.
func runRewrite(_ c: LLMDBDocuments.Collection, batch: Int, json: Bool) throws {
    let terminal = isatty(2) == 1 && !json
    let p = try c.rewrite(batchSize: batch) { p in
        guard terminal else { return }
        let width = 30
        let done = p.total > 0 ? min(width, p.rewritten * width / p.total) : width
        printError(
            "\u{1B}[1A\r[" + String(repeating: "#", count: done) + String(repeating: ".", count: width - done)
                + "] \(p.rewritten)/\(p.total)"
        )
    }
    printProgress(p, json: json)
}

struct ProposalOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The proposal: JSON text, - or @FILE.", valueName: "proposal")) var proposal: String
}

struct MigratePlan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what a proposal would do, without reading documents."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @OptionGroup var p: ProposalOptions
    func run() throws {
        let json = try readJSONArgument(p.proposal, "the proposal")
        let c = try coll.open(try db.open(readOnly: true))
        let plan = try c.plan(proposal: json)
        if db.json {
            printJSON(
                object([
                    ("from", .int(Int64(plan.from))), ("to", .int(Int64(plan.to))), ("steps", .int(Int64(plan.steps))),
                    ("reversible", .bool(plan.reversible)),
                    ("schema_changes", .array(plan.schemaChanges.map { .string($0) })),
                    ("documents", .int(Int64(plan.documents))),
                ])
            )
            return
        }
        print(
            "migration of '\(coll.collection)' from schema version \(plan.from) to \(plan.to): \(plan.steps) step(s), \(plan.documents) document(s)"
        )
        print(
            plan.reversible
                ? "reversible: reads pinned to version \(plan.from) keep working"
                : "not reversible: reads pinned to version \(plan.from) will fail for rewritten documents"
        )
        for l in plan.schemaChanges { print("  \(l)") }
    }
}

struct MigrateDryRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dry-run",
        abstract: "Apply a proposal in memory and report what would change and fail; writes nothing."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @OptionGroup var p: ProposalOptions
    @Option(help: ArgumentHelp("Only the first N documents (default: all).", valueName: "n")) var sample: Int?
    func run() throws {
        let json = try readJSONArgument(p.proposal, "the proposal")
        let r = try coll.open(try db.open(readOnly: true)).dryRun(json, sample: sample)
        if db.json {
            printJSON(
                object([
                    ("from", .int(Int64(r.from))), ("to", .int(Int64(r.to))), ("examined", .int(Int64(r.examined))),
                    ("changed", .int(Int64(r.changed))),
                    (
                        "failures",
                        .array(r.failures.map { object([("id", .string($0.id)), ("reason", .string($0.reason))]) })
                    ),
                    (
                        "samples",
                        .array(
                            r.samples.map {
                                object([("id", .string($0.id)), ("before", $0.before), ("after", $0.after)])
                            }
                        )
                    ),
                ])
            )
            return
        }
        print(
            "\(r.examined) examined, \(r.changed) would change, \(r.failures.count) would fail (version \(r.from) → \(r.to))"
        )
        for f in r.failures { print("  fail \(f.id): \(f.reason)") }
        for s in r.samples { print("  \(s.id): \(s.before.text)  →  \(s.after.text)") }
    }
}

struct MigrateApply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the proposal's version current at once, then rewrite older documents (resumable)."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @OptionGroup var p: ProposalOptions
    @Flag(help: "Migrate the documents that do not fail; the others keep their version and are listed.")
    var skipFailures = false
    @Flag(help: "Only make the version current; rewrite later with `migrate resume`.") var noRewrite = false
    @Option(help: ArgumentHelp("Documents per rewrite transaction.", valueName: "n")) var batch: Int = 256
    func run() throws {
        guard batch > 0 else { throw CLIError("--batch must be positive") }
        let json = try readJSONArgument(p.proposal, "the proposal")
        let c = try coll.open(try db.open())
        let (m, report) = try c.applyMigration(json, skipFailures: skipFailures)
        if !db.json {
            print("'\(coll.collection)' is at schema version \(m.to) now (\(report.changed) documents change)")
            for f in report.failures { print("  skipped \(f.id): \(f.reason)") }
        }
        if noRewrite {
            if db.json, let s = try c.migrationStatus() { printProgress(s, json: true) }
            return
        }
        try runRewrite(c, batch: batch, json: db.json)
    }
}

struct MigrateStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The background rewrite's progress."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    func run() throws {
        guard let p = try coll.open(try db.open(readOnly: true)).migrationStatus() else {
            if db.json { printJSON(.null) } else { print("no migration") }
            return
        }
        printProgress(p, json: db.json)
    }
}

struct MigratePause: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Pause the rewrite (a running one stops after its batch)."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    func run() throws {
        let c = try coll.open(try db.open())
        try c.setMigrationState(.paused)
        if let p = try c.migrationStatus() { printProgress(p, json: db.json) }
    }
}

struct MigrateResume: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Resume the rewrite where it stopped (after a pause or a crash)."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var coll: CollectionOptions
    @Option(help: ArgumentHelp("Documents per rewrite transaction.", valueName: "n")) var batch: Int = 256
    func run() throws {
        guard batch > 0 else { throw CLIError("--batch must be positive") }
        try runRewrite(try coll.open(try db.open()), batch: batch, json: db.json)
    }
}

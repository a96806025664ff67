import ArgumentParser
import Foundation
import LLMDB
import LLMDBVector

#if canImport(Glibc)
import Glibc
#endif

// `llmdb vector …`: vector collections from the command line, over LLMDBVector's API (the
// same calls the server's routes make). See docs/vectors.md and docs/cli.md.

struct Vector: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Vector collections: create, put, import, get, search, delete, list, stats, drop.",
        discussion: """
            A vector is a fact `vec/COLLECTION/KEY` with both times: every version is kept and every read \
            takes --valid-at and --tx/--tx-at. Vectors are JSON arrays of numbers: the text itself, - \
            (standard input) or @FILE. See docs/vectors.md.
            """,
        subcommands: [
            VectorCreate.self, VectorPut.self, VectorImport.self, VectorGet.self, VectorSearch.self,
            VectorDelete.self, VectorList.self, VectorStats.self, VectorDrop.self,
        ]
    )
}

struct VectorCollectionArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The vector collection.", valueName: "collection")) var collection: String
}

/// A vector from a JSON argument: an array of finite numbers.
func readVectorArgument(_ text: String, _ what: String) throws -> [Float] {
    try floats(readJSONArgument(text, what), what)
}

func floats(_ json: JSONValue, _ what: String) throws -> [Float] {
    guard case .array(let items) = json else { throw CLIError("\(what) must be a JSON array of numbers") }
    return try items.enumerated().map { i, item in
        switch item {
        case .int(let n): return Float(n)
        case .double(let d): return Float(d)
        case .uint(let n): return Float(n)
        default: throw CLIError("\(what): element \(i) is not a number")
        }
    }
}

/// `{"lang":"en","a.b":1}`: each member a condition, the value at its dotted path equal to it.
func vectorFilters(_ text: String?) throws -> [VectorFilter] {
    guard let text else { return [] }
    guard case .object(let members) = try readJSONArgument(text, "--filter") else {
        throw CLIError("--filter must be a JSON object of path: value conditions, such as {\"lang\":\"en\"}")
    }
    return members.map { VectorFilter($0.key, equals: $0.value) }
}

func vectorRecordJSON(_ r: VectorRecord) -> JSONValue {
    object([
        ("key", .string(r.key)), ("vector", .array(r.vector.map { .double(Double($0)) })),
        ("metadata", r.metadata ?? .null), ("valid_from", timeJSON(r.validFrom)), ("tx_id", .int(Int64(r.txID))),
    ])
}

func vectorHitJSON(_ h: VectorHit) -> JSONValue {
    object([
        ("key", .string(h.key)), ("distance", .double(Double(h.distance))), ("metadata", h.metadata ?? .null),
        ("valid_from", timeJSON(h.validFrom)), ("tx_id", .int(Int64(h.txID))),
    ])
}

func collectionInfoJSON(_ i: VectorCollectionInfo) -> JSONValue {
    object([
        ("name", .string(i.name)), ("dimensions", .int(Int64(i.dimensions))), ("metric", .string(i.metric.rawValue)),
        ("partition", .int(Int64(i.partition))),
    ])
}

struct VectorCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a vector collection (no change if it exists with the same dimension and metric)."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var name: VectorCollectionArgument
    @Option(name: .customLong("dim"), help: ArgumentHelp("The vectors' dimension, 1 to 65536.", valueName: "D"))
    var dimensions: Int
    @Option(help: ArgumentHelp("The distance: cosine, dot or l2.", valueName: "metric")) var metric = "cosine"
    @OptionGroup var key: KeyOptions
    func run() throws {
        guard let m = VectorMetric(rawValue: metric) else {
            throw CLIError("--metric must be cosine, dot or l2, not '\(metric)'")
        }
        let database = try db.open(create: true)
        let c = try database.createVectorCollection(
            name.collection,
            dimensions: dimensions,
            metric: m,
            partition: key.partition
        )
        if db.json {
            printJSON(collectionInfoJSON(c.info))
        } else {
            print("vector collection \(c.name): \(c.info.dimensions) dimensions, \(c.info.metric.rawValue)")
        }
    }
}

struct VectorPut: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Store a key's vector (a new version; the old one stays in history)."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var name: VectorCollectionArgument
    @Argument(help: ArgumentHelp("The key within the collection.", valueName: "key")) var key: String
    @Argument(help: ArgumentHelp("The vector: a JSON array of numbers, - or @FILE.", valueName: "vector"))
    var vector: String
    @Option(name: .customLong("meta"), help: ArgumentHelp("Metadata for filters: a JSON object.", valueName: "json"))
    var metadata: String?
    @Option(help: ArgumentHelp("Start of valid time (default: the transaction time).", valueName: "T"))
    var validFrom: String?
    @Option(help: ArgumentHelp("End of valid time (default: open).", valueName: "T")) var validTo: String?
    func run() throws {
        let v = try readVectorArgument(vector, "the vector")
        let meta = try metadata.map { try readJSONArgument($0, "--meta") }
        let database = try db.open()
        let c = try database.vectorCollection(name.collection).put(
            key,
            v,
            metadata: meta,
            validFrom: try parseTime(validFrom, "--valid-from"),
            validTo: try parseTime(validTo, "--valid-to")
        )
        if db.json { printJSON(commitJSON(c)) } else { print("put \(key) (tx \(c.txID))") }
    }
}

struct VectorImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import vectors from NDJSON or a .npy file, a transaction per batch.",
        discussion: """
            NDJSON: one object per line, {"key": "...", "vector": [...], "metadata": {...}} (metadata, valid_from \
            and valid_to optional). .npy: a 2-D array of float32 or float64, C order; row i gets the key \
            PREFIXi (--key-prefix). Each batch of --batch vectors commits on its own: a failure or a kill \
            loses at most the batch in progress, and the message says how far the import got. A progress \
            line goes to standard error when it is a terminal; with --progress, a line per committed batch \
            goes there whatever it is (each line counts vectors already durable).
            """
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var name: VectorCollectionArgument
    @Argument(help: ArgumentHelp("The file: .npy, or NDJSON (- for standard input).", valueName: "file"))
    var file: String
    @Option(help: ArgumentHelp("Vectors per transaction, 1 to 100000.", valueName: "n")) var batch = 1000
    @Option(help: ArgumentHelp("For .npy: the keys' prefix before the row number.", valueName: "prefix"))
    var keyPrefix = ""
    @Option(help: ArgumentHelp("The file's format: ndjson or npy (default: from its name).", valueName: "format"))
    var format: String?
    @Flag(help: "Report each committed batch on standard error, terminal or not.") var progress = false

    func run() throws {
        guard (1...100_000).contains(batch) else { throw CLIError("--batch must be 1 to 100000, not \(batch)") }
        let kind = format ?? (file.hasSuffix(".npy") ? "npy" : "ndjson")
        guard kind == "npy" || kind == "ndjson" else {
            throw CLIError("--format must be ndjson or npy, not '\(kind)'")
        }
        let database = try db.open()
        let c = try database.vectorCollection(name.collection)
        let progress = ImportProgress(terminal: isatty(2) == 1 && !db.json, everyBatch: self.progress)
        var imported = 0
        var transactions = 0
        var pending: [VectorItem] = []
        var where_ = ""
        func flush() throws {
            guard !pending.isEmpty else { return }
            do {
                _ = try c.put(pending)
            } catch {
                throw CLIError(
                    "\(error) (in the batch ending at \(where_); \(imported) vectors were imported before it, in \(transactions) transactions)"
                )
            }
            imported += pending.count
            transactions += 1
            pending.removeAll(keepingCapacity: true)
            progress.show(imported)
        }
        if kind == "npy" {
            guard let data = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read \(file)") }
            let array = try NumpyArray(data)
            progress.total = array.rows
            for row in 0..<array.rows {
                pending.append(VectorItem(keyPrefix + String(row), array.row(row)))
                where_ = "row \(row)"
                if pending.count == batch { try flush() }
            }
        } else {
            guard let handle = file == "-" ? FileHandle.standardInput : FileHandle(forReadingAtPath: file) else {
                throw CLIError("cannot read \(file)")
            }
            var line = 0
            for text in LineReader(handle) {
                line += 1
                if text.allSatisfy(\.isWhitespace) { continue }
                where_ = "line \(line)"
                pending.append(try Self.item(text, line: line))
                if pending.count == batch { try flush() }
            }
        }
        try flush()
        progress.finish()
        if db.json {
            printJSON(object([("imported", .int(Int64(imported))), ("transactions", .int(Int64(transactions)))]))
        } else {
            print("imported \(imported) vectors into \(c.name) in \(transactions) transactions")
        }
    }

    static func item(_ text: String, line: Int) throws -> VectorItem {
        let json: JSONValue
        do { json = try JSONValue(parsing: text) } catch {
            throw CLIError("line \(line) is not valid JSON: \(error.message.replacing("invalid JSON: ", with: ""))")
        }
        guard case .object(let members) = json else { throw CLIError("line \(line) must be a JSON object") }
        let allowed: Set<String> = ["key", "vector", "metadata", "valid_from", "valid_to"]
        if let odd = members.first(where: { !allowed.contains($0.key) }) {
            throw CLIError(
                "line \(line): unknown field '\(odd.key)' (fields: key, vector, metadata, valid_from, valid_to)"
            )
        }
        guard case .string(let key)? = json["key"] else { throw CLIError("line \(line) needs a string 'key'") }
        guard let v = json["vector"] else { throw CLIError("line \(line) needs a 'vector'") }
        func time(_ field: String) throws -> Instant? {
            switch json[field] {
            case nil, .null?: return nil
            case .string(let s)?: return try parseTime(s, "line \(line): \(field)") as Instant
            case .int(let n)?: return Instant(microseconds: n)
            default: throw CLIError("line \(line): \(field) must be a time (ISO 8601 text or microseconds)")
            }
        }
        return VectorItem(
            key,
            try floats(v, "line \(line): the vector"),
            metadata: json["metadata"].flatMap { $0 == .null ? nil : $0 },
            validFrom: try time("valid_from"),
            validTo: try time("valid_to")
        )
    }
}

/// The lines of a file, read in blocks (an import's NDJSON may be larger than memory allows
/// to hold twice).
struct LineReader: Sequence, IteratorProtocol {
    let handle: FileHandle
    var buffer: [UInt8] = []
    var start = 0
    var ended = false

    init(_ handle: FileHandle) { self.handle = handle }

    mutating func next() -> String? {
        while true {
            if let nl = buffer[start...].firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[start..<nl], as: UTF8.self)
                start = nl + 1
                return line
            }
            if ended {
                guard start < buffer.count else { return nil }
                let line = String(decoding: buffer[start...], as: UTF8.self)
                start = buffer.count
                return line
            }
            buffer.removeFirst(start)
            start = 0
            let block = handle.readData(ofLength: 1 << 20)
            if block.isEmpty { ended = true } else { buffer += block }
        }
    }
}

/// A 2-D float array in NumPy's `.npy` format (versions 1 to 3), C order.
struct NumpyArray {
    let rows: Int
    let columns: Int
    let double: Bool
    let bytes: Data
    let offset: Int

    init(_ data: Data) throws {
        let b = [UInt8](data.prefix(12))
        guard b.count >= 10, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else {
            throw CLIError("not a .npy file (its magic bytes are missing)")
        }
        let headerLength: Int
        let headerStart: Int
        switch b[6] {
        case 1:
            headerLength = Int(b[8]) | Int(b[9]) << 8
            headerStart = 10
        case 2, 3:
            guard b.count >= 12 else { throw CLIError("the .npy header is truncated") }
            headerLength = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
            headerStart = 12
        default:
            throw CLIError(".npy version \(b[6]) is not supported (1 to 3 are)")
        }
        guard data.count >= headerStart + headerLength else { throw CLIError("the .npy header is truncated") }
        let header = String(decoding: data[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        func field(_ name: String) -> Substring? {
            guard let r = header.range(of: "'\(name)':") else { return nil }
            return header[r.upperBound...].drop(while: { $0 == " " })
        }
        guard let descr = field("descr"), let order = field("fortran_order"), let shape = field("shape") else {
            throw CLIError("the .npy header lacks descr, fortran_order or shape: \(header.prefix(120))")
        }
        if descr.hasPrefix("'<f4'") || descr.hasPrefix("'|f4'") {
            double = false
        } else if descr.hasPrefix("'<f8'") {
            double = true
        } else {
            throw CLIError(
                "the .npy array holds \(descr.prefix(while: { $0 != "," })); float32 or float64 (little-endian) is needed"
            )
        }
        guard order.hasPrefix("False") else { throw CLIError("the .npy array is in Fortran order; save it in C order") }
        guard shape.hasPrefix("("), let close = shape.firstIndex(of: ")") else {
            throw CLIError("the .npy shape is malformed")
        }
        let dims = shape[shape.index(after: shape.startIndex)..<close].split(separator: ",").map {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard dims.count == 2, let r = dims[0], let c = dims[1], r >= 0, c > 0 else {
            throw CLIError("the .npy array must be 2-D (rows, dimensions), not \(shape[...close])")
        }
        let (size, overflow) = r.multipliedReportingOverflow(by: c * (double ? 8 : 4))
        guard !overflow, data.count - headerStart - headerLength >= size else {
            throw CLIError("the .npy file is shorter than its shape (\(r), \(c)) says")
        }
        rows = r
        columns = c
        bytes = data
        offset = headerStart + headerLength
    }

    func row(_ i: Int) -> [Float] {
        bytes.withUnsafeBytes { raw in
            if double {
                let base = offset + i * columns * 8
                return (0..<columns).map { Float(raw.loadUnaligned(fromByteOffset: base + 8 * $0, as: Double.self)) }
            }
            let base = offset + i * columns * 4
            return (0..<columns).map { raw.loadUnaligned(fromByteOffset: base + 4 * $0, as: Float.self) }
        }
    }
}

/// A progress line on standard error, redrawn at most ten times a second.
final class ImportProgress {
    /// Standard error is a terminal: one line, redrawn.
    let terminal: Bool
    /// A line per batch (`--progress`).
    let everyBatch: Bool
    var total: Int? = nil
    var last = ContinuousClock.now

    init(terminal: Bool, everyBatch: Bool) {
        self.terminal = terminal
        self.everyBatch = everyBatch
    }

    func show(_ done: Int) {
        let of = total.map { " of \($0) (\(100 * done / max($0, 1))%)" } ?? ""
        if everyBatch && !terminal {
            let text = "imported \(done)\(of)\n"
            _ = text.withCString { write(2, $0, strlen($0)) }
            return
        }
        guard terminal, everyBatch || ContinuousClock.now - last > .milliseconds(100) else { return }
        last = ContinuousClock.now
        let text = "\rimported \(done)\(of)"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }

    func finish() {
        guard terminal else { return }
        _ = "\r\u{1B}[K".withCString { write(2, $0, strlen($0)) }
    }
}

struct VectorGet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Read a key's vector as of a valid time and a transaction."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var name: VectorCollectionArgument
    @Argument(help: ArgumentHelp("The key within the collection.", valueName: "key")) var key: String
    @Option(help: ArgumentHelp("Valid time to read at (default: now).", valueName: "T")) var validAt: String?
    @OptionGroup var asOf: AsOfOptions
    func run() throws {
        let database = try db.open(readOnly: true)
        let r = try database.vectorCollection(name.collection).get(
            key,
            validAt: try parseTime(validAt, "--valid-at"),
            tx: try asOf.selector()
        )
        if db.json {
            printJSON(r.map(vectorRecordJSON) ?? .null)
        } else if let r {
            let meta = r.metadata.map { " " + $0.text } ?? ""
            print("[" + r.vector.map { "\($0)" }.joined(separator: ", ") + "]" + meta)
        } else {
            print("(absent)")
        }
    }
}

struct VectorSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "The k nearest vectors as of a valid time and a transaction, with metadata filters.",
        discussion: """
            Exact: every version visible at (--valid-at, --tx) whose metadata matches --filter is compared. \
            --filter is a JSON object of conditions, each a dotted path and the value it must equal: \
            {"lang":"en","source.kind":"chat"}. Smaller distances are nearer (cosine: 1 - cos; dot: -a·b; l2: \
            squared Euclidean).
            """
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var name: VectorCollectionArgument
    @Argument(help: ArgumentHelp("The query vector: a JSON array of numbers, - or @FILE.", valueName: "vector"))
    var vector: String
    @Option(help: ArgumentHelp("How many, 1 to \(VectorCollection.maxK).", valueName: "k")) var k = 10
    @Option(help: ArgumentHelp("Metadata conditions: a JSON object of path: value.", valueName: "json"))
    var filter: String?
    @Option(help: ArgumentHelp("Valid time to search at (default: now).", valueName: "T")) var validAt: String?
    @OptionGroup var asOf: AsOfOptions
    func run() throws {
        let q = try readVectorArgument(vector, "the query vector")
        let filters = try vectorFilters(filter)
        let database = try db.open(readOnly: true)
        let hits = try database.vectorCollection(name.collection).search(
            q,
            k: k,
            filters: filters,
            validAt: try parseTime(validAt, "--valid-at"),
            tx: try asOf.selector()
        )
        if db.json {
            printJSON(.array(hits.map(vectorHitJSON)))
        } else if hits.isEmpty {
            print("(no vectors)")
        } else {
            for h in hits {
                let meta = h.metadata.map { "  " + $0.text } ?? ""
                print(String(format: "%.6f", h.distance) + "  \(h.key)  (tx \(h.txID))" + meta)
            }
        }
    }
}

struct VectorDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "End a key's vector from a valid time (history stays), or erase every version of it."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var name: VectorCollectionArgument
    @Argument(help: ArgumentHelp("The key within the collection.", valueName: "key")) var key: String
    @Option(help: ArgumentHelp("Valid time it ends at (default: the transaction time).", valueName: "T"))
    var validFrom: String?
    @Flag(help: "Erase every version for good (privacy), instead of ending it.") var erase = false
    func run() throws {
        let database = try db.open()
        let c = try database.vectorCollection(name.collection)
        if erase && validFrom != nil { throw CLIError("--erase removes every version; it takes no --valid-from") }
        let commit = erase ? try c.erase(key) : try c.delete(key, validFrom: try parseTime(validFrom, "--valid-from"))
        if db.json {
            printJSON(commitJSON(commit))
        } else {
            print("\(erase ? "erased" : "deleted") \(key) (tx \(commit.txID))")
        }
    }
}

struct VectorList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the vector collections.")
    @OptionGroup var db: DatabaseOptions
    func run() throws {
        let all = try db.open(readOnly: true).vectorCollections()
        if db.json {
            printJSON(.array(all.map(collectionInfoJSON)))
        } else if all.isEmpty {
            print("(no vector collections)")
        } else {
            for i in all {
                print("\(i.name)  \(i.dimensions) dimensions  \(i.metric.rawValue)  partition \(i.partition)")
            }
        }
    }
}

struct VectorStats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "How many vectors a collection holds as of a time, and its stored versions."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var name: VectorCollectionArgument
    @Option(help: ArgumentHelp("Valid time to count at (default: now).", valueName: "T")) var validAt: String?
    @OptionGroup var asOf: AsOfOptions
    func run() throws {
        let s = try db.open(readOnly: true).vectorCollection(name.collection).stats(
            validAt: try parseTime(validAt, "--valid-at"),
            tx: try asOf.selector()
        )
        if db.json {
            guard case .object(var m) = collectionInfoJSON(s.info) else { return }
            m += [
                JSONMember("vectors", .int(Int64(s.vectors))), JSONMember("versions", .int(Int64(s.versions))),
                JSONMember("bytes", .int(Int64(s.bytes))),
            ]
            printJSON(.object(m))
        } else {
            print("\(s.info.name): \(s.vectors) vectors, \(s.versions) stored versions, \(s.bytes) bytes")
        }
    }
}

struct VectorDrop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drop",
        abstract: "Drop a vector collection: its vectors end now (history stays) and its definition goes."
    )
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var name: VectorCollectionArgument
    func run() throws {
        let c = try db.open().dropVectorCollection(name.collection)
        if db.json { printJSON(commitJSON(c)) } else { print("dropped \(name.collection) (tx \(c.txID))") }
    }
}

import ArgumentParser
import LLMDB

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply NDJSON operations from standard input.",
        discussion: """
            One JSON object per line: {"op": "put"|"delete"|"erase", "key": "…", "value": …, \
            "type": "json"|"raw"|"msgpack", "valid_from": T, "valid_to": T, "tx_time": T, "partition": N}. \
            "op" defaults to put; "value" is any JSON (for raw, a string). Consecutive lines with the same \
            tx_time form one transaction with that time; other lines are one transaction each; with \
            --atomic all lines form one transaction. Each commit is acknowledged on stdout after it is \
            durable. A bad line stops the run with an error naming the line; transactions already \
            acknowledged stay, the failing one writes nothing (with --atomic: nothing at all).
            """
    )
    @OptionGroup var db: DatabaseOptions
    @Flag(help: "Apply every line in one transaction.") var atomic = false

    struct Line {
        var number: Int
        var txTime: Instant?
        var apply: (inout WriteBatch) throws -> Void
    }

    func run() throws {
        let database = try db.open(create: true)
        var group: [Line] = []
        var number = 0
        var committed = 0

        func flush() throws {
            guard let first = group.first else { return }
            var batch = WriteBatch()
            for line in group {
                do { try line.apply(&batch) } catch {
                    throw CLIError(
                        "line \(line.number): \(error)\(committed > 0 ? " (\(committed) earlier transactions were committed)" : "")"
                    )
                }
            }
            let c: Commit
            do { c = try database.commit(batch, txTime: first.txTime) } catch {
                throw CLIError(
                    "lines \(first.number)-\(group.last!.number): \(error)\(committed > 0 ? " (\(committed) earlier transactions were committed)" : "")"
                )
            }
            committed += 1
            if db.json {
                printJSON(
                    object([
                        ("tx_id", .int(Int64(c.txID))), ("tx_time", timeJSON(c.txTime)),
                        ("ops", .int(Int64(batch.count))),
                        ("first_line", .int(Int64(first.number))), ("last_line", .int(Int64(group.last!.number))),
                    ])
                )
            } else {
                print("\(c) (\(batch.count) ops, lines \(first.number)-\(group.last!.number))")
            }
            flushStdout()
            group.removeAll(keepingCapacity: true)
        }

        while let text = readLine(strippingNewline: true) {
            number += 1
            if text.allSatisfy(\.isWhitespace) { continue }
            let line: Line
            do { line = try parse(text, number: number) } catch {
                // The transaction in progress is complete unless it shares a tx_time (the bad
                // line may belong to it): commit it in the first case, drop it in the second.
                var dropped = ""
                if !atomic, let first = group.first {
                    if first.txTime == nil {
                        try flush()
                    } else {
                        dropped = "; lines \(first.number)-\(group.last!.number) of its transaction were not written"
                    }
                }
                throw CLIError(
                    "line \(number): \(error)\(dropped)\(committed > 0 ? " (\(committed) earlier transactions were committed)" : "")"
                )
            }
            if atomic {
                if let t0 = group.first?.txTime ?? group.first(where: { $0.txTime != nil })?.txTime,
                    let t = line.txTime, t != t0
                {
                    throw CLIError("line \(number): with --atomic every tx_time must be the same; nothing was written")
                }
                group.append(line)
                continue
            }
            if let last = group.last, last.txTime == nil || last.txTime != line.txTime {
                try flush()
            }
            group.append(line)
        }
        if atomic, let t = group.first(where: { $0.txTime != nil })?.txTime, !group.isEmpty {
            group[0].txTime = t
        }
        try flush()
    }

    func parse(_ text: String, number: Int) throws -> Line {
        let tree: JSONValue
        do { tree = try JSON.parse(Array(text.utf8)) } catch { throw CLIError("not valid JSON: \(error)") }
        guard case .object(let members) = tree else { throw CLIError("expected a JSON object") }
        let known: Set = ["op", "key", "value", "type", "valid_from", "valid_to", "tx_time", "partition"]
        if let unknown = members.first(where: { !known.contains($0.key) }) {
            throw CLIError("unknown field \"\(unknown.key)\" (fields: \(known.sorted().joined(separator: ", ")))")
        }
        func string(_ name: String) throws -> String? {
            switch tree[name] {
            case nil, .null?: return nil
            case .string(let s)?: return s
            default: throw CLIError("\"\(name)\" must be a string")
            }
        }
        func time(_ name: String) throws -> Instant? {
            switch tree[name] {
            case nil, .null?: return nil
            case .string(let s)?: return try parseTime(s, "\"\(name)\"") as Instant
            case .int(let n)?: return Instant(microseconds: n)
            default: throw CLIError("\"\(name)\" must be an ISO-8601 string or integer microseconds")
            }
        }
        let op = try string("op") ?? "put"
        guard let keyText = try string("key") else { throw CLIError("\"key\" is missing") }
        var partition: PartitionID = 0
        switch tree["partition"] {
        case nil, .null?: break
        case .int(let n)? where n >= 0 && n <= Int64(UInt32.max): partition = PartitionID(n)
        default: throw CLIError("\"partition\" must be an integer from 0 to 4294967295")
        }
        let key = Key(keyText, partition: partition)
        let from = try time("valid_from")
        let to = try time("valid_to")
        let txTime = try time("tx_time")
        switch op {
        case "put":
            let type = try string("type") ?? "json"
            guard let v = tree["value"] else {
                throw CLIError("\"value\" is missing (to retract a key use \"op\": \"delete\")")
            }
            let value: Value
            switch type {
            case "json":
                if v.isNull {
                    throw CLIError("JSON null is not a value; use \"op\": \"delete\" to say a key is absent")
                }
                value = try Value.json(bytes: JSON.serialize(v))
            case "raw":
                guard case .string(let s) = v else { throw CLIError("a raw \"value\" must be a string") }
                value = .raw(s)
            case "msgpack":
                value = try Value.messagePack(json: String(decoding: JSON.serialize(v), as: UTF8.self))
            default:
                throw CLIError("\"type\" must be json, raw or msgpack, not '\(type)'")
            }
            try WriteBatch.validate(key, validFrom: from, validTo: to)
            return Line(number: number, txTime: txTime) { try $0.put(key, value, validFrom: from, validTo: to) }
        case "delete":
            try WriteBatch.validate(key, validFrom: from, validTo: to)
            return Line(number: number, txTime: txTime) { try $0.delete(key, validFrom: from, validTo: to) }
        case "erase":
            try key.validate()
            return Line(number: number, txTime: txTime) { try $0.erase(key) }
        default:
            throw CLIError("\"op\" must be put, delete or erase, not '\(op)'")
        }
    }
}

public import LLMDB
import LLMDBText
import LLMDBWasm

/// The index keys of a JSON value at a dotted path, for JSON-path indexes: one key per
/// scalar found (arrays on the way or at the end are traversed, so an array field gives one
/// key per element). A key is a type byte and a canonical form, so that `42` and `42.0` are
/// the same key and `"42"` is another: `s` + UTF-8 for strings, `n` + the shortest decimal
/// for numbers, `t`/`f` for booleans, `z` for null. Keys longer than ``maxLength`` are cut: a
/// lookup then returns candidates that the caller filters again.
public enum JSONIndexKey {
    public static let maxLength = 128

    /// The key of one scalar; nil for arrays and objects.
    public static func key(_ v: JSONValue) -> [UInt8]? {
        var out: [UInt8]
        switch v {
        case .null: out = [UInt8(ascii: "z")]
        case .bool(let b): out = [UInt8(ascii: b ? "t" : "f")]
        case .int(let n): out = [UInt8(ascii: "n")] + Array(String(n).utf8)
        case .uint(let n): out = [UInt8(ascii: "n")] + Array(String(n).utf8)
        case .double(let d):
            if d == d.rounded(), abs(d) < 9.2e18 {
                out = [UInt8(ascii: "n")] + Array(String(Int64(d)).utf8)
            } else {
                out = [UInt8(ascii: "n")] + Array("\(d)".utf8)
            }
        case .string(let s): out = [UInt8(ascii: "s")] + Array(s.utf8)
        case .binary, .array, .object: return nil
        }
        if out.count > maxLength { out = Array(out.prefix(maxLength)) }
        return out
    }

    /// The distinct keys of `doc` at `path`.
    public static func keys(_ doc: JSONValue, path: String) -> [[UInt8]] {
        var seen = Set<[UInt8]>()
        var out: [[UInt8]] = []
        for v in doc.values(atPath: path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)[...])
        {
            if let k = key(v), seen.insert(k).inserted { out.append(k) }
        }
        return out
    }
}

/// JSON-path indexes: the kind `json_path`. The index keys of an entry are
/// ``JSONIndexKey/keys(_:path:)`` of its JSON value at the setting `json_path`; rows are
/// ``IndexStore``'s postings and entry records, looked up with
/// ``Snapshot/lookup(index:key:limit:)``. ``Collection/find(_:fields:sort:limit:cursor:validAt:tx:schemaVersion:)``
/// uses them for equality and `$in`.
public struct JSONPathIndex: IndexKind {
    public static let kindName = "json_path"
    public var name: String { Self.kindName }

    public init() {}

    /// The definition of an index on `path` over the keys of `scope`.
    public static func definition(_ name: String, scope: KeyScope, path: String) -> ExtensionDefinition {
        .index(name, kind: kindName, scope: scope, settings: [JSONMember("json_path", .string(path))])
    }

    /// Whether `d` is of this kind (named so, or from before kinds had names and claimed).
    public static func matches(_ d: ExtensionDefinition) -> Bool {
        d.indexKind == kindName || d.isLegacyIndex && JSONPathIndex().claims(d)
    }

    /// Definitions from before kinds had names with a JSON path, no module and no full-text
    /// flag are this kind's.
    public func claims(_ legacy: ExtensionDefinition) -> Bool {
        guard legacy.module.isEmpty, legacy.string(setting: "json_path") != nil else { return false }
        return legacy[setting: "full_text"] != .bool(true)
    }

    /// The indexed path of a definition of this kind.
    public static func path(_ d: ExtensionDefinition) -> String? {
        guard matches(d) else { return nil }
        return d.string(setting: "json_path")
    }

    public func validate(_ definition: ExtensionDefinition) throws(LLMDBError) {
        guard let path = Self.path(definition) else {
            throw LLMDBError(
                .invalidArgument,
                "the JSON-path index '\(definition.name)' needs the setting json_path (a dotted path)"
            )
        }
        try Filter.checkPath(path, "index path")
    }

    public func maintainer(for definition: ExtensionDefinition) throws -> any IndexMaintainer {
        Maintainer(path: Self.path(definition) ?? "")
    }

    public func verify(_ definition: ExtensionDefinition, _ snapshot: borrowing Snapshot) throws -> [String] {
        let path = Self.path(definition) ?? ""
        return try IndexStore.verify(definition, snapshot) { entries in
            entries.map { e in e.json.map { JSONIndexKey.keys($0, path: path) } ?? [] }
        }
    }

    final class Maintainer: IndexMaintainer {
        let path: String
        init(path: String) { self.path = path }

        func add(_ entries: [IndexedEntry], _ rows: borrowing IndexRows) throws {
            // Tombstones emit no keys but still replace an earlier record at the same entry key.
            let keys = entries.map { e in e.json.map { JSONIndexKey.keys($0, path: path) } ?? [] }
            try IndexStore.write(entries: entries, keys: keys, rows)
        }

        func erase(_ key: Key, _ rows: borrowing IndexRows) throws {
            try IndexStore.remove(key: key, rows)
        }
    }
}

extension Database {
    /// Registers the kinds of the indexes collections define (JSON-path and full-text)
    /// unless registered already: done when a collection is first used.
    package func registerDocumentIndexKinds() throws(LLMDBError) {
        try registerIfAbsent(JSONPathIndex())
        try registerIfAbsent(FullTextIndex())
    }
}

extension Database.Options {
    /// The index kinds that ship with LLMDB: JSON-path, full-text, and WebAssembly without a
    /// runtime (the ``codeRunner``'s, when there is one, replaces it: erases of keys its
    /// indexes cover need no code). `llmdb`, the server and the C library open databases with
    /// them, so that writes through any door maintain every index; so should an embedder.
    public static var builtInIndexKinds: [any IndexKind] {
        [JSONPathIndex(), FullTextIndex(), WasmIndex(runtime: nil)]
    }
}

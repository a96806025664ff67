import LLMDB
import WasmKit
import WasmParser

/// The four kinds of function a module can provide (docs/wasm-abi.md).
public enum WasmFunctionKind: String, Sendable, CaseIterable {
    /// Transforms or filters a page of records: used by scans.
    case mapPages = "map_pages"
    /// Folds pages into an accumulator: used by aggregates.
    case reducePages = "reduce_pages"
    /// Sees a transaction's operations before commit; may reject it.
    case txHook = "tx_hook"
    /// Emits index keys for records.
    case customIndex = "custom_index"
}

/// Capabilities an operator may grant to modules. Without a grant a module has none:
/// no files, network, clock or randomness, so its results are deterministic.
public enum WasmCapability: String, Sendable, CaseIterable {
    /// `llmdb.clock_now() -> i64`: the wall clock, in microseconds.
    case clock
    /// `llmdb.random_fill(ptr, len)`: random bytes.
    case random
}

/// Limits on user code, per call of an exported function (per page), except memory, which
/// is per instance (one operation).
public struct WasmLimits: Sendable, Hashable {
    /// Linear memory of one instance. A module that declares more initial memory is refused
    /// at registration; `memory.grow` past it returns -1 (the module goes on, or its
    /// allocator returns 0 and the operation fails with `code_limit`).
    public var memoryBytes = 64 << 20
    /// Fuel per call (about one unit per WebAssembly operator): a deterministic budget.
    public var fuel: UInt64 = 2_000_000_000
    /// Wall-clock deadline per call, in microseconds.
    public var deadlineMicroseconds: Int64 = 25_000
    /// The largest module accepted at registration.
    public var maxModuleBytes = 16 << 20
    /// The most output room a call may ask for (see the capacity rule in docs/wasm-abi.md).
    public var maxOutputBytes = 64 << 20
    /// Capabilities granted to modules (none by default).
    public var grants: Set<WasmCapability> = []

    public init() {}
}

/// What a module declares, read from its binary without running it.
struct ModuleInfo: Sendable {
    struct ImportItem: Sendable {
        let module: String
        let name: String
        let kind: String
        let type: FunctionType?
    }
    var imports: [ImportItem] = []
    /// Exported functions and their signatures.
    var functions: [String: FunctionType] = [:]
    var memoryExports: [String] = []
    /// The first memory's declared minimum and maximum, in bytes.
    var memoryMin: UInt64? = nil
    var memoryMax: UInt64? = nil
    var importsMemory = false
    var hasStart = false

    static let pageSignature = FunctionType(parameters: [.i32, .i32, .i32, .i32], results: [.i32])
    static let allocSignature = FunctionType(parameters: [.i32], results: [.i32])

    /// The host functions a module may import, with their signatures and the capability
    /// each needs (nil: always granted).
    static let hostFunctions: [String: (FunctionType, WasmCapability?)] = [
        "fail": (FunctionType(parameters: [.i32, .i32], results: []), nil),
        "clock_now": (FunctionType(parameters: [], results: [.i64]), .clock),
        "random_fill": (FunctionType(parameters: [.i32, .i32], results: []), .random),
    ]

    /// Reads the sections that matter for validation.
    static func read(_ bytes: [UInt8]) throws(LLMDBError) -> ModuleInfo {
        var info = ModuleInfo()
        var types: [FunctionType?] = []
        var functionTypes: [UInt32] = []
        var importedFunctions: [FunctionType?] = []
        var exports: [Export] = []
        var parser = Parser(bytes: bytes)
        do {
            while let payload = try parser.parseNext() {
                switch payload {
                case .typeSection(let groups):
                    for group in groups {
                        for sub in group.types {
                            if case .function(let f) = sub.body { types.append(f) } else { types.append(nil) }
                        }
                    }
                case .importSection(let imports):
                    for i in imports {
                        switch i.descriptor {
                        case .function(let t):
                            let ft = Int(t) < types.count ? types[Int(t)] : nil
                            importedFunctions.append(ft)
                            info.imports.append(ImportItem(module: i.module, name: i.name, kind: "function", type: ft))
                        case .memory:
                            info.importsMemory = true
                            info.imports.append(ImportItem(module: i.module, name: i.name, kind: "memory", type: nil))
                        case .table:
                            info.imports.append(ImportItem(module: i.module, name: i.name, kind: "table", type: nil))
                        case .global:
                            info.imports.append(ImportItem(module: i.module, name: i.name, kind: "global", type: nil))
                        default:
                            info.imports.append(ImportItem(module: i.module, name: i.name, kind: "tag", type: nil))
                        }
                    }
                case .functionSection(let indices):
                    functionTypes = indices
                case .memorySection(let memories):
                    if let m = memories.first {
                        info.memoryMin = m.type.min * 65536
                        info.memoryMax = m.type.max.map { $0 * 65536 }
                    }
                case .exportSection(let list):
                    exports = list
                case .startSection:
                    info.hasStart = true
                default:
                    break
                }
            }
        } catch {
            throw LLMDBError(.invalidModule, "the module is not valid WebAssembly: \(error)")
        }
        for e in exports {
            switch e.descriptor {
            case .function(let index):
                let i = Int(index)
                var ft: FunctionType? = nil
                if i < importedFunctions.count {
                    ft = importedFunctions[i]
                } else if i - importedFunctions.count < functionTypes.count {
                    let t = Int(functionTypes[i - importedFunctions.count])
                    ft = t < types.count ? types[t] : nil
                }
                if let ft { info.functions[e.name] = ft }
            case .memory:
                info.memoryExports.append(e.name)
            default:
                break
            }
        }
        return info
    }

    /// Checks that the module provides `function` of `kind` and the ABI's exports, imports
    /// only what `grants` allow, and fits `limits`. Every problem is named.
    func validate(kind: WasmFunctionKind, function: String, limits: WasmLimits) throws(LLMDBError) {
        var problems: [String] = []
        for i in imports {
            guard i.module == "llmdb", i.kind == "function", let (sig, needs) = Self.hostFunctions[i.name] else {
                let what = i.module.hasPrefix("wasi") ? "a WASI import" : "an import LLMDB does not provide"
                problems.append(
                    "it imports \(i.module).\(i.name) (\(i.kind)), \(what); modules get no files, network, clock or randomness, and may import only llmdb.fail (plus llmdb.clock_now and llmdb.random_fill when the operator grants clock or random)"
                )
                continue
            }
            if i.type != sig {
                problems.append(
                    "it imports llmdb.\(i.name) with the signature \(Self.describe(i.type)); expected \(Self.describe(sig))"
                )
            }
            if let needs, !limits.grants.contains(needs) {
                problems.append(
                    "it imports llmdb.\(i.name), which needs the '\(needs.rawValue)' capability; it is not granted"
                )
            }
        }
        if !memoryExports.contains("memory") {
            problems.append(
                importsMemory
                    ? "it imports its memory; a module must define and export it as \"memory\""
                    : "it does not export its memory as \"memory\""
            )
        }
        if let t = functions["llmdb_alloc"] {
            if t != Self.allocSignature {
                problems.append("llmdb_alloc has the signature \(Self.describe(t)); expected (i32) -> i32")
            }
        } else {
            problems.append("it does not export the allocator llmdb_alloc: (i32) -> i32")
        }
        if let t = functions[function] {
            if t != Self.pageSignature {
                problems.append(
                    "\(function) has the signature \(Self.describe(t)); \(kind.rawValue) functions take (i32, i32, i32, i32) -> i32"
                )
            }
        } else {
            let available = functions.keys.filter { $0 != "llmdb_alloc" }.sorted()
            problems.append(
                "it does not export the \(kind.rawValue) function '\(function)' (it exports: \(available.isEmpty ? "no functions" : available.joined(separator: ", ")))"
            )
        }
        if kind == .reducePages, let t = functions["reduce_finish"], t != Self.pageSignature {
            problems.append("reduce_finish has the signature \(Self.describe(t)); expected (i32, i32, i32, i32) -> i32")
        }
        if let min = memoryMin, min > UInt64(limits.memoryBytes) {
            problems.append("it declares \(min) bytes of initial memory; the limit is \(limits.memoryBytes) bytes")
        }
        if !problems.isEmpty {
            throw LLMDBError(.invalidModule, "module refused: " + problems.joined(separator: "; "))
        }
    }

    static func describe(_ t: FunctionType?) -> String {
        guard let t else { return "(not a function type)" }
        func list(_ v: [ValueType]) -> String { v.map { "\($0)" }.joined(separator: ", ") }
        return "(\(list(t.parameters))) -> \(t.results.count == 1 ? "\(t.results[0])" : "(\(list(t.results)))")"
    }

    /// The kind a module provides when exactly one kind's function is exported.
    func inferredKind() -> WasmFunctionKind? {
        let found = WasmFunctionKind.allCases.filter { functions[$0.rawValue] != nil }
        return found.count == 1 ? found[0] : nil
    }
}

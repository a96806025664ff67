public import LLMDB
import Synchronization
import WAT
@_spi(Fuzzing) import WasmKit
import WasmParser

#if canImport(Glibc)
import Glibc
#endif

/// The WebAssembly engine of a database: compiles each module once (cached by its sha256),
/// gives each operation its own instance, and enforces ``WasmLimits``.
///
/// Give it to ``Database/Options/codeRunner`` so that hooks and custom indexes run on
/// writes; scans with `map` and reduces use it too.
public final class WasmRuntime: CodeRunner, @unchecked Sendable {
    // @unchecked Sendable: `cache` is a Mutex; `engine` is Sendable; the watchdog is.

    public let limits: WasmLimits
    let engine: Engine
    let watchdog: Watchdog
    private let cache = Mutex<[String: CompiledModule]>([:])

    public init(limits: WasmLimits = WasmLimits()) {
        self.limits = limits
        self.watchdog = Watchdog(deadline: limits.deadlineMicroseconds)
        self.engine = Engine(configuration: EngineConfiguration(fuelMetering: true))
    }

    public func session() -> any CodeSession { WasmSession(runtime: self) }

    /// The kind of the `custom_index` indexes (``WasmIndex``), registered with the runtime.
    public var indexKinds: [any IndexKind] { [WasmIndex(runtime: self)] }

    /// The compiled module of a stored code record, verified against its sha256 on first use.
    func compiled(record: [UInt8], sha256: String) throws(LLMDBError) -> CompiledModule {
        if let hit = cache.withLock({ $0[sha256] }) { return hit }
        let code = try CodeRecord.decode(record)
        guard SHA256.hex(code.bytes) == sha256 else {
            throw LLMDBError(
                .invalidModule,
                "module '\(code.meta.name)': its stored bytes do not match their sha256 \(sha256.prefix(12))… (tampered with or damaged); register it again"
            )
        }
        let module: Module
        do { module = try parseWasm(bytes: code.bytes) } catch {
            throw LLMDBError(.invalidModule, "module '\(code.meta.name)' does not parse: \(error)")
        }
        let c = CompiledModule(sha256: sha256, meta: code.meta, info: try ModuleInfo.read(code.bytes), module: module)
        cache.withLock {
            if $0.count >= 256 { $0.removeAll() }
            $0[sha256] = c
        }
        return c
    }

    /// The number of compiled modules cached, for stats and tests.
    public var cachedModules: Int { cache.withLock { $0.count } }
}

struct CompiledModule: Sendable {
    let sha256: String
    let meta: CodeMeta
    let info: ModuleInfo
    let module: Module

    /// The same compiled code under one of its names (the cache is by sha256; a name has
    /// its own kind and function).
    func named(_ meta: CodeMeta) -> CompiledModule {
        CompiledModule(sha256: sha256, meta: meta, info: info, module: module)
    }
}

/// Raised by the `llmdb.fail` import.
struct GuestFailure: Error {
    let message: String
}

/// The memory limit of an instance. A growth past it is refused, not thrown: the
/// WebAssembly spec has `memory.grow` return -1 then, so a module (its allocator) sees the
/// failure and may go on with less or report it (docs/wasm-abi.md, "Memory"). A declared
/// initial memory past it is refused at registration, and again (a trap) at instantiation.
final class MemoryCap: ResourceLimiter {
    let bytes: Int
    init(_ bytes: Int) { self.bytes = bytes }
    func limitMemoryGrowth(to desired: Int) throws -> Bool { desired <= bytes }
    func limitTableGrowth(to desired: Int) throws -> Bool { desired <= 1 << 20 }
}

/// One instance of a module, for one operation (a scan, a reduce, one transaction's hooks
/// or index updates): never shared between operations, so nothing leaks between them.
final class GuestInstance {
    let runtime: WasmRuntime
    let compiled: CompiledModule
    let store: Store
    let instance: Instance
    let memory: WasmKit.Memory
    let alloc: Function
    private var inPtr: UInt32 = 0
    private var inCap = 0
    private var outPtr: UInt32 = 0
    private var outCap = 0
    var name: String { compiled.meta.name }

    init(_ compiled: CompiledModule, runtime: WasmRuntime) throws(LLMDBError) {
        self.runtime = runtime
        self.compiled = compiled
        let limits = runtime.limits
        // Checked again at each instantiation: the grants may have changed since registration.
        let info = compiled.info
        try info.validate(kind: compiled.meta.kind, function: compiled.meta.function, limits: limits)
        let store = Store(engine: runtime.engine)
        store.resourceLimiter = MemoryCap(limits.memoryBytes)
        self.store = store
        var imports = Imports()
        for item in info.imports where item.module == "llmdb" {
            switch item.name {
            case "fail":
                imports.define(
                    module: "llmdb",
                    name: "fail",
                    Function(store: store, parameters: [.i32, .i32]) { caller, args in
                        var message = "(no message)"
                        if let mem = caller.instance?.exports[memory: "memory"] {
                            let p = Int(args[0].i32)
                            let n = min(Int(args[1].i32), 1024)
                            if n > 0, p + n <= mem.byteCount {
                                message = mem.withUnsafeBufferPointer(offset: UInt(p), count: n) {
                                    String(decoding: $0, as: UTF8.self)
                                }
                            }
                        }
                        throw GuestFailure(message: message)
                    }
                )
            case "clock_now":
                imports.define(
                    module: "llmdb",
                    name: "clock_now",
                    Function(store: store, parameters: [], results: [.i64]) { _, _ in
                        [.i64(UInt64(bitPattern: WallClock().now().microseconds))]
                    }
                )
            case "random_fill":
                imports.define(
                    module: "llmdb",
                    name: "random_fill",
                    Function(store: store, parameters: [.i32, .i32]) { caller, args in
                        guard let mem = caller.instance?.exports[memory: "memory"] else { return [] }
                        let p = Int(args[0].i32)
                        let n = Int(args[1].i32)
                        guard n >= 0, p + n <= mem.byteCount else {
                            throw GuestFailure(message: "random_fill outside memory")
                        }
                        mem.withUnsafeMutableBufferPointer(offset: UInt(p), count: n) { buf in
                            var g = SystemRandomNumberGenerator()
                            for i in 0..<n { buf[i] = UInt8.random(in: 0...255, using: &g) }
                        }
                        return []
                    }
                )
            default:
                break
            }
        }
        let module = compiled.module
        let instance: Instance = try Self.guarded(store, runtime, module: compiled.meta.name, function: "(instantiate)")
        {
            try module.instantiate(store: store, imports: imports)
        }
        guard let memory = instance.exports[memory: "memory"], let alloc = instance.exports[function: "llmdb_alloc"]
        else {
            throw LLMDBError(.invalidModule, "module '\(compiled.meta.name)' lacks its memory or llmdb_alloc export")
        }
        self.instance = instance
        self.memory = memory
        self.alloc = alloc
    }

    func function(_ name: String) throws(LLMDBError) -> Function {
        guard let f = instance.exports[function: name] else {
            throw LLMDBError(.invalidModule, "module '\(self.name)' does not export '\(name)'")
        }
        return f
    }

    /// Runs `body` under the limits: the fuel budget and the wall-clock deadline. Maps every
    /// failure to an error that names the module, the function and the limit.
    static func guarded<R>(
        _ store: Store,
        _ runtime: WasmRuntime,
        module: String,
        function: String,
        _ body: () throws -> R
    ) throws(LLMDBError) -> R {
        let limits = runtime.limits
        store.fuel = Fuel(remaining: limits.fuel)
        let ticket = runtime.watchdog.arm(store, microseconds: limits.deadlineMicroseconds)
        defer { runtime.watchdog.disarm(ticket) }
        do {
            return try body()
        } catch let e as GuestFailure {
            WasmCounters.counter.add(1, ordering: .relaxed)
            throw LLMDBError(.codeFailed, "module '\(module)' function '\(function)' failed: \(e.message)")
        } catch let e as LLMDBError {
            throw e
        } catch {
            WasmCounters.counter.add(1, ordering: .relaxed)
            let text = Self.reason(error)
            if ticket.expired.load(ordering: .acquiring) {
                throw LLMDBError(
                    .codeLimit,
                    "module '\(module)' function '\(function)' exceeded the wall-clock deadline of \(Double(limits.deadlineMicroseconds) / 1000) ms"
                )
            }
            if text.contains("out of fuel") {
                throw LLMDBError(
                    .codeLimit,
                    "module '\(module)' function '\(function)' ran out of fuel: the budget is \(limits.fuel) units per call"
                )
            }
            if text.contains("initial memory size exceeds the resource limit") {
                throw LLMDBError(
                    .codeLimit,
                    "module '\(module)' exceeded the memory limit: its initial memory is larger than \(limits.memoryBytes) bytes"
                )
            }
            throw LLMDBError(.codeFailed, "module '\(module)' function '\(function)' trapped: \(text)")
        }
    }

    /// What went wrong, in one line. A WasmKit `Trap` describes itself with its backtrace,
    /// one frame per line (and reads an unset stack slot to print it), so its reason is
    /// read on its own; WasmKit keeps `reason` package-internal, hence the Mirror.
    static func reason(_ error: any Error) -> String {
        if error is Trap, let reason = Mirror(reflecting: error).children.first(where: { $0.label == "reason" }) {
            return "Trap: \(reason.value)"
        }
        let text = "\(error)"
        return text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? text
    }

    /// Memory for `count` bytes from the module's allocator, checked to lie inside memory.
    private func allocate(_ count: Int) throws(LLMDBError) -> UInt32 {
        let alloc = self.alloc
        let result = try Self.guarded(store, runtime, module: name, function: "llmdb_alloc") {
            try alloc([.i32(UInt32(count))])
        }
        guard result.count == 1, case .i32(let p) = result[0], p != 0 else {
            throw LLMDBError(
                .codeLimit,
                "module '\(name)' function 'llmdb_alloc' could not allocate \(count) bytes (it returned 0: out of memory; the memory limit is \(runtime.limits.memoryBytes) bytes, past which memory.grow returns -1)"
            )
        }
        guard p % 8 == 0 else {
            throw LLMDBError(
                .codeFailed,
                "module '\(name)' function 'llmdb_alloc' returned \(p), which is not aligned to 8 bytes"
            )
        }
        guard Int(p) + count <= memory.byteCount else {
            throw LLMDBError(
                .codeFailed,
                "module '\(name)' function 'llmdb_alloc' returned \(p) for \(count) bytes, past the end of its memory (\(memory.byteCount) bytes)"
            )
        }
        return p
    }

    /// Copies `bytes` into guest memory at `at`, after checking the range.
    private func write(_ bytes: UnsafeRawBufferPointer, at: UInt32) throws(LLMDBError) {
        guard Int(at) + bytes.count <= memory.byteCount else {
            throw LLMDBError(.codeFailed, "module '\(name)': a host buffer lies outside its memory")
        }
        if bytes.isEmpty { return }
        memory.withUnsafeMutableBufferPointer(offset: UInt(at), count: bytes.count) { $0.copyMemory(from: bytes) }
    }

    /// Calls `function(in_ptr, in_len, out_ptr, out_cap)` with `input` and, for reduce, the
    /// accumulator `preset` at out_ptr. A result larger than the capacity is a request for
    /// more room: the buffer grows and the call is repeated once. Returns the result and
    /// hands the output bytes `[out_ptr, out_ptr + result)` to `body` (nil when the result
    /// is not a length, e.g. a hook's 0).
    func call<R>(
        _ fn: Function,
        _ fname: String,
        input: UnsafeRawBufferPointer,
        preset: [UInt8]? = nil,
        minimumOutput: Int = 4096,
        _ body: (UInt32, UnsafeRawBufferPointer) throws(LLMDBError) -> R
    ) throws(LLMDBError) -> R {
        if inCap < input.count {
            inCap = max(input.count, inCap * 2, 4096)
            inPtr = try allocate(inCap)
        }
        var want = max(minimumOutput, preset?.count ?? 0)
        for attempt in 0..<2 {
            if outCap < want {
                outCap = max(want, outCap * 2)
                outPtr = try allocate(outCap)
            }
            try write(input, at: inPtr)
            if let preset {
                guard Int(outPtr) + preset.count <= memory.byteCount else {
                    throw LLMDBError(.codeFailed, "module '\(name)': the output buffer lies outside its memory")
                }
                let out = outPtr
                memory.withUnsafeMutableBufferPointer(offset: UInt(out), count: preset.count) {
                    $0.copyBytes(from: preset)
                }
            }
            let args: [WasmKit.Value] = [.i32(inPtr), .i32(UInt32(input.count)), .i32(outPtr), .i32(UInt32(outCap))]
            let result = try Self.guarded(store, runtime, module: name, function: fname) { try fn(args) }
            guard result.count == 1, case .i32(let r) = result[0] else {
                throw LLMDBError(
                    .codeFailed,
                    "module '\(name)' function '\(fname)' returned \(result) instead of one i32"
                )
            }
            if Int(r) <= outCap {
                guard Int(outPtr) + Int(r) <= memory.byteCount else {
                    throw LLMDBError(
                        .codeFailed,
                        "module '\(name)' function '\(fname)' returned a length past the end of its memory"
                    )
                }
                let result: Result<R, LLMDBError> = memory.withUnsafeBufferPointer(offset: UInt(outPtr), count: Int(r))
                {
                    out in
                    do { return .success(try body(r, out)) } catch let e as LLMDBError { return .failure(e) } catch {
                        return .failure(LLMDBError(.codeFailed, "\(error)"))
                    }
                }
                return try result.get()
            }
            guard Int(r) <= runtime.limits.maxOutputBytes else {
                throw LLMDBError(
                    .codeLimit,
                    "module '\(name)' function '\(fname)' asked for \(r) bytes of output; the limit is \(runtime.limits.maxOutputBytes) bytes"
                )
            }
            if attempt == 1 {
                throw LLMDBError(
                    .codeFailed,
                    "module '\(name)' function '\(fname)' asked for \(r) bytes of output after being given \(outCap)"
                )
            }
            want = Int(r)
        }
        fatalError("unreachable")
    }
}

/// Process-wide counts of guest code outcomes, for metrics.
public enum WasmCounters {
    /// Calls that trapped, failed, or hit a limit (fuel, deadline, memory).
    static let counter = Atomic<Int>(0)
    public static var failures: Int { counter.load(ordering: .relaxed) }
}

public import LLMDB

#if canImport(Glibc)
import Glibc
#endif

/// Measurements for the benchmark program: not part of the supported API.
@_spi(Benchmark)
extension Database {
    /// Times `calls` calls of a map_pages module's function on an empty page through the
    /// whole host path (limits armed, page copied in, output checked), on one instance; and
    /// instantiating a cached module plus one such call. Returns microseconds per call and
    /// per instantiate-and-call.
    public func measureInvocation(module: String, calls: Int) throws -> (perCall: Double, instantiateAndCall: Double) {
        let compiled = try compiledModule(module, kind: .mapPages)
        let page = PageBuilder(kind: 1)
        let fname = compiled.meta.function
        let rounds = 200
        let t0 = monotonicMicroseconds()
        for _ in 0..<rounds {
            let guest = try GuestInstance(compiled, runtime: wasm)
            let fn = try guest.function(fname)
            _ = try guest.call(fn, fname, input: page.finish()) { (r, _) throws(LLMDBError) in r }
        }
        let instantiate = Double(monotonicMicroseconds() - t0) / Double(rounds)
        let guest = try GuestInstance(compiled, runtime: wasm)
        let fn = try guest.function(fname)
        let t1 = monotonicMicroseconds()
        for _ in 0..<calls {
            _ = try guest.call(fn, fname, input: page.finish()) { (r, _) throws(LLMDBError) in r }
        }
        return (Double(monotonicMicroseconds() - t1) / Double(max(calls, 1)), instantiate)
    }
}

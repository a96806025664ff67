// The distance kernels' benchmark (`make bench-vector-kernels`): an exact scan of N vectors
// of D floats laid out as LLMDB reads them (each at a 2-byte-aligned offset, as LMDB's inline
// values are), with the SIMD kernels of LLMDBVector beside the baseline, a plain scalar loop
// over the same bytes, in the same run. Rounds alternate; medians and ratios are printed, and
// one JSON line per figure.
import BenchSupport
import Foundation
import LLMDBVector

var count = 10_000
var dimensions = 384
var rounds = 31
func number(_ s: String?, _ usage: String) -> Int {
    guard let s, let n = Int(s), n > 0 else { fail("\(usage): a positive number") }
    return n
}
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--count": count = number(args.popFirst(), "--count N")
    case "--dim": dimensions = number(args.popFirst(), "--dim D")
    case "--rounds": rounds = number(args.popFirst(), "--rounds R")
    case "--help", "-h":
        print("usage: llmdb-vector-bench [--count N (10000)] [--dim D (384)] [--rounds R (31)]")
        exit(0)
    default: fail("unknown argument \(a); see --help")
    }
}

// Each vector at an offset ≡ 2 (mod 4) of one buffer: the worst alignment LMDB gives.
let stride = dimensions * 4 + 2
let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count * stride + 2, alignment: 16)
defer { buffer.deallocate() }
var state: UInt64 = 42
@MainActor func nextFloat() -> Float {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
}
for i in 0..<count {
    for j in 0..<dimensions {
        buffer.storeBytes(of: nextFloat(), toByteOffset: 2 + i * stride + j * 4, as: Float.self)
    }
}
let query = (0..<dimensions).map { _ in nextFloat() }
let codes = (0..<count).map { i in
    Int8Codes.encode((0..<dimensions).map { buffer.load(fromByteOffset: 2 + i * stride + $0 * 4, as: Float.self) })
}
let (queryCodes, queryScale) = Int8Codes.encode(query)
let flatCodes = codes.flatMap(\.codes)

@MainActor func vector(_ i: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: buffer[(2 + i * stride)..<(2 + i * stride + dimensions * 4)])
}

/// The baseline: the definition, one float at a time.
@inline(never)
func scalarDot(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Float {
    var s: Float = 0
    for j in 0..<(a.count / 4) {
        s +=
            a.loadUnaligned(fromByteOffset: j * 4, as: Float.self)
            * b.loadUnaligned(fromByteOffset: j * 4, as: Float.self)
    }
    return s
}

var sink: Float = 0
@MainActor func scan(_ name: String) -> Double {
    let start = now()
    var best: Float = -.infinity
    query.withUnsafeBytes { q in
        switch name {
        case "scalar":
            for i in 0..<count { best = max(best, scalarDot(q, vector(i))) }
        case "simd":
            for i in 0..<count { best = max(best, VectorKernels.dot(q, vector(i))) }
        case "simd_cosine":
            for i in 0..<count { best = max(best, -VectorKernels.distance(.cosine, q, vector(i))) }
        default:
            queryCodes.withUnsafeBytes { qc in
                flatCodes.withUnsafeBytes { all in
                    for i in 0..<count {
                        let c = UnsafeRawBufferPointer(rebasing: all[(i * dimensions)..<((i + 1) * dimensions)])
                        best = max(best, Int8Codes.approximateDot(qc, scaleA: queryScale, c, scaleB: codes[i].scale))
                    }
                }
            }
        }
    }
    sink += best
    return now() - start
}

let names = ["scalar", "simd", "simd_cosine", "int8"]
var times: [String: [Double]] = [:]
for r in 0..<rounds {
    for name in (r % 2 == 0 ? names : names.reversed()) { times[name, default: []].append(scan(name)) }
}
let base = median(times["scalar"]!)
print("exact scan of \(count) × \(dimensions) f32 (2-byte aligned), medians of \(rounds) rounds")
print("| kernel | ms per scan | ns per vector | speed-up over scalar |")
print("|---|---:|---:|---:|")
for name in names {
    let m = median(times[name]!)
    print(
        String(format: "| %@ | %.3f | %.1f | %.2f× |", name, m * 1e3, m * 1e9 / Double(count), base / m)
    )
}
for name in names {
    let m = median(times[name]!)
    print(
        "{\"workload\":\"scan_\(name)\",\"count\":\(count),\"dim\":\(dimensions),\"ms\":\(m * 1e3),\"speedup\":\(base / m)}"
    )
}
if sink.isNaN { print("") }

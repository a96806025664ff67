import LLMDBVector
import Testing

/// A deterministic generator (SplitMix64), so that a failing case can be replayed.
struct Generator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in −1…1, sometimes scaled far up or down.
    mutating func float() -> Float {
        let u = Float(next() >> 40) / Float(1 << 24) * 2 - 1
        switch next() % 16 {
        case 0: return u * 1e4
        case 1: return u * 1e-4
        default: return u
        }
    }
}

/// The references: the plain definitions, in Double.
enum Reference {
    static func dot(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }
    static func squaredL2(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }
    }
    static func magnitude(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0) { $0 + abs(Double($1.0) * Double($1.1)) }
    }
}

/// `body` with the floats of `v` placed at byte offset `offset` of a buffer: LMDB gives an
/// inline value only 2-byte alignment, so kernels must read at any even offset.
func withPlaced<R>(_ v: [Float], offset: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: v.count * 4 + offset + 8, alignment: 16)
    defer { raw.deallocate() }
    let slice = UnsafeMutableRawBufferPointer(rebasing: raw[offset..<(offset + v.count * 4)])
    v.withUnsafeBytes { slice.copyMemory(from: $0) }
    return body(UnsafeRawBufferPointer(slice))
}

@Suite("Vector distance kernels: SIMD against the plain definitions")
struct DistanceTests {
    static let dimensions = [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 50, 63, 64, 65, 100, 384, 385, 768, 1536]

    @Test("dot, squared L2 and cosine match a Double reference, at every length and 2-byte offset")
    func matchTheReference() {
        var g = Generator(state: 7)
        for n in Self.dimensions {
            for round in 0..<6 {
                let a = (0..<n).map { _ in g.float() }
                let b = (0..<n).map { _ in g.float() }
                let offsetA = 2 * (round % 3)
                let offsetB = 2 * ((round + 1) % 4)
                let (dot, l2, cosine, norms) = withPlaced(a, offset: offsetA) { pa in
                    withPlaced(b, offset: offsetB) { pb in
                        (
                            VectorKernels.dot(pa, pb), VectorKernels.squaredL2(pa, pb),
                            VectorKernels.distance(.cosine, pa, pb), VectorKernels.dotAndNorms(pa, pb)
                        )
                    }
                }
                // Float accumulation error: a few ulps of the sum of magnitudes per term.
                let tolerance = Reference.magnitude(a, b) * Double(n + 1) * 1e-6 + 1e-30
                #expect(abs(Double(dot) - Reference.dot(a, b)) <= tolerance, "n \(n) round \(round)")
                #expect(abs(Double(norms.dot) - Reference.dot(a, b)) <= tolerance, "n \(n)")
                let l2Tolerance = (Reference.magnitude(a, a) + Reference.magnitude(b, b)) * 2 * Double(n + 1) * 1e-6
                #expect(abs(Double(l2) - Reference.squaredL2(a, b)) <= l2Tolerance + 1e-30, "n \(n)")
                #expect(abs(Double(norms.a) - Reference.dot(a, a)) <= l2Tolerance + 1e-30, "n \(n)")
                let na = Reference.dot(a, a).squareRoot()
                let nb = Reference.dot(b, b).squareRoot()
                let want = na * nb > 0 ? 1 - Reference.dot(a, b) / (na * nb) : 1
                #expect(abs(Double(cosine) - want) <= 1e-4, "n \(n): \(cosine) vs \(want)")
            }
        }
    }

    @Test("distances order as the metric says: the same vector is closest, its opposite farthest")
    func ordering() {
        var g = Generator(state: 11)
        let a = (0..<384).map { _ in g.float() }
        let near = a.map { $0 * 1.01 + 0.001 }
        let opposite = a.map { -$0 }
        a.withUnsafeBytes { pa in
            near.withUnsafeBytes { pn in
                opposite.withUnsafeBytes { po in
                    for metric in VectorMetric.allCases {
                        let self_ = VectorKernels.distance(metric, pa, pa)
                        let n = VectorKernels.distance(metric, pa, pn)
                        let o = VectorKernels.distance(metric, pa, po)
                        #expect(n < o, "\(metric)")
                        if metric != .dot { #expect(self_ <= n + 1e-3, "\(metric)") }
                    }
                    #expect(abs(VectorKernels.distance(.cosine, pa, po) - 2) < 1e-5)
                    #expect(VectorKernels.distance(.l2, pa, pa) == 0)
                }
            }
        }
        // A zero vector under cosine: defined as 1 (collections refuse it before it gets here).
        let zero = [Float](repeating: 0, count: 8)
        let one = [Float](repeating: 1, count: 8)
        #expect(zero.withUnsafeBytes { z in one.withUnsafeBytes { VectorKernels.distance(.cosine, z, $0) } } == 1)
        #expect(VectorKernels.cosineDistance(dot: 0, normA: 0, normB: 3) == 1)
    }

    @Test("int8 codes: the integer dot is exact, and the approximate dot stays within its error bound")
    func int8() {
        var g = Generator(state: 13)
        for n in Self.dimensions {
            for _ in 0..<4 {
                let a = (0..<n).map { _ in g.float() }
                let b = (0..<n).map { _ in g.float() }
                let (ca, sa) = Int8Codes.encode(a)
                let (cb, sb) = Int8Codes.encode(b)
                #expect(ca.allSatisfy { $0 >= -127 && $0 <= 127 })
                let exactCodes = zip(ca, cb).reduce(Int32(0)) { $0 + Int32($1.0) * Int32($1.1) }
                let kernel = ca.withUnsafeBytes { x in cb.withUnsafeBytes { Int8Codes.dot(x, $0) } }
                #expect(kernel == exactCodes, "n \(n)")
                // x = s·q + e with |e| ≤ s/2: |a·b − sa·sb·qa·qb| ≤ (sb/2)Σ|a| + (sa/2)Σ|b| + n·sa·sb/4.
                let approx = ca.withUnsafeBytes { x in
                    cb.withUnsafeBytes { Int8Codes.approximateDot(x, scaleA: sa, $0, scaleB: sb) }
                }
                let sumA = a.reduce(0) { $0 + Double(abs($1)) }
                let sumB = b.reduce(0) { $0 + Double(abs($1)) }
                let bound =
                    Double(sb) / 2 * sumA + Double(sa) / 2 * sumB + Double(n) * Double(sa) * Double(sb) / 4
                let error = abs(Double(approx) - Reference.dot(a, b))
                #expect(error <= bound * 1.01 + 1e-6, "n \(n): error \(error), bound \(bound)")
            }
        }
        let (zeros, scale) = Int8Codes.encode([0, 0, 0])
        #expect(zeros == [0, 0, 0] && scale == 0)
        // The largest component maps to ±127.
        let (codes, s) = Int8Codes.encode([0.5, -2, 1])
        #expect(codes == [32, -127, 64] && abs(s - 2 / 127) < 1e-9)
    }

    @Test("ranking by int8 codes, then rescoring the top candidates in f32, finds the exact top 10")
    func rescoring() {
        var g = Generator(state: 17)
        let n = 64
        let vectors = (0..<2000).map { _ in (0..<n).map { _ in g.float() } }
        let codes = vectors.map { Int8Codes.encode($0) }
        for _ in 0..<20 {
            let q = (0..<n).map { _ in g.float() }
            let (cq, sq) = Int8Codes.encode(q)
            let exact = q.withUnsafeBytes { pq in
                vectors.indices.map { i in vectors[i].withUnsafeBytes { (i, VectorKernels.dot(pq, $0)) } }
            }
            .sorted { $0.1 > $1.1 }.prefix(10).map(\.0)
            let approx = cq.withUnsafeBytes { pq in
                codes.indices.map { i in
                    codes[i].codes.withUnsafeBytes {
                        (i, Int8Codes.approximateDot(pq, scaleA: sq, $0, scaleB: codes[i].scale))
                    }
                }
            }
            .sorted { $0.1 > $1.1 }.prefix(100).map(\.0)
            let rescored = q.withUnsafeBytes { pq in
                approx.map { i in vectors[i].withUnsafeBytes { (i, VectorKernels.dot(pq, $0)) } }
            }
            .sorted { $0.1 > $1.1 }.prefix(10).map(\.0)
            #expect(rescored == exact)
        }
    }
}

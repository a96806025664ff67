// Distance kernels over vectors as LLMDB stores them: 32-bit floats, little-endian, read in
// place from the mapped file. LMDB gives an inline value only 2-byte alignment, so every load
// is an unaligned one (on x86-64 and arm64 as fast as an aligned load unless it crosses a
// cache line). See docs/vectors.md ("Distance kernels") for what the compiler makes of them.

#if !_endian(little)
#error("LLMDB stores vectors little-endian and reads them in place: a big-endian host needs byte-swapping kernels")
#endif

/// How two vectors are compared. Every distance is "smaller is closer".
public enum VectorMetric: String, Sendable, Hashable, CaseIterable {
    /// 1 − cos(a, b): 0 for the same direction, 2 for opposite ones.
    case cosine
    /// −(a · b): for vectors whose length carries meaning (or that are normalized already).
    case dot
    /// ‖a − b‖², the squared Euclidean distance (its order is that of the distance).
    case l2
}

/// f32 distance kernels: `Float`s at any 2-byte alignment (a mapped LMDB value, or an
/// array's bytes), compared 8 lanes at a time with four independent accumulators.
public enum VectorKernels {
    /// Floats per unrolled step: four SIMD8 accumulators, so that each add waits on its own
    /// previous one and not on the other three.
    static let unroll = 32

    @inline(__always)
    static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        p.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        p.loadUnaligned(fromByteOffset: i &* 4, as: Float.self)
    }

    /// The number of floats in `a`, which must be the number in `b`.
    @inline(__always)
    static func count(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        precondition(a.count == b.count && a.count % 4 == 0, "vectors of different sizes")
        return a.count / 4
    }

    /// a · b.
    public static func dot(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Float {
        let n = count(a, b)
        guard n > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return 0 }
        var s0 = SIMD8<Float>()
        var s1 = SIMD8<Float>()
        var s2 = SIMD8<Float>()
        var s3 = SIMD8<Float>()
        var i = 0
        while i &+ unroll <= n {
            s0 += load8(pa, i) * load8(pb, i)
            s1 += load8(pa, i &+ 8) * load8(pb, i &+ 8)
            s2 += load8(pa, i &+ 16) * load8(pb, i &+ 16)
            s3 += load8(pa, i &+ 24) * load8(pb, i &+ 24)
            i &+= unroll
        }
        while i &+ 8 <= n {
            s0 += load8(pa, i) * load8(pb, i)
            i &+= 8
        }
        var sum = ((s0 + s1) + (s2 + s3)).sum()
        while i < n {
            sum += load1(pa, i) * load1(pb, i)
            i &+= 1
        }
        return sum
    }

    /// ‖a − b‖².
    public static func squaredL2(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Float {
        let n = count(a, b)
        guard n > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return 0 }
        var s0 = SIMD8<Float>()
        var s1 = SIMD8<Float>()
        var s2 = SIMD8<Float>()
        var s3 = SIMD8<Float>()
        var i = 0
        while i &+ unroll <= n {
            let d0 = load8(pa, i) - load8(pb, i)
            let d1 = load8(pa, i &+ 8) - load8(pb, i &+ 8)
            let d2 = load8(pa, i &+ 16) - load8(pb, i &+ 16)
            let d3 = load8(pa, i &+ 24) - load8(pb, i &+ 24)
            s0 += d0 * d0
            s1 += d1 * d1
            s2 += d2 * d2
            s3 += d3 * d3
            i &+= unroll
        }
        while i &+ 8 <= n {
            let d = load8(pa, i) - load8(pb, i)
            s0 += d * d
            i &+= 8
        }
        var sum = ((s0 + s1) + (s2 + s3)).sum()
        while i < n {
            let d = load1(pa, i) - load1(pb, i)
            sum += d * d
            i &+= 1
        }
        return sum
    }

    /// ‖a‖².
    public static func squaredNorm(_ a: UnsafeRawBufferPointer) -> Float { dot(a, a) }

    /// a · b, ‖a‖² and ‖b‖² in one pass (cosine without stored norms).
    public static func dotAndNorms(
        _ a: UnsafeRawBufferPointer,
        _ b: UnsafeRawBufferPointer
    ) -> (dot: Float, a: Float, b: Float) {
        let n = count(a, b)
        guard n > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return (0, 0, 0) }
        var d0 = SIMD8<Float>()
        var d1 = SIMD8<Float>()
        var a0 = SIMD8<Float>()
        var a1 = SIMD8<Float>()
        var b0 = SIMD8<Float>()
        var b1 = SIMD8<Float>()
        var i = 0
        while i &+ 16 <= n {
            let x0 = load8(pa, i)
            let y0 = load8(pb, i)
            let x1 = load8(pa, i &+ 8)
            let y1 = load8(pb, i &+ 8)
            d0 += x0 * y0
            d1 += x1 * y1
            a0 += x0 * x0
            a1 += x1 * x1
            b0 += y0 * y0
            b1 += y1 * y1
            i &+= 16
        }
        while i &+ 8 <= n {
            let x = load8(pa, i)
            let y = load8(pb, i)
            d0 += x * y
            a0 += x * x
            b0 += y * y
            i &+= 8
        }
        var d = (d0 + d1).sum()
        var na = (a0 + a1).sum()
        var nb = (b0 + b1).sum()
        while i < n {
            let x = load1(pa, i)
            let y = load1(pb, i)
            d += x * y
            na += x * x
            nb += y * y
            i &+= 1
        }
        return (d, na, nb)
    }

    /// The distance of `metric` between `a` and `b` (smaller is closer). Cosine of a zero
    /// vector is 1 (as for orthogonal ones); collections refuse zero vectors under cosine.
    public static func distance(
        _ metric: VectorMetric,
        _ a: UnsafeRawBufferPointer,
        _ b: UnsafeRawBufferPointer
    ) -> Float {
        switch metric {
        case .dot: return -dot(a, b)
        case .l2: return squaredL2(a, b)
        case .cosine:
            let r = dotAndNorms(a, b)
            let denominator = (r.a * r.b).squareRoot()
            return denominator > 0 ? 1 - r.dot / denominator : 1
        }
    }

    /// The cosine distance when both norms are known (stored beside the vectors, or the
    /// query's computed once): one dot product per comparison.
    @inline(__always)
    public static func cosineDistance(dot: Float, normA: Float, normB: Float) -> Float {
        let denominator = normA * normB
        return denominator > 0 ? 1 - dot / denominator : 1
    }
}

extension VectorKernels {
    /// `body` with the bytes of `v` (an array of floats) as the kernels take them.
    @inline(__always)
    public static func withBytes<R>(_ v: [Float], _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try v.withUnsafeBytes(body)
    }
}

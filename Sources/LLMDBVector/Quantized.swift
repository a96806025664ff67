// Int8 codes for graph traversal: each vector is stored a second time as one signed byte per
// component with one f32 scale (x ≈ scale × code, symmetric, per vector), a quarter of the
// bytes of the f32 vector. A traversal compares codes; the final candidates are rescored with
// the exact f32 kernels (VectorKernels), so the answer's distances are exact.

/// Symmetric per-vector int8 quantization: `code = round(x / scale)` with
/// `scale = max |x| / 127`, codes in −127…127 (never −128, so that products fit in Int16).
public enum Int8Codes {
    /// Writes the codes of `v` (f32 bytes) into `out` (one byte per component; `out.count`
    /// must be the component count) and returns the scale (0 for a zero vector).
    public static func encode(_ v: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Float {
        let n = v.count / 4
        precondition(out.count == n, "int8 codes need one byte per component")
        var largest: Float = 0
        for i in 0..<n { largest = max(largest, abs(VectorKernels.load1(v.baseAddress!, i))) }
        guard largest > 0 else {
            for i in 0..<n { out[i] = 0 }
            return 0
        }
        let scale = largest / 127
        let inverse = 1 / scale
        for i in 0..<n {
            let q = (VectorKernels.load1(v.baseAddress!, i) * inverse).rounded()
            out[i] = UInt8(bitPattern: Int8(max(-127, min(127, q))))
        }
        return scale
    }

    /// The codes of `v` and their scale.
    public static func encode(_ v: [Float]) -> (codes: [Int8], scale: Float) {
        var codes = [Int8](repeating: 0, count: v.count)
        let scale = v.withUnsafeBytes { src in codes.withUnsafeMutableBytes { encode(src, into: $0) } }
        return (codes, scale)
    }

    @inline(__always)
    static func load16(_ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Int16> {
        SIMD16<Int16>(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: i, as: SIMD16<Int8>.self))
    }

    /// Σ aᵢ·bᵢ over two code vectors of the same length (exact, in integers).
    public static func dot(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int32 {
        precondition(a.count == b.count, "code vectors of different sizes")
        let n = a.count
        guard n > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return 0 }
        // Products of codes in −127…127 fit in Int16 (at most 16,129); sums are Int32.
        var s0 = SIMD16<Int32>()
        var s1 = SIMD16<Int32>()
        var i = 0
        while i &+ 32 <= n {
            let p0 = load16(pa, i) &* load16(pb, i)
            let p1 = load16(pa, i &+ 16) &* load16(pb, i &+ 16)
            s0 &+= SIMD16<Int32>(truncatingIfNeeded: p0)
            s1 &+= SIMD16<Int32>(truncatingIfNeeded: p1)
            i &+= 32
        }
        while i &+ 16 <= n {
            s0 &+= SIMD16<Int32>(truncatingIfNeeded: load16(pa, i) &* load16(pb, i))
            i &+= 16
        }
        var sum = (s0 &+ s1).wrappedSum()
        while i < n {
            sum &+=
                Int32(Int8(bitPattern: pa.load(fromByteOffset: i, as: UInt8.self)))
                &* Int32(Int8(bitPattern: pb.load(fromByteOffset: i, as: UInt8.self)))
            i &+= 1
        }
        return sum
    }

    /// The approximate a · b of two quantized vectors: scaleA × scaleB × Σ codes.
    @inline(__always)
    public static func approximateDot(
        _ a: UnsafeRawBufferPointer,
        scaleA: Float,
        _ b: UnsafeRawBufferPointer,
        scaleB: Float
    ) -> Float {
        scaleA * scaleB * Float(dot(a, b))
    }
}

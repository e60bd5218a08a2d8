// The NTT butterflies on eight lanes at a time (`SIMD8<UInt64>`).
//
// Same network, same twiddles, same lazy ranges as the scalar kernels in NTT.swift; only the
// grouping differs. Stages whose half-block `t` is at least 16 run eight butterflies of one
// block per vector. The four stages with `t` = 8, 4, 2, 1 are fused: a group of 16 consecutive
// values is loaded into two vectors once, the four stages run in registers with lane
// shuffles between them, and the group is stored once.
//
// The compiler lowers this to AVX-512 or AVX2 when the package is built for a CPU that has them
// (see Package.swift); elsewhere it still runs correctly, but the scalar kernel is then faster
// and `NTTKernels.useVectorKernels` is false.
//
// There is no 64×64→128-bit vector multiplier, so Shoup's quotient `⌊x·w'/2⁶⁴⌋` is estimated
// from three 32×32→64-bit products (one `vpmuludq` each); see `VectorTwiddle.multiplyLazy`.
// Its products land in [0, 4q) rather than [0, 2q), so these kernels keep values in wider
// ranges than the scalar ones — [0, 8q) forward, [0, 4q) inverse — which `q < 2⁶¹` allows
// (8q < 2⁶⁴), and which saves the correction of every product.

@usableFromInline typealias U64x8 = SIMD8<UInt64>

/// A twiddle `w` broadcast or gathered into eight lanes, with its Shoup companion split in
/// 32-bit halves for the emulated high product.
@usableFromInline
struct VectorTwiddle {
    @usableFromInline let w: U64x8
    @usableFromInline let shoupLow: U64x8
    @usableFromInline let shoupHigh: U64x8

    @inlinable @inline(__always)
    init(_ w: U64x8, shoup: U64x8) {
        self.w = w
        self.shoupLow = shoup & U64x8(repeating: 0xffff_ffff)
        self.shoupHigh = shoup &>> 32
    }

    @inlinable @inline(__always)
    init(broadcast w: UInt64, shoup: UInt64) {
        self.init(U64x8(repeating: w), shoup: U64x8(repeating: shoup))
    }

    /// `x·w mod q` in [0, 4q) for any 64-bit `x` (lane-wise Shoup product).
    ///
    /// The quotient `⌊x·w'/2⁶⁴⌋` is estimated from three of the four 32×32-bit partial products:
    /// with `x = xₕ·2³² + xₗ` and `w' = wₕ·2³² + wₗ`, the estimate
    /// `xₕwₕ + ⌊xₕwₗ/2³²⌋ + ⌊xₗwₕ/2³²⌋` drops `xₗwₗ` and two fractional parts, three terms each
    /// below 2⁶⁴ at the 2⁶⁴ scale, so it is low by at most 2. Shoup's own estimate is low by at
    /// most 1, so `x·w − estimate·q ∈ [0, 4q)`, below 2⁶³ as `q < 2⁶¹`.
    @inlinable @inline(__always)
    func multiplyLazy(_ x: U64x8, q: U64x8) -> U64x8 {
        let xHigh = x &>> 32
        // vpmuludq reads the low 32 bits of each lane: no mask needed for xₗ
        let xLow = x & U64x8(repeating: 0xffff_ffff)
        let quotient = xHigh &* shoupHigh &+ ((xHigh &* shoupLow) &>> 32) &+ ((xLow &* shoupHigh) &>> 32)
        return x &* w &- quotient &* q
    }
}

@inlinable @inline(__always)
func loadVector(_ p: UnsafePointer<UInt64>) -> U64x8 {
    UnsafeRawPointer(p).loadUnaligned(as: U64x8.self)
}

@inlinable @inline(__always)
func storeVector(_ v: U64x8, _ p: UnsafeMutablePointer<UInt64>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: U64x8.self)
}

/// `x ≥ m ? x − m : x` lane-wise, for `x < 2⁶³ + m`: the borrow sets bit 63 of `x − m`, and the
/// arithmetic shift turns it into a mask that adds `m` back. (Written with shifts rather than
/// `pointwiseMin`: between lane shuffles the compiler splits `min` into 128-bit pieces.)
@inlinable @inline(__always)
func subtractIfAtLeast(_ x: U64x8, _ m: U64x8) -> U64x8 {
    let d = x &- m
    let mask = U64x8(truncatingIfNeeded: SIMD8<Int64>(truncatingIfNeeded: d) &>> 63)
    return d &+ (m & mask)
}

extension NTTKernels {
    /// Forward butterflies on eight lanes: `(x, y) → (x' + w·y, x' − w·y + 4q)`, `x'` = `x`
    /// reduced to [0, 4q). Inputs [0, 8q), outputs [0, 8q).
    @inlinable @inline(__always)
    static func forwardButterfly(_ x: inout U64x8, _ y: inout U64x8, _ w: VectorTwiddle,
                                 q: U64x8, fourQ: U64x8) {
        let u = subtractIfAtLeast(x, fourQ)
        let p = w.multiplyLazy(y, q: q)
        x = u &+ p
        y = u &+ fourQ &- p
    }

    /// Inverse butterflies on eight lanes: `(x, y) → (x + y mod 4q, (x − y + 4q)·w)`.
    /// Inputs [0, 4q), outputs [0, 4q).
    @inlinable @inline(__always)
    static func inverseButterfly(_ x: inout U64x8, _ y: inout U64x8, _ w: VectorTwiddle,
                                 q: U64x8, fourQ: U64x8) {
        let s = subtractIfAtLeast(x &+ y, fourQ)
        let d = x &+ fourQ &- y
        x = s
        y = w.multiplyLazy(d, q: q)
    }

    /// The last inverse stage: `(x, y) → ((x + y)·N⁻¹, (x − y + 2q)·w⁻¹N⁻¹)`, reduced to [0, q)
    /// (the table's last twiddle already includes N⁻¹).
    @inlinable @inline(__always)
    static func inverseLastButterfly(_ x: inout U64x8, _ y: inout U64x8, _ w: VectorTwiddle,
                                     _ scale: VectorTwiddle, q: U64x8, twoQ: U64x8, fourQ: U64x8) {
        let s = scale.multiplyLazy(x &+ y, q: q)                 // [0, 4q)
        let d = w.multiplyLazy(x &+ fourQ &- y, q: q)
        x = subtractIfAtLeast(subtractIfAtLeast(s, twoQ), q)
        y = subtractIfAtLeast(subtractIfAtLeast(d, twoQ), q)
    }

    /// `[a₀,a₀,a₁,a₁,a₂,a₂,a₃,a₃]` from four consecutive values.
    @inlinable @inline(__always)
    static func duplicatePairs(_ p: UnsafePointer<UInt64>) -> U64x8 {
        let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD4<UInt64>.self)
        return U64x8(v[0], v[0], v[1], v[1], v[2], v[2], v[3], v[3])
    }

    /// `[a₀ ×4, a₁ ×4]`.
    @inlinable @inline(__always)
    static func duplicateQuads(_ p: UnsafePointer<UInt64>) -> U64x8 {
        U64x8(lowHalf: SIMD4(repeating: p[0]), highHalf: SIMD4(repeating: p[1]))
    }

    /// The lanes holding positions {0,1,4,5,8,9,12,13} and {2,3,6,7,10,11,14,15} of a
    /// 16-value group, from vectors holding positions {0,1,2,3,8,9,10,11} and
    /// {4,5,6,7,12,13,14,15} — and, applied once more, the inverse arrangement.
    @inlinable @inline(__always)
    static func exchangePairs(_ x: U64x8, _ y: U64x8) -> (U64x8, U64x8) {
        (U64x8(x[0], x[1], y[0], y[1], x[4], x[5], y[4], y[5]),
         U64x8(x[2], x[3], y[2], y[3], x[6], x[7], y[6], y[7]))
    }

    /// Forward NTT on eight lanes, `N ≥ 32`: same contract and same result as `forward`.
    @inlinable
    public static func forwardVector(_ a: UnsafeMutablePointer<UInt64>, degree n: Int, q scalarQ: UInt64,
                                     twiddles: UnsafePointer<UInt64>, twiddlesShoup: UnsafePointer<UInt64>) {
        precondition(n >= 32, "the vector NTT needs N ≥ 32")
        let q = U64x8(repeating: scalarQ), twoQ = U64x8(repeating: scalarQ &<< 1)
        let fourQ = U64x8(repeating: scalarQ &<< 2)
        var t = n
        var m = 1
        // Stages with half-size t ≥ 16, two at a time (radix 4) to halve the passes over memory;
        // one radix-2 stage first when their number is odd.
        if (n.trailingZeroBitCount &- 4) & 1 == 1 {
            t &>>= 1
            let w = VectorTwiddle(broadcast: twiddles[1], shoup: twiddlesShoup[1])
            var j = 0
            while j < t {
                var u = loadVector(a + j), v = loadVector(a + t + j)
                forwardButterfly(&u, &v, w, q: q, fourQ: fourQ)
                storeVector(u, a + j)
                storeVector(v, a + t + j)
                j &+= 8
            }
            m = 2
        }
        while t > 16 {
            // stage A: m blocks of size t (half t/2); stage B: 2m blocks of size t/2 (half t/4)
            let half = t &>> 1, quarter = t &>> 2
            for i in 0..<m {
                let iA: Int = m &+ i
                let iB: Int = (m &+ i) &<< 1
                let wA = VectorTwiddle(broadcast: twiddles[iA], shoup: twiddlesShoup[iA])
                let w0 = VectorTwiddle(broadcast: twiddles[iB], shoup: twiddlesShoup[iB])
                let w1 = VectorTwiddle(broadcast: twiddles[iB &+ 1], shoup: twiddlesShoup[iB &+ 1])
                let offset: Int = i &* t
                let p0 = a + offset
                let p1 = p0 + quarter, p2 = p0 + half, p3 = p2 + quarter
                var j = 0
                while j < quarter {
                    var x0 = loadVector(p0 + j), x1 = loadVector(p1 + j)
                    var x2 = loadVector(p2 + j), x3 = loadVector(p3 + j)
                    forwardButterfly(&x0, &x2, wA, q: q, fourQ: fourQ)
                    forwardButterfly(&x1, &x3, wA, q: q, fourQ: fourQ)
                    forwardButterfly(&x0, &x1, w0, q: q, fourQ: fourQ)
                    forwardButterfly(&x2, &x3, w1, q: q, fourQ: fourQ)
                    storeVector(x0, p0 + j)
                    storeVector(x1, p1 + j)
                    storeVector(x2, p2 + j)
                    storeVector(x3, p3 + j)
                    j &+= 8
                }
            }
            t &>>= 2
            m &<<= 2
        }
        // The stages t = 8, 4, 2, 1 on groups of 16 values (m = N/16 for t = 8).
        let m8 = n &>> 4, m4 = n &>> 3, m2 = n &>> 2, m1 = n &>> 1
        for g in 0..<(n &>> 4) {
            let p = a + 16 &* g
            var x = loadVector(p), y = loadVector(p + 8)                 // positions 0–7 | 8–15
            forwardButterfly(&x, &y, VectorTwiddle(broadcast: twiddles[m8 &+ g],
                                                   shoup: twiddlesShoup[m8 &+ g]), q: q, fourQ: fourQ)
            (x, y) = (U64x8(lowHalf: x.lowHalf, highHalf: y.lowHalf),   // 0–3, 8–11
                      U64x8(lowHalf: x.highHalf, highHalf: y.highHalf)) // 4–7, 12–15
            forwardButterfly(&x, &y, VectorTwiddle(duplicateQuads(twiddles + (m4 &+ 2 &* g)),
                                                   shoup: duplicateQuads(twiddlesShoup + (m4 &+ 2 &* g))),
                             q: q, fourQ: fourQ)
            (x, y) = exchangePairs(x, y)                                 // 0,1,4,5,… | 2,3,6,7,…
            forwardButterfly(&x, &y, VectorTwiddle(duplicatePairs(twiddles + (m2 &+ 4 &* g)),
                                                   shoup: duplicatePairs(twiddlesShoup + (m2 &+ 4 &* g))),
                             q: q, fourQ: fourQ)
            (x, y) = (U64x8(x[0], y[0], x[2], y[2], x[4], y[4], x[6], y[6]),   // even positions
                      U64x8(x[1], y[1], x[3], y[3], x[5], y[5], x[7], y[7]))   // odd positions
            forwardButterfly(&x, &y, VectorTwiddle(loadVector(twiddles + (m1 &+ 8 &* g)),
                                                   shoup: loadVector(twiddlesShoup + (m1 &+ 8 &* g))),
                             q: q, fourQ: fourQ)
            x = subtractIfAtLeast(subtractIfAtLeast(subtractIfAtLeast(x, fourQ), twoQ), q)
            y = subtractIfAtLeast(subtractIfAtLeast(subtractIfAtLeast(y, fourQ), twoQ), q)
            storeVector(U64x8(x[0], y[0], x[1], y[1], x[2], y[2], x[3], y[3]), p)
            storeVector(U64x8(x[4], y[4], x[5], y[5], x[6], y[6], x[7], y[7]), p + 8)
        }
    }

    /// Inverse NTT on eight lanes, `N ≥ 32`: same contract and same result as `inverse`.
    @inlinable
    public static func inverseVector(_ a: UnsafeMutablePointer<UInt64>, degree n: Int, q scalarQ: UInt64,
                                     twiddles: UnsafePointer<UInt64>, twiddlesShoup: UnsafePointer<UInt64>,
                                     inverseDegree: UInt64, inverseDegreeShoup: UInt64) {
        precondition(n >= 32, "the vector NTT needs N ≥ 32")
        let q = U64x8(repeating: scalarQ), twoQ = U64x8(repeating: scalarQ &<< 1)
        let fourQ = U64x8(repeating: scalarQ &<< 2)
        // The stages t = 1, 2, 4, 8 (h = N/2, N/4, N/8, N/16; table offsets N − 2h).
        let k1 = 0, k2 = n &>> 1, k4 = n &- (n &>> 2), k8 = n &- (n &>> 3)
        for g in 0..<(n &>> 4) {
            let p = a + 16 &* g
            let lo = loadVector(p), hi = loadVector(p + 8)
            var x = U64x8(lo[0], lo[2], lo[4], lo[6], hi[0], hi[2], hi[4], hi[6])   // even positions
            var y = U64x8(lo[1], lo[3], lo[5], lo[7], hi[1], hi[3], hi[5], hi[7])   // odd positions
            inverseButterfly(&x, &y, VectorTwiddle(loadVector(twiddles + (k1 &+ 8 &* g)),
                                                   shoup: loadVector(twiddlesShoup + (k1 &+ 8 &* g))),
                             q: q, fourQ: fourQ)
            (x, y) = (U64x8(x[0], y[0], x[2], y[2], x[4], y[4], x[6], y[6]),   // 0,1,4,5,…
                      U64x8(x[1], y[1], x[3], y[3], x[5], y[5], x[7], y[7]))   // 2,3,6,7,…
            inverseButterfly(&x, &y, VectorTwiddle(duplicatePairs(twiddles + (k2 &+ 4 &* g)),
                                                   shoup: duplicatePairs(twiddlesShoup + (k2 &+ 4 &* g))),
                             q: q, fourQ: fourQ)
            (x, y) = exchangePairs(x, y)                                         // 0–3, 8–11 | 4–7, 12–15
            inverseButterfly(&x, &y, VectorTwiddle(duplicateQuads(twiddles + (k4 &+ 2 &* g)),
                                                   shoup: duplicateQuads(twiddlesShoup + (k4 &+ 2 &* g))),
                             q: q, fourQ: fourQ)
            (x, y) = (U64x8(lowHalf: x.lowHalf, highHalf: y.lowHalf),           // 0–7
                      U64x8(lowHalf: x.highHalf, highHalf: y.highHalf))         // 8–15
            inverseButterfly(&x, &y, VectorTwiddle(broadcast: twiddles[k8 &+ g], shoup: twiddlesShoup[k8 &+ g]),
                             q: q, fourQ: fourQ)
            storeVector(x, p)
            storeVector(y, p + 8)
        }
        // Stages with half-size t ≥ 16, two at a time (radix 4); the very last stage (h = 1)
        // carries N⁻¹ and the final reduction, and is alone when the number of stages is odd.
        var t = 16
        var h = n &>> 5
        var k = n &- (n &>> 4)
        while h > 1 {
            let last = h == 2
            for c in 0..<(h &>> 1) {
                let i0: Int = k &+ (c &<< 1)
                let iB: Int = k &+ h &+ c
                let w0 = VectorTwiddle(broadcast: twiddles[i0], shoup: twiddlesShoup[i0])
                let w1 = VectorTwiddle(broadcast: twiddles[i0 &+ 1], shoup: twiddlesShoup[i0 &+ 1])
                let wB = VectorTwiddle(broadcast: twiddles[iB], shoup: twiddlesShoup[iB])
                let offset: Int = (c &* t) &<< 2
                let p0 = a + offset
                let p1 = p0 + t, p2 = p1 + t, p3 = p2 + t
                var j = 0
                if last {
                    let scale = VectorTwiddle(broadcast: inverseDegree, shoup: inverseDegreeShoup)
                    while j < t {
                        var x0 = loadVector(p0 + j), x1 = loadVector(p1 + j)
                        var x2 = loadVector(p2 + j), x3 = loadVector(p3 + j)
                        inverseButterfly(&x0, &x1, w0, q: q, fourQ: fourQ)
                        inverseButterfly(&x2, &x3, w1, q: q, fourQ: fourQ)
                        inverseLastButterfly(&x0, &x2, wB, scale, q: q, twoQ: twoQ, fourQ: fourQ)
                        inverseLastButterfly(&x1, &x3, wB, scale, q: q, twoQ: twoQ, fourQ: fourQ)
                        storeVector(x0, p0 + j)
                        storeVector(x1, p1 + j)
                        storeVector(x2, p2 + j)
                        storeVector(x3, p3 + j)
                        j &+= 8
                    }
                } else {
                    while j < t {
                        var x0 = loadVector(p0 + j), x1 = loadVector(p1 + j)
                        var x2 = loadVector(p2 + j), x3 = loadVector(p3 + j)
                        inverseButterfly(&x0, &x1, w0, q: q, fourQ: fourQ)
                        inverseButterfly(&x2, &x3, w1, q: q, fourQ: fourQ)
                        inverseButterfly(&x0, &x2, wB, q: q, fourQ: fourQ)
                        inverseButterfly(&x1, &x3, wB, q: q, fourQ: fourQ)
                        storeVector(x0, p0 + j)
                        storeVector(x1, p1 + j)
                        storeVector(x2, p2 + j)
                        storeVector(x3, p3 + j)
                        j &+= 8
                    }
                }
            }
            k &+= h &+ (h &>> 1)
            t &<<= 2
            h &>>= 2
        }
        if h == 1 {
            // a lone last stage (t = N/2): N⁻¹ and N⁻¹·w⁻¹, reduced to [0, q)
            let scale = VectorTwiddle(broadcast: inverseDegree, shoup: inverseDegreeShoup)
            let w = VectorTwiddle(broadcast: twiddles[k], shoup: twiddlesShoup[k])
            var j = 0
            while j < t {
                var u = loadVector(a + j), v = loadVector(a + t + j)
                inverseLastButterfly(&u, &v, w, scale, q: q, twoQ: twoQ, fourQ: fourQ)
                storeVector(u, a + j)
                storeVector(v, a + t + j)
                j &+= 8
            }
        }
    }
}

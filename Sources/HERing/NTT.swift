// The negacyclic number-theoretic transform over Z_q[X]/(X^N + 1).

/// Precomputed tables of the negacyclic NTT of size `N` modulo one prime `q ≡ 1 (mod 2N)`.
///
/// **The transform.** With `ψ` a primitive 2N-th root of unity (`ψ^N = −1`), the NTT of
/// `a(X) = Σ aⱼ Xʲ` is the vector of evaluations `a(ψ^(2·brv(k)+1))`, `k = 0 … N−1`, where
/// `brv` reverses log₂N bits. Evaluating at the odd powers of `ψ` (the roots of `X^N + 1`)
/// makes pointwise products correspond to products modulo `X^N + 1` — negacyclic convolution —
/// with no zero padding. The output order is the natural output order of the in-place
/// Cooley–Tukey network below ("bit-reversed"); the inverse consumes that order, so no
/// permutation pass is ever needed.
///
/// **Forward (Cooley–Tukey, decimation in time).** Stage `m = 1, 2, 4, …, N/2` splits the
/// array into `m` blocks of `2t` (`t = N/2m`); block `i` uses the twiddle `ψ^brv(m+i)` (with
/// `brv` over log₂N bits) for the butterflies `(x, y) → (x + w·y, x − w·y)`.
/// `forwardTwiddles[m + i]` holds exactly that power, so the loop reads twiddles in order.
///
/// **Inverse (Gentleman–Sande, decimation in frequency).** The stages run in the opposite order
/// with butterflies `(x, y) → (x + y, (x − y)·w⁻¹)`; `inverseTwiddles` stores the inverse
/// powers in the order the loop reads them, and the factor `N⁻¹` is folded into the last stage
/// (its two outputs are multiplied by `N⁻¹` and `N⁻¹·w⁻¹`), so no separate scaling pass exists.
///
/// **Lazy reduction (Harvey 2014).** Every multiplication by a twiddle is a Shoup product with
/// a result in [0, 2q). Forward values stay in [0, 4q) between stages: `x` is brought to
/// [0, 2q) with one branch-free subtraction, then `x + t < 4q` and `x − t + 2q < 4q`. Inverse
/// values stay in [0, 2q). Both need `4q < 2⁶⁴`, guaranteed by `q < 2⁶¹`. Only the last stage
/// reduces to [0, q).
public final class NTTTables: Sendable {
    /// The ring degree `N` (a power of two, 2 … 2¹⁷).
    public let degree: Int
    /// log₂ N.
    public let logDegree: Int
    /// The prime.
    public let modulus: Modulus
    /// `ψ`, the smallest primitive 2N-th root of unity modulo `q`.
    public let psi: UInt64
    /// `forwardTwiddles[k] = ψ^brv(k)`, `k = 0 … N−1` (index 0 unused).
    public let forwardTwiddles: [UInt64]
    /// Shoup companions of `forwardTwiddles`.
    public let forwardTwiddlesShoup: [UInt64]
    /// Inverse twiddles `ψ^−brv(h+i)` in the order the inverse stages read them
    /// (stage `h = N/2` first); the last stage's single twiddle is stored pre-multiplied by `N⁻¹`.
    public let inverseTwiddles: [UInt64]
    /// Shoup companions of `inverseTwiddles`.
    public let inverseTwiddlesShoup: [UInt64]
    /// `N⁻¹ mod q` and its Shoup companion.
    public let inverseDegree: UInt64
    /// The Shoup companion `⌊N⁻¹·2⁶⁴/q⌋` of `inverseDegree`.
    public let inverseDegreeShoup: UInt64

    /// Builds the tables.
    /// - Throws: `HERingError.unsupportedDegree` unless `N` is a power of two in 2 … 2¹⁷;
    ///   `HERingError.notNTTFriendly` unless `q` is a prime `≡ 1 (mod 2N)`.
    public init(degree: Int, modulus: Modulus) throws(HERingError) {
        guard degree >= 2, degree <= 1 << 17, degree & (degree - 1) == 0 else {
            throw .unsupportedDegree(degree)
        }
        self.degree = degree
        self.logDegree = degree.trailingZeroBitCount
        self.modulus = modulus
        let psi = try Primes.minimalPrimitiveRoot(ofOrder: 2 * degree, modulo: modulus.q)
        self.psi = psi
        let psiInverse = modulus.inverse(psi)!
        let log = logDegree
        // powers ψ^j and ψ^-j for j < N
        var powers = [UInt64](repeating: 1, count: degree)
        var inversePowers = [UInt64](repeating: 1, count: degree)
        for j in 1..<degree {
            powers[j] = modulus.multiply(powers[j - 1], psi)
            inversePowers[j] = modulus.multiply(inversePowers[j - 1], psiInverse)
        }
        var forward = [UInt64](repeating: 0, count: degree)
        for k in 0..<degree { forward[k] = powers[bitReverse(k, bits: log)] }
        forward[0] = 1
        // inverse: stages h = N/2, N/4, …, 1 read ψ^-brv(h+i) for i < h
        var inverse: [UInt64] = []
        inverse.reserveCapacity(degree)
        var h = degree / 2
        while h >= 1 {
            for i in 0..<h { inverse.append(inversePowers[bitReverse(h + i, bits: log)]) }
            h /= 2
        }
        let nInverse = modulus.inverse(UInt64(degree))!
        inverse[degree - 2] = modulus.multiply(inverse[degree - 2], nInverse)  // last stage: N⁻¹·w⁻¹
        inverse.append(0)  // pad to N entries
        self.forwardTwiddles = forward
        self.forwardTwiddlesShoup = forward.map { modulus.shoup($0) }
        self.inverseTwiddles = inverse
        self.inverseTwiddlesShoup = inverse.map { modulus.shoup($0) }
        self.inverseDegree = nInverse
        self.inverseDegreeShoup = modulus.shoup(nInverse)
    }

    /// In-place forward NTT of `N` coefficients at `values`: input in [0, 4q), output in [0, q),
    /// bit-reversed evaluation order (see the type's documentation).
    @inlinable
    public func forward(_ values: UnsafeMutablePointer<UInt64>) {
        forwardTwiddles.withUnsafeBufferPointer { w in
            forwardTwiddlesShoup.withUnsafeBufferPointer { ws in
                if NTTKernels.useVectorKernels && degree >= 32 {
                    NTTKernels.forwardVector(values, degree: degree, q: modulus.q,
                                             twiddles: w.baseAddress!, twiddlesShoup: ws.baseAddress!)
                } else {
                    NTTKernels.forward(values, degree: degree, q: modulus.q,
                                       twiddles: w.baseAddress!, twiddlesShoup: ws.baseAddress!)
                }
            }
        }
    }

    /// In-place inverse NTT (including the factor `N⁻¹`): input in [0, 2q) in the forward's
    /// output order, output coefficients in [0, q).
    @inlinable
    public func inverse(_ values: UnsafeMutablePointer<UInt64>) {
        inverseTwiddles.withUnsafeBufferPointer { w in
            inverseTwiddlesShoup.withUnsafeBufferPointer { ws in
                if NTTKernels.useVectorKernels && degree >= 32 {
                    NTTKernels.inverseVector(values, degree: degree, q: modulus.q,
                                             twiddles: w.baseAddress!, twiddlesShoup: ws.baseAddress!,
                                             inverseDegree: inverseDegree, inverseDegreeShoup: inverseDegreeShoup)
                } else {
                    NTTKernels.inverse(values, degree: degree, q: modulus.q,
                                       twiddles: w.baseAddress!, twiddlesShoup: ws.baseAddress!,
                                       inverseDegree: inverseDegree, inverseDegreeShoup: inverseDegreeShoup)
                }
            }
        }
    }

    /// Forward NTT of an array (convenience for tests and cold paths).
    /// - Throws: `HERingError.mismatch` unless there are `N` values.
    public func forward(_ values: inout [UInt64]) throws(HERingError) {
        guard values.count == degree else { throw .mismatch("\(values.count) NTT inputs for N = \(degree)") }
        values.withUnsafeMutableBufferPointer { forward($0.baseAddress!) }
    }

    /// Inverse NTT of an array (convenience for tests and cold paths).
    /// - Throws: `HERingError.mismatch` unless there are `N` values.
    public func inverse(_ values: inout [UInt64]) throws(HERingError) {
        guard values.count == degree else { throw .mismatch("\(values.count) NTT inputs for N = \(degree)") }
        values.withUnsafeMutableBufferPointer { inverse($0.baseAddress!) }
    }
}

/// `x` with its lowest `bits` bits in reverse order (the index order of the NTT's output).
public func bitReverse(_ x: Int, bits: Int) -> Int {
    var r = 0, v = x
    for _ in 0..<bits { r = (r << 1) | (v & 1); v >>= 1 }
    return r
}

/// The butterfly loops, on raw pointers: no allocation, no bounds checks, no branches on data.
public enum NTTKernels {
    /// Whether `NTTTables` runs the eight-lane kernels (`forwardVector`, `inverseVector`).
    ///
    /// True when the package was built with vector units worth using (the compilation
    /// condition `HERING_VECTOR_NTT`, which Package.swift sets together with an AVX2 or AVX-512
    /// target CPU); both kernel families are always compiled and tested, and give identical
    /// results.
    @inlinable public static var useVectorKernels: Bool {
        #if HERING_VECTOR_NTT
        return true
        #else
        return false
        #endif
    }

    /// Forward negacyclic NTT, Harvey lazy butterflies; input [0, 4q), output [0, q).
    @inlinable
    public static func forward(_ a: UnsafeMutablePointer<UInt64>, degree n: Int, q: UInt64,
                               twiddles: UnsafePointer<UInt64>, twiddlesShoup: UnsafePointer<UInt64>) {
        let twoQ = q &<< 1
        var t = n
        var m = 1
        while m < n / 2 {
            t &>>= 1
            for i in 0..<m {
                let w = twiddles[m &+ i], ws = twiddlesShoup[m &+ i]
                let x = a + 2 &* i &* t
                let y = x + t
                for j in 0..<t {
                    let u = subtractIfAtLeast(x[j], twoQ)                        // [0, 2q)
                    let v = y[j]
                    let p = v &* w &- v.multipliedFullWidth(by: ws).high &* q    // [0, 2q)
                    x[j] = u &+ p                                                // [0, 4q)
                    y[j] = u &+ twoQ &- p                                        // (0, 4q)
                }
            }
            m &<<= 1
        }
        // last stage (t = 1), with the final reduction to [0, q) folded in
        for i in 0..<(n / 2) {
            let w = twiddles[m &+ i], ws = twiddlesShoup[m &+ i]
            let x = a + 2 &* i
            let u = subtractIfAtLeast(x[0], twoQ)
            let v = x[1]
            let p = v &* w &- v.multipliedFullWidth(by: ws).high &* q
            x[0] = subtractIfAtLeast(subtractIfAtLeast(u &+ p, twoQ), q)
            x[1] = subtractIfAtLeast(subtractIfAtLeast(u &+ twoQ &- p, twoQ), q)
        }
    }

    /// Inverse negacyclic NTT with `N⁻¹` folded into the last stage; input [0, 2q), output [0, q).
    @inlinable
    public static func inverse(_ a: UnsafeMutablePointer<UInt64>, degree n: Int, q: UInt64,
                               twiddles: UnsafePointer<UInt64>, twiddlesShoup: UnsafePointer<UInt64>,
                               inverseDegree: UInt64, inverseDegreeShoup: UInt64) {
        let twoQ = q &<< 1
        var t = 1
        var h = n / 2
        var k = 0  // position in the twiddle table
        while h > 1 {
            for i in 0..<h {
                let w = twiddles[k &+ i], ws = twiddlesShoup[k &+ i]
                let x = a + 2 &* i &* t
                let y = x + t
                for j in 0..<t {
                    let u = x[j], v = y[j]
                    x[j] = subtractIfAtLeast(u &+ v, twoQ)                       // [0, 2q)
                    let d = u &+ twoQ &- v                                       // (0, 4q)
                    y[j] = d &* w &- d.multipliedFullWidth(by: ws).high &* q     // [0, 2q)
                }
            }
            k &+= h
            t &<<= 1
            h &>>= 1
        }
        // last stage (h = 1, t = N/2): outputs scaled by N⁻¹ and N⁻¹·w⁻¹, reduced to [0, q)
        let w = twiddles[k], ws = twiddlesShoup[k]
        let y = a + t
        for j in 0..<t {
            let u = a[j], v = y[j]
            let s = u &+ v
            let d = u &+ twoQ &- v
            let r0 = s &* inverseDegree &- s.multipliedFullWidth(by: inverseDegreeShoup).high &* q
            let r1 = d &* w &- d.multipliedFullWidth(by: ws).high &* q
            a[j] = subtractIfAtLeast(r0, q)
            y[j] = subtractIfAtLeast(r1, q)
        }
    }
}

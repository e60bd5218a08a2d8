// Hybrid key switching in three separate steps: decompose (ModUp), inner product with the key
// in Q_ℓ·P, ModDown. Separate so that one decomposition serves many rotations (hoisting).
import HERing

/// A polynomial of `Q_ℓ` split into its key-switching digits, each raised to the extended basis
/// `Q_ℓ·P` (ModUp), NTT form.
///
/// Digit `j` is `[c]_{D_j}` (the residues of `c` modulo the digit's primes), as the centred
/// integer in `[−D_j/2, D_j/2)`, converted exactly to every other prime. Any representative
/// would do for correctness (the gadget factor `Q̂_j·(Q̂_j⁻¹ mod D_j)·P` times `D_j` is a multiple
/// of `Q·P`), but the key-switching noise is `Σ_j [c]_{D_j}·e_j / P`: centred digits make it
/// small and unbiased.
public struct DecomposedPolynomial: Sendable {
    /// The level `ℓ` of the polynomial that was decomposed.
    public let level: Int
    /// The number of digits, `⌈(ℓ + 1)/α⌉`.
    public let digitCount: Int
    /// Limbs per digit: `ℓ + 1 + K`.
    public let limbCount: Int
    /// Digit `j`, limb `t` at `(j·limbCount + t)·N` (NTT form over `Q_ℓ·P`).
    public internal(set) var data: [UInt64]
}

extension CKKSContext {
    /// ModUp: splits `c` (NTT form, basis `Q_ℓ`) into digits and raises each to `Q_ℓ·P`.
    ///
    /// Cost: `ℓ + 1` inverse NTTs, then per digit a base conversion and `ℓ + 1 + K − α` forward
    /// NTTs; the digit's own limbs are copied from `c` in NTT form.
    /// - Throws: `CKKSError.parameterMismatch` unless `c` is over this context's `Q_level`.
    public func decompose(_ c: DataPolynomial, level: Int) throws(CKKSError) -> DecomposedPolynomial {
        try checkLevel(level)
        guard c.basis.isSame(as: dataBases[level]) else {
            throw .parameterMismatch("decompose: the polynomial is not over this context's Q_\(level)")
        }
        return decompose(trusted: c, level: level)
    }

    func decompose(trusted c: DataPolynomial, level: Int) -> DecomposedPolynomial {
        let plan = keySwitching[level]
        let n = degree, limbs = extendedBases[level].count
        let tables = extendedBases[level].nttTables
        let coefficients = c.inverseNTT()
        var data = [UInt64](repeating: 0, count: plan.digits.count * limbs * n)
        data.withUnsafeMutableBufferPointer { buffer in
            c.data.withUnsafeBufferPointer { nttBuffer in
                coefficients.data.withUnsafeBufferPointer { coefficientBuffer in
                    for (j, digit) in plan.digits.enumerated() {
                        let base = buffer.baseAddress! + j * limbs * n
                        // the digit's own limbs: c itself
                        let own = digit.range.lowerBound * n
                        (base + own).update(from: nttBuffer.baseAddress! + own, count: digit.range.count * n)
                        // the other limbs: base conversion, then NTT
                        // exact: the centred digit [c]_{D_j} ∈ [−D_j/2, D_j/2), whose product with
                        // the key error is half as large as, and unlike, the biased [0, D_j)
                        // representative has no mean (a mean times e concentrates in a few slots)
                        digit.converter.convert(coefficientBuffer.baseAddress! + own,
                                                intoLimbs: digit.targetLimbs.map { base + $0 * n }, exact: true)
                        let target = UncheckedSendable(base)
                        parallelism.forEach(digit.targetLimbs.count) { t in
                            let limb = digit.targetLimbs[t]
                            tables[limb].forward(target.value + limb * n)
                        }
                    }
                }
            }
        }
        return DecomposedPolynomial(level: level, digitCount: plan.digits.count, limbCount: limbs, data: data)
    }

    /// The key product in the extended basis: `(Σ_j d_j ⊙ b_j, Σ_j d_j ⊙ a_j)` modulo `Q_ℓ·P`,
    /// NTT form, `d_j` digit `j` of `decomposed`.
    ///
    /// Lazy: per coefficient, the `β` products of up to 122 bits are summed in two 128-bit
    /// register accumulators and reduced once (β ≤ 64 keeps the sums below 2¹²⁸).
    /// - Throws: `CKKSError.parameterMismatch` for a key of another parameter set,
    ///   `.levelMismatch` when the key serves only lower levels.
    public func keyProduct(_ decomposed: DecomposedPolynomial,
                           key: KeySwitchingKey) throws(CKKSError) -> (ExtendedPolynomial, ExtendedPolynomial) {
        guard key.parametersFingerprint == parameters.fingerprint, key.degree == degree else {
            throw .parameterMismatch("the key belongs to another parameter set")
        }
        try checkLevel(decomposed.level)
        guard decomposed.digitCount == keySwitching[decomposed.level].digits.count,
              decomposed.limbCount == extendedBases[decomposed.level].count else {
            throw .parameterMismatch("the decomposition was made by another parameter set")
        }
        guard key.level >= decomposed.level else { throw .levelMismatch(key.level, decomposed.level) }
        return keyProduct(trusted: decomposed, key: key)
    }

    func keyProduct(trusted decomposed: DecomposedPolynomial, key: KeySwitchingKey) -> (ExtendedPolynomial, ExtendedPolynomial) {
        let level = decomposed.level
        let basis = extendedBases[level]
        let n = degree, limbs = decomposed.limbCount, digits = decomposed.digitCount
        // extended limb t reads key row t (data primes) or t + (key level − ℓ) (special primes)
        let keyRows = (0..<limbs).map { $0 <= level ? $0 : $0 + (key.level - level) }
        var out0 = ExtendedPolynomial(zeroIn: basis)
        var out1 = ExtendedPolynomial(zeroIn: basis)
        let keyLimbs = key.limbCount, dStride = limbs * n, kStride = keyLimbs * n
        decomposed.data.withUnsafeBufferPointer { dBuffer in
            out0.storage.withUnsafeMutableBufferPointer { o0 in
                out1.storage.withUnsafeMutableBufferPointer { o1 in
                    let dp = UncheckedSendable(dBuffer.baseAddress!)
                    let op0 = UncheckedSendable(o0.baseAddress!), op1 = UncheckedSendable(o1.baseAddress!)
                    switch key.residues {
                    case .words(let b, let a):
                        b.withUnsafeBufferPointer { bBuffer in
                            a.withUnsafeBufferPointer { aBuffer in
                                let bp = UncheckedSendable(bBuffer.baseAddress!), ap = UncheckedSendable(aBuffer.baseAddress!)
                                parallelism.forEach(limbs) { t in
                                    let row = keyRows[t]
                                    keyProductLimb(modulus: basis.moduli[t], digits: digits, n: n,
                                                   d: dp.value + t * n, dStride: dStride,
                                                   b: bp.value + row * n, a: ap.value + row * n, keyStride: kStride,
                                                   out0: op0.value + t * n, out1: op1.value + t * n)
                                }
                            }
                        }
                    case .packed(let b, let a, let wideRow):
                        let (places, narrowRows, wideRows) = KeySwitchingKey.highPlaces(wideRow)
                        withPackedRowPointers(b, a) { b, a in
                            parallelism.forEach(limbs) { t in
                                let row = keyRows[t], place = places[row]
                                let d = dp.value + t * n, out0 = op0.value + t * n, out1 = op1.value + t * n
                                if wideRow[row] {
                                    keyProductLimbPacked(modulus: basis.moduli[t], digits: digits, n: n, d: d, dStride: dStride,
                                                         bLow: b.low + row * n, bHigh: b.wide + place * n,
                                                         aLow: a.low + row * n, aHigh: a.wide + place * n,
                                                         lowStride: kStride, highStride: wideRows * n, out0: out0, out1: out1)
                                } else {
                                    keyProductLimbPacked(modulus: basis.moduli[t], digits: digits, n: n, d: d, dStride: dStride,
                                                         bLow: b.low + row * n, bHigh: b.narrow + place * n,
                                                         aLow: a.low + row * n, aHigh: a.narrow + place * n,
                                                         lowStride: kStride, highStride: narrowRows * n, out0: out0, out1: out1)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (out0, out1)
    }

    /// ModDown: `x` (NTT form, basis `Q_ℓ·P`) → `(x − r)·P⁻¹` (NTT form, `Q_ℓ`) with `r` the
    /// centred representative of `x mod P` converted exactly to `Q_ℓ`: `⌊x/P⌉`, a rounding error
    /// in `[−½, ½)` per coefficient.
    /// - Throws: `CKKSError.parameterMismatch` unless `x` is over this context's `Q_level·P`.
    public func modDown(_ x: ExtendedPolynomial, level: Int) throws(CKKSError) -> DataPolynomial {
        try checkLevel(level)
        guard x.basis.isSame(as: extendedBases[level]) else {
            throw .parameterMismatch("modDown: the polynomial is not over this context's Q_\(level)·P")
        }
        return modDown(x, trustedLevel: level)
    }

    func modDown(_ x: ExtendedPolynomial, trustedLevel level: Int) -> DataPolynomial {
        let basis = extendedBases[level]
        let plan = keySwitching[level]
        let n = degree, qCount = level + 1, k = specialBasis.count
        var special = Array(x.data[(qCount * n)...])
        var converted = [UInt64](repeating: 0, count: qCount * n)
        var result = x
        special.withUnsafeMutableBufferPointer { sBuffer in
            let sp = UncheckedSendable(sBuffer.baseAddress!)
            parallelism.forEach(k) { i in specialBasis.nttTables[i].inverse(sp.value + i * n) }
            converted.withUnsafeMutableBufferPointer { cBuffer in
                // exact: the centred representative r ∈ [−P/2, P/2) of x mod P, so that the
                // rounding error r/P is centred; a biased error (the fast conversion's x + u·P,
                // or r ∈ [0, P)) times s has a mean that the canonical embedding concentrates in
                // a few slots (the slots of 1 + X + … + X^(N−1) reach ~N/π), costing ~6 bits there.
                plan.modDownConverter.convert(sBuffer.baseAddress!, into: cBuffer.baseAddress!, exact: true)
                let cp = UncheckedSendable(cBuffer.baseAddress!)
                result.storage.withUnsafeMutableBufferPointer { rBuffer in
                    let rp = UncheckedSendable(rBuffer.baseAddress!)
                    parallelism.forEach(qCount) { i in
                        let m = basis.moduli[i]
                        let t = cp.value + i * n, r = rp.value + i * n
                        basis.nttTables[i].forward(t)
                        let w = plan.inverseP[i], ws = plan.inversePShoup[i]
                        for c in 0..<n { r[c] = m.multiply(m.subtract(r[c], t[c]), by: w, shoup: ws) }
                    }
                }
            }
        }
        result.dropLastLimbs(trusted: k, basis: dataBases[level])
        return result.relabeled(as: OverQ.self, basis: dataBases[level])
    }

    /// Key switching of `c` (NTT form, level `ℓ`) with a key from `s'` to `s`: `(u₀, u₁)` with
    /// `u₀ + u₁·s ≈ c·s'`.
    /// - Throws: as `decompose` and `keyProduct`.
    public func keySwitch(_ c: DataPolynomial, level: Int, key: KeySwitchingKey) throws(CKKSError) -> (DataPolynomial, DataPolynomial) {
        let (x0, x1) = try keyProduct(decompose(c, level: level), key: key)
        return (modDown(x0, trustedLevel: level), modDown(x1, trustedLevel: level))
    }

    func keySwitch(trusted c: DataPolynomial, level: Int, key: KeySwitchingKey) -> (DataPolynomial, DataPolynomial) {
        let (x0, x1) = keyProduct(trusted: decompose(trusted: c, level: level), key: key)
        return (modDown(x0, trustedLevel: level), modDown(x1, trustedLevel: level))
    }
}

/// One limb of the key product: `out0[k] = Σ_j d_j[k]·b_j[k]`, `out1[k] = Σ_j d_j[k]·a_j[k]`
/// (mod q), digit `j` of `d` at `d + j·dStride`, of the key at `+ j·keyStride`: the one
/// multiply-accumulate kernel (`ProductSums`) with the digit as the shared factor.
@inline(__always)
func keyProductLimb(modulus m: Modulus, digits: Int, n: Int, d: UnsafePointer<UInt64>, dStride: Int,
                    b: UnsafePointer<UInt64>, a: UnsafePointer<UInt64>, keyStride: Int,
                    out0: UnsafeMutablePointer<UInt64>, out1: UnsafeMutablePointer<UInt64>) {
    withUnsafeTemporaryAllocation(of: ProductSums.Term.self, capacity: digits) { terms in
        for j in 0..<digits {
            terms.initializeElement(at: j, to: ProductSums.Term(u: b + j * keyStride, v: a + j * keyStride, w: d + j * dStride))
        }
        ProductSums.limb(modulus: m, count: n, terms: UnsafeBufferPointer(terms), first: out0, second: out1)
    }
}

/// `keyProductLimb` for a packed key: digit `j`'s rows at `+ j·lowStride` (low words) and
/// `+ j·highStride` (high parts).
@inline(__always)
func keyProductLimbPacked<High: FixedWidthInteger & UnsignedInteger>(
    modulus m: Modulus, digits: Int, n: Int, d: UnsafePointer<UInt64>, dStride: Int,
    bLow: UnsafePointer<UInt32>, bHigh: UnsafePointer<High>, aLow: UnsafePointer<UInt32>, aHigh: UnsafePointer<High>,
    lowStride: Int, highStride: Int, out0: UnsafeMutablePointer<UInt64>, out1: UnsafeMutablePointer<UInt64>
) {
    withUnsafeTemporaryAllocation(of: ProductSums.PackedPairTerm<High>.self, capacity: digits) { terms in
        for j in 0..<digits {
            terms.initializeElement(at: j, to: .init(uLow: bLow + j * lowStride, uHigh: bHigh + j * highStride,
                                                     vLow: aLow + j * lowStride, vHigh: aHigh + j * highStride,
                                                     w: d + j * dStride))
        }
        ProductSums.limbPackedPair(modulus: m, count: n, terms: UnsafeBufferPointer(terms), first: out0, second: out1)
    }
}

/// Runs `body` with sendable base addresses of two packed row families (an empty high part
/// gets a placeholder never read).
func withPackedRowPointers<R>(_ b: KeySwitchingKey.PackedRows, _ a: KeySwitchingKey.PackedRows,
                              _ body: (PackedRowPointers, PackedRowPointers) -> R) -> R {
    b.pointers { bp in a.pointers { ap in body(bp, ap) } }
}

/// Base addresses of a `KeySwitchingKey.PackedRows`, valid inside `pointers(_:)`.
struct PackedRowPointers: @unchecked Sendable {
    let low: UnsafePointer<UInt32>
    let narrow: UnsafePointer<UInt8>
    let wide: UnsafePointer<UInt16>
}

extension KeySwitchingKey.PackedRows {
    func pointers<R>(_ body: (PackedRowPointers) -> R) -> R {
        let placeholder8: [UInt8] = [0], placeholder16: [UInt16] = [0]
        return low.withUnsafeBufferPointer { low in
            (narrowHigh.isEmpty ? placeholder8 : narrowHigh).withUnsafeBufferPointer { narrow in
                (wideHigh.isEmpty ? placeholder16 : wideHigh).withUnsafeBufferPointer { wide in
                    body(PackedRowPointers(low: low.baseAddress!, narrow: narrow.baseAddress!, wide: wide.baseAddress!))
                }
            }
        }
    }
}

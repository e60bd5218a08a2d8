// Hybrid key switching in three separate steps: decompose (ModUp), inner product with the key
// in Q_ℓ·P, ModDown. Separate so that one decomposition serves many rotations (hoisting).
import HERing

/// A polynomial of `Q_ℓ` split into its key-switching digits, each raised to the extended basis
/// `Q_ℓ·P` (ModUp), NTT form.
///
/// Digit `j` is `[c]_{D_j}` (the residues of `c` modulo the digit's primes) lifted by fast base
/// conversion to every other prime: the integer `[c]_{D_j} + u·D_j`, `0 ≤ u < α`. The overshoot
/// `u·D_j` vanishes in the key product since the gadget factor `Q̂_j·(Q̂_j⁻¹ mod D_j)·P` times
/// `D_j` is a multiple of `Q·P`.
public struct DecomposedPolynomial: Sendable {
    public let level: Int
    public let digitCount: Int
    /// Limbs per digit: `ℓ + 1 + K`.
    public let limbCount: Int
    /// Digit `j`, limb `t` at `(j·limbCount + t)·N`.
    var data: [UInt64]
}

extension CKKSContext {
    /// ModUp: splits `c` (NTT form, basis `Q_ℓ`) into digits and raises each to `Q_ℓ·P`.
    ///
    /// Cost: `ℓ + 1` inverse NTTs, then per digit a base conversion and `ℓ + 1 + K − α` forward
    /// NTTs; the digit's own limbs are copied from `c` in NTT form.
    public func decompose(_ c: RNSPolynomial, level: Int) -> DecomposedPolynomial {
        precondition(c.form == .ntt && c.limbCount == level + 1, "decompose: NTT form at level \(level) expected")
        let plan = keySwitching[level]
        let n = degree, limbs = extendedBases[level].count
        let tables = extendedBases[level].nttTables
        var coefficients = c
        coefficients.inverseNTT()
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
                        digit.converter.convert(coefficientBuffer.baseAddress! + own,
                                                intoLimbs: digit.targetLimbs.map { base + $0 * n }, exact: false)
                        let target = UncheckedSendable(base)
                        Parallelism.forEach(digit.targetLimbs.count) { t in
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
    /// NTT form, where `d_j` is digit `j` of `decomposed` permuted by `permutation` (the NTT
    /// form of the automorphism `X → X^g`: `σ(d)[k] = d[π[k]]`) when one is given.
    ///
    /// Lazy: each coefficient sums its `β` products of 122 bits in 128 bits and is reduced once.
    public func keyProduct(_ decomposed: DecomposedPolynomial, key: KeySwitchingKey,
                           permutation: [UInt32]? = nil) -> (RNSPolynomial, RNSPolynomial) {
        let level = decomposed.level
        let plan = keySwitching[level]
        let basis = extendedBases[level]
        let n = degree, limbs = decomposed.limbCount, digits = decomposed.digitCount
        precondition(digits <= key.digitCount, "the key has fewer digits than the decomposition")
        var out0 = RNSPolynomial(zeroIn: basis, form: .ntt)
        var out1 = RNSPolynomial(zeroIn: basis, form: .ntt)
        let keyLimbs = key.limbCount
        decomposed.data.withUnsafeBufferPointer { dBuffer in
            key.b.withUnsafeBufferPointer { bBuffer in
                key.a.withUnsafeBufferPointer { aBuffer in
                    out0.data.withUnsafeMutableBufferPointer { o0 in
                        out1.data.withUnsafeMutableBufferPointer { o1 in
                            let dp = UncheckedSendable(dBuffer.baseAddress!)
                            let bp = UncheckedSendable(bBuffer.baseAddress!), ap = UncheckedSendable(aBuffer.baseAddress!)
                            let op0 = UncheckedSendable(o0.baseAddress!), op1 = UncheckedSendable(o1.baseAddress!)
                            permutation.withOptionalBuffer { pi in
                                let pp = UncheckedSendable(pi)
                                Parallelism.forEach(limbs) { t in
                                    let m = basis.moduli[t]
                                    let row = plan.keyRows[t]
                                    var low0 = [UInt64](repeating: 0, count: n), high0 = low0
                                    var low1 = low0, high1 = low0
                                    for j in 0..<digits {
                                        let d = dp.value + (j * limbs + t) * n
                                        let kb = bp.value + (j * keyLimbs + row) * n
                                        let ka = ap.value + (j * keyLimbs + row) * n
                                        if let pi = pp.value {
                                            for k in 0..<n {
                                                let x = d[Int(pi[k])]
                                                accumulate(&low0[k], &high0[k], x, kb[k])
                                                accumulate(&low1[k], &high1[k], x, ka[k])
                                            }
                                        } else {
                                            for k in 0..<n {
                                                let x = d[k]
                                                accumulate(&low0[k], &high0[k], x, kb[k])
                                                accumulate(&low1[k], &high1[k], x, ka[k])
                                            }
                                        }
                                    }
                                    let r0 = op0.value + t * n, r1 = op1.value + t * n
                                    for k in 0..<n {
                                        r0[k] = m.reduce(high: m.reduce(high0[k]), low: low0[k])
                                        r1[k] = m.reduce(high: m.reduce(high1[k]), low: low1[k])
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (out0, out1)
    }

    /// ModDown: `x` (NTT form, basis `Q_ℓ·P`) → `(x − Conv_{P→Q}([x]_P))·P⁻¹` (NTT form, `Q_ℓ`),
    /// i.e. `x/P` up to a small integer error (fewer than `K` units from the fast conversion,
    /// plus the floor).
    public func modDown(_ x: RNSPolynomial, level: Int) -> RNSPolynomial {
        let basis = extendedBases[level]
        precondition(x.form == .ntt && x.basis.isSame(as: basis), "modDown: NTT form over Q_ℓ·P expected")
        let plan = keySwitching[level]
        let n = degree, qCount = level + 1, k = specialBasis.count
        var special = Array(x.data[(qCount * n)...])
        var converted = [UInt64](repeating: 0, count: qCount * n)
        var result = x
        special.withUnsafeMutableBufferPointer { sBuffer in
            let sp = UncheckedSendable(sBuffer.baseAddress!)
            Parallelism.forEach(k) { i in specialBasis.nttTables[i].inverse(sp.value + i * n) }
            converted.withUnsafeMutableBufferPointer { cBuffer in
                plan.modDownConverter.convert(sBuffer.baseAddress!, into: cBuffer.baseAddress!, exact: false)
                let cp = UncheckedSendable(cBuffer.baseAddress!)
                result.data.withUnsafeMutableBufferPointer { rBuffer in
                    let rp = UncheckedSendable(rBuffer.baseAddress!)
                    Parallelism.forEach(qCount) { i in
                        let m = basis.moduli[i]
                        let t = cp.value + i * n, r = rp.value + i * n
                        basis.nttTables[i].forward(t)
                        let w = plan.inverseP[i], ws = plan.inversePShoup[i]
                        for c in 0..<n { r[c] = m.multiply(m.subtract(r[c], t[c]), by: w, shoup: ws) }
                    }
                }
            }
        }
        result.dropLastLimbs(k, basis: dataBases[level])
        return result
    }

    /// Key switching of `c` (NTT form, level `ℓ`) from `s'` to `s`: `(u₀, u₁)` with
    /// `u₀ + u₁·s ≈ c·s'`. With a permutation, switches `σ(c)` (the automorphism applied to the
    /// decomposition of `c`, which is the decomposition of `σ(c)`).
    public func keySwitch(_ c: RNSPolynomial, level: Int, key: KeySwitchingKey,
                          permutation: [UInt32]? = nil) -> (RNSPolynomial, RNSPolynomial) {
        let decomposed = decompose(c, level: level)
        let (x0, x1) = keyProduct(decomposed, key: key, permutation: permutation)
        return (modDown(x0, level: level), modDown(x1, level: level))
    }
}

/// `(high, low) += x·y` in 128 bits.
@inline(__always)
func accumulate(_ low: inout UInt64, _ high: inout UInt64, _ x: UInt64, _ y: UInt64) {
    let p = x.multipliedFullWidth(by: y)
    let (s, c) = low.addingReportingOverflow(p.low)
    low = s
    high &+= p.high &+ (c ? 1 : 0)
}

extension Optional where Wrapped == [UInt32] {
    /// Runs `body` with a pointer to the array's elements, or nil.
    func withOptionalBuffer<R>(_ body: (UnsafePointer<UInt32>?) -> R) -> R {
        switch self {
        case .none: return body(nil)
        case .some(let array): return array.withUnsafeBufferPointer { body($0.baseAddress) }
        }
    }
}

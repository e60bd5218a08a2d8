// Automorphisms X → X^g and division by the last modulus (rescaling).

extension RNSPolynomial {
    /// The permutation that applies `X → X^g` to a polynomial in NTT form: `b[k] = a[π[k]]`.
    ///
    /// Index `k` of the NTT holds the evaluation at `ζₖ = ψ^(2·brv(k)+1)`. For `b(X) = a(X^g)`,
    /// `b(ζₖ) = a(ζₖ^g) = a(ψ^((2·brv(k)+1)·g mod 2N))`, an evaluation of `a` at another odd
    /// power `ψ^(2j+1)`, found at index `brv(j)`. So an automorphism is a pure permutation of
    /// the NTT slots: no arithmetic, and it commutes with the per-limb transforms.
    /// - Throws: `HERingError.invalidArgument` unless `g` is odd (the Galois group of `X^N + 1`
    ///   is `(Z/2N)^×`) and `n` a power of two.
    public static func automorphismPermutation(degree n: Int, galoisElement g: Int) throws(HERingError) -> [UInt32] {
        try checkGaloisElement(g)
        guard n >= 2, n & (n - 1) == 0, n <= 1 << 20 else { throw .invalidArgument("ring degree \(n) is not a power of two") }
        return automorphismPermutation(degree: n, validatedElement: g)
    }

    static func checkGaloisElement(_ g: Int) throws(HERingError) {
        guard g & 1 == 1 else {
            throw .invalidArgument("Galois element \(g) is even: X → X^g is an automorphism of Z[X]/(X^N + 1) only for odd g")
        }
    }

    /// As `automorphismPermutation(degree:galoisElement:)`, for a caller (our CKKS layer) that
    /// has already checked `g` odd and `n` a power of two.
    package static func automorphismPermutation(degree n: Int, validatedElement g: Int) -> [UInt32] {
        let log = n.trailingZeroBitCount
        let twoN = 2 * n
        let gReduced = ((g % twoN) + twoN) % twoN
        var permutation = [UInt32](repeating: 0, count: n)
        for k in 0..<n {
            let exponent = ((2 * bitReverse(k, bits: log) + 1) * gReduced) % twoN
            permutation[k] = UInt32(bitReverse((exponent - 1) / 2, bits: log))
        }
        return permutation
    }

    /// `a(X) → a(X^g)` in either form. In coefficient form, `aⱼXʲ` moves to `X^(j·g mod 2N)`,
    /// with a sign change when the exponent passes `N` (`X^N = −1`). In NTT form it is the slot
    /// permutation of `automorphismPermutation` (pass a precomputed one to avoid rebuilding it),
    /// parallel over limbs.
    /// - Throws: `HERingError.invalidArgument` for an even `g` or a permutation of another size.
    public func applyingAutomorphism(galoisElement g: Int, permutation: [UInt32]? = nil) throws(HERingError) -> RNSPolynomial {
        try Self.checkGaloisElement(g)
        if let permutation {
            guard permutation.count == degree, permutation.allSatisfy({ Int($0) < degree }) else {
                throw .invalidArgument("a permutation of \(permutation.count) NTT slots for N = \(degree)")
            }
        }
        return applyingAutomorphism(validatedElement: g, permutation: permutation)
    }

    /// As `applyingAutomorphism(galoisElement:permutation:)` for an odd `g` and a permutation
    /// (if any) of `automorphismPermutation`, already checked by the caller (our CKKS layer,
    /// whose Galois keys hold validated elements and their permutations).
    package func applyingAutomorphism(validatedElement g: Int, permutation: [UInt32]? = nil) -> RNSPolynomial {
        let n = degree
        var result = RNSPolynomial(zeroIn: basis, form: form)
        switch form {
        case .coefficient:
            let twoN = 2 * n
            let gReduced = ((g % twoN) + twoN) % twoN
            for i in 0..<limbCount {
                let m = basis.moduli[i]
                let base = i * n
                for j in 0..<n {
                    let exponent = (j * gReduced) % twoN
                    let value = data[base + j]
                    if exponent < n {
                        result.data[base + exponent] = value
                    } else {
                        result.data[base + exponent - n] = m.negate(value)
                    }
                }
            }
        case .ntt:
            let pi = permutation ?? Self.automorphismPermutation(degree: n, validatedElement: g)
            data.withUnsafeBufferPointer { source in
                pi.withUnsafeBufferPointer { piBuffer in
                    let sp = UncheckedSendable(source.baseAddress!), pp = UncheckedSendable(piBuffer.baseAddress!)
                    result.forEachLimb { i, _, target in
                        let x = sp.value + i * n
                        for k in 0..<n { target[k] = x[Int(pp.value[k])] }
                    }
                }
            }
        }
        return result
    }

    /// Divides by the last modulus `q_L` with rounding and drops that limb:
    /// `a → ⌊(a + ⌊q_L/2⌋)/q_L⌉` modulo the remaining primes — the RNS form of CKKS rescaling.
    ///
    /// With `r = (a + h) mod q_L`, `h = ⌊q_L/2⌋`, the integer `a + h − r` is divisible by `q_L`,
    /// so limb `i` becomes `(aᵢ + h − r)·q_L⁻¹ mod qᵢ`. In NTT form the last limb is brought to
    /// coefficient form, reduced modulo each `qᵢ`, and transformed with limb `i`'s NTT. No
    /// branch depends on the data.
    public mutating func divideAndRoundByLastModulus(basis newBasis: RNSBasis? = nil) {
        precondition(limbCount >= 2, "cannot rescale a polynomial with a single limb")
        let n = degree, l = limbCount - 1
        let last = basis.moduli[l]
        let half = last.q >> 1
        var lastLimb = Array(limb(l))
        if form == .ntt { basis.nttTables[l].inverse(&lastLimb) }
        for k in 0..<n { lastLimb[k] = last.add(lastLimb[k], half) }    // r = (a + h) mod q_L
        let moduli = basis.moduli
        let tables = basis.nttTables
        let isNTT = form == .ntt
        let target = newBasis ?? basis.prefix(l)
        lastLimb.withUnsafeBufferPointer { lastBuffer in
            let r = UncheckedSendable(lastBuffer.baseAddress!)
            data.withUnsafeMutableBufferPointer { buffer in
                let base = UncheckedSendable(buffer.baseAddress!)
                target.parallelism.forEach(l) { i in
                    let m = moduli[i]
                    let a = base.value + i * n
                    let qLInverse = m.inverse(m.reduce(last.q))!
                    let qLInverseShoup = m.shoup(qLInverse)
                    let halfModQ = m.reduce(half)
                    var t = [UInt64](repeating: 0, count: n)
                    for k in 0..<n { t[k] = m.subtract(m.reduce(r.value[k]), halfModQ) }   // r − h mod qᵢ
                    if isNTT { tables[i].forward(&t) }
                    for k in 0..<n { a[k] = m.multiply(m.subtract(a[k], t[k]), by: qLInverse, shoup: qLInverseShoup) }
                }
            }
        }
        dropLastLimbs(1, basis: target)
    }
}

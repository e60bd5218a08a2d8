// Automorphisms X → X^g and division by the last modulus (rescaling).

/// The automorphisms `σ_g: X → X^g` of `Z[X]/(X^N + 1)`, `g` odd: their element check and their
/// permutation of the NTT slots, shared by every layer that applies one.
public enum GaloisAutomorphism {
    /// The permutation that applies `X → X^g` to a polynomial in NTT form: `b[k] = a[π[k]]`.
    ///
    /// Index `k` of the NTT holds the evaluation at `ζₖ = ψ^(2·brv(k)+1)`. For `b(X) = a(X^g)`,
    /// `b(ζₖ) = a(ζₖ^g) = a(ψ^((2·brv(k)+1)·g mod 2N))`, an evaluation of `a` at another odd
    /// power `ψ^(2j+1)`, found at index `brv(j)`. So an automorphism is a pure permutation of
    /// the NTT slots: no arithmetic, and it commutes with the per-limb transforms.
    /// - Throws: `HERingError.invalidArgument` unless `g` is odd (the Galois group of `X^N + 1`
    ///   is `(Z/2N)^×`) and `n` a power of two.
    public static func permutation(degree n: Int, galoisElement g: Int) throws(HERingError) -> [UInt32] {
        guard n >= 2, n & (n - 1) == 0, n <= 1 << 20 else { throw .invalidArgument("ring degree \(n) is not a power of two") }
        try checkElement(g, degree: n)
        return permutation(degree: n, validatedElement: g)
    }

    /// The one check of a Galois element, for every layer: `g` odd (the Galois group of
    /// `X^N + 1` is `(Z/2N)^×`) and in its canonical range `1 … 2N − 1`.
    /// - Throws: `HERingError.invalidArgument` otherwise.
    public static func checkElement(_ g: Int, degree n: Int) throws(HERingError) {
        if let problem = problem(withElement: g, degree: n) { throw .invalidArgument(problem) }
    }

    /// What is wrong with `g` as a Galois element for degree `n`, or nil: the one wording every
    /// layer reports in its own error type.
    public static func problem(withElement g: Int, degree n: Int) -> String? {
        guard g > 0, g < 2 * n, g & 1 == 1 else {
            return "Galois element \(g) is not an automorphism of Z[X]/(X^\(n) + 1): it must be odd and in 1 … \(2 * n - 1)"
        }
        return nil
    }

    /// As `permutation(degree:galoisElement:)`, for a caller (our CKKS layer) that
    /// has already checked `g` odd and `n` a power of two.
    @usableFromInline
    package static func permutation(degree n: Int, validatedElement g: Int) -> [UInt32] {
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

    static func checkPermutation(_ permutation: [UInt32]?, degree: Int) throws(HERingError) {
        if let permutation {
            guard permutation.count == degree, permutation.allSatisfy({ Int($0) < degree }) else {
                throw .invalidArgument("a permutation of \(permutation.count) NTT slots for N = \(degree)")
            }
        }
    }
}

extension RNSPolynomial where Form == Coefficient {
    /// `a(X) → a(X^g)` in coefficient form: `aⱼXʲ` moves to `X^(j·g mod 2N)`, with a sign change
    /// when the exponent passes `N` (`X^N = −1`).
    /// - Throws: `HERingError.invalidArgument` for an even `g`.
    public func applyingAutomorphism(galoisElement g: Int) throws(HERingError) -> Self {
        try GaloisAutomorphism.checkElement(g, degree: degree)
        return applyingAutomorphism(validatedElement: g)
    }

    package func applyingAutomorphism(validatedElement g: Int) -> Self {
        let n = degree
        var result = Self(zeroIn: basis)
        let twoN = 2 * n
        let gReduced = ((g % twoN) + twoN) % twoN
        for i in 0..<limbCount {
            let m = basis.moduli[i]
            let base = i * n
            for j in 0..<n {
                let exponent = (j * gReduced) % twoN
                let value = data[base + j]
                if exponent < n {
                    result.storage[base + exponent] = value
                } else {
                    result.storage[base + exponent - n] = m.negate(value)
                }
            }
        }
        return result
    }
}

extension RNSPolynomial where Form == Evaluation {
    /// `a(X) → a(X^g)` in NTT form: the slot permutation of `GaloisAutomorphism.permutation` (pass a
    /// precomputed one to avoid rebuilding it), parallel over limbs.
    /// - Throws: `HERingError.invalidArgument` for an even `g` or a permutation of another size.
    public func applyingAutomorphism(galoisElement g: Int, permutation: [UInt32]? = nil) throws(HERingError) -> Self {
        try GaloisAutomorphism.checkElement(g, degree: degree)
        try GaloisAutomorphism.checkPermutation(permutation, degree: degree)
        return applyingAutomorphism(validatedElement: g, permutation: permutation)
    }

    /// As `applyingAutomorphism(galoisElement:permutation:)` for an odd `g` and a permutation
    /// (if any) of `GaloisAutomorphism.permutation`, already checked by the caller (our CKKS layer,
    /// whose Galois keys hold validated elements and their permutations).
    @inlinable
    package func applyingAutomorphism(validatedElement g: Int, permutation: [UInt32]? = nil) -> Self {
        let n = degree
        var result = Self(zeroIn: basis)
        let pi = permutation ?? GaloisAutomorphism.permutation(degree: n, validatedElement: g)
        data.withUnsafeBufferPointer { source in
            pi.withUnsafeBufferPointer { piBuffer in
                let sp = UncheckedSendable(source.baseAddress!), pp = UncheckedSendable(piBuffer.baseAddress!)
                result.forEachLimb { i, _, target in
                    let x = sp.value + i * n
                    for k in 0..<n { target[k] = x[Int(pp.value[k])] }
                }
            }
        }
        return result
    }
}

extension RNSPolynomial where Form == Evaluation {
    /// `self += x(X^g)` in NTT form with no temporary: `self[k] += x[π(k)]` limb by limb, `π` the
    /// slot permutation of `g` (`GaloisAutomorphism.permutation`), which the caller has checked,
    /// as it has checked that `x` is over the same primes. For sums of rotations (hoisted ModDown).
    @inlinable
    package mutating func addAutomorphism(of x: Self, validatedPermutation pi: [UInt32]) {
        let n = degree
        pi.withUnsafeBufferPointer { piBuffer in
            let pp = UncheckedSendable(piBuffer.baseAddress!)
            forEachLimb(with: x) { m, a, b in
                for k in 0..<n { a[k] = m.add(a[k], b[Int(pp.value[k])]) }
            }
        }
    }
}

extension RNSPolynomial {
    /// Divides by the last modulus `q_L` with rounding and drops that limb:
    /// `a → ⌊(a + ⌊q_L/2⌋)/q_L⌉` modulo the remaining primes — the RNS form of CKKS rescaling.
    ///
    /// With `r = (a + h) mod q_L`, `h = ⌊q_L/2⌋`, the integer `a + h − r` is divisible by `q_L`,
    /// so limb `i` becomes `(aᵢ + h − r)·q_L⁻¹ mod qᵢ`. In NTT form the last limb is brought to
    /// coefficient form, reduced modulo each `qᵢ`, and transformed with limb `i`'s NTT. No
    /// branch depends on the data.
    /// - Throws: `HERingError.invalidArgument` for a polynomial of one limb, `.mismatch` when
    ///   `basis` is not the prefix of the remaining primes.
    public mutating func divideAndRoundByLastModulus(basis newBasis: RNSBasis? = nil) throws(HERingError) {
        guard limbCount >= 2 else { throw .invalidArgument("cannot rescale a polynomial with a single limb") }
        try checkPrefix(newBasis, keeping: limbCount - 1)
        divideAndRoundByLastModulus(trustedBasis: newBasis)
    }

    /// As `divideAndRoundByLastModulus(basis:)` for a caller that has checked its arguments.
    @inlinable
    package mutating func divideAndRoundByLastModulus(trustedBasis newBasis: RNSBasis?) {
        let n = degree, l = limbCount - 1
        let last = basis.moduli[l]
        let half = last.q >> 1
        var lastLimb = Array(data[(l * n)..<((l + 1) * n)])
        let isNTT = Form.self == Evaluation.self
        if isNTT { lastLimb.withUnsafeMutableBufferPointer { basis.nttTables[l].inverse($0.baseAddress!) } }
        for k in 0..<n { lastLimb[k] = last.add(lastLimb[k], half) }    // r = (a + h) mod q_L
        let moduli = basis.moduli
        let tables = basis.nttTables
        let target = newBasis ?? basis.prefix(validated: l)
        lastLimb.withUnsafeBufferPointer { lastBuffer in
            let r = UncheckedSendable(lastBuffer.baseAddress!)
            storage.withUnsafeMutableBufferPointer { buffer in
                let base = UncheckedSendable(buffer.baseAddress!)
                target.parallelism.forEach(l) { i in
                    let m = moduli[i]
                    let a = base.value + i * n
                    let qLInverse = m.inverse(m.reduce(last.q))!
                    let qLInverseShoup = m.shoup(qLInverse)
                    let halfModQ = m.reduce(half)
                    var t = [UInt64](repeating: 0, count: n)
                    for k in 0..<n { t[k] = m.subtract(m.reduce(r.value[k]), halfModQ) }   // r − h mod qᵢ
                    if isNTT { t.withUnsafeMutableBufferPointer { tables[i].forward($0.baseAddress!) } }
                    for k in 0..<n { a[k] = m.multiply(m.subtract(a[k], t[k]), by: qLInverse, shoup: qLInverseShoup) }
                }
            }
        }
        dropLastLimbs(trusted: 1, basis: target)
    }
}

// Polynomials of Z_Q[X]/(X^N + 1) in RNS form.
import HEARCrypto

/// How a polynomial's limbs are stored.
public enum PolynomialForm: UInt8, Sendable, Hashable {
    /// Coefficients `a₀ … a_{N−1}` of each residue polynomial.
    case coefficient
    /// The NTT of each limb: evaluations at the roots of `X^N + 1`, in the order of `NTTTables`.
    case ntt
}

/// A polynomial of `Z_Q[X]/(X^N + 1)` in RNS form: `L` limbs of `N` residues in one contiguous
/// buffer, limb `i` (modulo `basis.moduli[i]`) at offset `i·N`. Every residue is in `[0, qᵢ)`.
///
/// The form (coefficient or NTT) is tracked, and every operation checks that its operands
/// share basis and form: arithmetic that is only meaningful in one form (pointwise products
/// in NTT form, coefficient automorphisms in coefficient form) says so.
public struct RNSPolynomial: Sendable, Equatable {
    /// The basis: its moduli, their NTT tables and CRT constants.
    public private(set) var basis: RNSBasis
    /// Coefficient or NTT form.
    public private(set) var form: PolynomialForm
    /// `limbCount × N` residues, limb-major.
    public var data: [UInt64]

    /// `N`.
    @inlinable public var degree: Int { basis.degree }
    /// The number of limbs `L`.
    @inlinable public var limbCount: Int { basis.count }

    /// The zero polynomial.
    public init(zeroIn basis: RNSBasis, form: PolynomialForm) {
        self.basis = basis
        self.form = form
        self.data = [UInt64](repeating: 0, count: basis.count * basis.degree)
    }

    /// A polynomial from its residues (limb-major, each reduced).
    public init(basis: RNSBasis, form: PolynomialForm, data: [UInt64]) throws(HERingError) {
        guard data.count == basis.count * basis.degree else {
            throw .mismatch("\(data.count) residues for \(basis.count) limbs of N = \(basis.degree)")
        }
        for i in 0..<basis.count {
            let q = basis.moduli[i].q
            for k in 0..<basis.degree where data[i * basis.degree + k] >= q {
                throw .invalidArgument("residue \(data[i * basis.degree + k]) in limb \(i) is not below its modulus \(q)")
            }
        }
        self.basis = basis
        self.form = form
        self.data = data
    }

    /// The coefficient-form polynomial with small signed integer coefficients (e.g. a secret or
    /// an error), lifted to every limb.
    public init(basis: RNSBasis, signedCoefficients: [Int64]) {
        precondition(signedCoefficients.count == basis.degree, "expected N = \(basis.degree) coefficients")
        self.init(zeroIn: basis, form: .coefficient)
        let n = basis.degree
        for (i, m) in basis.moduli.enumerated() {
            for k in 0..<n { data[i * n + k] = m.reduce(signed: signedCoefficients[k]) }
        }
    }

    /// The polynomial of a secret sample (a ternary secret or encryption randomness, a Gaussian
    /// error), in coefficient form; the sample array is zeroed once it is copied in.
    public init(secretSample: consuming [Int64], basis: RNSBasis) {
        var sample = secretSample
        self.init(basis: basis, signedCoefficients: sample)
        sample.withUnsafeMutableBytes { wipe($0) }
    }

    public static func == (a: RNSPolynomial, b: RNSPolynomial) -> Bool {
        a.basis.isSame(as: b.basis) && a.form == b.form && a.data == b.data
    }

    /// The residues of limb `i`.
    public func limb(_ i: Int) -> ArraySlice<UInt64> { data[(i * degree)..<((i + 1) * degree)] }

    @inlinable
    func checkCompatible(_ other: RNSPolynomial, _ operation: String) {
        precondition(basis.isSame(as: other.basis), "\(operation): operands have different RNS bases")
        precondition(form == other.form, "\(operation): operands are in different forms (\(form) vs \(other.form))")
    }

    /// Runs `body(limb, modulus, pointer to the limb)` on each limb in parallel (`body` must
    /// only touch its own limb).
    @inlinable
    public mutating func forEachLimb(_ body: (Int, Modulus, UnsafeMutablePointer<UInt64>) -> Void) {
        let n = degree
        let moduli = basis.moduli
        data.withUnsafeMutableBufferPointer { buffer in
            let base = UncheckedSendable(buffer.baseAddress!)
            basis.parallelism.forEach(moduli.count) { i in body(i, moduli[i], base.value + i * n) }
        }
    }

    /// As `forEachLimb`, with the matching limb of a second polynomial.
    @inlinable
    mutating func forEachLimb(with other: RNSPolynomial,
                              _ body: (Modulus, UnsafeMutablePointer<UInt64>, UnsafePointer<UInt64>) -> Void) {
        let n = degree
        other.data.withUnsafeBufferPointer { otherBuffer in
            let source = UncheckedSendable(otherBuffer.baseAddress!)
            forEachLimb { i, m, p in body(m, p, source.value + i * n) }
        }
    }

    // MARK: Ring arithmetic (any form)

    /// `self += other`.
    public mutating func add(_ other: RNSPolynomial) {
        checkCompatible(other, "add")
        let n = degree
        forEachLimb(with: other) { m, a, b in for k in 0..<n { a[k] = m.add(a[k], b[k]) } }
    }

    /// `self −= other`.
    public mutating func subtract(_ other: RNSPolynomial) {
        checkCompatible(other, "subtract")
        let n = degree
        forEachLimb(with: other) { m, a, b in for k in 0..<n { a[k] = m.subtract(a[k], b[k]) } }
    }

    /// `self = −self`.
    public mutating func negate() {
        let n = degree
        forEachLimb { _, m, a in for k in 0..<n { a[k] = m.negate(a[k]) } }
    }

    /// `self ·= c` for a constant given by its residue in each limb (`c[i] < qᵢ`).
    public mutating func multiply(byScalarResidues c: [UInt64]) {
        precondition(c.count == limbCount, "one residue per limb")
        let n = degree
        forEachLimb { i, m, a in
            let w = c[i], ws = m.shoup(c[i])
            for k in 0..<n { a[k] = m.multiply(a[k], by: w, shoup: ws) }
        }
    }

    /// `self ·= c` for a word-size constant.
    public mutating func multiply(byScalar c: UInt64) {
        multiply(byScalarResidues: basis.moduli.map { $0.reduce(c) })
    }

    public static func + (a: RNSPolynomial, b: RNSPolynomial) -> RNSPolynomial { var r = a; r.add(b); return r }
    public static func - (a: RNSPolynomial, b: RNSPolynomial) -> RNSPolynomial { var r = a; r.subtract(b); return r }
    public static prefix func - (a: RNSPolynomial) -> RNSPolynomial { var r = a; r.negate(); return r }

    // MARK: Products (NTT form)

    /// `self ⊙= other` (pointwise, i.e. the ring product), both in NTT form.
    public mutating func multiply(_ other: RNSPolynomial) {
        checkCompatible(other, "multiply")
        precondition(form == .ntt, "ring products are pointwise only in NTT form")
        let n = degree
        forEachLimb(with: other) { m, a, b in m.multiply(a, by: b, count: n) }
    }

    /// `self += a ⊙ b` (NTT form), reduced at once; `ProductSums` takes sums of many products.
    public mutating func multiplyAdd(_ a: RNSPolynomial, _ b: RNSPolynomial) {
        checkCompatible(a, "multiplyAdd")
        checkCompatible(b, "multiplyAdd")
        precondition(form == .ntt, "ring products are pointwise only in NTT form")
        let n = degree
        a.data.withUnsafeBufferPointer { aBuffer in
            b.data.withUnsafeBufferPointer { bBuffer in
                let ap = UncheckedSendable(aBuffer.baseAddress!), bp = UncheckedSendable(bBuffer.baseAddress!)
                forEachLimb { i, m, acc in m.multiplyAdd(acc, ap.value + i * n, bp.value + i * n, count: n) }
            }
        }
    }

    // MARK: Transforms

    /// Coefficient → NTT form, all limbs in parallel.
    public mutating func forwardNTT() {
        precondition(form == .coefficient, "forwardNTT needs coefficient form")
        let tables = basis.nttTables
        forEachLimb { i, _, a in tables[i].forward(a) }
        form = .ntt
    }

    /// NTT → coefficient form, all limbs in parallel.
    public mutating func inverseNTT() {
        precondition(form == .ntt, "inverseNTT needs NTT form")
        let tables = basis.nttTables
        forEachLimb { i, _, a in tables[i].inverse(a) }
        form = .coefficient
    }

    // MARK: Limbs

    /// Removes the last `count` limbs (reduction modulo the remaining primes), keeping the form.
    /// `basis` may be given to reuse an existing prefix basis.
    public mutating func dropLastLimbs(_ count: Int = 1, basis newBasis: RNSBasis? = nil) {
        precondition(count >= 0 && count < limbCount, "cannot drop \(count) of \(limbCount) limbs")
        guard count > 0 else { return }
        let remaining = limbCount - count
        let target = newBasis ?? basis.prefix(remaining)
        precondition(target.degree == degree && target.moduli == Array(basis.moduli.prefix(remaining)),
                     "the given basis is not the prefix of \(remaining) moduli")
        data.removeLast(count * degree)
        basis = target
    }
}


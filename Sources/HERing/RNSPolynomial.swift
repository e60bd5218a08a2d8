// Polynomials of Z_Q[X]/(X^N + 1) in RNS form, with their representation in the type.
import HEARCrypto

/// The representation of a polynomial's limbs, as a type: `Coefficient` or `Evaluation` (NTT).
///
/// A phantom type parameter of `RNSPolynomial`: it costs nothing at run time, and an operation
/// that is meaningful in one representation only is declared for that one (pointwise products
/// on `Evaluation`, `forwardNTT` on `Coefficient`), so using it on the other does not compile.
public protocol PolynomialForm: Sendable {
    /// "coefficient" or "NTT", for messages.
    static var name: String { get }
}

/// Coefficient form: limb `i` holds `a₀ … a_{N−1}` modulo `qᵢ`.
public enum Coefficient: PolynomialForm {
    /// "coefficient", for messages.
    public static var name: String { "coefficient" }
}

/// Evaluation (NTT) form: limb `i` holds the evaluations at the roots of `X^N + 1` modulo `qᵢ`,
/// in the order of `NTTTables`; ring products are pointwise.
public enum Evaluation: PolynomialForm {
    /// "NTT", for messages.
    public static var name: String { "NTT" }
}

/// Which primes a polynomial lives over, as a type: `OverQ` (the data primes `q₀ … q_ℓ` of a
/// level) or `OverQP` (those and the special primes `p₀ … p_{K−1}`, the key-switching basis).
///
/// The arithmetic layer treats both alike (an `RNSBasis` is a list of primes); the tag keeps
/// the CKKS layer from mixing a polynomial of `Q_ℓ·P` into one of `Q_ℓ`: only ModUp makes the
/// first and only ModDown leaves it.
public protocol BasisKind: Sendable {
    /// "Q_ℓ" or "Q_ℓ·P", for messages.
    static var name: String { get }
}

/// The data primes of a level: `Q_ℓ = q₀·…·q_ℓ`. Ciphertexts and plaintexts live here.
public enum OverQ: BasisKind {
    /// "Q_ℓ", for messages.
    public static var name: String { "Q_ℓ" }
}

/// The data primes and the special primes: `Q_ℓ·P`. Keys and the inside of key switching.
public enum OverQP: BasisKind {
    /// "Q_ℓ·P", for messages.
    public static var name: String { "Q_ℓ·P" }
}

/// A polynomial of `Z_Q[X]/(X^N + 1)` in RNS form: `L` limbs of `N` residues in one contiguous
/// buffer, limb `i` (modulo `basis.moduli[i]`) at offset `i·N`. Every residue is in `[0, qᵢ)`.
///
/// `Form` (`Coefficient` / `Evaluation`) and `Basis` (`OverQ` / `OverQP`) are phantom types:
/// the compiler rejects a pointwise product of coefficient-form polynomials, a sum of an NTT
/// and a coefficient polynomial, or a polynomial of `Q_ℓ·P` where one of `Q_ℓ` is expected. What
/// only the values can say — that two operands have the same primes — is checked at run time
/// and throws `HERingError.mismatch` from every public entry. Form changes consume the value
/// (`forwardNTT`, `inverseNTT`), so no stale binding of the old form remains.
public struct RNSPolynomial<Form: PolynomialForm, Basis: BasisKind>: Sendable, Equatable {
    /// The primes: their moduli, NTT tables and CRT constants.
    @inlinable public var basis: RNSBasis { basisStorage }
    @usableFromInline package var basisStorage: RNSBasis
    /// `limbCount × N` residues, limb-major. Read-only to users: every write goes through an
    /// operation that keeps each residue below its modulus.
    @inlinable public var data: [UInt64] {
        get { storage }
    }
    /// The residues (our own layers write them directly, keeping them reduced).
    @usableFromInline package var storage: [UInt64]

    /// `N`.
    @inlinable public var degree: Int { basis.degree }
    /// The number of limbs `L`.
    @inlinable public var limbCount: Int { basis.count }

    /// The zero polynomial.
    @inlinable
    public init(zeroIn basis: RNSBasis) {
        self.basisStorage = basis
        self.storage = [UInt64](repeating: 0, count: basis.count * basis.degree)
    }

    /// A polynomial from its residues (limb-major, each reduced).
    /// - Throws: `HERingError.mismatch` for a wrong count, `.invalidArgument` for a residue not
    ///   below its modulus.
    public init(basis: RNSBasis, data: [UInt64]) throws(HERingError) {
        guard data.count == basis.count * basis.degree else {
            throw .mismatch("\(data.count) residues for \(basis.count) limbs of N = \(basis.degree)")
        }
        for i in 0..<basis.count {
            let q = basis.moduli[i].q
            for k in 0..<basis.degree where data[i * basis.degree + k] >= q {
                throw .invalidArgument("residue \(data[i * basis.degree + k]) in limb \(i) is not below its modulus \(q)")
            }
        }
        self.init(basis: basis, trustedData: data)
    }

    /// As `init(basis:data:)` for residues the caller (our own layers) has produced reduced and
    /// of the right count.
    @usableFromInline
    package init(basis: RNSBasis, trustedData data: [UInt64]) {
        self.basisStorage = basis
        self.storage = data
    }

    /// Equal when the bases hold the same primes and every residue is the same.
    public static func == (a: Self, b: Self) -> Bool {
        a.basis.isSame(as: b.basis) && a.data == b.data
    }

    /// The residues of limb `i`.
    /// - Throws: `HERingError.invalidArgument` unless `0 ≤ i < limbCount`.
    public func limb(_ i: Int) throws(HERingError) -> ArraySlice<UInt64> {
        guard i >= 0 && i < limbCount else { throw .invalidArgument("limb \(i) of a polynomial with \(limbCount) limbs") }
        return data[(i * degree)..<((i + 1) * degree)]
    }

    /// The check of every public binary operation: the form and the kind of basis are already
    /// the same by type; the primes must be too.
    @inlinable
    func checkSameBasis(_ other: Self, _ operation: String) throws(HERingError) {
        guard basis.isSame(as: other.basis) else {
            throw .mismatch("\(operation): the operands are over different primes (\(limbCount) and \(other.limbCount) limbs)")
        }
    }

    /// Runs `body(limb, modulus, pointer to the limb)` on each limb in parallel (`body` must
    /// only touch its own limb).
    @inlinable
    public mutating func forEachLimb(_ body: (Int, Modulus, UnsafeMutablePointer<UInt64>) -> Void) {
        let n = degree
        let moduli = basis.moduli, parallelism = basis.parallelism
        storage.withUnsafeMutableBufferPointer { buffer in
            let base = UncheckedSendable(buffer.baseAddress!)
            parallelism.forEach(moduli.count) { i in body(i, moduli[i], base.value + i * n) }
        }
    }

    /// As `forEachLimb`, with the matching limb of a second polynomial of the same primes.
    @inlinable
    mutating func forEachLimb<F, B>(with other: RNSPolynomial<F, B>,
                                    _ body: (Modulus, UnsafeMutablePointer<UInt64>, UnsafePointer<UInt64>) -> Void) {
        let n = degree
        other.data.withUnsafeBufferPointer { otherBuffer in
            let source = UncheckedSendable(otherBuffer.baseAddress!)
            forEachLimb { i, m, p in body(m, p, source.value + i * n) }
        }
    }

    // MARK: Ring arithmetic (either form)

    /// `self += other`.
    /// - Throws: `HERingError.mismatch` when the operands are over different primes.
    public mutating func add(_ other: Self) throws(HERingError) {
        try checkSameBasis(other, "add")
        add(trusted: other)
    }

    /// `self += other` for operands the caller has checked to share the primes.
    @inlinable
    package mutating func add(trusted other: Self) {
        let n = degree
        forEachLimb(with: other) { m, a, b in for k in 0..<n { a[k] = m.add(a[k], b[k]) } }
    }

    /// `self −= other`.
    /// - Throws: `HERingError.mismatch` when the operands are over different primes.
    public mutating func subtract(_ other: Self) throws(HERingError) {
        try checkSameBasis(other, "subtract")
        subtract(trusted: other)
    }

    @inlinable
    package mutating func subtract(trusted other: Self) {
        let n = degree
        forEachLimb(with: other) { m, a, b in for k in 0..<n { a[k] = m.subtract(a[k], b[k]) } }
    }

    /// `self = −self`.
    public mutating func negate() {
        let n = degree
        forEachLimb { _, m, a in for k in 0..<n { a[k] = m.negate(a[k]) } }
    }

    /// `self ·= c` for a constant given by its residue in each limb.
    /// - Throws: `HERingError.invalidArgument` unless there is one residue `c[i] < qᵢ` per limb.
    public mutating func multiply(byScalarResidues c: [UInt64]) throws(HERingError) {
        guard c.count == limbCount else { throw .invalidArgument("\(c.count) scalar residues for \(limbCount) limbs") }
        for (i, m) in basis.moduli.enumerated() where c[i] >= m.q {
            throw .invalidArgument("scalar residue \(c[i]) is not below its modulus \(m.q)")
        }
        multiply(trustedScalarResidues: c)
    }

    @inlinable
    package mutating func multiply(trustedScalarResidues c: [UInt64]) {
        let n = degree
        forEachLimb { i, m, a in
            let w = c[i], ws = m.shoup(c[i])
            for k in 0..<n { a[k] = m.multiply(a[k], by: w, shoup: ws) }
        }
    }

    /// `self ·= c` for a word-size constant.
    public mutating func multiply(byScalar c: UInt64) {
        multiply(trustedScalarResidues: basis.moduli.map { $0.reduce(c) })
    }

    /// `a + b`. - Throws: `HERingError.mismatch` when the operands are over different primes.
    public static func + (a: Self, b: Self) throws(HERingError) -> Self { var r = a; try r.add(b); return r }
    /// `a − b`. - Throws: `HERingError.mismatch` when the operands are over different primes.
    public static func - (a: Self, b: Self) throws(HERingError) -> Self { var r = a; try r.subtract(b); return r }
    /// The negation `−a`, limb by limb (`q − x` for `x ≠ 0`).
    public static prefix func - (a: Self) -> Self { var r = a; r.negate(); return r }

    // MARK: Limbs

    /// Removes the last `count` limbs (reduction modulo the remaining primes), keeping the form
    /// and the kind of basis. `basis` may be given to reuse an existing prefix basis.
    /// - Throws: `HERingError.invalidArgument` unless `0 ≤ count < limbCount`, `.mismatch` when
    ///   `basis` is not the prefix of the remaining primes.
    public mutating func dropLastLimbs(_ count: Int = 1, basis newBasis: RNSBasis? = nil) throws(HERingError) {
        guard count >= 0 && count < limbCount else { throw .invalidArgument("cannot drop \(count) of \(limbCount) limbs") }
        try checkPrefix(newBasis, keeping: limbCount - count)
        dropLastLimbs(trusted: count, basis: newBasis)
    }

    /// The check of a prefix basis a caller hands in for the first `remaining` limbs (limb drops
    /// and rescaling): same degree, the same first moduli.
    func checkPrefix(_ newBasis: RNSBasis?, keeping remaining: Int) throws(HERingError) {
        guard let newBasis else { return }
        guard newBasis.degree == degree && newBasis.moduli == Array(basis.moduli.prefix(remaining)) else {
            throw .mismatch("the given basis is not the prefix of \(remaining) moduli")
        }
    }

    /// As `dropLastLimbs(_:basis:)` for a count and prefix basis the caller has checked.
    @inlinable
    package mutating func dropLastLimbs(trusted count: Int, basis newBasis: RNSBasis? = nil) {
        guard count > 0 else { return }
        let remaining = limbCount - count
        storage.removeLast(count * degree)
        basisStorage = newBasis ?? basis.prefix(validated: remaining)
    }

    /// The same residues under another kind of basis: for the CKKS layer's ModUp and ModDown,
    /// which produce a polynomial of `Q_ℓ·P` from one of `Q_ℓ` and back. `newBasis` must be the
    /// primes of `data` (the caller checks).
    @inlinable
    package consuming func relabeled<B: BasisKind>(as _: B.Type, basis newBasis: RNSBasis) -> RNSPolynomial<Form, B> {
        RNSPolynomial<Form, B>(basis: newBasis, trustedData: data)
    }
}

extension RNSPolynomial where Form == Coefficient {
    /// The coefficient-form polynomial with small signed integer coefficients (e.g. a secret or
    /// an error), lifted to every limb.
    /// - Throws: `HERingError.mismatch` unless there are `N` coefficients.
    public init(basis: RNSBasis, signedCoefficients: [Int64]) throws(HERingError) {
        guard signedCoefficients.count == basis.degree else {
            throw .mismatch("\(signedCoefficients.count) coefficients for N = \(basis.degree)")
        }
        self.init(basis: basis, trustedSignedCoefficients: signedCoefficients)
    }

    @inlinable
    package init(basis: RNSBasis, trustedSignedCoefficients signedCoefficients: [Int64]) {
        self.init(zeroIn: basis)
        let n = basis.degree
        for (i, m) in basis.moduli.enumerated() {
            for k in 0..<n { storage[i * n + k] = m.reduce(signed: signedCoefficients[k]) }
        }
    }

    /// The polynomial of a secret sample (a ternary secret or encryption randomness, a Gaussian
    /// error) of `N` coefficients (our samplers' output), in coefficient form; the sample array
    /// is zeroed once it is copied in.
    @inlinable
    package init(secretSample: consuming [Int64], basis: RNSBasis) {
        var sample = secretSample
        self.init(basis: basis, trustedSignedCoefficients: sample)
        sample.withUnsafeMutableBytes { wipe($0) }
    }

    /// Coefficient → evaluation (NTT) form, all limbs in parallel. Consumes `self`: the
    /// coefficient-form value no longer exists afterwards.
    @inlinable
    public consuming func forwardNTT() -> RNSPolynomial<Evaluation, Basis> {
        let tables = basis.nttTables
        forEachLimb { i, _, a in tables[i].forward(a) }
        return RNSPolynomial<Evaluation, Basis>(basis: basis, trustedData: data)
    }
}

extension RNSPolynomial where Form == Evaluation {
    /// Evaluation (NTT) → coefficient form, all limbs in parallel. Consumes `self`.
    @inlinable
    public consuming func inverseNTT() -> RNSPolynomial<Coefficient, Basis> {
        let tables = basis.nttTables
        forEachLimb { i, _, a in tables[i].inverse(a) }
        return RNSPolynomial<Coefficient, Basis>(basis: basis, trustedData: data)
    }

    // MARK: Products (evaluation form only)

    /// `self ⊙= other`: the ring product, pointwise in NTT form.
    /// - Throws: `HERingError.mismatch` when the operands are over different primes.
    public mutating func multiply(_ other: Self) throws(HERingError) {
        try checkSameBasis(other, "multiply")
        multiply(trusted: other)
    }

    @inlinable
    package mutating func multiply(trusted other: Self) {
        let n = degree
        forEachLimb(with: other) { m, a, b in m.multiply(a, by: b, count: n) }
    }

    /// `self += a ⊙ b`, reduced at once; `ProductSums` takes sums of many products.
    /// - Throws: `HERingError.mismatch` when the operands are over different primes.
    public mutating func multiplyAdd(_ a: Self, _ b: Self) throws(HERingError) {
        try checkSameBasis(a, "multiplyAdd")
        try checkSameBasis(b, "multiplyAdd")
        multiplyAdd(trusted: a, b)
    }

    @inlinable
    package mutating func multiplyAdd(trusted a: Self, _ b: Self) {
        let n = degree
        a.data.withUnsafeBufferPointer { aBuffer in
            b.data.withUnsafeBufferPointer { bBuffer in
                let ap = UncheckedSendable(aBuffer.baseAddress!), bp = UncheckedSendable(bBuffer.baseAddress!)
                forEachLimb { i, m, acc in m.multiplyAdd(acc, ap.value + i * n, bp.value + i * n, count: n) }
            }
        }
    }
}

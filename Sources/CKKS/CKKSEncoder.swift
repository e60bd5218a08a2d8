// Encoding slot vectors into RNS plaintext polynomials and back.
import Foundation
import HERing

/// Errors of the CKKS layer, each with a message a user can act on.
public enum CKKSError: Error, Equatable, CustomStringConvertible {
    /// More values than slots.
    case tooManySlots(given: Int, available: Int)
    /// A value (times the scale) that is not a finite number.
    case notFinite(index: Int)
    /// A polynomial of another ring degree.
    case degreeMismatch(expected: Int, got: Int)
    /// A parameter set that cannot be built (sizes, counts, primes).
    case invalidParameters(String)
    /// The operating system gave no randomness: no key or encryption can be made.
    case entropyUnavailable(String)
    /// A parameter set above the 128-bit bound of the chosen security table.
    case insecureParameters(degree: Int, log2QP: Int, maximum: Int, standard: SecurityStandard)
    /// Operands at different levels where the operation needs one level.
    case levelMismatch(Int, Int)
    /// Operands at different scales where the operation needs one scale.
    case scaleMismatch(Double, Double)
    /// A level outside 0 … L, or an operation that needs a higher level.
    case invalidLevel(level: Int, reason: String)
    /// No Galois key for a rotation step or conjugation.
    case missingGaloisKey(galoisElement: Int, description: String)
    /// An object (key, ciphertext, plaintext) made for another parameter set.
    case parameterMismatch(String)
    /// An operand of the wrong shape (e.g. a three-part ciphertext where two are needed).
    case invalidOperand(String)

    /// The message a user reads: what was refused and what to do instead.
    public var description: String {
        switch self {
        case let .entropyUnavailable(reason): return "no randomness from the operating system: \(reason)"
        case let .tooManySlots(given, available):
            return "\(given) values do not fit in \(available) slots; split the vector or use a larger ring degree"
        case let .notFinite(index):
            return "value \(index) times the scale is not a finite number (NaN or too large)"
        case let .degreeMismatch(expected, got):
            return "polynomial of degree \(got) given to an encoder of degree \(expected)"
        case let .invalidParameters(why):
            return "invalid CKKS parameters: \(why)"
        case let .insecureParameters(n, logQP, maximum, standard):
            return "log2(QP) = \(logQP) exceeds the 128-bit bound \(maximum) for N = \(n) (\(standard.rawValue)); "
                + "use fewer or smaller primes, a larger ring, or an explicitly insecure test set"
        case let .levelMismatch(a, b):
            return "operands at levels \(a) and \(b): bring both to one level first (dropLevel / rescale)"
        case let .scaleMismatch(a, b):
            return "operands at scales 2^\(log2(a)) and 2^\(log2(b)): encode the plaintext at the ciphertext's scale or rescale first"
        case let .invalidLevel(level, reason):
            return "level \(level): \(reason)"
        case let .missingGaloisKey(element, what):
            return "no Galois key for \(what) (Galois element \(element)): generate the keys for this step"
        case let .parameterMismatch(what):
            return "parameter mismatch: \(what)"
        case let .invalidOperand(what):
            return "invalid operand: \(what)"
        }
    }
}

/// Encodes up to N/2 complex (or real) values into a plaintext polynomial of an RNS basis and
/// decodes them back.
///
/// Encoding of `z` at scale `Δ`: `m = ⌊Δ·σ⁻¹(z)⌉` (the canonical embedding's inverse, each
/// coefficient rounded to the nearest integer), reduced modulo every prime of the basis and
/// transformed to NTT form. Fewer than N/2 values are padded with zeros. Decoding inverts the
/// NTT, lifts each coefficient to its centred integer by the CRT, divides by `Δ` and applies
/// the embedding. The rounding error of encoding is at most ½ per coefficient, i.e. at most
/// `√N/(2Δ)`-ish per slot in practice (see `Docs/`).
public final class CKKSEncoder: Sendable {
    /// The canonical embedding σ and its inverse (the special FFT of size N/2 over the slots).
    public let embedding: CanonicalEmbedding
    /// The ring degree N.
    public var degree: Int { embedding.degree }
    /// Slots per plaintext: N/2.
    public var slotCount: Int { embedding.slotCount }

    /// The encoder of ring degree `degree` (N/2 slots).
    /// - Throws: `CKKSError.invalidParameters` unless `N` is a power of two, 4 ≤ N ≤ 2¹⁷.
    public init(degree: Int) throws(CKKSError) { embedding = try CanonicalEmbedding(degree: degree) }

    init(validatedDegree degree: Int) { embedding = CanonicalEmbedding(validatedDegree: degree) }

    /// The residue of the integer nearest to `x` modulo `m`, exactly for any finite double: a
    /// double of magnitude ≥ 2⁶³ is `mantissa·2^e`, reduced as `(mantissa mod q)·(2^e mod q)`.
    static func residue(ofRounded x: Double, modulus m: Modulus) -> UInt64 {
        let r = x.rounded()
        if abs(r) < 9.2e18 { return m.reduce(signed: Int64(r)) }
        let mantissa = UInt64(r.significandBitPattern | (1 << 52))          // 53-bit integer
        let exponent = Int(r.exponent) - 52                                  // ≥ 10 here
        let magnitude = m.multiply(m.reduce(mantissa), m.power(2, UInt64(exponent)))
        return r < 0 ? m.negate(magnitude) : magnitude
    }

    /// Encodes complex slot values at scale `Δ` into an NTT-form polynomial of `basis` (of the
    /// kind `over`: `OverQ` unless asked).
    /// - Throws: `CKKSError.tooManySlots`, `.notFinite`, `.degreeMismatch`.
    public func encode<B: BasisKind>(_ values: [Complex], scale: Double, basis: RNSBasis,
                                     over kind: B.Type = OverQ.self) throws(CKKSError) -> RNSPolynomial<Evaluation, B> {
        guard basis.degree == degree else { throw .degreeMismatch(expected: degree, got: basis.degree) }
        guard values.count <= slotCount else { throw .tooManySlots(given: values.count, available: slotCount) }
        var slots = values
        slots.append(contentsOf: repeatElement(Complex(0), count: slotCount - values.count))
        let coefficients = embedding.coefficients(trustedSlots: slots)
        if let rounded = try Self.roundedCoefficients(coefficients, scale: scale) {
            return polynomial(trustedRounded: rounded, basis: basis, over: kind)
        }
        // a coefficient beyond 2^63: the exact path for any finite double
        var result = RNSPolynomial<Coefficient, B>(zeroIn: basis)
        let n = degree
        for (k, c) in coefficients.enumerated() {
            let scaled = c * scale
            for (i, m) in basis.moduli.enumerated() {
                result.storage[i * n + k] = Self.residue(ofRounded: scaled, modulus: m)
            }
        }
        return result.forwardNTT()
    }

    /// `⌊Δ·c⌉` for the coefficients `c = σ⁻¹(z)`, or nil when one is beyond 2⁶³.
    static func roundedCoefficients(_ coefficients: [Double], scale: Double) throws(CKKSError) -> [Int64]? {
        var rounded = [Int64](repeating: 0, count: coefficients.count)
        for (k, c) in coefficients.enumerated() {
            let scaled = c * scale
            guard scaled.isFinite else { throw .notFinite(index: k) }
            let r = scaled.rounded()
            guard abs(r) < 9.2e18 else { return nil }
            rounded[k] = Int64(r)
        }
        return rounded
    }

    /// The integer polynomial `m = ⌊Δ·σ⁻¹(z)⌉` of real slot values, independent of any modulus:
    /// a compact form of a plaintext (one word per coefficient whatever the level), turned into
    /// an NTT-form plaintext of any basis by `polynomial(fromRounded:basis:)`. Nil when a
    /// coefficient does not fit in 63 bits.
    public func roundedCoefficients(_ values: [Double], scale: Double) throws(CKKSError) -> [Int64]? {
        try roundedCoefficients(values.map { Complex($0) }, scale: scale)
    }

    /// `⌊Δ·σ⁻¹(z)⌉` of complex slot values (see the real version).
    public func roundedCoefficients(_ values: [Complex], scale: Double) throws(CKKSError) -> [Int64]? {
        guard values.count <= slotCount else { throw .tooManySlots(given: values.count, available: slotCount) }
        var slots = values
        slots.append(contentsOf: repeatElement(Complex(0), count: slotCount - values.count))
        return try Self.roundedCoefficients(embedding.coefficients(trustedSlots: slots), scale: scale)
    }

    /// The NTT-form polynomial of `basis` with the given integer coefficients: each reduced
    /// modulo every prime, then one forward NTT per limb.
    /// - Throws: `CKKSError.degreeMismatch` unless there are `N` integers and `basis` is of degree `N`.
    public func polynomial<B: BasisKind>(fromRounded rounded: [Int64], basis: RNSBasis,
                                         over kind: B.Type = OverQ.self) throws(CKKSError) -> RNSPolynomial<Evaluation, B> {
        guard basis.degree == degree else { throw .degreeMismatch(expected: degree, got: basis.degree) }
        guard rounded.count == degree else { throw .degreeMismatch(expected: degree, got: rounded.count) }
        return polynomial(trustedRounded: rounded, basis: basis, over: kind)
    }

    func polynomial<B: BasisKind>(trustedRounded rounded: [Int64], basis: RNSBasis,
                                  over _: B.Type) -> RNSPolynomial<Evaluation, B> {
        var polynomial = RNSPolynomial<Coefficient, B>(zeroIn: basis)
        let n = degree
        polynomial.storage.withUnsafeMutableBufferPointer { data in
            rounded.withUnsafeBufferPointer { r in
                let small = Self.isSmall(r)
                for (i, m) in basis.moduli.enumerated() {
                    Self.reduce(r.baseAddress!, count: n, modulus: m, small: small, into: data.baseAddress! + i * n)
                }
            }
        }
        return polynomial.forwardNTT()
    }

    /// Whether every integer is below 2⁵⁰ in magnitude (then `reduce` takes the vectorizable
    /// floating-quotient path).
    public static func isSmall(_ rounded: UnsafeBufferPointer<Int64>) -> Bool {
        var largest: UInt64 = 0
        for x in rounded { largest = max(largest, x.magnitude) }
        return largest < (1 << 50)
    }

    /// `out[k] = rounded[k] mod q` in `[0, q)` for `count` signed integers. `small`: every
    /// `|rounded[k]| < 2⁵⁰` (see `isSmall`), which allows the floating-quotient reduction.
    public static func reduce(_ rounded: UnsafePointer<Int64>, count n: Int, modulus m: Modulus, small: Bool,
                              into out: UnsafeMutablePointer<UInt64>) {
        if small && m.supportsFloatingProduct {
            for k in 0..<n {
                let v = m.multiplyFloating(rounded[k].magnitude, 1)
                let negative = UInt64(bitPattern: rounded[k] >> 63)
                out[k] = v ^ ((v ^ m.negate(v)) & negative)
            }
        } else {
            for k in 0..<n { out[k] = m.reduce(signed: rounded[k]) }
        }
    }

    /// Encodes real values (imaginary parts zero).
    public func encode<B: BasisKind>(_ values: [Double], scale: Double, basis: RNSBasis,
                                     over kind: B.Type = OverQ.self) throws(CKKSError) -> RNSPolynomial<Evaluation, B> {
        try encode(values.map { Complex($0) }, scale: scale, basis: basis, over: kind)
    }

    /// Decodes a plaintext polynomial (either form, any basis) at scale `Δ` into N/2 complex
    /// slots, by a big-integer CRT per coefficient (the reference; `CKKSContext.decode` is fast).
    public func decode<F: PolynomialForm, B: BasisKind>(_ polynomial: RNSPolynomial<F, B>,
                                                        scale: Double) throws(CKKSError) -> [Complex] {
        guard polynomial.degree == degree else { throw .degreeMismatch(expected: degree, got: polynomial.degree) }
        let n = degree, basis = polynomial.basis
        var p = polynomial.storage
        if F.self == Evaluation.self {
            p.withUnsafeMutableBufferPointer { b in for i in 0..<basis.count { basis.nttTables[i].inverse(b.baseAddress! + i * n) } }
        }
        var coefficients = [Double](repeating: 0, count: n)
        if basis.count == 1 {
            let m = basis.moduli[0]
            for k in 0..<n { coefficients[k] = Double(m.centered(p[k])) / scale }
        } else {
            for k in 0..<n {
                let (negative, magnitude) = try! basis.composeCentered((0..<basis.count).map { p[$0 * n + k] })   // reduced by invariant
                coefficients[k] = (negative ? -magnitude.doubleValue : magnitude.doubleValue) / scale
            }
        }
        return embedding.slots(trustedCoefficients: coefficients)
    }

    /// Decodes the real parts.
    public func decodeReal<F: PolynomialForm, B: BasisKind>(_ polynomial: RNSPolynomial<F, B>,
                                                            scale: Double) throws(CKKSError) -> [Double] {
        try decode(polynomial, scale: scale).map(\.real)
    }
}

/// Precision in bits of `actual` against `expected`: `−log₂ max|actualᵢ − expectedᵢ|`.
public func precisionBits(expected: [Complex], actual: [Complex]) -> Double {
    let error = zip(expected, actual).map { ($0 - $1).magnitude }.max() ?? 0
    return error == 0 ? Double.infinity : -log2(error)
}

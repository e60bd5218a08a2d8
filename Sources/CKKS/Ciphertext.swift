// Plaintexts and ciphertexts: polynomials with their scale; the level is the basis they are over.
import HERing

/// A polynomial of a ciphertext or plaintext: evaluation (NTT) form over the data primes
/// `q₀ … q_ℓ` of a level of the context's chain.
public typealias DataPolynomial = RNSPolynomial<Evaluation, OverQ>

/// A polynomial over the extended basis `Q_ℓ·P` in NTT form: keys, the inside of key switching,
/// extended plaintexts.
public typealias ExtendedPolynomial = RNSPolynomial<Evaluation, OverQP>

/// An encoded message: `m(X) ≈ Δ·σ⁻¹(z)` in NTT form modulo `Q_ℓ`.
///
/// The level is not a separate number that could disagree with the data: it is the basis of the
/// polynomial, one of the context's chain (`CKKSContext.dataBases[ℓ]`), which every public entry
/// checks by identity of primes.
public struct Plaintext: Sendable, Equatable {
    /// NTT form; limbs `q₀ … q_ℓ`.
    public internal(set) var polynomial: DataPolynomial
    /// The scale `Δ` the values were multiplied by.
    public internal(set) var scale: Double

    /// A plaintext from a polynomial already in NTT form over some `Q_ℓ` of the chain (the level is the polynomial's basis; every public entry checks it against the context).
    public init(polynomial: DataPolynomial, scale: Double) {
        self.polynomial = polynomial
        self.scale = scale
    }

    /// `ℓ`: the plaintext has `ℓ + 1` limbs.
    public var level: Int { polynomial.limbCount - 1 }
}

/// An encoded message kept as its integer coefficients `m = ⌊Δ·σ⁻¹(z)⌉`: `N` words whatever
/// the level (a `Plaintext` at level `ℓ` holds `(ℓ + 1)·N`), independent of the primes. It is
/// meant for constants used once per evaluation (a network's weights): the products that use
/// it (`Evaluator.multiplyAccumulate(_:compact:)`) reduce `m` modulo each `qᵢ` and take its NTT
/// limb by limb in a small scratch, so the NTT form is never stored. The result is identical to
/// the product with `CKKSContext.plaintext(fromRounded:level:scale:)`.
public struct CompactPlaintext: Sendable, Equatable {
    /// `m`, `N` signed integers.
    public let coefficients: [Int64]
    /// The level `ℓ` it is used at (limbs `q₀ … q_ℓ`).
    public let level: Int
    /// The scale `Δ` the values were multiplied by.
    public let scale: Double
    /// Every `|mₖ| < 2⁵⁰` (the vectorizable reduction applies).
    let isSmall: Bool

    init(coefficients: [Int64], level: Int, scale: Double) {
        self.coefficients = coefficients
        self.level = level
        self.scale = scale
        isSmall = coefficients.withUnsafeBufferPointer { CKKSEncoder.isSmall($0) }
    }
}

/// An NTT-form plaintext with each residue in 5 bytes instead of 8 (6 for a prime of 40 bits or
/// more): the low 32 bits, then the high bits in a byte (or a `UInt16`). A product reads it at
/// the cost of a zero-extension and an OR per residue (`ProductSums.limbPacked`), so it keeps a
/// resident plaintext's speed in less memory (5/8 for the 34-bit primes of the default chain).
/// Made by `CKKSContext.packed(_:)` (from an NTT-form plaintext) or
/// `CKKSContext.packedPlaintext(fromRounded:level:scale:)` (limb by limb from the rounded
/// coefficients), for chains whose primes are all below 2⁴⁸; `CKKSContext.plaintext(_:)` unpacks.
public struct PackedPlaintext: Sendable, Equatable {
    /// The level `ℓ` (limbs `q₀ … q_ℓ`).
    public let level: Int
    /// The scale `Δ` the values were multiplied by.
    public let scale: Double
    /// The low 32 bits of every residue, limb after limb (`(ℓ + 1)·N`).
    var low: [UInt32]
    /// The high bits of the limbs whose prime is below 2⁴⁰, limb after limb, `N` each.
    var narrowHigh: [UInt8]
    /// The high bits of the limbs whose prime is 2⁴⁰ or more.
    var wideHigh: [UInt16]

    /// Bytes held.
    public var byteCount: Int { low.count * 4 + narrowHigh.count + wideHigh.count * 2 }
}

/// An encoded message over the extended basis `Q_ℓ·P` (NTT form), for products taken inside
/// key switching before ModDown (`Evaluator.hoistedMultiplyAccumulate`). Its own type: it
/// cannot be encrypted, added to a ciphertext or multiplied with one outside that operation.
public struct ExtendedPlaintext: Sendable, Equatable {
    /// NTT form; limbs `q₀ … q_ℓ, p₀ … p_{K−1}`.
    public internal(set) var polynomial: ExtendedPolynomial
    /// The scale `Δ` the values were multiplied by.
    public internal(set) var scale: Double
    /// `ℓ`: the data primes are `q₀ … q_ℓ` (checked against the context's `Q_ℓ·P` at each use).
    public internal(set) var level: Int

    /// A plaintext over `Q_ℓ·P` from an NTT-form polynomial; `level` is checked against the context's extended basis at each use.
    public init(polynomial: ExtendedPolynomial, scale: Double, level: Int) {
        self.polynomial = polynomial
        self.scale = scale
        self.level = level
    }
}

/// A CKKS ciphertext `(c₀, c₁[, c₂])` modulo `Q_ℓ`, NTT form, decrypting as
/// `c₀ + c₁·s (+ c₂·s²) ≈ m`.
///
/// Fresh secret-key encryptions remember the 32-byte seed their `c₁` was expanded from, so that
/// serialization stores the seed instead of `c₁` (half the size); any operation that produces a
/// new ciphertext drops it.
public struct Ciphertext: Sendable, Equatable {
    /// Two parts (or three after a product, before relinearization), NTT form, basis `Q_ℓ`.
    public internal(set) var parts: [DataPolynomial]
    /// The scale `Δ` of the message: decryption divides by it.
    public internal(set) var scale: Double
    /// The seed of `c₁` for a fresh secret-key encryption, else nil.
    public internal(set) var seed: [UInt8]?

    /// A ciphertext from its parts (NTT form over one `Q_ℓ`); `seed`: the seed `c₁` was expanded from, for a fresh secret-key encryption only.
    public init(parts: [DataPolynomial], scale: Double, seed: [UInt8]? = nil) {
        self.parts = parts
        self.scale = scale
        self.seed = seed
    }

    /// `ℓ`, from the basis of the parts (`ℓ + 1` limbs); −1 for a ciphertext without parts,
    /// which every public entry refuses.
    public var level: Int { (parts.first?.limbCount ?? 0) - 1 }
    /// 2, or 3 for an unrelinearized product.
    public var size: Int { parts.count }
    /// The ring degree N (0 for a ciphertext without parts).
    public var degree: Int { parts.first?.degree ?? 0 }
}

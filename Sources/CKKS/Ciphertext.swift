// Plaintexts and ciphertexts: polynomials with their level and scale.
import HERing

/// An encoded message: `m(X) ≈ Δ·σ⁻¹(z)` in NTT form modulo `Q_ℓ` (or `Q_ℓ·P` when extended).
public struct Plaintext: Sendable, Equatable {
    /// NTT form; limbs `q₀ … q_ℓ` (then `p₀ … p_{K−1}` when extended).
    public internal(set) var polynomial: RNSPolynomial
    /// The scale `Δ` the values were multiplied by.
    public internal(set) var scale: Double
    /// `ℓ`: the plaintext has `ℓ + 1` data limbs.
    public internal(set) var level: Int
    /// Whether the special primes are included (for products inside the extended basis).
    public internal(set) var isExtended: Bool

    public init(polynomial: RNSPolynomial, scale: Double, level: Int, isExtended: Bool) {
        self.polynomial = polynomial
        self.scale = scale
        self.level = level
        self.isExtended = isExtended
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
    public internal(set) var parts: [RNSPolynomial]
    public internal(set) var scale: Double
    public internal(set) var level: Int
    /// The seed of `c₁` for a fresh secret-key encryption, else nil.
    public internal(set) var seed: [UInt8]?

    public init(parts: [RNSPolynomial], scale: Double, level: Int, seed: [UInt8]? = nil) {
        self.parts = parts
        self.scale = scale
        self.level = level
        self.seed = seed
    }

    /// 2, or 3 for an unrelinearized product.
    public var size: Int { parts.count }
    public var degree: Int { parts.first?.degree ?? 0 }
}

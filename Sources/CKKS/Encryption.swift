// Encryption (public key: clients; secret key: seeded, half size) and decryption.
import Foundation
import HEARCrypto
import HERing

/// Encrypts plaintexts with the public key, in the extended basis `Q_ℓ·P` followed by a division
/// by `P` (as SEAL does): `(c₀, c₁) = (⌊(b·u + e₀)/P⌉ + m, ⌊(a·u + e₁)/P⌉)` with `u` ternary and
/// `e₀, e₁` Gaussian, all fresh per ciphertext. Then `c₀ + c₁·s = m + (u·e + e₀ + e₁·s)/P +
/// (rounding)`: the encryption noise, about `√N·σ` per coefficient, is divided by `P`, leaving
/// the rounding term `τ₀ + τ₁·s` (|τ| ≤ ½) — about six bits more precision for fresh ciphertexts
/// than encrypting modulo `Q_ℓ` directly.
public struct Encryptor {
    /// The context of the parameters the public key belongs to.
    public let context: CKKSContext
    /// The public key `(b, a)` over `Q_L·P`.
    public let publicKey: PublicKey
    var rng: ChaCha20

    /// An encryptor drawing its randomness from system entropy.
    public init(context: CKKSContext, publicKey: PublicKey) throws(CKKSError) {
        guard publicKey.parametersFingerprint == context.parameters.fingerprint else {
            throw .parameterMismatch("the public key belongs to another parameter set")
        }
        self.context = context
        self.publicKey = publicKey
        rng = try systemRandomness()
    }

    /// A deterministic encryptor (tests only: the same seed gives the same ciphertexts).
    public init(context: CKKSContext, publicKey: PublicKey, deterministicSeed seed: [UInt8]) throws(CKKSError) {
        try self.init(context: context, publicKey: publicKey)
        rng = ChaCha20(seed: seed, domain: 0x656e_6370_6b)
    }

    /// Encrypts `plaintext` at its level.
    /// - Throws: `CKKSError` when the plaintext is extended or not of this context at its level.
    public mutating func encrypt(_ plaintext: Plaintext) throws(CKKSError) -> Ciphertext {
        try context.checkPlaintext(plaintext, level: plaintext.level)
        let level = plaintext.level
        let basis = context.extendedBases[level]
        let n = context.degree
        // Randomness is drawn in a fixed order (u, e₀, e₁), so the result does not depend on
        // the thread count.
        var u = RNSPolynomial<Coefficient, OverQP>(secretSample: Sampler.ternary(degree: n, using: &rng), basis: basis)
            .forwardNTT()
        var e0 = RNSPolynomial<Coefficient, OverQP>(secretSample: Sampler.discreteGaussian(degree: n, using: &rng), basis: basis)
            .forwardNTT()
        var e1 = RNSPolynomial<Coefficient, OverQP>(secretSample: Sampler.discreteGaussian(degree: n, using: &rng), basis: basis)
            .forwardNTT()
        // the public key's limbs of Q_ℓ·P: rows 0 … ℓ and the special rows
        let rows = context.keySwitching[level].keyRows
        let b = publicKey.b.selectingLimbs(rows, basis: basis), a = publicKey.a.selectingLimbs(rows, basis: basis)
        e0.multiplyAdd(trusted: b, u)
        e1.multiplyAdd(trusted: a, u)
        u.storage.withUnsafeMutableBufferPointer { wipe(UnsafeMutableRawBufferPointer($0)) }
        var c0 = context.modDown(e0, trustedLevel: level)
        c0.add(trusted: plaintext.polynomial)
        return Ciphertext(parts: [c0, context.modDown(e1, trustedLevel: level)], scale: plaintext.scale)
    }

    /// Encodes and encrypts real values at the top level and the default scale.
    public mutating func encrypt(_ values: [Double]) throws(CKKSError) -> Ciphertext {
        try encrypt(context.encode(values))
    }
}

extension RNSPolynomial {
    /// The polynomial made of the limbs `rows` of `self`, over `basis` (whose moduli must be
    /// those of the rows).
    func selectingLimbs(_ rows: [Int], basis: RNSBasis) -> Self {
        let n = degree
        var data: [UInt64] = []
        data.reserveCapacity(rows.count * n)
        for r in rows { data += self.data[(r * n)..<((r + 1) * n)] }
        return Self(basis: basis, trustedData: data)
    }
}

/// Decrypts ciphertexts, and encrypts with the secret key: `(c₀, c₁) = (−a·s + e + m, a)` with
/// `a` expanded from a fresh 32-byte seed, which the ciphertext keeps so that it serializes in
/// half the space.
public struct Decryptor {
    /// The context of the parameters the secret key belongs to.
    public let context: CKKSContext
    /// The secret key `s` (held by the station only).
    public let secretKey: SecretKey
    var rng: ChaCha20

    /// A decryptor for `secretKey`, with system-seeded randomness for secret-key encryption.
    /// - Throws: `CKKSError.parameterMismatch` when the key belongs to another parameter set; `CKKSError.entropyUnavailable` when the system gives no randomness.
    public init(context: CKKSContext, secretKey: SecretKey) throws(CKKSError) {
        guard secretKey.parametersFingerprint == context.parameters.fingerprint else {
            throw .parameterMismatch("the secret key belongs to another parameter set")
        }
        self.context = context
        self.secretKey = secretKey
        rng = try systemRandomness()
    }

    /// A deterministic instance (tests only) for `encryptSymmetric`.
    public init(context: CKKSContext, secretKey: SecretKey, deterministicSeed seed: [UInt8]) throws(CKKSError) {
        try self.init(context: context, secretKey: secretKey)
        rng = ChaCha20(seed: seed, domain: 0x656e_6373_6b)
    }

    /// `m = c₀ + c₁·s (+ c₂·s²)` at the ciphertext's level and scale.
    public func decrypt(_ ciphertext: Ciphertext) throws(CKKSError) -> Plaintext {
        try context.checkCiphertext(ciphertext)   // the evaluator's own check: level, parts, basis, form
        var m = ciphertext.parts[0]
        let s = secretKey.limb(0)
        // Horner: m = c₀ + s·(c₁ + s·c₂)
        var inner = ciphertext.parts[ciphertext.size - 1]
        for part in ciphertext.parts.dropFirst().reversed().dropFirst() {
            inner.multiply(secret: s)
            inner.add(trusted: part)
        }
        inner.multiply(secret: s)
        m.add(trusted: inner)
        inner.storage.withUnsafeMutableBytes { wipe($0) }   // c₁·s: with c₁ public, it gives s away
        return Plaintext(polynomial: m, scale: ciphertext.scale)
    }

    /// Decrypts and decodes the real parts.
    public func decryptReal(_ ciphertext: Ciphertext) throws(CKKSError) -> [Double] {
        try context.decodeReal(decrypt(ciphertext))
    }

    /// Encrypts with the secret key; the ciphertext remembers the seed of its `c₁`.
    public mutating func encryptSymmetric(_ plaintext: Plaintext) throws(CKKSError) -> Ciphertext {
        try context.checkPlaintext(plaintext, level: plaintext.level)
        let level = plaintext.level
        let basis = context.dataBases[level]
        let n = context.degree
        let seed = rng.nextBytes(32)
        let a: DataPolynomial = Sampler.uniformPolynomial(basis: basis, seed: seed, domain: Self.seedDomain)
        var c0 = RNSPolynomial<Coefficient, OverQ>(secretSample: Sampler.discreteGaussian(degree: n, using: &rng), basis: basis)
            .forwardNTT()
        c0.add(trusted: plaintext.polynomial)
        c0.subtractProduct(a, secret: secretKey.limb(0))
        return Ciphertext(parts: [c0, a], scale: plaintext.scale, seed: seed)
    }

    /// The ChaCha20 domain of the `c₁` of secret-key ciphertexts.
    static let seedDomain: UInt64 = 0x6331_7365_6564
}

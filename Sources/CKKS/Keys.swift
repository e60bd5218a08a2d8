// Secret, public, relinearization and Galois keys, and their generation.
import Foundation
import HEARCrypto
import HERing

/// The secret key `s`: uniform ternary coefficients, kept both as coefficients and in NTT form
/// modulo every prime of `Q_L·P`.
///
/// A `final class` so that it is never silently copied; its memory is overwritten with zeros
/// when the last reference goes away. It prints no data. Only the parties that decrypt
/// (the client, the nursing station) ever hold one.
public final class SecretKey: @unchecked Sendable, CustomStringConvertible {
    /// The fingerprint of the parameters the key belongs to.
    public let parametersFingerprint: Fingerprint
    let degree: Int
    /// `N` coefficients in {−1, 0, 1}.
    let coefficients: UnsafeMutableBufferPointer<Int8>
    /// `(L + 1 + K)·N` residues: `s` in NTT form modulo `q₀ … q_L, p₀ … p_{K−1}`.
    let residues: UnsafeMutableBufferPointer<UInt64>

    /// A key from ternary coefficients (copied; the caller should wipe its own copy).
    init(context: CKKSContext, coefficients source: [Int8]) {
        precondition(source.count == context.degree && source.allSatisfy { (-1...1).contains($0) })
        parametersFingerprint = context.parameters.fingerprint
        degree = context.degree
        coefficients = .allocate(capacity: source.count)
        _ = coefficients.initialize(from: source)
        let basis = context.keyBasis
        let n = degree
        residues = .allocate(capacity: basis.count * n)
        residues.initialize(repeating: 0)
        let out = UncheckedSendable(residues.baseAddress!), coefs = UncheckedSendable(coefficients.baseAddress!)
        context.parallelism.forEach(basis.count) { i in
            let m = basis.moduli[i]
            let limb = out.value + i * n
            for k in 0..<n {
                limb[k] = m.reduce(signed: Int64(coefs.value[k]))   // branch-free lift
            }
            basis.nttTables[i].forward(limb)
        }
    }

    /// Generates a fresh key from `rng` (use the system-seeded generator for real keys).
    public convenience init(context: CKKSContext, using rng: inout ChaCha20) {
        var sample = Sampler.ternary(degree: context.degree, using: &rng)
        var ternary = sample.map { Int8($0) }
        sample.withUnsafeMutableBytes { wipe($0) }
        self.init(context: context, coefficients: ternary)
        ternary.withUnsafeMutableBytes { wipe($0) }
    }

    deinit {
        wipe(UnsafeMutableRawBufferPointer(coefficients))
        wipe(UnsafeMutableRawBufferPointer(residues))
        coefficients.deallocate()
        residues.deallocate()
    }

    /// Never the key's coefficients: `SecretKey(N = …, <secret>)`.
    public var description: String { "SecretKey(N = \(degree), <secret>)" }

    /// Pointer to limb `row` of `s` in NTT form (key-basis row numbering).
    func limb(_ row: Int) -> UnsafePointer<UInt64> { UnsafePointer(residues.baseAddress! + row * degree) }
}

extension RNSPolynomial where Form == Evaluation {
    /// `self ⊙= t` for a secret `t` in NTT form laid out like the key basis (limb `i` at
    /// `t + i·N`; `self` has the first limbs of the key basis, or all of them).
    mutating func multiply(secret t: UnsafePointer<UInt64>) {
        let n = degree, secret = UncheckedSendable(t)
        forEachLimb { i, m, x in m.multiply(x, by: secret.value + i * n, count: n) }
    }

    /// `self −= a ⊙ t` for a secret `t` laid out as in `multiply(secret:)`.
    mutating func subtractProduct(_ a: Self, secret t: UnsafePointer<UInt64>) {
        precondition(a.basis.isSame(as: basis), "subtractProduct: different bases")
        let n = degree, secret = UncheckedSendable(t)
        a.data.withUnsafeBufferPointer { ab in
            let ap = UncheckedSendable(ab.baseAddress!)
            forEachLimb { i, m, x in m.subtractProduct(x, ap.value + i * n, secret.value + i * n, count: n) }
        }
    }
}

/// A ChaCha20 stream keyed from the system's entropy: the source of every secret and error.
func systemRandomness() throws(CKKSError) -> ChaCha20 {
    do { return try ChaCha20.systemSeeded() } catch { throw .entropyUnavailable(error.reason) }
}

/// The public key `(b, a) = (−a·s + e, a)` modulo `Q_L·P` (the key basis), NTT form; `a` is
/// expanded from a public 32-byte seed. Encryption works in `Q_ℓ·P` and divides by `P`, which
/// divides the encryption noise `u·e + e₁·s` by `P` as well (see `Encryptor`).
public struct PublicKey: Sendable, Equatable {
    /// The fingerprint of the parameter set the key belongs to.
    public let parametersFingerprint: Fingerprint
    /// `b = −a·s + e` over `Q_L·P`, NTT form.
    public let b: ExtendedPolynomial
    /// `a`, uniform over `Q_L·P`, NTT form, expanded from `seed`.
    public let a: ExtendedPolynomial
    /// The 32-byte public seed `a` is expanded from.
    public let seed: [UInt8]
}

/// A key-switching key from `s'` to `s` in the hybrid form: for each digit `j` (data primes
/// `D_j`), `(b_j, a_j)` modulo `Q_L·P` with `b_j = −a_j·s + e_j + P·[Q̂_j·(Q̂_j⁻¹ mod D_j)]·s'`.
/// The gadget factor is `P` modulo the primes of digit `j` and `0` modulo every other prime, so
/// only those limbs carry `s'`. Every `a_j` comes from one seed (domain `j`).
public struct KeySwitchingKey: Sendable, Equatable {
    /// The fingerprint of the parameter set the key belongs to.
    public let parametersFingerprint: Fingerprint
    /// The highest ciphertext level the key serves: its limbs are those of `Q_level·P`.
    public let level: Int
    /// `dnum`.
    public let digitCount: Int
    /// Limbs per polynomial (`level + 1 + K`).
    public let limbCount: Int
    /// The ring degree N.
    public let degree: Int
    /// The `b_j` and `a_j`, NTT form over `Q_level·P`, digit `j`, limb `r` at `(j·limbCount + r)·N`.
    let residues: Residues
    /// The seed every `a_j` is expanded from.
    public let seed: [UInt8]

    /// How the key's residues are held in memory: in words, or — when every prime of
    /// `Q_level·P` is below 2⁴⁸ (every shipped preset) — in 5 or 6 bytes each
    /// (`ResiduePacking`; rows of a prime below 2⁴⁰ take 5), read by the key product at the same
    /// cost (`ProductSums.limbPackedPair`): 5/8 to 6/8 of the memory, bit-identical products.
    enum Residues: Sendable, Equatable {
        case words(b: [UInt64], a: [UInt64])
        /// `wideRow[r]`: limb `r` keeps its high bits in `UInt16`s; the high parts hold, digit
        /// after digit, the narrow (resp. wide) rows in limb order, `N` residues each.
        case packed(b: PackedRows, a: PackedRows, wideRow: [Bool])
    }

    /// One polynomial family (`b` or `a`) packed: `low` in the words' layout, high bits split.
    struct PackedRows: Sendable, Equatable {
        var low: [UInt32]
        var narrowHigh: [UInt8]
        var wideHigh: [UInt16]
    }

    /// Packs `b` and `a` when every modulus of `basis` (the key's `Q_level·P`) allows it.
    init(parametersFingerprint: Fingerprint, level: Int, digitCount: Int, basis: RNSBasis,
         b: [UInt64], a: [UInt64], seed: [UInt8]) {
        self.parametersFingerprint = parametersFingerprint
        self.level = level
        self.digitCount = digitCount
        self.limbCount = basis.count
        self.degree = basis.degree
        self.seed = seed
        guard basis.moduli.allSatisfy(ResiduePacking.supports) else {
            residues = .words(b: b, a: a)
            return
        }
        let wideRow = basis.moduli.map { $0.q >= ResiduePacking.narrowPrimeBound }
        residues = .packed(b: Self.pack(b, wideRow: wideRow, digits: digitCount, n: basis.degree),
                           a: Self.pack(a, wideRow: wideRow, digits: digitCount, n: basis.degree), wideRow: wideRow)
    }

    /// For limb `r`: whether it is wide, and its row index within the narrow or wide part of a digit.
    static func highPlaces(_ wideRow: [Bool]) -> (places: [Int], narrowRows: Int, wideRows: Int) {
        var narrow = 0, wide = 0
        let places = wideRow.map { w -> Int in
            if w { defer { wide += 1 }; return wide }
            defer { narrow += 1 }; return narrow
        }
        return (places, narrow, wide)
    }

    /// Runs `body(offset, wide, highOffset)` for every row (digit `j`, limb `r`): its offset in
    /// the words and in `low`, whether its high bits are `UInt16`s, and its offset in that part.
    private static func forEachRow(wideRow: [Bool], digits: Int, n: Int, _ body: (Int, Bool, Int) -> Void) {
        let (places, narrowRows, wideRows) = highPlaces(wideRow)
        for j in 0..<digits {
            for (r, wide) in wideRow.enumerated() {
                body((j * wideRow.count + r) * n, wide, (j * (wide ? wideRows : narrowRows) + places[r]) * n)
            }
        }
    }

    private static func pack(_ x: [UInt64], wideRow: [Bool], digits: Int, n: Int) -> PackedRows {
        let (_, narrowRows, wideRows) = highPlaces(wideRow)
        var rows = PackedRows(low: [UInt32](repeating: 0, count: x.count),
                              narrowHigh: [UInt8](repeating: 0, count: digits * narrowRows * n),
                              wideHigh: [UInt16](repeating: 0, count: digits * wideRows * n))
        x.withUnsafeBufferPointer { x in
            rows.low.withUnsafeMutableBufferPointer { low in
                rows.narrowHigh.withUnsafeMutableBufferPointer { narrow in
                    rows.wideHigh.withUnsafeMutableBufferPointer { wide in
                        forEachRow(wideRow: wideRow, digits: digits, n: n) { offset, isWide, high in
                            let source = x.baseAddress! + offset, target = low.baseAddress! + offset
                            if isWide {
                                ResiduePacking.pack(source, count: n, low: target, high: wide.baseAddress! + high)
                            } else {
                                ResiduePacking.pack(source, count: n, low: target, high: narrow.baseAddress! + high)
                            }
                        }
                    }
                }
            }
        }
        return rows
    }

    private func unpack(_ rows: PackedRows, wideRow: [Bool]) -> [UInt64] {
        let n = degree
        var x = [UInt64](repeating: 0, count: rows.low.count)
        x.withUnsafeMutableBufferPointer { x in
            rows.low.withUnsafeBufferPointer { low in
                rows.narrowHigh.withUnsafeBufferPointer { narrow in
                    rows.wideHigh.withUnsafeBufferPointer { wide in
                        Self.forEachRow(wideRow: wideRow, digits: digitCount, n: n) { offset, isWide, high in
                            let source = low.baseAddress! + offset, target = x.baseAddress! + offset
                            if isWide {
                                ResiduePacking.unpack(low: source, high: wide.baseAddress! + high, count: n, into: target)
                            } else {
                                ResiduePacking.unpack(low: source, high: narrow.baseAddress! + high, count: n, into: target)
                            }
                        }
                    }
                }
            }
        }
        return x
    }

    /// All `b_j`, NTT form over `Q_level·P`: digit `j`, limb `r` at `(j·limbCount + r)·N`
    /// (a copy in words, whatever the form held).
    public var b: [UInt64] {
        switch residues {
        case .words(let b, _): b
        case .packed(let b, _, let wideRow): unpack(b, wideRow: wideRow)
        }
    }

    /// All `a_j`, same layout.
    public var a: [UInt64] {
        switch residues {
        case .words(_, let a): a
        case .packed(_, let a, let wideRow): unpack(a, wideRow: wideRow)
        }
    }

    /// Whether the residues are held packed (5 or 6 bytes each).
    public var isPacked: Bool {
        if case .packed = residues { return true }
        return false
    }

    /// Bytes the residues take in memory.
    public var byteCount: Int {
        switch residues {
        case .words(let b, let a): (b.count + a.count) * 8
        case .packed(let b, let a, _): [b, a].reduce(0) { $0 + $1.low.count * 4 + $1.narrowHigh.count + $1.wideHigh.count * 2 }
        }
    }
}

/// The key that switches `s²` back to `s` after a ciphertext product.
public struct RelinearizationKey: Sendable, Equatable {
    /// The key-switching key from `s²` to `s`.
    public let key: KeySwitchingKey
}

/// Galois keys for an explicit set of automorphisms `σ: X → X^g` (rotations `g = 5^step`,
/// conjugation `g = 2N − 1`), with the NTT-slot permutation of `g` precomputed.
///
/// The key of `g` switches `s` to `σ⁻¹(s)` ("switch, then permute"): key switching `c₁` gives
/// `v₀ + v₁·σ⁻¹(s) ≈ c₁·s`, and applying `σ` afterwards gives
/// `σ(c₀ + v₀) + σ(v₁)·s ≈ σ(c₀ + c₁·s) = σ(m)`. The key product then reads the decomposed
/// digits in order (no gather), and the permutation is applied once to the two results.
public struct GaloisKeys: Sendable, Equatable {
    /// The key of one Galois element and the slot permutation of its automorphism.
    public struct Entry: Sendable, Equatable {
        /// The Galois element `g` (odd, below 2N) of the automorphism `X → X^g`.
        public let galoisElement: Int
        /// The key-switching key from `σ_g⁻¹(s)` to `s` ("switch, then permute").
        public let key: KeySwitchingKey
        /// Where NTT slot `k` of the result is read from: the automorphism as a permutation of the N evaluation points.
        public let permutation: [UInt32]
    }
    /// The fingerprint of the parameter set the keys belong to.
    public let parametersFingerprint: Fingerprint
    /// The keys by Galois element.
    public let entries: [Int: Entry]

    /// The Galois elements covered, sorted.
    public var galoisElements: [Int] { entries.keys.sorted() }
}

/// Generates keys for one secret key. The randomness of secrets and errors comes from `rng`
/// (system-seeded unless a test passes a fixed seed); the public `a` polynomials are expanded
/// from 32-byte seeds drawn from it.
public struct KeyGenerator {
    /// The context of the parameters the keys are generated for.
    public let context: CKKSContext
    /// The secret key every key is derived from (its coefficients are wiped when the last reference goes).
    public let secretKey: SecretKey
    var rng: ChaCha20

    /// A generator with a fresh secret key from system entropy.
    public init(context: CKKSContext) throws(CKKSError) {
        self.init(context: context, rng: try systemRandomness())
    }

    /// A deterministic generator (tests, reproducible benchmarks): every key and error follows
    /// from `seed`. Never use a fixed seed for real data.
    public init(context: CKKSContext, deterministicSeed seed: [UInt8]) {
        self.init(context: context, rng: ChaCha20(seed: seed, domain: 0x6b65_7967_656e))
    }

    init(context: CKKSContext, rng: ChaCha20) {
        self.context = context
        var rng = rng
        secretKey = SecretKey(context: context, using: &rng)
        self.rng = rng
    }

    /// A generator for an existing secret key.
    public init(context: CKKSContext, secretKey: SecretKey, deterministicSeed seed: [UInt8]? = nil) throws(CKKSError) {
        guard secretKey.parametersFingerprint == context.parameters.fingerprint else {
            throw .parameterMismatch("the secret key belongs to another parameter set")
        }
        self.context = context
        self.secretKey = secretKey
        if let seed {
            rng = ChaCha20(seed: seed, domain: 0x6b65_7967_656f)
        } else {
            rng = try systemRandomness()
        }
    }

    /// A Gaussian error polynomial in NTT form over `basis`.
    mutating func error(basis: RNSBasis) -> ExtendedPolynomial {
        Self.error(basis: basis, using: &rng)
    }

    /// A Gaussian error polynomial in NTT form over `basis`, drawn from `rng`.
    static func error(basis: RNSBasis, using rng: inout ChaCha20) -> ExtendedPolynomial {
        RNSPolynomial<Coefficient, OverQP>(secretSample: Sampler.discreteGaussian(degree: basis.degree, using: &rng),
                                           basis: basis).forwardNTT()
    }

    /// The ChaCha20 domain of the public key's `a` (key-switching keys use the digit index).
    static let publicKeyDomain: UInt64 = 0x7075_626b_6579

    /// The public key.
    public mutating func publicKey() -> PublicKey {
        let basis = context.keyBasis
        let seed = rng.nextBytes(32)
        let a: ExtendedPolynomial = Sampler.uniformPolynomial(basis: basis, seed: seed, domain: Self.publicKeyDomain)
        var b = error(basis: basis)
        b.subtractProduct(a, secret: secretKey.limb(0))
        return PublicKey(parametersFingerprint: context.parameters.fingerprint, b: b, a: a, seed: seed)
    }

    /// The ChaCha20 domain of the error stream of a key-switching key (expanded from its own
    /// secret error seed, so that keys can be generated in parallel, each from two seeds drawn in
    /// order from the generator's stream).
    static let keyErrorDomain: UInt64 = 0x6b73_6b65_7272   // "kskerr"

    /// Two seeds for one key-switching key, drawn in order from the generator's stream: the
    /// public seed of its `a_j` and the secret seed of its errors.
    mutating func keySeeds() -> (seed: [UInt8], errorSeed: [UInt8]) {
        (rng.nextBytes(32), rng.nextBytes(32))
    }

    /// The key-switching key from `source` to `target` (both in NTT form over the key basis
    /// `Q_L·P`, key-row numbering) for ciphertexts up to `level`:
    /// `b_j = −a_j·target + e_j + P·[digit j]·source` modulo `Q_level·P`, for the digits of
    /// level `level`. A key for a lower level has fewer digits and limbs (a fraction of the
    /// memory and generation time) and serves every level up to its own.
    ///
    /// All its randomness comes from the two seeds (`a_j` from the public `seed`, the errors from
    /// the secret `errorSeed`, which the caller wipes), so it depends on nothing else and several
    /// keys can be made at once.
    static func keySwitchingKey(context: CKKSContext, from source: UnsafePointer<UInt64>, to target: UnsafePointer<UInt64>,
                                level: Int, seeds: (seed: [UInt8], errorSeed: [UInt8])) -> KeySwitchingKey {
        let basis = context.extendedBases[level]
        let n = context.degree
        let plan = context.keySwitching[level]
        var errors = ChaCha20(seed: seeds.errorSeed, domain: keyErrorDomain)   // wipes its state when freed
        let size = basis.count * n
        // the rows of Q_level·P, contiguous
        var selected = [UInt64](repeating: 0, count: 2 * size)
        defer { selected.withUnsafeMutableBufferPointer { wipe(UnsafeMutableRawBufferPointer($0)) } }
        selected.withUnsafeMutableBufferPointer { buffer in
            for (t, row) in plan.keyRows.enumerated() {
                (buffer.baseAddress! + t * n).update(from: source + row * n, count: n)
                (buffer.baseAddress! + size + t * n).update(from: target + row * n, count: n)
            }
        }
        var bs = [UInt64](repeating: 0, count: plan.digits.count * size)
        var as_ = [UInt64](repeating: 0, count: plan.digits.count * size)
        selected.withUnsafeBufferPointer { rows in
            let source = rows.baseAddress!, target = rows.baseAddress! + size
            for (j, digit) in plan.digits.enumerated() {
                let a: ExtendedPolynomial = Sampler.uniformPolynomial(basis: basis, seed: seeds.seed, domain: UInt64(j))
                var b = error(basis: basis, using: &errors)
                b.subtractProduct(a, secret: target)
                b.storage.withUnsafeMutableBufferPointer { bb in
                    for i in digit.range {
                        let m = basis.moduli[i]
                        let p = plan.pModQ[i], ps = m.shoup(p)
                        let t = source + i * n
                        let x = bb.baseAddress! + i * n
                        for k in 0..<n { x[k] = m.add(x[k], m.multiply(t[k], by: p, shoup: ps)) }
                    }
                }
                bs.replaceSubrange((j * size)..<((j + 1) * size), with: b.data)
                as_.replaceSubrange((j * size)..<((j + 1) * size), with: a.data)
            }
        }
        return KeySwitchingKey(parametersFingerprint: context.parameters.fingerprint, level: level,
                               digitCount: plan.digits.count, basis: basis, b: bs, a: as_, seed: seeds.seed)
    }

    /// The relinearization key (`s² → s`) for products at every level.
    public mutating func relinearizationKey() -> RelinearizationKey {
        relinearizationKey(checkedLevel: context.maxLevel)
    }

    /// The relinearization key for products up to `level` (fewer digits and limbs below the top).
    /// - Throws: `CKKSError.invalidLevel` unless `0 ≤ level ≤ L`.
    public mutating func relinearizationKey(level: Int) throws(CKKSError) -> RelinearizationKey {
        try context.checkLevel(level)
        return relinearizationKey(checkedLevel: level)
    }

    mutating func relinearizationKey(checkedLevel level: Int) -> RelinearizationKey {
        let basis = context.keyBasis
        let n = context.degree
        var square = [UInt64](repeating: 0, count: basis.count * n)
        for i in 0..<basis.count {
            let m = basis.moduli[i], s = secretKey.limb(i)
            for k in 0..<n { square[i * n + k] = m.multiply(s[k], s[k]) }
        }
        var seeds = keySeeds()
        let key = square.withUnsafeBufferPointer {
            Self.keySwitchingKey(context: context, from: $0.baseAddress!, to: secretKey.limb(0), level: level, seeds: seeds)
        }
        wipe(&seeds.errorSeed)
        square.withUnsafeMutableBufferPointer { wipe(UnsafeMutableRawBufferPointer($0)) }
        return RelinearizationKey(key: key)
    }

    /// Galois keys for rotations by each of `steps` (left, negative = right) and, if asked,
    /// complex conjugation, for ciphertexts at every level. Steps that are multiples of `N/2`
    /// (the identity) are skipped.
    public mutating func galoisKeys(steps: [Int], conjugation: Bool = false) -> GaloisKeys {
        galoisKeys(checkedElements: rotationElements(steps, conjugation: conjugation), level: context.maxLevel)
    }

    /// As `galoisKeys(steps:conjugation:)`, for ciphertexts up to `level`.
    /// - Throws: `CKKSError.invalidLevel` unless `0 ≤ level ≤ L`.
    public mutating func galoisKeys(steps: [Int], conjugation: Bool = false, level: Int) throws(CKKSError) -> GaloisKeys {
        try context.checkLevel(level)
        return galoisKeys(checkedElements: rotationElements(steps, conjugation: conjugation), level: level)
    }

    func rotationElements(_ steps: [Int], conjugation: Bool) -> [Int] {
        var elements = steps.map { context.galoisElement(forRotation: $0) }.filter { $0 != 1 }
        if conjugation { elements.append(context.conjugationElement) }
        return elements
    }

    /// Galois keys for rotations, each for ciphertexts up to its own level (`levels[step]`): a
    /// program that rotates by a step only after some rescalings needs the key only up to
    /// that level, with fewer digits and limbs.
    /// `conjugationLevel`: also the key of complex conjugation, up to that level.
    /// - Throws: `CKKSError.invalidLevel` for a level outside `0 … L`.
    public mutating func galoisKeys(rotationLevels levels: [Int: Int], conjugationLevel: Int? = nil) throws(CKKSError) -> GaloisKeys {
        var byElement: [Int: Int] = [:]
        for (_, level) in levels { try context.checkLevel(level) }
        if let conjugationLevel { try context.checkLevel(conjugationLevel) }
        for (step, level) in levels {
            let g = context.galoisElement(forRotation: step)
            if g != 1 { byElement[g] = max(byElement[g] ?? 0, level) }
        }
        if let conjugationLevel { byElement[context.conjugationElement] = conjugationLevel }
        return galoisKeys(elementLevels: byElement)
    }

    /// Galois keys for explicit Galois elements, up to `level` (default: top).
    /// - Throws: `CKKSError.invalidOperand` for an element that is even or outside `1 … 2N − 1`
    ///   (`X → X^g` is an automorphism of `Z[X]/(X^N + 1)` only for odd `g`), `.invalidLevel`.
    public mutating func galoisKeys(elements: [Int], level: Int? = nil) throws(CKKSError) -> GaloisKeys {
        let level = level ?? context.maxLevel
        try context.checkLevel(level)
        for g in elements { try context.checkGaloisElement(g) }
        return galoisKeys(checkedElements: elements, level: level)
    }

    mutating func galoisKeys(checkedElements elements: [Int], level: Int) -> GaloisKeys {
        var byElement: [Int: Int] = [:]
        for g in elements where byElement[g] == nil { byElement[g] = level }
        return galoisKeys(elementLevels: byElement, order: elements)
    }

    /// Galois keys for elements with their levels, generated in `order` (then ascending).
    ///
    /// Threads: the seeds of every key are drawn first, in that order, from the generator's
    /// stream; then the keys are the items of one parallel loop (each key's own loops over its
    /// limbs with the key's share of the threads). The keys depend on the seeds only, so they
    /// are the same for any thread count.
    mutating func galoisKeys(elementLevels: [Int: Int], order: [Int] = []) -> GaloisKeys {
        let basis = context.keyBasis
        let n = context.degree
        var seen = Set<Int>()
        let elements = (order + elementLevels.keys.sorted()).filter { seen.insert($0).inserted }
        // the secret error seeds are wiped in place at the end: no copy of the array is kept
        // (a copy would share their storage, and the wipe would then clear a fresh copy instead)
        var seeds = elements.map { _ in keySeeds() }
        defer { for i in seeds.indices { wipe(&seeds[i].errorSeed) } }
        let (context, secretKey) = (self.context, self.secretKey)
        let made = context.parallelism.map(elements.count) { index -> GaloisKeys.Entry in
            let g = elements[index]
            let permutation = GaloisAutomorphism.permutation(degree: n, validatedElement: g)
            // σ⁻¹(s) in NTT form: σ(x)[k] = x[π[k]], so σ⁻¹(s)[π[k]] = s[k]
            var inverse = [UInt64](repeating: 0, count: basis.count * n)
            for i in 0..<basis.count {
                let s = secretKey.limb(i)
                for k in 0..<n { inverse[i * n + Int(permutation[k])] = s[k] }
            }
            let key = inverse.withUnsafeBufferPointer {
                Self.keySwitchingKey(context: context, from: secretKey.limb(0), to: $0.baseAddress!,
                                     level: elementLevels[g]!, seeds: seeds[index])
            }
            inverse.withUnsafeMutableBufferPointer { wipe(UnsafeMutableRawBufferPointer($0)) }
            return .init(galoisElement: g, key: key, permutation: permutation)
        }
        var entries: [Int: GaloisKeys.Entry] = [:]
        for entry in made { entries[entry.galoisElement] = entry }
        return GaloisKeys(parametersFingerprint: context.parameters.fingerprint, entries: entries)
    }
}

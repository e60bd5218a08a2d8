// Homomorphic operations on ciphertexts: arithmetic, rescaling, rotations, hoisting.
import Foundation
import HERing

/// Homomorphic arithmetic. Stateless apart from the context; every operation checks levels,
/// scales and parameter sets and throws `CKKSError` on a mismatch. Results are bit-identical
/// for any thread count (limbs are independent; nothing is reduced in a thread-dependent order).
///
/// Scales: sums need equal scales (relative difference below `scaleTolerance`); products
/// multiply them; `rescale` divides by the last prime `q_ℓ`.
public struct Evaluator: Sendable {
    /// The context whose chain, key-switching plans and thread setting every operation uses.
    public let context: CKKSContext
    /// Relative difference below which two scales count as equal.
    public var scaleTolerance = 1e-9

    /// An evaluator over `context` (it holds no keys: the operations that need keys take them).
    public init(context: CKKSContext) { self.context = context }

    // MARK: Checks

    func checkSameLevelAndScale(_ a: Ciphertext, _ level: Int, _ scale: Double) throws(CKKSError) {
        guard a.level == level else { throw .levelMismatch(a.level, level) }
        guard abs(a.scale - scale) <= scaleTolerance * max(a.scale, scale) else { throw .scaleMismatch(a.scale, scale) }
    }

    func checkCiphertext(_ a: Ciphertext) throws(CKKSError) { try context.checkCiphertext(a) }

    func checkPlaintext(_ p: Plaintext, level: Int) throws(CKKSError) { try context.checkPlaintext(p, level: level) }

    // MARK: Addition

    /// `a + b` (sizes may differ: the missing parts count as zero).
    public func add(_ a: Ciphertext, _ b: Ciphertext) throws(CKKSError) -> Ciphertext {
        try checkCiphertext(a); try checkCiphertext(b)
        try checkSameLevelAndScale(a, b.level, b.scale)
        var (big, small) = a.size >= b.size ? (a, b) : (b, a)
        for i in 0..<small.size { big.parts[i].add(trusted: small.parts[i]) }
        big.seed = nil
        return big
    }

    /// `a − b`.
    public func subtract(_ a: Ciphertext, _ b: Ciphertext) throws(CKKSError) -> Ciphertext {
        try add(a, negate(b))
    }

    /// `−a`.
    public func negate(_ a: Ciphertext) throws(CKKSError) -> Ciphertext {
        try checkCiphertext(a)
        var r = a
        for i in 0..<r.size { r.parts[i].negate() }
        r.seed = nil
        return r
    }

    /// `i·a`: every slot multiplied by the imaginary unit, by the ring product with `X^{N/2}`
    /// (`CKKSContext.imaginaryUnit`). Exact: no noise, no level, the scale is kept.
    public func multiplyByImaginaryUnit(_ a: Ciphertext) throws(CKKSError) -> Ciphertext {
        try checkCiphertext(a)
        let unit = context.imaginaryUnit(level: a.level)
        var r = a
        for i in 0..<r.size { r.parts[i].multiply(trusted: unit) }
        r.seed = nil
        return r
    }

    /// `a + p` (same level and scale).
    public func add(_ a: Ciphertext, _ p: Plaintext) throws(CKKSError) -> Ciphertext {
        try checkCiphertext(a); try checkPlaintext(p, level: a.level)
        try checkSameLevelAndScale(a, p.level, p.scale)
        var r = a
        r.parts[0].add(trusted: p.polynomial)
        r.seed = nil
        return r
    }

    /// `a − p`.
    public func subtract(_ a: Ciphertext, _ p: Plaintext) throws(CKKSError) -> Ciphertext {
        var negated = p
        negated.polynomial.negate()
        return try add(a, negated)
    }

    /// `a + c` in every slot: the constant polynomial `⌊c·Δ_a⌉` (its NTT is that constant in
    /// every evaluation point) added to `c₀`.
    public func add(_ a: Ciphertext, constant c: Double) throws(CKKSError) -> Ciphertext {
        try checkCiphertext(a)
        guard (c * a.scale).isFinite else { throw .notFinite(index: 0) }
        var r = a
        let basis = r.parts[0].basis, n = context.degree
        r.parts[0].storage.withUnsafeMutableBufferPointer { buffer in
            for (i, m) in basis.moduli.enumerated() {
                let v = CKKSEncoder.residue(ofRounded: c * a.scale, modulus: m)
                for k in (i * n)..<((i + 1) * n) { buffer[k] = m.add(buffer[k], v) }
            }
        }
        r.seed = nil
        return r
    }

    // MARK: Products with plaintexts and constants

    /// `a ⊙ p`: scale `Δ_a·Δ_p`, same level (rescale afterwards).
    public func multiply(_ a: Ciphertext, _ p: Plaintext) throws(CKKSError) -> Ciphertext {
        try checkCiphertext(a); try checkPlaintext(p, level: a.level)
        var r = a
        for i in 0..<r.size { r.parts[i].multiply(trusted: p.polynomial) }
        r.scale = a.scale * p.scale
        r.seed = nil
        return r
    }

    /// `a · c` for an integer `c`: the scale is unchanged, no level is used.
    public func multiply(_ a: Ciphertext, integer c: Int) throws(CKKSError) -> Ciphertext {
        try checkCiphertext(a)
        var r = a
        let residues = r.parts[0].basis.moduli.map { $0.reduce(signed: Int64(c)) }
        for i in 0..<r.size { r.parts[i].multiply(trustedScalarResidues: residues) }
        r.seed = nil
        return r
    }

    /// `a · c` for a real `c`, encoded as the integer `⌊c·Δ_c⌉`; the scale becomes `Δ_a·Δ_c`.
    /// By default `Δ_c = q_ℓ`, the prime the next rescale divides by, so that the scale is back to
    /// `Δ_a` after rescaling.
    public func multiply(_ a: Ciphertext, constant c: Double, constantScale: Double? = nil) throws(CKKSError) -> Ciphertext {
        try checkCiphertext(a)
        let scale = constantScale ?? (a.level > 0 ? Double(context.parameters.dataPrimes[a.level]) : context.parameters.scale)
        guard (c * scale).isFinite else { throw .notFinite(index: 0) }
        var r = a
        let residues = r.parts[0].basis.moduli.map { CKKSEncoder.residue(ofRounded: c * scale, modulus: $0) }
        for i in 0..<r.size { r.parts[i].multiply(trustedScalarResidues: residues) }
        r.scale = a.scale * scale
        r.seed = nil
        return r
    }

    /// `Σᵢ aᵢ ⊙ pᵢ` by the one multiply-accumulate kernel (`ProductSums`: each product reduced
    /// by the floating quotient below 2⁵⁰, 128-bit sums above), then one rescale by the caller:
    /// the building block of lazy rescaling. All terms at one level and one scale product.
    public func multiplyAccumulate(_ terms: [(Ciphertext, Plaintext)]) throws(CKKSError) -> Ciphertext {
        guard let first = terms.first else { throw .invalidOperand("multiplyAccumulate needs at least one term") }
        let level = first.0.level, scale = first.0.scale * first.1.scale
        for (c, p) in terms {
            try checkCiphertext(c); try checkPlaintext(p, level: level)
            guard c.size == 2 else { throw .invalidOperand("multiplyAccumulate needs relinearized ciphertexts") }
            try checkSameLevelAndScale(c, level, scale / p.scale)
        }
        let basis = context.dataBases[level]
        // limb by limb (in parallel), the plaintexts as the shared factor, 16 terms per pass
        var out0 = DataPolynomial(zeroIn: basis), out1 = DataPolynomial(zeroIn: basis)
        let triples = terms.map { ($0.0.parts[0], $0.0.parts[1], $0.1.polynomial) }
        for chunk in stride(from: 0, to: triples.count, by: productChunk) {
            sumProducts(Array(triples[chunk..<min(chunk + productChunk, triples.count)]), permutations: nil, basis: basis,
                        into: &out0, &out1, accumulate: chunk > 0)
        }
        return Ciphertext(parts: [out0, out1], scale: scale)
    }

    /// `Σᵢ aᵢ ⊙ pᵢ + Σⱼ bⱼ ⊙ mⱼ` with plaintexts `pᵢ` in NTT form and compact plaintexts `mⱼ`
    /// (integer coefficients): equal to `multiplyAccumulate` with every `mⱼ` expanded by
    /// `CKKSContext.plaintext(_:)`, without storing the expansion. Limb `i` of the compact terms
    /// goes `expansionChunk` terms at a time: `mⱼ mod qᵢ` into a scratch of a few `N` words
    /// (it stays in cache), its NTT, then the same kernel as the resident terms. The work added
    /// is one reduction and one NTT per term and limb; the memory read per term and limb is
    /// `N` integers shared by all limbs instead of the `N` residues of each limb.
    public func multiplyAccumulate(_ terms: [(Ciphertext, Plaintext)], compact: [(Ciphertext, CompactPlaintext)]) throws(CKKSError) -> Ciphertext {
        try multiplyAccumulate(terms, packed: [], compact: compact)
    }

    /// The same with packed plaintexts too (`PackedPlaintext`: NTT form in 5 or 6 bytes a
    /// residue, read by `ProductSums.limbPacked`). Bit for bit the product of the unpacked
    /// plaintexts.
    public func multiplyAccumulate(_ terms: [(Ciphertext, Plaintext)], packed: [(Ciphertext, PackedPlaintext)],
                                   compact: [(Ciphertext, CompactPlaintext)]) throws(CKKSError) -> Ciphertext {
        guard !packed.isEmpty || !compact.isEmpty else { return try multiplyAccumulate(terms) }
        let (level, scale) = packed.first.map { ($0.0.level, $0.0.scale * $0.1.scale) }
            ?? (compact[0].0.level, compact[0].0.scale * compact[0].1.scale)
        for (c, m) in compact {
            try checkCiphertext(c)
            guard m.level == level else { throw .levelMismatch(m.level, level) }
            guard c.size == 2 else { throw .invalidOperand("multiplyAccumulate needs relinearized ciphertexts") }
            try checkSameLevelAndScale(c, level, scale / m.scale)
            guard m.coefficients.count == context.degree else { throw .degreeMismatch(expected: context.degree, got: m.coefficients.count) }
        }
        let basis = context.dataBases[level]
        for (c, p) in packed {
            try checkCiphertext(c)
            guard p.level == level else { throw .levelMismatch(p.level, level) }
            guard c.size == 2 else { throw .invalidOperand("multiplyAccumulate needs relinearized ciphertexts") }
            try checkSameLevelAndScale(c, level, scale / p.scale)
            guard context.hasPackedShape(p) else {
                throw .parameterMismatch("the packed plaintext does not belong to this context at level \(level)")
            }
        }
        var out0: DataPolynomial, out1: DataPolynomial
        if terms.isEmpty {
            (out0, out1) = (DataPolynomial(zeroIn: basis), DataPolynomial(zeroIn: basis))
        } else {
            let resident = try multiplyAccumulate(terms)
            guard resident.level == level else { throw .levelMismatch(resident.level, level) }
            guard abs(resident.scale - scale) <= scaleTolerance * scale else { throw .scaleMismatch(resident.scale, scale) }
            (out0, out1) = (resident.parts[0], resident.parts[1])
        }
        for chunk in stride(from: 0, to: packed.count, by: productChunk) {
            sumPackedProducts(Array(packed[chunk..<min(chunk + productChunk, packed.count)]), basis: basis,
                              into: &out0, &out1, accumulate: chunk > 0 || !terms.isEmpty)
        }
        for chunk in stride(from: 0, to: compact.count, by: productChunk) {
            sumCompactProducts(Array(compact[chunk..<min(chunk + productChunk, compact.count)]), basis: basis,
                               into: &out0, &out1, accumulate: chunk > 0 || !terms.isEmpty || !packed.isEmpty)
        }
        return Ciphertext(parts: [out0, out1], scale: scale)
    }

    // MARK: Ciphertext products

    /// `a ⊗ b = (a₀b₀, a₀b₁ + a₁b₀, a₁b₁)`: a three-part ciphertext decrypting under
    /// `(1, s, s²)` at scale `Δ_a·Δ_b`. Relinearize (and rescale) next.
    public func multiplyWithoutRelinearization(_ a: Ciphertext, _ b: Ciphertext) throws(CKKSError) -> Ciphertext {
        try checkCiphertext(a); try checkCiphertext(b)
        guard a.size == 2, b.size == 2 else { throw .invalidOperand("relinearize before multiplying again") }
        guard a.level == b.level else { throw .levelMismatch(a.level, b.level) }
        var d0 = a.parts[0], d1 = a.parts[0], d2 = a.parts[1]
        d0.multiply(trusted: b.parts[0])
        d1.multiply(trusted: b.parts[1])
        d1.multiplyAdd(trusted: a.parts[1], b.parts[0])
        d2.multiply(trusted: b.parts[1])
        return Ciphertext(parts: [d0, d1, d2], scale: a.scale * b.scale)
    }

    /// `a²` (three parts): `(a₀², 2a₀a₁, a₁²)`.
    public func squareWithoutRelinearization(_ a: Ciphertext) throws(CKKSError) -> Ciphertext {
        try checkCiphertext(a)
        guard a.size == 2 else { throw .invalidOperand("relinearize before squaring") }
        var d0 = a.parts[0], d1 = a.parts[0], d2 = a.parts[1]
        d0.multiply(trusted: a.parts[0])
        d1.multiply(trusted: a.parts[1])
        d1.add(trusted: d1)
        d2.multiply(trusted: a.parts[1])
        return Ciphertext(parts: [d0, d1, d2], scale: a.scale * a.scale)
    }

    /// Relinearization: `(d₀, d₁, d₂) → (d₀ + u₀, d₁ + u₁)` with `u₀ + u₁·s ≈ d₂·s²`.
    public func relinearize(_ a: Ciphertext, key: RelinearizationKey) throws(CKKSError) -> Ciphertext {
        try checkCiphertext(a)
        guard key.key.parametersFingerprint == context.parameters.fingerprint else {
            throw .parameterMismatch("the relinearization key belongs to another parameter set")
        }
        guard a.size == 3 else { return a }
        try checkKeyLevel(key.key, a.level, what: "the relinearization key")
        let (u0, u1) = context.keySwitch(trusted: a.parts[2], level: a.level, key: key.key)
        var r0 = a.parts[0], r1 = a.parts[1]
        r0.add(trusted: u0)
        r1.add(trusted: u1)
        return Ciphertext(parts: [r0, r1], scale: a.scale)
    }

    /// `a·b`, relinearized (not rescaled).
    public func multiply(_ a: Ciphertext, _ b: Ciphertext, relinearizationKey key: RelinearizationKey) throws(CKKSError) -> Ciphertext {
        try relinearize(multiplyWithoutRelinearization(a, b), key: key)
    }

    /// `a²`, relinearized (not rescaled).
    public func square(_ a: Ciphertext, relinearizationKey key: RelinearizationKey) throws(CKKSError) -> Ciphertext {
        try relinearize(squareWithoutRelinearization(a), key: key)
    }

    // MARK: Levels

    /// Rescaling: divides every part by `q_ℓ` with rounding and drops that prime; the scale
    /// becomes `Δ/q_ℓ` and the level `ℓ − 1`.
    public func rescale(_ a: Ciphertext) throws(CKKSError) -> Ciphertext {
        try checkCiphertext(a)
        guard a.level > 0 else { throw .invalidLevel(level: 0, reason: "a level-0 ciphertext cannot be rescaled") }
        var r = a
        let target = context.dataBases[a.level - 1]
        for i in 0..<r.size { r.parts[i].divideAndRoundByLastModulus(trustedBasis: target) }
        r.scale = a.scale / Double(context.parameters.dataPrimes[a.level])
        r.seed = nil
        return r
    }

    /// Drops primes down to `level` without changing the scale (the message is unchanged:
    /// reduction modulo a divisor of `Q_ℓ`).
    public func dropLevel(_ a: Ciphertext, to level: Int) throws(CKKSError) -> Ciphertext {
        try checkCiphertext(a)
        guard level >= 0 && level <= a.level else {
            throw .invalidLevel(level: level, reason: "cannot drop a level-\(a.level) ciphertext to it")
        }
        guard level < a.level else { return a }
        var r = a
        for i in 0..<r.size { r.parts[i].dropLastLimbs(trusted: a.level - level, basis: context.dataBases[level]) }
        r.seed = nil
        return r
    }

    /// Drops a plaintext's primes down to `level`.
    public func dropLevel(_ p: Plaintext, to level: Int) throws(CKKSError) -> Plaintext {
        try checkPlaintext(p, level: p.level)
        guard level >= 0, level <= p.level else {
            throw .invalidLevel(level: level, reason: "cannot drop a level-\(p.level) plaintext to it")
        }
        var r = p
        if level < p.level { r.polynomial.dropLastLimbs(trusted: p.level - level, basis: context.dataBases[level]) }
        return r
    }

    // MARK: Rotations

    func galoisEntry(_ keys: GaloisKeys, element g: Int, what: String) throws(CKKSError) -> GaloisKeys.Entry {
        guard keys.parametersFingerprint == context.parameters.fingerprint else {
            throw .parameterMismatch("the Galois keys belong to another parameter set")
        }
        guard let entry = keys.entries[g] else { throw .missingGaloisKey(galoisElement: g, description: what) }
        return entry
    }

    /// A key generated for levels up to `key.level` cannot switch a ciphertext above it.
    func checkKeyLevel(_ key: KeySwitchingKey, _ level: Int, what: String) throws(CKKSError) {
        guard key.level >= level else {
            throw .invalidLevel(level: level, reason: "\(what) serves levels up to \(key.level) only; generate it for level \(level)")
        }
    }

    /// `X → X^g` with the key of `g` (which switches `s → σ⁻¹(s)`): key switching `c₁` gives
    /// `v₀ + v₁·σ⁻¹(s) ≈ c₁·s`, and the result is `(σ(c₀ + v₀), σ(v₁))`.
    public func applyGalois(_ a: Ciphertext, element g: Int, keys: GaloisKeys) throws(CKKSError) -> Ciphertext {
        try checkCiphertext(a)
        guard a.size == 2 else { throw .invalidOperand("relinearize before rotating") }
        if g == 1 { return a }
        let entry = try galoisEntry(keys, element: g, what: "Galois element \(g)")
        try checkKeyLevel(entry.key, a.level, what: "the key of Galois element \(g)")
        let (v0, v1) = context.keySwitch(trusted: a.parts[1], level: a.level, key: entry.key)
        var r0 = a.parts[0]
        r0.add(trusted: v0)
        return Ciphertext(parts: [r0.applyingAutomorphism(validatedElement: g, permutation: entry.permutation),
                                  v1.applyingAutomorphism(validatedElement: g, permutation: entry.permutation)],
                          scale: a.scale)
    }

    /// Rotates the slots left by `step` (slot `i` receives slot `i + step`; negative steps
    /// rotate right).
    public func rotate(_ a: Ciphertext, by step: Int, keys: GaloisKeys) throws(CKKSError) -> Ciphertext {
        let g = context.galoisElement(forRotation: step)
        guard g != 1 else { return a }
        guard keys.entries[g] != nil else {
            throw .missingGaloisKey(galoisElement: g, description: "rotation by \(step)")
        }
        return try applyGalois(a, element: g, keys: keys)
    }

    /// Complex conjugation of every slot.
    public func conjugate(_ a: Ciphertext, keys: GaloisKeys) throws(CKKSError) -> Ciphertext {
        let g = context.conjugationElement
        guard keys.entries[g] != nil else { throw .missingGaloisKey(galoisElement: g, description: "conjugation") }
        return try applyGalois(a, element: g, keys: keys)
    }

    /// The key of each rotation step (nil for a step that is a multiple of the slot count),
    /// checked to serve `level`.
    func rotationEntries(_ steps: [Int], level: Int, keys: GaloisKeys) throws(CKKSError) -> [GaloisKeys.Entry?] {
        var entries: [GaloisKeys.Entry?] = []
        for step in steps {
            let g = context.galoisElement(forRotation: step)
            let entry = g == 1 ? nil : try galoisEntry(keys, element: g, what: "rotation by \(step)")
            if let entry { try checkKeyLevel(entry.key, level, what: "the key of rotation by \(step)") }
            entries.append(entry)
        }
        return entries
    }

    /// Hoisted rotations: the rotations of one ciphertext by each step, sharing one
    /// decomposition (ModUp) of `c₁`. Each rotation then costs one key product and ModDown.
    /// Step 0 returns the input. Results are in the order of `steps`.
    ///
    /// Threads: the decomposition runs over the limbs, then the steps are the items of one
    /// parallel loop (each step's key product and ModDown over the limbs with the step's share
    /// of the threads); every result is computed by one thread in a fixed order.
    public func rotations(_ a: Ciphertext, by steps: [Int], keys: GaloisKeys) throws(CKKSError) -> [Ciphertext] {
        try checkCiphertext(a)
        guard a.size == 2 else { throw .invalidOperand("relinearize before rotating") }
        let entries = try rotationEntries(steps, level: a.level, keys: keys)
        guard entries.contains(where: { $0 != nil }) else { return steps.map { _ in a } }
        let decomposed = context.decompose(trusted: a.parts[1], level: a.level)
        return context.parallelism.map(entries.count) { index in
            guard let entry = entries[index] else { return a }
            let (x0, x1) = context.keyProduct(trusted: decomposed, key: entry.key)
            var r0 = a.parts[0]
            r0.add(trusted: context.modDown(x0, trustedLevel: a.level))
            let g = entry.galoisElement, pi = entry.permutation
            return Ciphertext(parts: [r0.applyingAutomorphism(validatedElement: g, permutation: pi),
                                      context.modDown(x1, trustedLevel: a.level).applyingAutomorphism(validatedElement: g, permutation: pi)],
                              scale: a.scale)
        }
    }

    /// A sum of rotations of different ciphertexts, `Σᵢ ρ(aᵢ, rᵢ)`, with one ModDown for the
    /// whole sum (hoisted ModDown; the giant steps of a baby-step giant-step sum).
    ///
    /// A rotation is `(σ(c₀) + σ(ModDown(x₀)), σ(ModDown(x₁)))` with `(x₀, x₁)` the key product of
    /// `c₁` in `Q_ℓ·P`. ModDown, `x ↦ (x − [x]_P)/P` with the centred `[x]_P`, commutes with σ
    /// (a signed permutation of the coefficients) and is linear up to its rounding, so the sum is
    /// `(Σσᵢ(c₀ᵢ) + ModDown(Σσᵢ(x₀ᵢ)), ModDown(Σσᵢ(x₁ᵢ)))`: per term with `rᵢ ≠ 0` one ModUp and
    /// one key product, and two ModDowns in all instead of two per term. One rounding of `1/P`
    /// instead of one per term. A zero step adds `aᵢ` itself. All terms at one level and scale.
    public func sumOfRotations(_ terms: [(ciphertext: Ciphertext, step: Int)], keys: GaloisKeys) throws(CKKSError) -> Ciphertext {
        try sumOfRotations(groups: terms.map { ($0.ciphertext, [$0.step]) }, keys: keys)
    }

    /// `Σ_{r ∈ steps} ρ(a, r)` (a box sum, as in sum pooling) with one ModUp and one ModDown in
    /// all: hoisted rotations whose key products are summed in `Q_ℓ·P` before the single ModDown.
    /// Per nonzero step one key product and one permutation; a zero step adds `a`.
    public func sumOfRotations(of a: Ciphertext, by steps: [Int], keys: GaloisKeys) throws(CKKSError) -> Ciphertext {
        try sumOfRotations(groups: [(a, steps)], keys: keys)
    }

    /// `Σᵢ Σ_{r ∈ stepsᵢ} ρ(aᵢ, r)`: one ModUp per ciphertext with a nonzero step, one key product
    /// per nonzero step, one ModDown in all.
    func sumOfRotations(groups: [(Ciphertext, [Int])], keys: GaloisKeys) throws(CKKSError) -> Ciphertext {
        guard let first = groups.first(where: { !$0.1.isEmpty })?.0 else {
            throw .invalidOperand("a sum of rotations needs at least one term")
        }
        var entries: [[GaloisKeys.Entry?]] = []
        for (a, steps) in groups {
            try checkCiphertext(a)
            guard a.size == 2 else { throw .invalidOperand("relinearize before rotating") }
            try checkSameLevelAndScale(a, first.level, first.scale)
            entries.append(try rotationEntries(steps, level: a.level, keys: keys))
        }
        let level = first.level
        var r0 = DataPolynomial(zeroIn: context.dataBases[level]), r1 = r0
        // the key switches: (ciphertext, key) per nonzero step, in order; a zero step adds aᵢ
        var switches: [(group: Int, entry: GaloisKeys.Entry)] = []
        for (g, ((a, _), row)) in zip(groups, entries).enumerated() {
            for entry in row {
                if let entry { switches.append((g, entry)) } else {
                    r0.add(trusted: a.parts[0])
                    r1.add(trusted: a.parts[1])
                }
            }
        }
        guard !switches.isEmpty else { return Ciphertext(parts: [r0, r1], scale: first.scale) }
        // a ciphertext rotated by several steps is decomposed once, before the chunks share it
        let shared: [DecomposedPolynomial?] = groups.indices.map { g in
            switches.lazy.filter { $0.group == g }.count > 1 ? context.decompose(trusted: groups[g].0.parts[1], level: level) : nil
        }
        // Threads: the key switches are the items of one reduction; each worker sums its own
        // σᵢ(c₀ᵢ), σᵢ(x₀ᵢ), σᵢ(x₁ᵢ) and the workers' sums are added. Sums of residues are exact,
        // so the result does not depend on which worker took which switch; memory: one set of
        // sums and one decomposition alive per worker.
        let partials = context.parallelism.reduce(switches.count, initial: {
            (DataPolynomial(zeroIn: context.dataBases[level]), ExtendedPolynomial(zeroIn: context.extendedBases[level]),
             ExtendedPolynomial(zeroIn: context.extendedBases[level]))
        }) { sums, t in
            let (g, entry) = switches[t]
            let a = groups[g].0
            let decomposed = shared[g] ?? context.decompose(trusted: a.parts[1], level: level)
            let (x0, x1) = context.keyProduct(trusted: decomposed, key: entry.key)
            sums.0.addAutomorphism(of: a.parts[0], validatedPermutation: entry.permutation)
            sums.1.addAutomorphism(of: x0, validatedPermutation: entry.permutation)
            sums.2.addAutomorphism(of: x1, validatedPermutation: entry.permutation)
        }
        var (sum0, sum1) = (partials[0].1, partials[0].2)
        for (c0, s0, s1) in partials.dropFirst() {
            r0.add(trusted: c0)
            sum0.add(trusted: s0)
            sum1.add(trusted: s1)
        }
        r0.add(trusted: partials[0].0)
        let down = context.parallelism.map(2) { [sum0, sum1] in context.modDown($0 == 0 ? sum0 : sum1, trustedLevel: level) }
        r0.add(trusted: down[0])
        r1.add(trusted: down[1])
        return Ciphertext(parts: [r0, r1], scale: first.scale)
    }

    /// Hoisted multiply-accumulate ("double hoisting"): `Σₖ rot_{stepₖ}(a) ⊙ pₖ` with one ModUp
    /// of `c₁` for all rotations and one ModDown for the whole sum.
    ///
    /// Each rotated ciphertext is kept in the extended basis as `(σ(P·c₀ + x₀), σ(x₁))`, which
    /// decrypts to `P·rot(m)` modulo `Q_ℓ·P`; the products with the plaintexts (encoded over
    /// `Q_ℓ·P` by `encodeExtended`) are summed there lazily, and ModDown divides the sum by `P`
    /// once. Scale: `Δ_a·Δ_p` (all plaintexts at one scale).
    public func hoistedMultiplyAccumulate(_ a: Ciphertext, _ terms: [(step: Int, plaintext: ExtendedPlaintext)],
                                          keys: GaloisKeys) throws(CKKSError) -> Ciphertext {
        try checkCiphertext(a)
        guard a.size == 2 else { throw .invalidOperand("relinearize before rotating") }
        guard let first = terms.first else { throw .invalidOperand("hoistedMultiplyAccumulate needs at least one term") }
        let level = a.level
        let basis = context.extendedBases[level]
        for (_, p) in terms {
            guard p.level == level, p.polynomial.basis.isSame(as: basis) else {
                throw .invalidOperand("hoistedMultiplyAccumulate needs plaintexts from encodeExtended at level \(level)")
            }
            guard abs(p.scale - first.plaintext.scale) <= scaleTolerance * p.scale else {
                throw .scaleMismatch(p.scale, first.plaintext.scale)
            }
        }
        let entries = try rotationEntries(terms.map(\.step), level: level, keys: keys)
        let plan = context.keySwitching[level]
        let n = context.degree, qCount = level + 1
        // P·c₀ and P·c₁ in the extended basis (zero modulo the special primes)
        func liftedByP(_ c: DataPolynomial) -> ExtendedPolynomial {
            var x = ExtendedPolynomial(zeroIn: basis)
            var scaled = c
            scaled.multiply(trustedScalarResidues: plan.pModQ)
            x.storage.replaceSubrange(0..<(qCount * n), with: scaled.data)
            return x
        }
        let decomposed = entries.contains(where: { $0 != nil }) ? context.decompose(trusted: a.parts[1], level: a.level) : nil
        let lifted0 = liftedByP(a.parts[0])
        // each rotated pair (σ(P·c₀ + x₀), σ(x₁)), kept before its permutation, is added to the
        // sums at once by the multiply-accumulate kernel, with the plaintext as the shared factor
        // and σ as the permutation of the reads
        var sum0 = ExtendedPolynomial(zeroIn: basis), sum1 = ExtendedPolynomial(zeroIn: basis)
        for (index, term) in terms.enumerated() {
            if let entry = entries[index], let decomposed {
                var (x0, x1) = context.keyProduct(trusted: decomposed, key: entry.key)
                x0.add(trusted: lifted0)
                sumProducts([(x0, x1, term.plaintext.polynomial)], permutations: [entry.permutation], basis: basis,
                            into: &sum0, &sum1, accumulate: index > 0)
            } else {
                sumProducts([(lifted0, liftedByP(a.parts[1]), term.plaintext.polynomial)], permutations: nil, basis: basis,
                            into: &sum0, &sum1, accumulate: index > 0)
            }
        }
        return Ciphertext(parts: [context.modDown(sum0, trustedLevel: level), context.modDown(sum1, trustedLevel: level)],
                          scale: a.scale * first.plaintext.scale)
    }
}

extension CKKSContext {
    /// The check at every public entry that takes a ciphertext (evaluator, decryptor,
    /// serialization): a level of this chain, at least two parts, each in NTT form over exactly
    /// the primes `q₀ … q_level` of this context.
    func checkCiphertext(_ a: Ciphertext) throws(CKKSError) {
        try checkLevel(a.level)
        guard a.parts.count >= 2, a.parts.allSatisfy({ $0.basis.isSame(as: dataBases[a.level]) }) else {
            throw .parameterMismatch("the ciphertext does not belong to this context at level \(a.level)")
        }
    }

    /// The same for a plaintext that must be at `level` (over `Q_level`).
    func checkPlaintext(_ p: Plaintext, level: Int) throws(CKKSError) {
        try checkLevel(level)
        guard p.level == level else { throw .levelMismatch(level, p.level) }
        guard p.polynomial.basis.isSame(as: dataBases[level]) else {
            throw .parameterMismatch("the plaintext does not belong to this context at level \(level)")
        }
    }

    /// The same for an extended plaintext (over `Q_level·P` of this context).
    func checkPlaintext(_ p: ExtendedPlaintext) throws(CKKSError) {
        try checkLevel(p.level)
        guard p.polynomial.basis.isSame(as: extendedBases[p.level]) else {
            throw .parameterMismatch("the extended plaintext does not belong to this context at level \(p.level)")
        }
    }
}

/// Terms per call of the kernel in `multiplyAccumulate` (the pointers of a chunk are held by
/// nested closures, three per term).
let productChunk = 16

extension Evaluator {
    /// `out0 (+)= Σₜ uₜ[π(k)]·wₜ`, `out1 (+)= Σₜ vₜ[π(k)]·wₜ` for triples `(u, v, w)` over `basis`
    /// (NTT form), limb by limb in parallel, by `ProductSums`.
    func sumProducts<B: BasisKind>(_ triples: [(RNSPolynomial<Evaluation, B>, RNSPolynomial<Evaluation, B>, RNSPolynomial<Evaluation, B>)],
                                   permutations: [[UInt32]?]?, basis: RNSBasis,
                                   into out0: inout RNSPolynomial<Evaluation, B>, _ out1: inout RNSPolynomial<Evaluation, B>,
                                   accumulate: Bool) {
        let n = basis.degree
        withPointers(triples) { pointers in
            withPermutationPointers(permutations ?? Array(repeating: nil, count: triples.count)) { permutationPointers in
                out0.storage.withUnsafeMutableBufferPointer { o0 in
                    out1.storage.withUnsafeMutableBufferPointer { o1 in
                        let r0 = UncheckedSendable(o0.baseAddress!), r1 = UncheckedSendable(o1.baseAddress!)
                        let inputs = UncheckedSendable(pointers), pis = UncheckedSendable(permutationPointers)
                        // a permutation is the same in every limb: limb i reads u at i·N + π(k)
                        basis.parallelism.forEach(basis.count) { i in
                            withUnsafeTemporaryAllocation(of: ProductSums.Term.self, capacity: inputs.value.count) { limbTerms in
                                for (t, p) in inputs.value.enumerated() {
                                    limbTerms.initializeElement(at: t, to: ProductSums.Term(u: p.u + i * n, v: p.v + i * n, w: p.w + i * n,
                                                                                          permutation: pis.value[t]))
                                }
                                ProductSums.limb(modulus: basis.moduli[i], count: n, terms: UnsafeBufferPointer(limbTerms),
                                                 first: r0.value + i * n, second: r1.value + i * n, accumulate: accumulate)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Compact terms expanded together in one limb's scratch (`expansionChunk·N` words: 256 KB at
/// N = 2¹⁴, within a core's L2).
let expansionChunk = 2

extension Evaluator {
    /// Limb by limb (in parallel): the compact terms reduced modulo `qᵢ` and NTT'd
    /// `expansionChunk` at a time into a scratch, then multiplied and accumulated.
    func sumCompactProducts(_ terms: [(Ciphertext, CompactPlaintext)], basis: RNSBasis,
                            into out0: inout DataPolynomial, _ out1: inout DataPolynomial, accumulate: Bool) {
        let n = basis.degree
        let small = terms.map { $0.1.isSmall }
        withCompactPointers(terms) { pointers in
            let inputs = UncheckedSendable(pointers)
            forEachLimbOfSums(&out0, &out1, basis: basis) { i, first, second in
                        let modulus = basis.moduli[i], tables = basis.nttTables[i]
                        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: expansionChunk * n) { scratch in
                            withUnsafeTemporaryAllocation(of: ProductSums.Term.self, capacity: expansionChunk) { limbTerms in
                                let terms = inputs.value
                                for start in stride(from: 0, to: terms.count, by: expansionChunk) {
                                    let count = min(expansionChunk, terms.count - start)
                                    for j in 0..<count {
                                        let p = terms[start + j], w = scratch.baseAddress! + j * n
                                        CKKSEncoder.reduce(p.m, count: n, modulus: modulus, small: small[start + j], into: w)
                                        tables.forward(w)
                                        limbTerms.initializeElement(at: j, to: ProductSums.Term(u: p.u + i * n, v: p.v + i * n, w: UnsafePointer(w)))
                                    }
                                    ProductSums.limb(modulus: modulus, count: n, terms: UnsafeBufferPointer(rebasing: limbTerms[0..<count]),
                                                     first: first, second: second, accumulate: accumulate || start > 0)
                                }
                            }
                        }
            }
        }
    }
}

extension Evaluator {
    /// Limb by limb (in parallel): the packed terms through `ProductSums.limbPacked`, with the
    /// high bits in bytes or in `UInt16`s as the limb's prime requires.
    func sumPackedProducts(_ terms: [(Ciphertext, PackedPlaintext)], basis: RNSBasis,
                           into out0: inout DataPolynomial, _ out1: inout DataPolynomial, accumulate: Bool) {
        let n = basis.degree
        withPackedPointers(terms) { pointers in
            let inputs = UncheckedSendable(pointers)
            forEachLimbOfSums(&out0, &out1, basis: basis) { i, first, second in
                let terms = inputs.value, modulus = basis.moduli[i], place = context.packedHighPlace(limb: i)
                let h = place.index * n
                if place.wide {
                    withUnsafeTemporaryAllocation(of: ProductSums.PackedTerm<UInt16>.self, capacity: terms.count) { limbTerms in
                        for (t, p) in terms.enumerated() {
                            limbTerms.initializeElement(at: t, to: .init(u: p.u + i * n, v: p.v + i * n, low: p.low + i * n, high: p.wide + h))
                        }
                        ProductSums.limbPacked(modulus: modulus, count: n, terms: UnsafeBufferPointer(limbTerms),
                                               first: first, second: second, accumulate: accumulate)
                    }
                } else {
                    withUnsafeTemporaryAllocation(of: ProductSums.PackedTerm<UInt8>.self, capacity: terms.count) { limbTerms in
                        for (t, p) in terms.enumerated() {
                            limbTerms.initializeElement(at: t, to: .init(u: p.u + i * n, v: p.v + i * n, low: p.low + i * n, high: p.narrow + h))
                        }
                        ProductSums.limbPacked(modulus: modulus, count: n, terms: UnsafeBufferPointer(limbTerms),
                                               first: first, second: second, accumulate: accumulate)
                    }
                }
            }
        }
    }

    /// Runs `body(i, first, second)` for every limb `i` of the two sums, limbs in parallel, with
    /// `first` and `second` pointing at limb `i` of `out0` and `out1`.
    func forEachLimbOfSums(_ out0: inout DataPolynomial, _ out1: inout DataPolynomial, basis: RNSBasis,
                           _ body: (Int, UnsafeMutablePointer<UInt64>, UnsafeMutablePointer<UInt64>) -> Void) {
        let n = basis.degree
        out0.storage.withUnsafeMutableBufferPointer { o0 in
            out1.storage.withUnsafeMutableBufferPointer { o1 in
                let r0 = UncheckedSendable(o0.baseAddress!), r1 = UncheckedSendable(o1.baseAddress!)
                basis.parallelism.forEach(basis.count) { i in body(i, r0.value + i * n, r1.value + i * n) }
            }
        }
    }
}

/// Runs `body` with the base addresses of each packed term's ciphertext residues and packed
/// parts (a part that is empty gets a dangling-free placeholder never read), valid for the call.
func withPackedPointers<R>(_ terms: [(Ciphertext, PackedPlaintext)],
                           _ body: ([(u: UnsafePointer<UInt64>, v: UnsafePointer<UInt64>, low: UnsafePointer<UInt32>,
                                      narrow: UnsafePointer<UInt8>, wide: UnsafePointer<UInt16>)]) -> R) -> R {
    var pointers: [(u: UnsafePointer<UInt64>, v: UnsafePointer<UInt64>, low: UnsafePointer<UInt32>,
                    narrow: UnsafePointer<UInt8>, wide: UnsafePointer<UInt16>)] = []
    pointers.reserveCapacity(terms.count)
    let placeholder8: [UInt8] = [0], placeholder16: [UInt16] = [0]
    func collect(_ index: Int) -> R {
        if index == terms.count { return body(pointers) }
        let p = terms[index].1
        return terms[index].0.parts[0].data.withUnsafeBufferPointer { u in
            terms[index].0.parts[1].data.withUnsafeBufferPointer { v in
                p.low.withUnsafeBufferPointer { low in
                    (p.narrowHigh.isEmpty ? placeholder8 : p.narrowHigh).withUnsafeBufferPointer { narrow in
                        (p.wideHigh.isEmpty ? placeholder16 : p.wideHigh).withUnsafeBufferPointer { wide in
                            pointers.append((u.baseAddress!, v.baseAddress!, low.baseAddress!, narrow.baseAddress!, wide.baseAddress!))
                            return collect(index + 1)
                        }
                    }
                }
            }
        }
    }
    return collect(0)
}

/// Runs `body` with the base addresses of each compact term's ciphertext residues (`u`, `v`)
/// and integer coefficients (`m`), valid for the duration of the call.
func withCompactPointers<R>(_ terms: [(Ciphertext, CompactPlaintext)],
                            _ body: ([(u: UnsafePointer<UInt64>, v: UnsafePointer<UInt64>, m: UnsafePointer<Int64>)]) -> R) -> R {
    var pointers: [(u: UnsafePointer<UInt64>, v: UnsafePointer<UInt64>, m: UnsafePointer<Int64>)] = []
    pointers.reserveCapacity(terms.count)
    func collect(_ index: Int) -> R {
        if index == terms.count { return body(pointers) }
        return terms[index].0.parts[0].data.withUnsafeBufferPointer { u in
            terms[index].0.parts[1].data.withUnsafeBufferPointer { v in
                terms[index].1.coefficients.withUnsafeBufferPointer { m in
                    pointers.append((u.baseAddress!, v.baseAddress!, m.baseAddress!))
                    return collect(index + 1)
                }
            }
        }
    }
    return collect(0)
}

/// Runs `body` with the base addresses of each triple's residues (`u`, `v`, `w`), valid for the
/// duration of the call (the arrays are held by `triples`).
func withPointers<F, B, R>(_ triples: [(RNSPolynomial<F, B>, RNSPolynomial<F, B>, RNSPolynomial<F, B>)],
                     _ body: ([(u: UnsafePointer<UInt64>, v: UnsafePointer<UInt64>, w: UnsafePointer<UInt64>)]) -> R) -> R {
    var pointers: [(u: UnsafePointer<UInt64>, v: UnsafePointer<UInt64>, w: UnsafePointer<UInt64>)] = []
    pointers.reserveCapacity(triples.count)
    func collect(_ index: Int) -> R {
        if index == triples.count { return body(pointers) }
        return triples[index].0.data.withUnsafeBufferPointer { u in
            triples[index].1.data.withUnsafeBufferPointer { v in
                triples[index].2.data.withUnsafeBufferPointer { w in
                    pointers.append((u.baseAddress!, v.baseAddress!, w.baseAddress!))
                    return collect(index + 1)
                }
            }
        }
    }
    return collect(0)
}

/// The same for optional permutations.
func withPermutationPointers<R>(_ permutations: [[UInt32]?], _ body: ([UnsafePointer<UInt32>?]) -> R) -> R {
    var pointers: [UnsafePointer<UInt32>?] = []
    func collect(_ index: Int) -> R {
        if index == permutations.count { return body(pointers) }
        guard let permutation = permutations[index] else {
            pointers.append(nil)
            return collect(index + 1)
        }
        return permutation.withUnsafeBufferPointer { p in
            pointers.append(p.baseAddress!)
            return collect(index + 1)
        }
    }
    return collect(0)
}

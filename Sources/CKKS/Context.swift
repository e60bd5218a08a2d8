// The CKKS context: every precomputation derived from a parameter set, built once, immutable.
import Foundation
import HERing

/// The key-switching plan at one level `ℓ`: how `Q_ℓ` splits into digits, the base converters
/// of ModUp (digit → the other primes of `Q_ℓ·P`) and of ModDown (`P → Q_ℓ`), and `P⁻¹ mod qᵢ`.
///
/// The extended basis at level `ℓ` is ordered `q₀ … q_ℓ, p₀ … p_{K−1}`; a key (generated at the
/// top level `L`) holds `q₀ … q_L, p₀ … p_{K−1}`, so extended limb `t` reads key row `t` for
/// `t ≤ ℓ` and `t + (L − ℓ)` for the special primes.
public struct LevelKeySwitching: Sendable {
    /// One digit: data primes `range` of `Q_ℓ`, and the conversion of their residues to every
    /// other limb of the extended basis.
    public struct Digit: Sendable {
        /// The digit's data primes: indices into `q₀ … q_ℓ`.
        public let range: Range<Int>
        /// From the digit's primes to every other limb of `Q_ℓ·P` (ModUp).
        public let converter: BaseConverter
        /// The extended-basis limb index of each of the converter's target limbs.
        public let targetLimbs: [Int]
    }
    /// The ciphertext level `ℓ` this plan serves.
    public let level: Int
    /// The digits of `Q_ℓ`: `⌈(ℓ + 1)/α⌉` of them, `α` primes each (the last may be shorter).
    public let digits: [Digit]
    /// `P → Q_ℓ` (fast conversion, used on the special limbs in ModDown).
    public let modDownConverter: BaseConverter
    /// `P⁻¹ mod qᵢ` and its Shoup companion, `i ≤ ℓ`.
    public let inverseP: [UInt64]
    /// Shoup companions of `inverseP`.
    public let inversePShoup: [UInt64]
    /// `P mod qᵢ`, `i ≤ ℓ` (to lift `c₀` into the extended basis as `P·c₀`).
    public let pModQ: [UInt64]
    /// Key row of each extended limb.
    public let keyRows: [Int]
}

/// Everything derived from `CKKSParameters`: the RNS bases of each level (sharing one set of NTT
/// tables), the extended bases `Q_ℓ·P` of key switching, the per-level key-switching plans, the
/// encoder. Immutable and `Sendable`: one context serves every thread.
///
/// The context also carries the one execution setting of everything computed in it: the thread
/// count (`parallelism`), handed to every basis it builds, so that NTTs, limb-wise arithmetic,
/// base conversions, key switching and the tensor backend all run under it. Two contexts of the
/// same parameters and different thread counts compute bit-identical results and accept each
/// other's keys and ciphertexts.
public final class CKKSContext: Sendable {
    /// The parameter set the context was built for.
    public let parameters: CKKSParameters
    /// The threads of every operation in this context.
    public let parallelism: Parallelism
    /// The encoder of the context's ring degree (slots ↔ polynomial).
    public let encoder: CKKSEncoder
    /// `dataBases[ℓ]` = `{q₀ … q_ℓ}`.
    public let dataBases: [RNSBasis]
    /// `extendedBases[ℓ]` = `{q₀ … q_ℓ, p₀ … p_{K−1}}`.
    public let extendedBases: [RNSBasis]
    /// `{p₀ … p_{K−1}}`.
    public let specialBasis: RNSBasis
    /// Key-switching plans, indexed by level.
    public let keySwitching: [LevelKeySwitching]
    /// Exact conversions `Q_ℓ →` three 61-bit auxiliary primes, for fast decoding.
    let decodingConverters: [BaseConverter]
    /// `X^{N/2}` in NTT form over `{q₀ … q_L}`: the plaintext of the constant `i` in every slot at
    /// scale 1 (`σ(X^{N/2})ⱼ = ζ^{5ʲ·N/2} = i^{5ʲ} = i`, as `5ʲ ≡ 1 mod 4`). Multiplying by it is
    /// exact and keeps the scale.
    let imaginaryUnit: DataPolynomial
    /// `packedHighPlace(limb:)` for every limb of the chain.
    private let packedHighPlaces: [(wide: Bool, index: Int)]

    /// Builds every table. Cost: `L + K` NTT tables and a few hundred small base converters.
    /// `parallelism`: the threads of every operation in this context (one per processor by
    /// default; results do not depend on it).
    public init(_ parameters: CKKSParameters, parallelism: Parallelism = .allProcessors) {
        self.parameters = parameters
        self.parallelism = parallelism
        let n = parameters.degree
        encoder = CKKSEncoder(validatedDegree: n)
        // Every prime of a valid parameter set is NTT-friendly for N (the parameters derived them).
        let dataTables = parameters.dataPrimes.map { try! NTTTables(degree: n, modulus: Modulus($0)) }
        let specialTables = parameters.specialPrimes.map { try! NTTTables(degree: n, modulus: Modulus($0)) }
        let levels = dataTables.count
        dataBases = (1...levels).map { try! RNSBasis(tables: Array(dataTables.prefix($0)), parallelism: parallelism) }
        extendedBases = (1...levels).map { try! RNSBasis(tables: Array(dataTables.prefix($0)) + specialTables, parallelism: parallelism) }
        specialBasis = try! RNSBasis(tables: specialTables, parallelism: parallelism)
        let maxLevel = levels - 1
        let alpha = parameters.primesPerDigit
        let k = specialTables.count
        var plans: [LevelKeySwitching] = []
        for level in 0...maxLevel {
            var digits: [LevelKeySwitching.Digit] = []
            for start in stride(from: 0, through: level, by: alpha) {
                let range = start..<min(start + alpha, level + 1)
                let source = try! RNSBasis(tables: Array(dataTables[range]), parallelism: parallelism)
                let targetLimbs = Array(0..<range.lowerBound) + Array(range.upperBound..<(level + 1 + k))
                let targetTables = targetLimbs.map { $0 <= level ? dataTables[$0] : specialTables[$0 - level - 1] }
                let target = try! RNSBasis(tables: targetTables, parallelism: parallelism)
                digits.append(.init(range: range, converter: try! BaseConverter(from: source, to: target),
                                    targetLimbs: targetLimbs))
            }
            let qBasis = dataBases[level]
            let modDown = try! BaseConverter(from: specialBasis, to: qBasis)
            let inverseP = qBasis.moduli.indices.map { i in
                qBasis.moduli[i].inverse(modDown.productModTarget[i])!
            }
            plans.append(LevelKeySwitching(
                level: level, digits: digits, modDownConverter: modDown, inverseP: inverseP,
                inversePShoup: zip(qBasis.moduli, inverseP).map { $0.shoup($1) },
                pModQ: modDown.productModTarget,
                keyRows: (0..<(level + 1 + k)).map { $0 <= level ? $0 : $0 + (maxLevel - level) }))
        }
        keySwitching = plans
        let used = Set(parameters.dataPrimes + parameters.specialPrimes)
        let auxiliary = try! RNSBasis(degree: n, primes: Primes.nttPrimes(bits: 61, degree: n, count: 3, excluding: used),
                                      parallelism: parallelism)
        decodingConverters = dataBases.map { try! BaseConverter(from: $0, to: auxiliary) }
        var unit = RNSPolynomial<Coefficient, OverQ>(zeroIn: dataBases[maxLevel])
        for i in 0...maxLevel { unit.storage[i * n + n / 2] = 1 }
        imaginaryUnit = unit.forwardNTT()
        var narrowCount = 0, wideCount = 0
        packedHighPlaces = parameters.dataPrimes.map { q in
            if q >= ResiduePacking.narrowPrimeBound { defer { wideCount += 1 }; return (true, wideCount) }
            defer { narrowCount += 1 }; return (false, narrowCount)
        }
    }

    /// `X^{N/2}` (the constant `i` in every slot, scale 1) in NTT form over `{q₀ … q_ℓ}`.
    func imaginaryUnit(level: Int) -> DataPolynomial {
        DataPolynomial(basis: dataBases[level], trustedData: Array(imaginaryUnit.data.prefix((level + 1) * degree)))
    }

    /// `L`, the top level.
    public var maxLevel: Int { parameters.maxLevel }
    /// The ring degree N.
    public var degree: Int { parameters.degree }
    /// Slots per ciphertext: N/2.
    public var slotCount: Int { parameters.slotCount }
    /// The basis of the keys: `Q_L·P`.
    public var keyBasis: RNSBasis { extendedBases[maxLevel] }

    /// Checks `0 ≤ level ≤ L`.
    func checkLevel(_ level: Int) throws(CKKSError) {
        guard level >= 0 && level <= maxLevel else {
            throw .invalidLevel(level: level, reason: "outside 0 … \(maxLevel)")
        }
    }

    // MARK: Galois elements

    /// Checks that `g` names an automorphism `X → X^g` of `Z[X]/(X^N + 1)`: odd, in `1 … 2N − 1`.
    func checkGaloisElement(_ g: Int) throws(CKKSError) {
        if let problem = GaloisAutomorphism.problem(withElement: g, degree: degree) { throw .invalidOperand(problem) }
    }

    /// The Galois element of a rotation of the slots by `step` to the left (slot `i` receives
    /// slot `i + step`): `5^step mod 2N` (negative steps rotate right).
    public func galoisElement(forRotation step: Int) -> Int {
        let slots = slotCount, twoN = 2 * degree
        let s = ((step % slots) + slots) % slots
        var g = 1, base = 5, e = s
        while e > 0 {
            if e & 1 == 1 { g = g * base % twoN }
            base = base * base % twoN
            e >>= 1
        }
        return g
    }

    /// The Galois element of complex conjugation of every slot: `2N − 1` (`X → X⁻¹`).
    public var conjugationElement: Int { 2 * degree - 1 }

    // MARK: Encoding

    /// Encodes real values at `level` and `scale` (default: the top level, `Δ`).
    public func encode(_ values: [Double], level: Int? = nil, scale: Double? = nil) throws(CKKSError) -> Plaintext {
        try encode(values.map { Complex($0) }, level: level, scale: scale)
    }

    /// Encodes complex values at `level` and `scale` (default: the top level, `Δ`).
    public func encode(_ values: [Complex], level: Int? = nil, scale: Double? = nil) throws(CKKSError) -> Plaintext {
        let level = level ?? maxLevel
        try checkLevel(level)
        let scale = scale ?? parameters.scale
        let polynomial = try encoder.encode(values, scale: scale, basis: dataBases[level])
        return Plaintext(polynomial: polynomial, scale: scale)
    }

    /// The plaintext at `level` and `scale` of an integer polynomial from
    /// `CKKSEncoder.roundedCoefficients` (reduced modulo `q₀ … q_ℓ`, then NTT).
    public func plaintext(fromRounded rounded: [Int64], level: Int, scale: Double) throws(CKKSError) -> Plaintext {
        try checkLevel(level)
        guard rounded.count == degree else { throw .degreeMismatch(expected: degree, got: rounded.count) }
        return Plaintext(polynomial: encoder.polynomial(trustedRounded: rounded, basis: dataBases[level], over: OverQ.self),
                         scale: scale)
    }

    /// The compact plaintext at `level` and `scale` of an integer polynomial from
    /// `CKKSEncoder.roundedCoefficients` (kept as is; see `CompactPlaintext`).
    public func compactPlaintext(fromRounded rounded: [Int64], level: Int, scale: Double) throws(CKKSError) -> CompactPlaintext {
        try checkLevel(level)
        guard rounded.count == degree else { throw .degreeMismatch(expected: degree, got: rounded.count) }
        return CompactPlaintext(coefficients: rounded, level: level, scale: scale)
    }

    /// The NTT form of a compact plaintext (what the products compute limb by limb).
    public func plaintext(_ compact: CompactPlaintext) throws(CKKSError) -> Plaintext {
        try plaintext(fromRounded: compact.coefficients, level: compact.level, scale: compact.scale)
    }

    /// Where limb `i`'s high bits live in a `PackedPlaintext`: in the wide (`UInt16`) part or the
    /// narrow (byte) part, at `index` among the limbs of that part. The same at every level, as
    /// the limbs of level `ℓ` are the first `ℓ + 1` of the chain.
    func packedHighPlace(limb i: Int) -> (wide: Bool, index: Int) { packedHighPlaces[i] }

    /// Whether plaintexts at `level` can be packed (every prime below 2⁴⁸ with the floating product).
    public func canPack(level: Int) -> Bool { dataBases[level].moduli.allSatisfy(ResiduePacking.supports) }

    /// Whether `p`'s parts have the sizes of a packed plaintext of this context at its level.
    func hasPackedShape(_ p: PackedPlaintext) -> Bool {
        guard p.level >= 0, p.level <= maxLevel else { return false }
        let n = degree, limbs = p.level + 1
        let wide = (0..<limbs).reduce(0) { $0 + (packedHighPlaces[$1].wide ? 1 : 0) }
        return p.low.count == limbs * n && p.wideHigh.count == wide * n && p.narrowHigh.count == (limbs - wide) * n
    }

    /// An all-zero packed plaintext at `level` and `scale`, for `packLimb` to fill.
    private func zeroPacked(level: Int, scale: Double) -> PackedPlaintext {
        let n = degree, limbs = level + 1
        let wide = (0..<limbs).reduce(0) { $0 + (packedHighPlaces[$1].wide ? 1 : 0) }
        return PackedPlaintext(level: level, scale: scale, low: [UInt32](repeating: 0, count: limbs * n),
                               narrowHigh: [UInt8](repeating: 0, count: (limbs - wide) * n),
                               wideHigh: [UInt16](repeating: 0, count: wide * n))
    }

    /// Packs the `N` NTT-form residues `w` of limb `i` into `p`.
    private func packLimb(_ w: UnsafePointer<UInt64>, limb i: Int, into p: inout PackedPlaintext) {
        let n = degree, place = packedHighPlaces[i]
        p.low.withUnsafeMutableBufferPointer { low in
            if place.wide {
                p.wideHigh.withUnsafeMutableBufferPointer {
                    ResiduePacking.pack(w, count: n, low: low.baseAddress! + i * n, high: $0.baseAddress! + place.index * n)
                }
            } else {
                p.narrowHigh.withUnsafeMutableBufferPointer {
                    ResiduePacking.pack(w, count: n, low: low.baseAddress! + i * n, high: $0.baseAddress! + place.index * n)
                }
            }
        }
    }

    /// `p` with every residue packed in 5 or 6 bytes (`PackedPlaintext`); nil when a prime of
    /// the chain is 2⁴⁸ or more (then only the NTT and compact forms apply).
    public func packed(_ p: Plaintext) throws(CKKSError) -> PackedPlaintext? {
        try checkPlaintext(p, level: p.level)
        guard canPack(level: p.level) else { return nil }
        var packed = zeroPacked(level: p.level, scale: p.scale)
        p.polynomial.data.withUnsafeBufferPointer { data in
            for i in 0...p.level { packLimb(data.baseAddress! + i * degree, limb: i, into: &packed) }
        }
        return packed
    }

    /// The packed plaintext at `level` and `scale` of an integer polynomial from
    /// `CKKSEncoder.roundedCoefficients`, equal to `packed(plaintext(fromRounded:level:scale:))`
    /// but built limb by limb through one scratch polynomial (no `(ℓ + 1)·N`-word temporary).
    /// Nil when a prime of the chain is 2⁴⁸ or more.
    public func packedPlaintext(fromRounded rounded: [Int64], level: Int, scale: Double) throws(CKKSError) -> PackedPlaintext? {
        try checkLevel(level)
        let n = degree
        guard rounded.count == n else { throw .degreeMismatch(expected: n, got: rounded.count) }
        guard canPack(level: level) else { return nil }
        let basis = dataBases[level]
        var packed = zeroPacked(level: level, scale: scale)
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: n) { scratch in
            let w = scratch.baseAddress!
            rounded.withUnsafeBufferPointer { r in
                let small = CKKSEncoder.isSmall(r)
                for i in 0..<basis.count {
                    CKKSEncoder.reduce(r.baseAddress!, count: n, modulus: basis.moduli[i], small: small, into: w)
                    basis.nttTables[i].forward(w)
                    packLimb(w, limb: i, into: &packed)
                }
            }
        }
        return packed
    }

    /// The NTT-form plaintext of a packed one (what the products read).
    public func plaintext(_ packed: PackedPlaintext) throws(CKKSError) -> Plaintext {
        try checkLevel(packed.level)
        guard hasPackedShape(packed) else {
            throw .parameterMismatch("the packed plaintext does not belong to this context at level \(packed.level)")
        }
        let n = degree, basis = dataBases[packed.level]
        var polynomial = DataPolynomial(zeroIn: basis)
        polynomial.storage.withUnsafeMutableBufferPointer { data in
            packed.low.withUnsafeBufferPointer { low in
                packed.narrowHigh.withUnsafeBufferPointer { narrow in
                    packed.wideHigh.withUnsafeBufferPointer { wide in
                        for i in 0..<basis.count {
                            let place = packedHighPlaces[i], out = data.baseAddress! + i * n, l = low.baseAddress! + i * n
                            if place.wide {
                                ResiduePacking.unpack(low: l, high: wide.baseAddress! + place.index * n, count: n, into: out)
                            } else {
                                ResiduePacking.unpack(low: l, high: narrow.baseAddress! + place.index * n, count: n, into: out)
                            }
                        }
                    }
                }
            }
        }
        return Plaintext(polynomial: polynomial, scale: packed.scale)
    }

    /// Encodes values in the extended basis `Q_ℓ·P`, for `Evaluator.hoistedMultiplyAccumulate`
    /// (products taken before ModDown need the plaintext modulo the special primes too).
    public func encodeExtended(_ values: [Complex], level: Int, scale: Double? = nil) throws(CKKSError) -> ExtendedPlaintext {
        try checkLevel(level)
        let scale = scale ?? parameters.scale
        let polynomial = try encoder.encode(values, scale: scale, basis: extendedBases[level], over: OverQP.self)
        return ExtendedPlaintext(polynomial: polynomial, scale: scale, level: level)
    }

    /// Encodes real values in the extended basis `Q_ℓ·P` (the imaginary parts zero).
    public func encodeExtended(_ values: [Double], level: Int, scale: Double? = nil) throws(CKKSError) -> ExtendedPlaintext {
        try encodeExtended(values.map { Complex($0) }, level: level, scale: scale)
    }

    /// Decodes a plaintext into `N/2` complex slots.
    ///
    /// The centred coefficients are recovered by an exact base conversion into three auxiliary
    /// 61-bit primes and a mixed-radix reconstruction in floating point: exact whenever
    /// `|coefficient| < 2^182` (always, for any plaintext that can still be rescaled down to
    /// level 0), and much faster than a big-integer CRT.
    /// - Throws: `CKKSError` when the plaintext is not of this context at its level.
    public func decode(_ plaintext: Plaintext) throws(CKKSError) -> [Complex] {
        try checkPlaintext(plaintext, level: plaintext.level)
        return decode(plaintext.polynomial, level: plaintext.level, scale: plaintext.scale)
    }

    /// Decodes an extended plaintext (its residues modulo `Q_ℓ` carry the value).
    /// - Throws: `CKKSError` when the plaintext is not of this context at its level.
    public func decode(_ plaintext: ExtendedPlaintext) throws(CKKSError) -> [Complex] {
        try checkPlaintext(plaintext)
        var p = plaintext.polynomial
        p.dropLastLimbs(trusted: parameters.specialPrimes.count, basis: dataBases[plaintext.level])
        return decode(p.relabeled(as: OverQ.self, basis: dataBases[plaintext.level]), level: plaintext.level,
                      scale: plaintext.scale)
    }

    func decode(_ polynomial: DataPolynomial, level: Int, scale: Double) -> [Complex] {
        let p = polynomial.inverseNTT()
        let n = degree
        let converter = decodingConverters[level]
        var aux = [UInt64](repeating: 0, count: 3 * n)
        p.data.withUnsafeBufferPointer { input in
            aux.withUnsafeMutableBufferPointer { output in
                converter.convert(input.baseAddress!, into: output.baseAddress!, exact: true)
            }
        }
        let m = converter.target.moduli
        // Garner: x = d₀ + p₀·(d₁ + p₁·d₂), dᵢ < pᵢ.
        let p0InvModP1 = m[1].inverse(m[1].reduce(m[0].q))!
        let p0p1InvModP2 = m[2].inverse(m[2].multiply(m[2].reduce(m[0].q), m[2].reduce(m[1].q)))!
        let p0ModP2 = m[2].reduce(m[0].q)
        let halfTop = (m[2].q - 1) / 2
        func mixedRadix(_ r0: UInt64, _ r1: UInt64, _ r2: UInt64) -> (UInt64, UInt64, UInt64) {
            let d0 = r0
            let d1 = m[1].multiply(m[1].subtract(r1, m[1].reduce(d0)), p0InvModP1)
            let t = m[2].add(m[2].reduce(d0), m[2].multiply(p0ModP2, m[2].reduce(d1)))
            let d2 = m[2].multiply(m[2].subtract(r2, t), p0p1InvModP2)
            return (d0, d1, d2)
        }
        var coefficients = [Double](repeating: 0, count: n)
        for k in 0..<n {
            let r0 = aux[k], r1 = aux[n + k], r2 = aux[2 * n + k]
            // the top mixed-radix digit decides the sign: x ≥ P/2 ⇔ d₂ > (p₂−1)/2 (up to the
            // negligible band d₂ = (p₂−1)/2, resolved as positive)
            var (d0, d1, d2) = mixedRadix(r0, r1, r2)
            var sign = 1.0
            if d2 > halfTop {
                (d0, d1, d2) = mixedRadix(m[0].negate(r0), m[1].negate(r1), m[2].negate(r2))
                sign = -1.0
            }
            let value = Double(d0) + Double(m[0].q) * (Double(d1) + Double(m[1].q) * Double(d2))
            coefficients[k] = sign * value / scale
        }
        return encoder.embedding.slots(trustedCoefficients: coefficients)
    }

    /// Decodes the real parts.
    public func decodeReal(_ plaintext: Plaintext) throws(CKKSError) -> [Double] { try decode(plaintext).map(\.real) }
}
